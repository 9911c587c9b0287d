"""The only YAML reader: safe loading that keeps a line and column for every key path.

`parse_yaml` composes the node tree with libyaml's safe loader (`yaml.CSafeLoader`) and builds
plain Python data from it, recording where each mapping key and sequence item starts. Syntax
errors, duplicate keys and unknown tags become `CatalogIssue`s with `file:line:col`; so do
pydantic validation errors, through `validation_issues`, which maps an error's `loc` onto the
recorded positions. YAML timestamps stay strings (the catalog has no date type).
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from sizer.errors import CatalogIssue, suggest
from sizer.limits import MAX_YAML_BYTES, MAX_YAML_NODES, no_garbage_collection, read_regular_file

__all__ = ["Loc", "YamlDocument", "format_field_path", "parse_yaml", "read_yaml", "validation_issues"]

Loc = tuple[str | int, ...]
_STR_TAG = "tag:yaml.org,2002:str"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"


class YamlDocument:
    """Parsed YAML data, its problems, and the 1-based (line, column) where each key path starts.

    A document read from the parse cache has no positions until one is asked for; the file is then
    parsed again (which only happens when there is something to report).
    """

    __slots__ = ("_positions", "_source", "data", "file", "issues")

    def __init__(
        self,
        file: str,
        data: Any,
        positions: dict[Loc, tuple[int, int]] | None = None,
        issues: Iterable[CatalogIssue] = (),
        source: Path | None = None,
    ) -> None:
        self.file = file
        self.data = data
        self.issues = tuple(issues)
        self._positions = positions
        self._source = source

    @property
    def positions(self) -> dict[Loc, tuple[int, int]]:
        if self._positions is None and self._source is not None:
            try:
                text = read_regular_file(self._source, MAX_YAML_BYTES).decode("utf-8")
                self._positions = parse_yaml(text, self.file)._positions
            except (OSError, UnicodeDecodeError, TypeError):
                self._positions = {}
        return self._positions or {}

    def position(self, loc: Loc) -> tuple[int, int]:
        """Where `loc` starts, or where its nearest recorded ancestor starts."""
        positions = self.positions
        for end in range(len(loc), -1, -1):
            found = positions.get(loc[:end])
            if found is not None:
                return found
        return (1, 1)

    def issue(self, loc: Loc, field_path: str, message: str) -> CatalogIssue:
        line, column = self.position(loc)
        return CatalogIssue(self.file, line, column, field_path, message)


def read_yaml(path: str | Path, *, display_name: str | None = None, cache: bool = True) -> YamlDocument:
    """Read and parse a YAML file; unreadable files become an issue, not an OSError.

    Only a regular file of at most `MAX_YAML_BYTES` is read (a FIFO or /dev/zero is refused at
    once). With `cache`, parse results are kept in the user's cache folder, keyed by path and
    content (see `sizer.catalog.yamlcache`): libyaml's node construction costs ~0.5 ms per KiB.
    """
    from sizer.catalog import yamlcache as _yamlcache

    name = display_name or str(path)
    source = Path(path)
    try:
        content = read_regular_file(source, MAX_YAML_BYTES)
        text = content.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return YamlDocument(name, None, {}, (CatalogIssue(name, 1, 1, "", f"cannot read file: {reason}"),))
    key = _yamlcache.key(source, content) if cache else None
    hit = _yamlcache.load(key) if key else None
    if hit is not None:
        data, issues = hit
        return YamlDocument(name, data, None, (CatalogIssue(name, *i) for i in issues), source=source)
    doc = parse_yaml(text, name)
    if key:
        _yamlcache.store(key, doc.data, [(i.line, i.column, i.field_path, i.message) for i in doc.issues])
    return doc


def parse_yaml(text: str, file: str) -> YamlDocument:
    """Parse one YAML document. Problems are returned in `issues` (data is None on a syntax error)."""
    loader = yaml.CSafeLoader(text)
    try:
        with no_garbage_collection():  # a 1 MB overlay: 4.2 s with the collector's passes, 1.2 s without
            return _parse(loader, file)
    finally:
        loader.dispose()


def _parse(loader: yaml.CSafeLoader, file: str) -> YamlDocument:
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        detail = exc.problem or "invalid YAML"
        if exc.context:
            started = exc.context_mark
            at = (
                f" started at line {started.line + 1}, column {started.column + 1}"
                if started and started != mark
                else ""
            )
            detail += f" ({exc.context}{at})"
        return YamlDocument(
            file, None, {}, (CatalogIssue(file, line, column, "", f"YAML syntax error: {detail}"),)
        )
    except yaml.YAMLError as exc:  # e.g. a reader error on control characters
        return YamlDocument(file, None, {}, (CatalogIssue(file, 1, 1, "", f"YAML error: {exc}"),))
    if node is None:
        return YamlDocument(file, None, {(): (1, 1)})
    builder = _Builder(loader, file)
    try:
        data = builder.build(node, ())
    except _TooLarge:
        message = f"YAML aliases expand to more than {MAX_YAML_NODES:,} values (an alias bomb?)"
        return YamlDocument(file, None, {}, (CatalogIssue(file, 1, 1, "", message),))
    return YamlDocument(file, data, builder.positions, tuple(builder.issues))


class _TooLarge(Exception):
    """The document, its aliases expanded, holds more than MAX_YAML_NODES values."""


class _Builder:
    """Node tree -> Python data, recording positions; each node is built once (aliases share data).

    Every use of a node counts the values under it, so aliases of aliases (a "billion laughs"
    document) stop at MAX_YAML_NODES instead of growing without bound in whatever walks the data.
    """

    def __init__(self, loader: yaml.CSafeLoader, file: str) -> None:
        self.loader = loader
        self.file = file
        self.positions: dict[Loc, tuple[int, int]] = {}
        self.issues: list[CatalogIssue] = []
        self.built: dict[int, Any] = {}
        self.active: set[int] = set()
        self.sizes: dict[int, int] = {}  # id(node) -> values under it, aliases expanded
        self.expanded = 0

    def _count(self, n: int) -> None:
        self.expanded += n
        if self.expanded > MAX_YAML_NODES:
            raise _TooLarge

    def _issue(self, node: yaml.Node, path: Loc, message: str) -> None:
        mark = node.start_mark
        self.issues.append(
            CatalogIssue(self.file, mark.line + 1, mark.column + 1, format_field_path(path), message)
        )

    def build(self, node: yaml.Node, path: Loc) -> Any:
        if not path:
            self.positions[()] = (node.start_mark.line + 1, node.start_mark.column + 1)
        key = id(node)
        if key in self.built:
            self._count(self.sizes[key])
            return self.built[key]
        if key in self.active:
            self._issue(node, path, "recursive YAML alias")
            return None
        if isinstance(node, yaml.ScalarNode):
            self._count(1)
            return self._scalar(node, path)
        expected = _MAP_TAG if isinstance(node, yaml.MappingNode) else _SEQ_TAG
        if node.tag != expected:
            self._issue(node, path, f"unsupported YAML tag {node.tag}")
            return None
        self.active.add(key)
        before = self.expanded
        try:
            if isinstance(node, yaml.MappingNode):
                result: Any = self._mapping(node, path)
            else:
                result = self._sequence(typing.cast(yaml.SequenceNode, node), path)
        finally:
            self.active.discard(key)
        self._count(1)
        self.sizes[key] = self.expanded - before
        self.built[key] = result
        return result

    def _scalar(self, node: yaml.ScalarNode, path: Loc) -> Any:
        if node.tag in (_STR_TAG, _TIMESTAMP_TAG):
            return node.value
        constructor = self.loader.yaml_constructors.get(node.tag)
        if constructor is None:
            self._issue(node, path, f"unsupported YAML tag {node.tag}")
            return None
        try:
            return constructor(self.loader, node)
        except (yaml.YAMLError, ValueError) as exc:
            self._issue(node, path, f"bad {node.tag.rsplit(':', 1)[-1]} value {node.value!r}: {exc}")
            return None

    def _sequence(self, node: yaml.SequenceNode, path: Loc) -> list[Any]:
        items = []
        for index, child in enumerate(node.value):
            child_path = (*path, index)
            self.positions[child_path] = (child.start_mark.line + 1, child.start_mark.column + 1)
            items.append(self.build(child, child_path))
        return items

    def _mapping(self, node: yaml.MappingNode, path: Loc) -> dict[Any, Any]:
        try:
            self.loader.flatten_mapping(node)  # resolves `<<` merge keys
        except yaml.MarkedYAMLError as exc:
            self._issue(node, path, f"bad merge key: {exc.problem}")
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = self._scalar(key_node, path) if isinstance(key_node, yaml.ScalarNode) else None
            if key is None or isinstance(key, (list, dict)):
                self._issue(key_node, path, "mapping keys must be plain scalars")
                continue
            child_path = (*path, key)
            if key in result:
                first_line = self.positions[child_path][0]
                self._issue(key_node, child_path, f"duplicate key {key!r} (first at line {first_line})")
                continue
            self.positions[child_path] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            result[key] = self.build(value_node, child_path)
        return result


def format_field_path(loc: Iterable[str | int]) -> str:
    """('accelerators', 0, 'count') -> 'accelerators[0].count'."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _clean_loc(loc: Iterable[str | int], data: Any) -> Loc:
    """Keep the keys and indices of `loc` that exist in `data` (plus a missing last key); drop the
    union-member and validator tags pydantic inserts."""
    parts = list(loc)
    out: list[str | int] = []
    node = data
    for index, part in enumerate(parts):
        exists = (isinstance(node, Mapping) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        )
        if exists:
            node = node[part]
            out.append(part)
        elif index == len(parts) - 1 and isinstance(node, Mapping) and isinstance(part, str):
            out.append(part)  # a required key that is missing
    return tuple(out)


def _model_at(model: type[BaseModel] | None, loc: Loc) -> type[BaseModel] | None:
    """The pydantic model that validates the mapping at `loc` (for suggesting field names)."""
    current: Any = model
    for part in loc:
        while True:
            origin = typing.get_origin(current)
            args = [a for a in typing.get_args(current) if a is not type(None)]
            if (origin in (typing.Union, types.UnionType) and args) or origin is typing.Annotated:
                current = args[0]
            else:
                break
        if isinstance(current, type) and issubclass(current, BaseModel) and isinstance(part, str):
            info = current.model_fields.get(part)
            current = info.annotation if info else None
        elif typing.get_origin(current) in (list, tuple) and isinstance(part, int):
            current = typing.get_args(current)[0]
        elif typing.get_origin(current) is dict:
            current = typing.get_args(current)[1]
        else:
            return None
    while typing.get_origin(current) in (typing.Union, types.UnionType):
        current = next(
            (a for a in typing.get_args(current) if isinstance(a, type) and issubclass(a, BaseModel)), None
        )
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _closest_field(name: str, fields: list[str]) -> str | None:
    """A field that extends the unknown name (`memory_gb` -> `memory_gb_marketed`), else the closest one."""
    extending = sorted((f for f in fields if f.startswith(name) or name.startswith(f)), key=len)
    if extending:
        return extending[0]
    close = suggest(name, fields, n=1)
    return close[0] if close else None


def _message(error: Mapping[str, Any], model: type[BaseModel] | None, loc: Loc) -> str:
    kind = error["type"]
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        owner = _model_at(model, loc[:-1])
        close = _closest_field(str(loc[-1]), list(owner.model_fields)) if owner else None
        return "unknown field" + (f"; did you mean {close!r}?" if close else "")
    message = str(error["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    value = error.get("input")
    if kind != "value_error" and isinstance(value, (str, int, float, bool)) and loc:
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
        message += f" (got {shown})"
    return message


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def validation_issues(
    errors: Iterable[Mapping[str, Any]],
    data: Any,
    locate: Callable[[Loc], tuple[str, int, int]],
    model: type[BaseModel] | None = None,
) -> list[CatalogIssue]:
    """pydantic `ValidationError.errors()` of one entry -> positioned issues.

    `locate(loc)` returns (file, line, column) for a key path within the entry. An error raised by a
    model validator (empty `loc`) is placed on the first field its message names.
    """
    issues = []
    for error in errors:
        loc = _clean_loc(error["loc"], data)
        if not loc and isinstance(data, Mapping):
            named = next((w for w in _WORD.findall(str(error["msg"])) if w in data and w != "id"), None)
            loc = (named,) if named else ()
        file, line, column = locate(loc)
        issues.append(CatalogIssue(file, line, column, format_field_path(loc), _message(error, model, loc)))
    return issues
