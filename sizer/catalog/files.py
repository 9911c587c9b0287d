"""Catalog files -> raw entries: where the files are, which kind each holds, and how overlays merge.

Built-in files are found in the `gpu_catalog` package folder (importlib.resources in a zip), overlays under the
paths given; folders are read recursively, sorted by path. Each file holds a list of entries.
The kind of a built-in entry follows from its file (`accelerators/*.yaml`, `models/*.yaml`,
`quantization.yaml`, `engines.yaml`, `systems.yaml`); an overlay entry names it in `kind` unless
it overrides an existing id. See `merge_override` for the merge rule.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sizer.errors import CatalogIssue

if TYPE_CHECKING:  # yamlio (and yaml) load when a file is read: a catalog from the cache needs neither
    from sizer.catalog.yamlio import Loc, YamlDocument

__all__ = [
    "BUILTIN_FILES",
    "KINDS",
    "RAW_TABLES",
    "RawEntry",
    "builtin_files",
    "builtin_kind",
    "builtin_root",
    "document_issues",
    "entries_of",
    "merge_override",
    "overlay_files",
    "yaml_files",
]

# kind -> built-in location: a folder (trailing slash) or a file at the top of gpu_catalog/
BUILTIN_FILES: dict[str, str] = {
    "accelerator": "accelerators/",
    "model": "models/",
    "quant": "quantization.yaml",
    "engine": "engines.yaml",
    "system": "systems.yaml",
    "calibration": "calibration.yaml",
    "host": "hosts.yaml",
    "cloud_price": "clouds.yaml",
}
KINDS = tuple(BUILTIN_FILES)
# tables kept as raw dicts (no schema yet), by built-in file name -> Catalog attribute
RAW_TABLES: dict[str, str] = {}
_NOT_OVERRIDDEN = ("id", "kind", "sources", "figure_sources")
_PRICE_FIELDS = ("price_usd", "system_price_usd", "host_price_usd")  # dated by price_date
_YAML_SUFFIXES = (".yaml", ".yml")
MAX_ENTRIES_PER_FILE = 5000


@dataclass(slots=True)
class RawEntry:
    """One entry's data before validation, with where each top-level field was written."""

    kind: str
    data: dict[str, Any]
    doc: YamlDocument
    path: Loc  # the entry's key path within `doc`
    overrides: dict[str, tuple[YamlDocument, Loc]] = field(default_factory=dict)

    def locate(self, loc: Loc) -> tuple[str, int, int]:
        """(file, line, column) of a key path inside this entry, following overridden fields."""
        doc, path = self.overrides.get(str(loc[0]), (self.doc, self.path)) if loc else (self.doc, self.path)
        line, column = doc.position((*path, *loc))
        return doc.file, line, column

    def issue(self, loc: Loc, field_path: str, message: str) -> CatalogIssue:
        file, line, column = self.locate(loc)
        return CatalogIssue(file, line, column, field_path, message)


def yaml_files(root: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(relative path, Traversable/Path) of every catalog YAML file under `root`, sorted by path."""
    children = sorted(root.iterdir(), key=lambda c: c.name)
    for child in children:
        rel = f"{prefix}{child.name}"
        if child.is_dir():
            if child.name not in ("__pycache__", "schemas") and not child.name.startswith("."):
                yield from yaml_files(child, rel + "/")
        elif child.name.endswith(_YAML_SUFFIXES):
            yield rel, child


def builtin_kind(relative_path: str) -> str | None:
    """The kind (or raw table name) a built-in file holds, from its place in gpu_catalog/."""
    for kind, where in BUILTIN_FILES.items():
        if relative_path == where or (where.endswith("/") and relative_path.startswith(where)):
            return kind
    return RAW_TABLES.get(relative_path)


def builtin_root() -> Any:
    """The built-in catalog folder: a Path when it is installed as files (the usual case), else
    the package's Traversable (a zip install)."""
    import gpu_catalog

    file = getattr(gpu_catalog, "__file__", None)
    folder = Path(file).parent if file else None
    if folder is not None and folder.is_dir():
        return folder
    from importlib import resources

    return resources.files("gpu_catalog")


def builtin_files(base: str | Path | None = None) -> list[tuple[str, YamlDocument]]:
    """(kind or raw table, parsed document) of every built-in catalog file (or of the files of a
    folder laid out like gpu_catalog/, when `base` is given)."""
    from sizer.catalog.yamlio import YamlDocument, read_yaml

    root: Any = builtin_root() if base is None else Path(base)
    out = []
    for rel, item in yaml_files(root):
        kind = builtin_kind(rel)
        doc = read_yaml(Path(str(item))) if isinstance(item, Path) else _read_traversable(item, rel)
        if kind is None:
            where = ", ".join([*BUILTIN_FILES.values(), *RAW_TABLES])
            doc = YamlDocument(
                doc.file,
                None,
                {},
                (CatalogIssue(doc.file, 1, 1, "", f"unexpected catalog file (expected one of {where})"),),
            )
        out.append((kind or "", doc))
    return out


def _read_traversable(item: Any, rel: str) -> YamlDocument:
    """A catalog file inside a zip or other non-filesystem install (no parse cache there)."""
    from sizer.catalog.yamlio import parse_yaml

    return parse_yaml(item.read_text(encoding="utf-8"), f"gpu_catalog/{rel}")  # the package's own file


def overlay_files(path: str) -> list[YamlDocument]:
    """Parsed documents of an overlay file, or of every YAML file under an overlay folder."""
    from sizer.catalog.yamlio import YamlDocument, read_yaml

    root = Path(path)
    if root.is_dir():
        return [read_yaml(p, display_name=str(root / rel)) for rel, p in yaml_files(root)]
    if not root.exists():
        return [YamlDocument(path, None, {}, (CatalogIssue(path, 1, 1, "", "no such file or directory"),))]
    return [read_yaml(root, display_name=path)]


def entries_of(doc: YamlDocument) -> Iterator[tuple[Loc, Any]]:
    """(key path, raw entry) of each entry in a catalog document (a YAML list of at most
    MAX_ENTRIES_PER_FILE entries; a longer one is reported by `document_issues` and holds none)."""
    if isinstance(doc.data, list) and len(doc.data) <= MAX_ENTRIES_PER_FILE:
        yield from (((i,), item) for i, item in enumerate(doc.data))


_ENTRY_PREFIX = re.compile(r"^\[\d+\]\.?")


def document_issues(doc: YamlDocument) -> list[CatalogIssue]:
    """Issues of the file itself: syntax, duplicate keys, not being a list of mappings."""
    issues = [
        CatalogIssue(i.file, i.line, i.column, _ENTRY_PREFIX.sub("", i.field_path), i.message)
        for i in doc.issues
    ]
    if doc.data is not None and not isinstance(doc.data, list):
        issues.append(doc.issue((), "", "a catalog file holds a YAML list of entries (`- id: ...`)"))
    elif isinstance(doc.data, list) and len(doc.data) > MAX_ENTRIES_PER_FILE:
        issues.append(doc.issue((), "", f"{len(doc.data):,} entries in one file (at most "
                                f"{MAX_ENTRIES_PER_FILE:,}; the built-in catalog has a few hundred in all)"))
    for loc, item in entries_of(doc):
        if not isinstance(item, dict):
            issues.append(doc.issue(loc, "", "each entry is a mapping of fields (`- id: ...`)"))
    return issues


def merge_override(
    base: Mapping[str, Any], override: Mapping[str, Any], known_fields: Collection[str] | None = None
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """THE merge rule: an overlay entry whose id already exists overrides that entry's fields.

    - Each top-level field the override gives replaces the base's value whole (no deep merge:
      `dense: {...}` replaces every dense figure).
    - The override must carry `sources` (a non-empty list); its first URL is recorded in
      `figure_sources` for each overridden field, so every figure still names where it comes from.
      The base's `sources` stay as they are.
    - `figure_sources` of the override are added to the base's (the override wins per field).
    - `id` and `kind` are never changed.
    - A new price (`price_usd`, `system_price_usd`, `host_price_usd`) needs its own `price_date`.
    - With `known_fields`, only those get a `figure_sources` record (an unknown field is reported
      by validation as an unknown field, once).

    Returns the merged data and the names of the overridden fields. Raises ValueError when the
    override carries no usable `sources`.
    """
    sources = override.get("sources")
    if not isinstance(sources, list) or not sources or not all(isinstance(s, str) for s in sources):
        raise ValueError(
            "an override of an existing entry needs `sources`: a list of URLs for the figures it changes"
        )
    changed = tuple(k for k in override if k not in _NOT_OVERRIDDEN)
    repriced = [k for k in changed if k in _PRICE_FIELDS and override[k] is not None]
    if repriced and "price_date" not in override:
        raise ValueError(f"an override of {repriced[0]} needs its own price_date (the entry's date is the old price's)")
    merged = dict(base)
    merged.update((k, override[k]) for k in changed)
    figure_sources = dict(base.get("figure_sources") or {})
    figure_sources.update((k, sources[0]) for k in changed if known_fields is None or k in known_fields)
    extra = override.get("figure_sources")
    if isinstance(extra, Mapping):
        figure_sources.update(extra)
    if figure_sources or "figure_sources" in base:
        merged["figure_sources"] = figure_sources
    return merged, changed
