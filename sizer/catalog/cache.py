"""A cache of the validated built-in catalog, so that a cold `sizer` run skips validation.

Validating the built-in catalog is most of a cold run's catalog time: pydantic builds the
validators of every entry kind, then checks every entry and the cross-entry rules. A built-in
catalog that passed with no issue is stored as JSON: per entry the value of each field, the fields
its file set, and where it was written. `load` rebuilds equal objects the way unpickling does
(`__new__` + `__setstate__`): no validation, and no validator is built (the schema models use
`defer_build`).

Safety:
- The key covers the path and content (sha256) of every built-in catalog file, the path, size and
  modification time (ns) of every module of the sizer package (the schema and the checks decide
  what is valid), and the sizer, pydantic and Python versions. Any change gives another key; a
  cache with another key is ignored, and replaced by the next build.
- The file is JSON, so reading it runs no code. It is read and written through
  `sizer.catalog.yamlcache` (a private folder checked before use, no link followed, files created
  exclusively, the sha256 of the body checked on every read): a file that was edited, that another
  user owns, or that cannot be parsed or rebuilt exactly (each model with all of its fields, each
  enum value known) is ignored, and replaced by the next build.
- Only the built-in catalog is cached, never overlays, and `validate_catalog` never reads the
  cache. SIZER_NO_CACHE=1 turns it off (as it does the YAML parse cache, `sizer._yamlcache`).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import types
import typing
from collections.abc import Callable, Mapping
from enum import Enum
from pathlib import Path
from typing import Any

import pydantic

from sizer import __version__
from sizer.catalog import files as _catalog_files
from sizer.catalog import yamlcache as _yamlcache

__all__ = ["CachedOrigin", "holds", "key", "load", "store"]

_FORMAT = 2
_SCALARS = (str, int, float, bool)
_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the sizer package (schema/ included)

Loc = tuple[str | int, ...]
Codec = Callable[[Any], Any]


class _Unsupported(TypeError):
    """A value this cache cannot store exactly (the catalog is then not stored)."""


_NAME = f"catalog-{_FORMAT}.json"


def _code_files(folder: str) -> list[str]:
    files = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False) and entry.name != "__pycache__":
                files += _code_files(entry.path)
            elif entry.name.endswith(".py"):
                files.append(entry.path)
    return sorted(files)


def key() -> str | None:
    """The key of the built-in catalog as it is now, or None (no cache) when caching is turned off
    or the catalog is not a folder of files (a zip install)."""
    if not _yamlcache.enabled():
        return None
    root = _catalog_files.builtin_root()
    if not isinstance(root, Path):
        return None
    digest = hashlib.sha256("\0".join((str(root), __version__, pydantic.VERSION, sys.version)).encode())
    try:
        for _, item in _catalog_files.yaml_files(root):
            content = Path(str(item)).read_bytes()  # 0.4 ms for the whole catalog
            digest.update(f"\n{item}\0{len(content)}\0".encode("utf-8", "surrogatepass"))
            digest.update(content)
        for path in _code_files(_PACKAGE):
            stat = os.stat(path)
            digest.update(f"\n{path}\0{stat.st_size}\0{stat.st_mtime_ns}".encode("utf-8", "surrogatepass"))
    except OSError:
        return None
    return digest.hexdigest()


class CachedOrigin:
    """Where a cached entry was written; `locate` as `RawEntry.locate`. The file is parsed again
    for its positions, once, and only when a position is asked for."""

    __slots__ = ("documents", "file", "path")

    def __init__(self, file: str, path: Loc, documents: dict[str, Any]) -> None:
        self.file = file
        self.path = path
        self.documents = documents  # file -> YamlDocument, shared by the entries of one load

    def locate(self, loc: Loc) -> tuple[str, int, int]:
        from sizer.catalog.yamlio import YamlDocument

        doc = self.documents.get(self.file)
        if doc is None:
            doc = self.documents[self.file] = YamlDocument(self.file, None, source=Path(self.file))
        line, column = doc.position((*self.path, *loc))
        return self.file, line, column


# --- an exact JSON form of validated entries, following the schema's annotations ---------------
# A model is [index of its fields-set in `sets`, value of each field in declaration order]; enums
# are their values, tuples are lists. JSON keeps str, int, float and bool apart, so every scalar
# comes back with its own type.


def _strip(tp: Any) -> Any:
    """The type of a value of annotation `tp` that is not None (`X | None`, `Annotated[X, ...]` -> X)."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) != 1:
                raise _Unsupported(f"union {tp}")
            tp = args[0]
        else:
            return tp


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, pydantic.BaseModel)


def _encoder(tp: Any, sets: dict[tuple[str, ...], int]) -> Codec:
    tp = _strip(tp)
    origin = typing.get_origin(tp)
    if _is_model(tp):
        return _model_encoder(tp, sets)
    if origin in (list, tuple):
        item = _encoder(typing.get_args(tp)[0], sets)

        def encode_items(value: Any) -> Any:
            if type(value) is not origin:
                raise _Unsupported(f"{type(value).__name__} for {tp}")
            return [item(v) for v in value]

        return encode_items
    if origin is dict:
        item = _encoder(typing.get_args(tp)[1], sets)

        def encode_mapping(value: Any) -> Any:
            if type(value) is not dict or not all(type(k) is str for k in value):
                raise _Unsupported(f"{type(value).__name__} for {tp}")
            return {k: item(v) for k, v in value.items()}

        return encode_mapping
    if isinstance(tp, type) and issubclass(tp, Enum):

        def encode_enum(value: Any) -> Any:
            if type(value) is not tp or type(value.value) not in _SCALARS:
                raise _Unsupported(f"{value!r} for {tp}")
            return value.value

        return encode_enum
    if origin is typing.Literal or tp in _SCALARS:

        def encode_scalar(value: Any) -> Any:
            if type(value) not in _SCALARS or (origin is not typing.Literal and type(value) is not tp):
                raise _Unsupported(f"{type(value).__name__} for {tp}")
            return value

        return encode_scalar
    raise _Unsupported(f"annotation {tp}")


def _model_encoder(model: type[pydantic.BaseModel], sets: dict[tuple[str, ...], int]) -> Codec:
    names = tuple(model.model_fields)
    fields = [_encoder(info.annotation, sets) for info in model.model_fields.values()]

    def encode_model(value: Any) -> Any:
        if type(value) is not model or value.__pydantic_extra__ or value.__pydantic_private__:
            raise _Unsupported(f"{type(value).__name__} for {model.__name__}")
        data = value.__dict__
        if data.keys() != set(names) or not value.model_fields_set <= data.keys():
            raise _Unsupported(f"{model.__name__} with other fields than its schema's")
        fields_set = tuple(n for n in names if n in value.model_fields_set)
        index = sets.setdefault(fields_set, len(sets))
        return [index, *(None if data[n] is None else f(data[n]) for n, f in zip(names, fields, strict=True))]

    return encode_model


def _decoder(tp: Any, sets: list[frozenset[str]]) -> Codec | None:
    """Rebuilds a value from its JSON form; None when the JSON value is the value."""
    tp = _strip(tp)
    origin = typing.get_origin(tp)
    if _is_model(tp):
        return _model_decoder(tp, sets)
    if origin in (list, tuple):
        item = _decoder(typing.get_args(tp)[0], sets)
        if origin is tuple:
            return tuple if item is None else lambda v: tuple(map(item, v))
        return None if item is None else lambda v: [item(x) for x in v]
    if origin is dict:
        value = _decoder(typing.get_args(tp)[1], sets)
        return None if value is None else lambda v: {k: value(x) for k, x in v.items()}
    if isinstance(tp, type) and issubclass(tp, Enum):
        return tp
    return None


def _model_decoder(model: type[pydantic.BaseModel], sets: list[frozenset[str]]) -> Codec:
    names = tuple(model.model_fields)
    width = len(names) + 1
    nested = [
        (name, decode)
        for name, info in model.model_fields.items()
        if (decode := _decoder(info.annotation, sets)) is not None
    ]
    new = model.__new__

    def decode_model(data: Any) -> Any:
        if len(data) != width:
            raise ValueError(f"a cached {model.__name__} has {len(data) - 1} fields, not {width - 1}")
        values = dict(zip(names, data[1:], strict=True))
        for name, decode in nested:
            if values[name] is not None:
                values[name] = decode(values[name])
        entry = new(model)
        entry.__setstate__(
            {
                "__dict__": values,
                "__pydantic_fields_set__": set(sets[data[0]]),
                "__pydantic_extra__": None,
                "__pydantic_private__": None,
            }
        )
        return entry

    return decode_model


# --- the cache file: a header line {"format", "key"}, then the entries --------------------------


Tables = dict[str, dict[str, Any]]  # kind -> id -> entry
Origins = dict[str, CachedOrigin]  # id -> where the entry was written


def _header(entry_key: str) -> str:
    return json.dumps({"format": _FORMAT, "key": entry_key}) + "\n"


def _read(entry_key: str) -> str | None:
    """The body of the cache file after its header, if the file is intact and the one of `entry_key`."""
    data = _yamlcache.read(_NAME)
    header = _header(entry_key).encode()
    if data is None or not data.startswith(header):
        return None
    try:
        return data[len(header):].decode("utf-8")
    except UnicodeDecodeError:
        return None


def holds(entry_key: str) -> bool:
    """True when the cache file is intact and the one of `entry_key`."""
    return _read(entry_key) is not None


def load(entry_key: str, models: Mapping[str, type[pydantic.BaseModel]]) -> tuple[Tables, Origins] | None:
    """The cached catalog (entries by kind and id, and where each was written) if the cache file is
    the one of `entry_key` and holds `models`' kinds, else None."""
    try:
        text = _read(entry_key)
        if text is None:
            return None
        cached = json.loads(text)
        if cached["kinds"] != list(models):
            return None
        sets = [frozenset(s) for s in cached["sets"]]
        files = cached["files"]
        documents: dict[str, Any] = {}
        tables: Tables = {}
        origins: Origins = {}
        for kind, model in models.items():
            decode = _model_decoder(model, sets)
            table = tables[kind] = {}
            for file_index, path, data in cached["entries"][kind]:
                entry = decode(data)
                table[entry.id] = entry
                origins[entry.id] = CachedOrigin(files[file_index], tuple(path), documents)
        return tables, origins
    except Exception:  # noqa: BLE001 - an unreadable, foreign or damaged cache is ignored, never trusted
        return None


def store(
    entry_key: str,
    models: Mapping[str, type[pydantic.BaseModel]],
    tables: Mapping[str, Mapping[str, Any]],
    origins: Mapping[str, tuple[str, Loc]],
) -> bool:
    """Keep a validated catalog (`origins`: id -> (file, key path in it)); False if not stored."""
    sets: dict[tuple[str, ...], int] = {}
    files: dict[str, int] = {}
    try:
        entries = {}
        for kind, model in models.items():
            encode = _model_encoder(model, sets)
            entries[kind] = [
                [files.setdefault(origins[i][0], len(files)), list(origins[i][1]), encode(entry)]
                for i, entry in tables[kind].items()
            ]
        body = {"kinds": list(models), "sets": list(sets), "files": list(files), "entries": entries}
        text = _header(entry_key) + json.dumps(
            body, ensure_ascii=False, allow_nan=False, separators=(",", ":")
        )
    except (ValueError, TypeError, KeyError):  # _Unsupported is a TypeError
        return False
    return _yamlcache.write(_NAME, text.encode("utf-8"))
