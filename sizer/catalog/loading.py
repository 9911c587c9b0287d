"""The catalog: built-in entries plus overlays, validated, merged, and resolvable by forgiving names.

    catalog = load_catalog()                       # cached; raises CatalogError listing every issue
    catalog.accelerator("H100 SXM")                # -> Accelerator (UnknownNameError / AmbiguousNameError)
    catalog.accelerators["nvidia-h100-sxm-80gb"]   # tables keyed by id
    validate_catalog(["prices.yaml"])              # -> list[CatalogIssue] (empty when valid)

Overlays (`--catalog PATH`, `SIZER_CATALOG`) are files or folders of entries applied in order after
the built-in catalog: an entry with a new id adds it (it names its `kind`), an entry with an
existing id overrides fields of it (see `sizer.catalog.files.merge_override`). Every entry, merged or
not, then goes through the same schema and cross-entry checks.

The built-in catalog alone, once valid, is kept validated in the user's cache folder
(`sizer.catalog.cache`): a cold run then rebuilds its entries without validating them again.
Overlays are validated on every run, and `validate_catalog` always validates.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from sizer.catalog.files import KINDS
from sizer.catalog.names import NameIndex
from sizer.errors import CatalogError, CatalogIssue
from sizer.schema import Accelerator, CalibrationEntry, CloudPrice, Engine, Host, ModelEntry, QuantFormat, System

if TYPE_CHECKING:
    from sizer.catalog.checks import Checked

__all__ = [
    "ENV_VAR",
    "KIND_LABELS",
    "KIND_MODELS",
    "KIND_TABLE",
    "KIND_TABLES",
    "Catalog",
    "KindTable",
    "build_catalog",
    "clear_cache",
    "load_catalog",
    "overlay_paths_from_env",
    "validate_catalog",
]

ENV_VAR = "SIZER_CATALOG"


@dataclass(frozen=True, slots=True)
class KindTable:
    """What the code needs to know about one kind of catalog entry (its files: `sizer.catalog.files`)."""

    model: type[BaseModel]  # the schema an entry validates against
    table: str  # the Catalog attribute holding the entries by id
    label: str  # the word in messages ("unknown GPU ...")


# The one table of entry kinds, in catalog order (the same order as sizer.catalog.files.KINDS).
KIND_TABLE: dict[str, KindTable] = {
    "accelerator": KindTable(Accelerator, "accelerators", "GPU"),
    "model": KindTable(ModelEntry, "models", "model"),
    "quant": KindTable(QuantFormat, "quants", "quant format"),
    "engine": KindTable(Engine, "engines", "engine"),
    "system": KindTable(System, "systems", "system"),
    "calibration": KindTable(CalibrationEntry, "calibration", "calibration entry"),
    "host": KindTable(Host, "hosts", "host platform"),
    "cloud_price": KindTable(CloudPrice, "cloud_prices", "cloud price"),
}
KIND_MODELS: dict[str, type[BaseModel]] = {kind: k.model for kind, k in KIND_TABLE.items()}
KIND_TABLES: dict[str, str] = {kind: k.table for kind, k in KIND_TABLE.items()}
KIND_LABELS: dict[str, str] = {kind: k.label for kind, k in KIND_TABLE.items()}


@dataclass(frozen=True, eq=False)
class Catalog:
    """Validated entries by id, in catalog order. Hashable by identity (safe as a cache key)."""

    accelerators: dict[str, Accelerator] = field(default_factory=dict)
    models: dict[str, ModelEntry] = field(default_factory=dict)
    quants: dict[str, QuantFormat] = field(default_factory=dict)
    engines: dict[str, Engine] = field(default_factory=dict)
    systems: dict[str, System] = field(default_factory=dict)
    calibration: dict[str, CalibrationEntry] = field(default_factory=dict)  # speed factors (sizer.calibrate)
    hosts: dict[str, Host] = field(default_factory=dict)  # host platforms (hosts.yaml)
    cloud_prices: dict[str, CloudPrice] = field(default_factory=dict)  # $/GPU-hour (clouds.yaml)
    _raws: dict[str, Any] = field(default_factory=dict, repr=False)  # id -> RawEntry or CachedOrigin
    _indexes: dict[str, NameIndex] = field(default_factory=dict, repr=False)

    def __repr__(self) -> str:
        counts = ", ".join(
            f"{table}={len(getattr(self, table))}" for table in KIND_TABLES.values()
        )
        return f"Catalog({counts})"

    def origin(self, entry_id: str) -> tuple[str, int]:
        """(file, line) where an entry is defined (its first line; overrides are not shown)."""
        file, line, _ = self._raws[entry_id].locate(())
        return file, line

    def accelerator(self, name: str) -> Accelerator:
        return self.accelerators[self.resolve("accelerator", name)]

    def model(self, name: str) -> ModelEntry:
        """A model by id, alias, name or Hugging Face repo (`deepseek-ai/DeepSeek-V3`)."""
        return self.models[self.resolve("model", name)]

    def quant(self, name: str) -> QuantFormat:
        """A quant format by id, alias or name. Plain names (`int4`) return their own entry; follow
        `resolves_to` for the format they stand for."""
        return self.quants[self.resolve("quant", name)]

    def engine(self, name: str) -> Engine:
        return self.engines[self.resolve("engine", name)]

    def system(self, name: str) -> System:
        return self.systems[self.resolve("system", name)]

    def host(self, name: str) -> Host:
        return self.hosts[self.resolve("host", name)]

    def resolve(self, kind: str, name: str) -> str:
        """The id `name` stands for among entries of `kind` (see `sizer.names` for the rules)."""
        table: dict[str, Any] = getattr(self, KIND_TABLES[kind])
        if name in table:
            return name
        index = self._indexes.get(kind)
        if index is None:
            index = self._indexes[kind] = NameIndex(KIND_LABELS[kind], table.values())
        return index.resolve(name)


def overlay_paths_from_env(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """Overlay paths from SIZER_CATALOG (separated by os.pathsep)."""
    value = (os.environ if environ is None else environ).get(ENV_VAR, "")
    return tuple(p for p in value.split(os.pathsep) if p.strip())


def load_catalog(overlays: Sequence[str | Path] = (), *, base: str | Path | None = None) -> Catalog:
    """The built-in catalog plus `overlays`, cached per overlay list. Raises CatalogError if invalid.

    `base` replaces the built-in catalog by a folder laid out like gpu_catalog/ (used by tests)."""
    catalog, issues = _cached(overlays, base)
    if issues:
        raise CatalogError(issues)
    return catalog


def build_catalog(
    overlays: Sequence[str | Path] = (), *, base: str | Path | None = None
) -> tuple[Catalog, list[CatalogIssue]]:
    """The entries that are valid and every issue, without raising (cached like `load_catalog`)."""
    catalog, issues = _cached(overlays, base)
    return catalog, list(issues)


def validate_catalog(
    paths: Iterable[str | Path] = (), *, base: str | Path | None = None
) -> list[CatalogIssue]:
    """Every problem of the built-in catalog with `paths` as overlays (files or folders); empty if valid.
    Validated in this process (never read from the cache folder), then cached like `load_catalog`
    (see `clear_cache`).

    `base` replaces the built-in catalog by a folder laid out like gpu_catalog/ (used by tests)."""
    return list(_cached(paths, base, validate=True)[1])


def clear_cache() -> None:
    """Forget loaded catalogs (tests that rewrite an overlay file in place)."""
    _cached_build.cache_clear()
    _BUILTIN.clear()


_Result = tuple[Catalog, tuple[CatalogIssue, ...]]
_BUILTIN: dict[str, _Result] = {}  # the built-in catalog alone, "loaded" / "validated" in this process


def _cached(overlays: Iterable[str | Path], base: str | Path | None, *, validate: bool = False) -> _Result:
    paths = tuple(map(str, overlays))
    if paths or base is not None:
        return _cached_build(paths, None if base is None else str(base))
    if validate:  # validate_catalog: validated in this process, never read from the cache folder
        if "validated" not in _BUILTIN:
            _BUILTIN["validated"] = _builtin(from_store=False)
        return _BUILTIN["validated"]
    if "loaded" not in _BUILTIN:
        _BUILTIN["loaded"] = _BUILTIN.get("validated") or _builtin(from_store=True)
    return _BUILTIN["loaded"]


@lru_cache(maxsize=8)
def _cached_build(overlays: tuple[str, ...], base: str | None) -> _Result:
    return _build(overlays, base)


def _builtin(from_store: bool) -> _Result:
    """The built-in catalog, from the cache folder (`from_store`) or validated; a valid one is
    stored when the cache does not hold it yet (or could not be read)."""
    from sizer.catalog import cache as _catalog_cache

    key = _catalog_cache.key()  # before reading any file: an edit made meanwhile changes the key
    stored = _catalog_cache.load(key, KIND_MODELS) if key and from_store else None
    if stored is not None:
        tables, origins = stored
        return Catalog(**{KIND_TABLES[kind]: table for kind, table in tables.items()}, _raws=origins), ()
    catalog, issues = _build(())
    if key and not issues and (from_store or not _catalog_cache.holds(key)):
        tables = {kind: getattr(catalog, KIND_TABLES[kind]) for kind in KIND_MODELS}
        where = {i: (raw.doc.file, raw.path) for i, raw in catalog._raws.items()}
        _catalog_cache.store(key, KIND_MODELS, tables, where)
    return catalog, issues


def _build(
    overlays: tuple[str, ...], base: str | Path | None = None
) -> tuple[Catalog, tuple[CatalogIssue, ...]]:
    """Read, merge and validate: the entries that passed every check, and every issue."""
    from sizer.catalog.checks import cross_entry_issues
    from sizer.catalog.collect import Collector, validate_entries
    from sizer.catalog.files import builtin_files, overlay_files

    collector = Collector({kind: model.model_fields for kind, model in KIND_MODELS.items()})
    for kind, doc in builtin_files(base):
        collector.builtin(kind, doc)
    for path in overlays:
        for doc in overlay_files(path):
            collector.overlay(doc)
    issues = collector.issues
    checked: Checked = {}
    for kind in KINDS:
        raws = [*collector.tables[kind].values(), *(a for a in collector.anonymous if a.kind == kind)]
        valid, entry_issues = validate_entries(KIND_MODELS[kind], raws)
        issues += entry_issues
        checked[kind] = {entry.id: (entry, raw) for entry, raw in valid}
    known_ids = {kind: set(collector.tables[kind]) for kind in KINDS}
    issues += cross_entry_issues(checked, known_ids)
    order = collector.file_order
    issues.sort(key=lambda i: (order.get(i.file, len(order)), i.file, i.line, i.column))
    tables = {
        KIND_TABLES[kind]: {i: entry for i, (entry, _) in entries.items()}
        for kind, entries in checked.items()
    }
    where = {i: raw for entries in checked.values() for i, (_, raw) in entries.items()}
    catalog = Catalog(**tables, _raws=where)
    return catalog, tuple(issues)
