"""The library's exceptions. None of them knows about click: `sizer.cli` maps them to exit codes once.

- `UsageProblem` (exit 2): the user named something that does not exist or typed a bad value.
- `InputError` (exit 1): a catalog file or a model file is invalid.
- anything else escaping the library is a bug (exit 3).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "AmbiguousNameError",
    "BadValueError",
    "CatalogError",
    "CatalogIssue",
    "FormatNotMadeError",
    "InputError",
    "ModelFileError",
    "SizerError",
    "UnknownNameError",
    "UsageProblem",
    "suggest",
]


class SizerError(Exception):
    """Base class of every error sizer reports to its user."""


class UsageProblem(SizerError):
    """The user asked for something that cannot be done as asked (exit 2)."""


class UnknownNameError(UsageProblem, LookupError):
    """No catalog entry of this kind has this name."""

    def __init__(self, kind: str, name: str, suggestions: Sequence[str] = (), listing: str | None = None) -> None:
        self.kind = kind
        self.name = name
        self.suggestions = tuple(suggestions)
        shown = repr(name) if len(name) <= 80 else f"{name[:60]!r}... ({len(name):,} characters)"
        message = f"unknown {kind} {shown}"
        if self.suggestions:
            message += f"; did you mean: {', '.join(self.suggestions)}?"
        elif listing:
            message += f"; `{listing}` shows every one"
        super().__init__(message)


class AmbiguousNameError(UsageProblem, LookupError):
    """Several catalog entries of this kind match this name equally well."""

    def __init__(self, kind: str, name: str, candidates: Sequence[str]) -> None:
        self.kind = kind
        self.name = name
        self.candidates = tuple(candidates)
        super().__init__(f"{kind} name {name!r} is ambiguous; did you mean: {', '.join(self.candidates)}?")


class BadValueError(UsageProblem, ValueError):
    """A value the user typed cannot be understood (`32kk` tokens, a negative size)."""


class FormatNotMadeError(BadValueError):
    """The format cannot be made for this model (llama-quantize refuses its row lengths): a usage error when
    asked for by name, a skipped row when every format is compared (`--quant all`)."""


@dataclass(frozen=True, slots=True)
class CatalogIssue:
    """One problem in a catalog file, positioned as precisely as the YAML allows (1-based line/column)."""

    file: str
    line: int
    column: int
    field_path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        return (
            f"{where}: {self.field_path}: {self.message}" if self.field_path else f"{where}: {self.message}"
        )


class InputError(SizerError):
    """A file the user (or the built-in catalog) gave us is invalid (exit 1)."""


class CatalogError(InputError):
    """The catalog (built-in or an overlay) has problems; `issues` lists every one of them."""

    def __init__(self, issues: Iterable[CatalogIssue]) -> None:
        self.issues = tuple(issues)
        count = len(self.issues)
        head = f"invalid catalog ({count} problem{'s' if count != 1 else ''})"
        super().__init__("\n".join([head + ":", *map(str, self.issues)]))


class ModelFileError(InputError):
    """A model file (config.json, .gguf, .safetensors) cannot be read or makes no sense."""


def suggest(name: str, choices: Iterable[str], n: int = 5, cutoff: float = 0.6) -> list[str]:
    """Close matches for an unknown name, best first (difflib ratio), without duplicates."""
    seen: dict[str, None] = {}
    for match in difflib.get_close_matches(name, list(dict.fromkeys(choices)), n=n, cutoff=cutoff):
        seen.setdefault(match)
    return list(seen)
