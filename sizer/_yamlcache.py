"""A parse cache for YAML files: JSON copies of parsed data in the user's cache folder.

The cache folder is `$XDG_CACHE_HOME/sizer` (default `~/.cache/sizer`). An entry is keyed by the
file's absolute path, size and modification time (ns) and by the sizer version, so an edited file
is parsed again. Positions are not cached (they are recomputed on demand). Any failure to read or
write the cache is silent: the cache only ever saves time. SIZER_NO_CACHE=1 turns it off.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from . import __version__

__all__ = ["cache_dir", "key", "load", "store"]

_FORMAT = 1


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "sizer" / f"yaml-{_FORMAT}-{__version__}"


def key(path: Path) -> str | None:
    """Cache key of a file as it is now, or None (no cache) when it cannot be stat'ed."""
    if os.environ.get("SIZER_NO_CACHE", "").lower() in ("1", "true", "yes"):
        return None
    try:
        resolved = path.resolve()
        stat = resolved.stat()
    except OSError:
        return None
    ident = f"{resolved}\0{stat.st_size}\0{stat.st_mtime_ns}"
    return hashlib.sha256(ident.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def load(entry_key: str) -> tuple[Any, list[tuple[int, int, str, str]]] | None:
    try:
        with open(cache_dir() / f"{entry_key}.json", encoding="utf-8") as handle:
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
        folder = cache_dir()
        folder.mkdir(parents=True, exist_ok=True)
        temporary = folder / f"{entry_key}.{os.getpid()}.tmp"
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, folder / f"{entry_key}.json")
    except (OSError, ValueError, TypeError):
        return
