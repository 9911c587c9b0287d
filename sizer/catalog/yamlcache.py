"""sizer's cache folder, and the parse cache of YAML files kept in it.

The folder is `$XDG_CACHE_HOME/sizer`, or `~/.cache/sizer` when XDG_CACHE_HOME is unset or
relative (the XDG base directory spec says a relative path is ignored). It also holds the
validated built-in catalog (`sizer.catalog.cache`). It cannot be turned against its user:

- the folder is created 0700 and used only if it is a real folder (not a symbolic link), owned by
  the user and writable by no one else; otherwise sizer runs uncached and says so once
  (`take_warning`, printed by the CLI);
- every file is opened relative to the opened folder (`dir_fd`), never following a link
  (O_NOFOLLOW), and read only if it is a regular file of the user's of bounded size;
- a file is written under a fresh random name created exclusively (O_CREAT | O_EXCL, 0600), then
  renamed over the old one: nothing planted in the folder is ever written through;
- each file starts with the sha256 of its body, checked on every read: an edited or truncated file
  is ignored (and rebuilt), never trusted.

Any failure to read or write the cache is silent: it only ever saves time. SIZER_NO_CACHE=1 turns
it off. The YAML parse cache keys an entry by the file's absolute path and content (sha256) and the
sizer version, so an edited file is parsed again; positions are not cached (recomputed on demand).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import stat
from pathlib import Path
from typing import Any

from sizer import __version__

__all__ = ["cache_root", "enabled", "key", "load", "read", "store", "take_warning", "write"]

_FORMAT = 2
_MAX_FILE_BYTES = 64 << 20
_MAGIC = b"sizer-cache sha256="
_warning: str | None = None
_warned = False


def enabled() -> bool:
    """False when SIZER_NO_CACHE turns sizer's caches off, or where files cannot be opened relative
    to a folder (no `dir_fd`: the cache could not be used safely)."""
    if os.environ.get("SIZER_NO_CACHE", "").lower() in ("1", "true", "yes"):
        return False
    return os.open in os.supports_dir_fd and os.rename in os.supports_dir_fd


def cache_root() -> Path | None:
    """sizer's folder in the user's cache folder, or None when there is no absolute place for it."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):
        home = os.path.expanduser("~")
        if not os.path.isabs(home):
            return None
        base = os.path.join(home, ".cache")
    return Path(base) / "sizer"


def take_warning() -> str | None:
    """Why the cache folder was refused (once per process), for the CLI to print; else None."""
    global _warning, _warned
    message, _warning = _warning, None
    if message is None or _warned:
        return None
    _warned = True
    return message


def _refuse(root: Path, reason: str) -> None:
    global _warning
    if not _warned:
        _warning = f"cache folder {root} not used ({reason}); running without a cache"


def _uid() -> int | None:
    getuid = getattr(os, "getuid", None)
    return getuid() if getuid is not None else None


def _safe(info: os.stat_result, want_dir: bool) -> str | None:
    """Why a cache folder or file may not be used, or None."""
    if want_dir and not stat.S_ISDIR(info.st_mode):
        return "not a folder"
    if not want_dir and not stat.S_ISREG(info.st_mode):
        return "not a regular file"
    uid = _uid()
    if uid is not None and info.st_uid != uid:
        return f"owned by user {info.st_uid}"
    if info.st_mode & 0o022:
        return f"writable by others (mode {stat.S_IMODE(info.st_mode):o})"
    return None


def _open_folder(name: str | Path, dir_fd: int | None, create: bool, shown: Path) -> int | None:
    """A descriptor of a safe folder (created 0700 when `create`), or None."""
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    try:
        info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        if not create:
            return None
        try:
            if dir_fd is None:
                os.makedirs(os.path.dirname(name), mode=0o700, exist_ok=True)
            os.mkdir(name, 0o700, dir_fd=dir_fd)
            info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except OSError as exc:
            _refuse(shown, exc.strerror or type(exc).__name__)
            return None
    except OSError as exc:
        _refuse(shown, exc.strerror or type(exc).__name__)
        return None
    if stat.S_ISLNK(info.st_mode):
        _refuse(shown, "a symbolic link")
        return None
    reason = _safe(info, want_dir=True)
    if reason:
        _refuse(shown, reason)
        return None
    try:
        fd = os.open(name, flags, dir_fd=dir_fd)
    except OSError as exc:
        _refuse(shown, exc.strerror or type(exc).__name__)
        return None
    reason = _safe(os.fstat(fd), want_dir=True)  # the folder opened is the one checked
    if reason:
        os.close(fd)
        _refuse(shown, reason)
        return None
    return fd


def _folder(sub: str | None, create: bool) -> int | None:
    if not enabled():
        return None
    root = cache_root()
    if root is None:
        return None
    fd = _open_folder(root, None, create, root)
    if fd is None or sub is None:
        return fd
    try:
        return _open_folder(sub, fd, create, root / sub)
    finally:
        os.close(fd)


def read(name: str, sub: str | None = None) -> bytes | None:
    """The body of cache file `name` (in subfolder `sub`) if it is safe and intact, else None."""
    folder = _folder(sub, create=False)
    if folder is None:
        return None
    try:
        flags = os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
        fd = os.open(name, flags, dir_fd=folder)
    except OSError:
        return None
    finally:
        os.close(folder)
    try:
        info = os.fstat(fd)
        if _safe(info, want_dir=False) or info.st_size > _MAX_FILE_BYTES:
            return None
        with os.fdopen(fd, "rb") as handle:
            fd = -1
            data = handle.read(_MAX_FILE_BYTES + 1)
    except OSError:
        return None
    finally:
        if fd >= 0:
            os.close(fd)
    head, _, body = data.partition(b"\n")
    if not head.startswith(_MAGIC) or head[len(_MAGIC):] != hashlib.sha256(body).hexdigest().encode():
        return None
    return body


def write(name: str, body: bytes, sub: str | None = None) -> bool:
    """Keep `body` as cache file `name`: written to a new file created exclusively, then renamed."""
    folder = _folder(sub, create=True)
    if folder is None:
        return False
    temporary = f".{name}.{secrets.token_hex(8)}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(temporary, flags, 0o600, dir_fd=folder)
        with os.fdopen(fd, "wb") as handle:
            handle.write(_MAGIC + hashlib.sha256(body).hexdigest().encode() + b"\n" + body)
        os.replace(temporary, name, src_dir_fd=folder, dst_dir_fd=folder)
        return True
    except OSError:
        try:
            os.unlink(temporary, dir_fd=folder)
        except OSError:
            pass
        return False
    finally:
        os.close(folder)


# --- the YAML parse cache ----------------------------------------------------------------------


def _yaml_folder() -> str:
    return f"yaml-{_FORMAT}-{__version__}"


def key(path: Path, content: bytes) -> str | None:
    """Cache key of a file (its absolute path and content), or None when caching is off."""
    if not enabled():
        return None
    digest = hashlib.sha256(f"{os.path.abspath(path)}\0".encode("utf-8", "surrogatepass"))
    digest.update(content)
    return digest.hexdigest()[:32]


def load(entry_key: str) -> tuple[Any, list[tuple[int, int, str, str]]] | None:
    body = read(f"{entry_key}.json", _yaml_folder())
    if body is None:
        return None
    try:
        cached = json.loads(body)
        return cached["data"], [tuple(i) for i in cached["issues"]]
    except (ValueError, KeyError, TypeError):
        return None


def store(entry_key: str, data: Any, issues: list[tuple[int, int, str, str]]) -> None:
    """Keep a parse result, unless its data does not survive a JSON round trip unchanged."""
    try:
        text = json.dumps({"data": data, "issues": issues}, ensure_ascii=False, allow_nan=False)
        if json.loads(text)["data"] != data:
            return  # e.g. non-string mapping keys: not worth caching
    except (ValueError, TypeError, RecursionError):
        return
    write(f"{entry_key}.json", text.encode("utf-8"), _yaml_folder())
