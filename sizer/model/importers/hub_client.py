"""The Hugging Face Hub client as sizer uses it: the environment it honours (read without importing the
client when it is not loaded yet, so a cached re-read stays fast) and its exceptions as one-line errors."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sizer.errors import BadValueError, ModelFileError, SizerError, UnknownNameError, UsageProblem

__all__ = [
    "MissingRepoError", "NoNetworkError", "endpoint", "first_line", "hf_home", "hub_client", "hub_errors",
    "loaded_constants", "map_error", "network_errors", "no_network", "offline",
]


def hub_client() -> Any:
    try:
        import huggingface_hub
        import huggingface_hub.constants
        import huggingface_hub.utils  # noqa: F401 - submodules are attributes only once imported
    except ImportError:  # pragma: no cover - a core dependency
        raise ModelFileError("reading a Hugging Face repo needs huggingface_hub (pip install huggingface_hub)") from None
    return huggingface_hub


def loaded_constants() -> Any:
    """huggingface_hub.constants when the client is already imported (tests point it elsewhere), else None:
    a re-read from the cache does not import the client (~0.5 s), so it reads the same variables itself."""
    return sys.modules.get("huggingface_hub.constants")


def offline() -> bool:
    constants = loaded_constants()
    if constants is not None:
        return bool(constants.is_offline_mode())
    value = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE")
    return value is not None and value.upper() in ("1", "ON", "YES", "TRUE")


def endpoint() -> str:
    constants = loaded_constants()
    if constants is not None:
        return str(constants.ENDPOINT)
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


def hf_home() -> str:
    constants = loaded_constants()
    if constants is not None:
        return str(constants.HF_HOME)
    default = os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.join(os.path.expanduser("~"), ".cache")),
                           "huggingface")
    return os.path.expandvars(os.path.expanduser(os.environ.get("HF_HOME", default)))


def network_errors() -> tuple[type[BaseException], ...]:
    """What the client raises when the Hub cannot be reached (its HTTP library's transport errors)."""
    from huggingface_hub.errors import LocalEntryNotFoundError, OfflineModeIsEnabled

    errors: list[type[BaseException]] = [OfflineModeIsEnabled, LocalEntryNotFoundError, ConnectionError, TimeoutError]
    for module, name in (("httpx2", "TransportError"), ("httpx", "TransportError")):
        try:
            errors.append(getattr(importlib.import_module(module), name))
        except (ImportError, AttributeError):
            continue
    return tuple(errors)


@contextmanager
def hub_errors(repo: str, revision: str | None) -> Iterator[None]:
    """The Hub client's exceptions as sizer's one-line errors."""
    try:
        yield
    except SizerError:
        raise
    except Exception as exc:
        if "huggingface_hub.errors" not in sys.modules:
            raise
        map_error(exc, repo, revision)
        raise


def map_error(exc: Exception, repo: str, revision: str | None) -> None:
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        HFValidationError,
        RemoteEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    if isinstance(exc, GatedRepoError):
        raise ModelFileError(
            f"{repo} is a gated repo: accept its licence on {endpoint()}/{repo} and set HF_TOKEN "
            "(or run `hf auth login`)"
        ) from None
    if isinstance(exc, RepositoryNotFoundError):
        raise MissingRepoError(repo) from None
    if isinstance(exc, RevisionNotFoundError):
        raise UnknownNameError("revision of " + repo, revision or "main") from None
    if isinstance(exc, RemoteEntryNotFoundError):
        raise ModelFileError(f"{repo}: a file the repo lists cannot be fetched ({first_line(exc)})") from None
    if isinstance(exc, HFValidationError):
        raise BadValueError(f"{repo!r} is not a valid Hugging Face repo name ({first_line(exc)})") from None
    if isinstance(exc, HfHubHTTPError):
        raise ModelFileError(f"{repo}: the Hugging Face Hub answered {first_line(exc)}") from None


class MissingRepoError(UsageProblem, LookupError):
    def __init__(self, repo: str) -> None:
        self.repo = repo
        super().__init__(f"no Hugging Face repo {repo!r} (or it is private: set HF_TOKEN), and no such local path")


class NoNetworkError(ModelFileError):
    pass


def first_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:200]


def no_network(repo: str, exc: BaseException | None) -> NoNetworkError:
    why = "HF_HUB_OFFLINE is set" if offline() else f"cannot reach the Hugging Face Hub at {endpoint()}"
    return NoNetworkError(
        f"{repo}: {why} and this repo was never read here; connect and retry once (it is cached after), "
        "or give a local model folder or .gguf file (they work offline)"
    )
