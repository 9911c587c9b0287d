"""A parse cache for YAML files: JSON copies of parsed data in the user's cache folder.

The cache folder is `$XDG_CACHE_HOME/sizer` (default `~/.cache/sizer`, created 0700; it also holds
the validated built-in catalog, see `sizer.catalog.cache`). An entry is keyed by the file's
absolute path and content (sha256) and by the sizer version, so an edited file is parsed again,
even when the edit kept its size and modification time (`sizer catalog validate` relies on it).
Positions are not cached (they are recomputed on demand). Any failure to read or write the cache
is silent: the cache only ever saves time. SIZER_NO_CACHE=1 turns it off.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import IO, Any

from sizer import __version__

__all__ = ["cache_dir", "cache_root", "enabled", "key", "load", "make_root", "owned", "store"]

_FORMAT = 1


def enabled() -> bool:
    """False when SIZER_NO_CACHE turns sizer's caches off."""
    return os.environ.get("SIZER_NO_CACHE", "").lower() not in ("1", "true", "yes")


def cache_root() -> Path:
    """sizer's folder in the user's cache folder: `$XDG_CACHE_HOME/sizer` (default `~/.cache/sizer`)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "sizer"


def make_root() -> Path:
    """Create sizer's cache folder if needed, readable by its owner only (0700)."""
    root = cache_root()
    root.parent.mkdir(parents=True, exist_ok=True)
    root.mkdir(mode=0o700, exist_ok=True)
    return root


def owned(handle: IO[Any]) -> bool:
    """True when an open cache file belongs to the current user (always, where there are no uids):
    a file someone else put in the cache folder is not read."""
    getuid = getattr(os, "getuid", None)
    return getuid is None or os.fstat(handle.fileno()).st_uid == getuid()


def cache_dir() -> Path:
    return cache_root() / f"yaml-{_FORMAT}-{__version__}"


def key(path: Path) -> str | None:
    """Cache key of a file as it is now (path and content), or None (no cache) when it cannot be read."""
    if not enabled():
        return None
    try:
        resolved = path.resolve()
        content = resolved.read_bytes()
    except OSError:
        return None
    digest = hashlib.sha256(f"{resolved}\0".encode("utf-8", "surrogatepass"))
    digest.update(content)
    return digest.hexdigest()[:32]


def load(entry_key: str) -> tuple[Any, list[tuple[int, int, str, str]]] | None:
    try:
        with open(cache_dir() / f"{entry_key}.json", encoding="utf-8") as handle:
            if not owned(handle):
                return None
            cached = json.load(handle)
        return cached["data"], [tuple(i) for i in cached["issues"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def store(entry_key: str, data: Any, issues: list[tuple[int, int, str, str]]) -> None:
    """Keep a parse result, unless its data does not survive a JSON round trip unchanged."""
    try:
        text = json.dumps({"data": data, "issues": issues}, ensure_ascii=False, allow_nan=False)
        if json.loads(text)["data"] != data:
            return  # e.g. non-string mapping keys: not worth caching
        make_root()
        folder = cache_dir()
        folder.mkdir(mode=0o700, exist_ok=True)
        temporary = folder / f"{entry_key}.{os.getpid()}.tmp"
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, folder / f"{entry_key}.json")
    except (OSError, ValueError, TypeError):
        return
