"""Catalog files -> raw entries -> validated entries, collecting every issue on the way.

`Collector` reads built-in documents and overlay documents (applying the merge rule of
`sizer.catalog.files.merge_override`); `validate_entries` validates the entries of one kind with their
pydantic model and positions each error with `file:line:col`.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from functools import cache
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from sizer.catalog.files import KINDS, RAW_TABLES, RawEntry, document_issues, entries_of, merge_override
from sizer.catalog.yamlio import YamlDocument, validation_issues
from sizer.errors import CatalogIssue

__all__ = ["Collector", "list_adapter", "validate_entries"]


class Collector:
    """Reads files into raw entries, applying overlays, and keeps every issue met on the way."""

    def __init__(self, fields: Mapping[str, Collection[str]]) -> None:
        self.fields = fields  # kind -> field names of its schema (which overrides get a figure source)
        self.tables: dict[str, dict[str, RawEntry]] = {kind: {} for kind in KINDS}
        self.anonymous: list[RawEntry] = []  # entries without a usable id: validated for their issues only
        self.calibration: list[dict[str, Any]] = []
        self.issues: list[CatalogIssue] = []
        self.file_order: dict[str, int] = {}

    def _document(self, doc: YamlDocument) -> None:
        self.file_order.setdefault(doc.file, len(self.file_order))
        self.issues += document_issues(doc)

    def _find(self, entry_id: Any) -> RawEntry | None:
        if not isinstance(entry_id, str):
            return None
        return next((t[entry_id] for t in self.tables.values() if entry_id in t), None)

    def _add(self, raw: RawEntry) -> None:
        entry_id = raw.data.get("id")
        if isinstance(entry_id, str):
            self.tables[raw.kind][entry_id] = raw
        else:
            self.anonymous.append(raw)

    def builtin(self, kind: str, doc: YamlDocument) -> None:
        self._document(doc)
        if kind in RAW_TABLES.values():
            self.calibration += [item for _, item in entries_of(doc) if isinstance(item, dict)]
            return
        for loc, item in entries_of(doc):
            if not isinstance(item, dict) or not kind:
                continue
            raw = RawEntry(kind, item, doc, loc)
            declared = item.get("kind", kind)
            first = self._find(item.get("id"))
            if declared != kind:
                self.issues.append(
                    raw.issue(("kind",), "kind", f"this file holds {kind} entries, not {declared!r}")
                )
            elif first is not None:
                file, line, _ = first.locate(())
                self.issues.append(
                    raw.issue(("id",), "id", f"duplicate id {item['id']!r} (first defined at {file}:{line})")
                )
            else:
                self._add(raw)

    def overlay(self, doc: YamlDocument) -> None:
        self._document(doc)
        seen: dict[str, int] = {}  # id -> line: one file names an id once (later files may override it)
        for loc, item in entries_of(doc):
            if not isinstance(item, dict):
                continue
            declared, entry_id = item.get("kind"), item.get("id")
            if isinstance(entry_id, str):
                if entry_id in seen:
                    self.issues.append(
                        doc.issue(
                            (*loc, "id"),
                            "id",
                            f"duplicate id {entry_id!r} in this file (first at line {seen[entry_id]})",
                        )
                    )
                    continue
                seen[entry_id] = doc.position((*loc, "id"))[0]
            existing = self._find(entry_id)
            if existing is None:
                if declared not in KINDS:
                    what = (
                        f"unknown kind {declared!r}" if declared is not None else "a new entry needs `kind`"
                    )
                    self.issues.append(
                        doc.issue(
                            (*loc, "kind") if declared is not None else loc,
                            "kind" if declared else "",
                            f"{what}: one of {', '.join(KINDS)}",
                        )
                    )
                    continue
                self._add(RawEntry(declared, item, doc, loc))
            elif declared is not None and declared != existing.kind:
                self.issues.append(
                    doc.issue(
                        (*loc, "kind"),
                        "kind",
                        f"{entry_id!r} is of kind {existing.kind}; "
                        f"an override cannot change it to {declared}",
                    )
                )
            else:
                try:
                    existing.data, changed = merge_override(existing.data, item, self.fields[existing.kind])
                except ValueError as exc:
                    self.issues.append(doc.issue(loc, "price_date" if "price_date" in str(exc) else "sources", str(exc)))
                    continue
                for name in (*changed, "figure_sources"):
                    existing.overrides[name] = (doc, loc)


@cache
def list_adapter(model: type[BaseModel]) -> TypeAdapter[list[Any]]:
    return TypeAdapter(list[model])  # type: ignore[valid-type]


def validate_entries(
    model: type[BaseModel], raws: list[RawEntry]
) -> tuple[list[tuple[Any, RawEntry]], list[CatalogIssue]]:
    """Validate entries of one kind in one call; on failure find which entries broke which rule.

    Validation runs in pydantic's JSON mode: YAML gives JSON-shaped data, and strict JSON mode takes
    enum values as strings (strict Python mode would want enum instances).
    """
    try:
        entries = list_adapter(model).validate_json(json.dumps([r.data for r in raws]))
        return list(zip(entries, raws, strict=True)), []
    except ValidationError as exc:
        errors_by_entry: dict[int, list[Any]] = {}
        for error in exc.errors():
            errors_by_entry.setdefault(int(error["loc"][0]), []).append({**error, "loc": error["loc"][1:]})
    valid, issues = [], []
    for index, raw in enumerate(raws):
        errors = errors_by_entry.get(index)
        if errors:
            issues += validation_issues(errors, raw.data, raw.locate, model)
        else:
            valid.append((model.model_validate_json(json.dumps(raw.data)), raw))
    return valid, issues
