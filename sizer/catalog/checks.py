"""Rules across catalog entries, run after each entry passed its schema.

These are the checks `sizer catalog validate` and the tests share: ids and aliases unique
(canonical forms), Hugging Face repos claimed once, references that resolve, dense <= sparse
throughput, memory bandwidth plausible for the memory type, well-formed nested source URLs.
(usable <= marketed memory is a schema rule of `Accelerator`.)
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping
from functools import cache
from typing import Any

from pydantic import TypeAdapter, ValidationError

from sizer.catalog.files import RawEntry
from sizer.catalog.yamlio import Loc, format_field_path
from sizer.errors import CatalogIssue, suggest
from sizer.schema import Accelerator
from sizer.schema.accelerator import MEMORY_TYPE_BANDWIDTH_GB_S
from sizer.schema.common import SourceUrl, canonicalize_name

__all__ = ["Checked", "cross_entry_issues"]

# kind -> id -> (validated entry, where it was written)
Checked = dict[str, dict[str, tuple[Any, RawEntry]]]


@cache
def _url_adapter() -> TypeAdapter[str]:
    return TypeAdapter(SourceUrl)


def cross_entry_issues(checked: Checked, known_ids: Mapping[str, Collection[str]]) -> list[CatalogIssue]:
    """Every cross-entry problem among the entries that passed their schema.

    `known_ids` holds every id per kind, valid or not: a reference to an entry that failed its own
    validation is not reported a second time as unknown.
    """
    issues: list[CatalogIssue] = []
    issues += _unique_names(checked)
    issues += _references(checked, known_ids)
    for entry, raw in checked.get("accelerator", {}).values():
        issues += _accelerator_figures(entry, raw)
    for table in checked.values():
        for _entry, raw in table.values():
            issues += _nested_sources(raw.data, (), raw)
    return issues


def _where(raw: RawEntry, loc: Loc = ()) -> str:
    file, line, _ = raw.locate(loc)
    return f"{file}:{line}"


def _unique_names(checked: Checked) -> Iterator[CatalogIssue]:
    ids: dict[str, RawEntry] = {}
    for table in checked.values():
        for entry_id, (_, raw) in table.items():
            key = canonicalize_name(entry_id)
            if key in ids:
                yield raw.issue(
                    ("id",),
                    "id",
                    f"id {entry_id!r} clashes with {_where(ids[key])} (same canonical form {key!r})",
                )
            else:
                ids.setdefault(key, raw)
    for kind, table in checked.items():
        owners: dict[str, tuple[str, RawEntry]] = {
            canonicalize_name(i): (i, raw) for i, (_, raw) in table.items()
        }
        repos: dict[str, tuple[str, RawEntry]] = {}
        for entry_id, (entry, raw) in table.items():
            for index, alias in enumerate(entry.aliases):
                key = canonicalize_name(alias)
                owner = owners.setdefault(key, (entry_id, raw))
                if owner[0] != entry_id:
                    yield raw.issue(
                        ("aliases", index),
                        f"aliases[{index}]",
                        f"alias {alias!r} already names {kind} {owner[0]!r} ({_where(owner[1])})",
                    )
            for index, repo in enumerate(getattr(entry, "hf_repos", ())):
                owner = repos.setdefault(canonicalize_name(repo), (entry_id, raw))
                if owner[0] != entry_id:
                    yield raw.issue(
                        ("hf_repos", index),
                        f"hf_repos[{index}]",
                        f"repo {repo!r} is already listed by model {owner[0]!r} ({_where(owner[1])})",
                    )


def _reference(
    raw: RawEntry, loc: Loc, value: str | None, kind: str, known: Collection[str]
) -> Iterator[CatalogIssue]:
    if value is None or value in known:
        return
    close = suggest(value, known, n=3)
    hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
    yield raw.issue(loc, format_field_path(loc), f"unknown {kind} id {value!r}{hint}")


def _references(checked: Checked, known_ids: Mapping[str, Collection[str]]) -> Iterator[CatalogIssue]:
    quants, accelerators = known_ids.get("quant", ()), known_ids.get("accelerator", ())
    ggml = [(i, q) for i, (q, _) in checked.get("quant", {}).items() if q.format_kind == "ggml_type"]
    ggml_names = {canonicalize_name(text) for i, q in ggml for text in (i, q.name)}
    for entry, raw in checked.get("model", {}).values():
        yield from _reference(raw, ("native_quant",), entry.native_quant, "quant", quants)
    for entry, raw in checked.get("engine", {}).values():
        for index, quant in enumerate(entry.supported_quants):
            yield from _reference(raw, ("supported_quants", index), quant, "quant", quants)
        for source, target in entry.converted_formats.items():
            yield from _reference(raw, ("converted_formats", source), source, "quant", quants)
            yield from _reference(raw, ("converted_formats", source), target, "quant", quants)
        for li, limit in enumerate(entry.limits):
            for index, acc in enumerate(limit.accelerators):
                yield from _reference(raw, ("limits", li, "accelerators", index), acc, "accelerator", accelerators)
            for field in ("quants", "except_quants"):
                for index, quant in enumerate(getattr(limit, field) or []):
                    yield from _reference(raw, ("limits", li, field, index), quant, "quant", quants)
    for entry, raw in checked.get("system", {}).values():
        for index, part in enumerate(entry.accelerators):
            yield from _reference(
                raw, ("accelerators", index, "accelerator"), part.accelerator, "accelerator", accelerators
            )
        yield from _reference(raw, ("host",), entry.host, "host", known_ids.get("host", ()))
    for entry, raw in checked.get("cloud_price", {}).values():
        yield from _reference(raw, ("accelerator",), entry.accelerator, "accelerator", accelerators)
    for entry, raw in checked.get("quant", {}).values():
        yield from _reference(raw, ("resolves_to",), entry.resolves_to, "quant", quants)
        yield from _reference(raw, ("other_tensors_format",), entry.other_tensors_format, "quant", quants)
        base = entry.base_ggml_type
        if base is not None and canonicalize_name(base) not in ggml_names:
            yield raw.issue(
                ("base_ggml_type",), "base_ggml_type", f"{base!r} is not the id or name of a ggml_type format"
            )


def _accelerator_figures(entry: Accelerator, raw: RawEntry) -> Iterator[CatalogIssue]:
    sparse = entry.sparse.figures()
    for name, dense_value in entry.dense.figures().items():
        if name in sparse and dense_value > sparse[name]:
            yield raw.issue(
                ("dense", name),
                f"dense.{name}",
                f"dense {dense_value:g} exceeds sparse {sparse[name]:g}: "
                "a 2:4-sparsity figure in a dense field?",
            )
    low, high = MEMORY_TYPE_BANDWIDTH_GB_S[entry.memory_type]
    if not low <= entry.memory_bandwidth_gb_s <= high:
        yield raw.issue(
            ("memory_bandwidth_gb_s",),
            "memory_bandwidth_gb_s",
            f"{entry.memory_bandwidth_gb_s:g} GB/s is implausible for {entry.memory_type.value} "
            f"(expected {low:g} to {high:g} GB/s)",
        )


def _nested_sources(node: Any, loc: Loc, raw: RawEntry) -> Iterable[CatalogIssue]:
    """`source` URLs inside nested figures (official counts, quality figures) must be well-formed too."""
    issues: list[CatalogIssue] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "source" and loc and isinstance(value, str):
                try:
                    _url_adapter().validate_python(value)
                except ValidationError as exc:
                    message = str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
                    issues.append(raw.issue((*loc, key), format_field_path((*loc, key)), message))
            elif isinstance(value, (dict, list)):
                issues += _nested_sources(value, (*loc, key), raw)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            if isinstance(value, (dict, list)):
                issues += _nested_sources(value, (*loc, index), raw)
    return issues
