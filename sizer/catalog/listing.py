"""Catalog listings: filter entries and turn them into rows of key columns, or one entry into a record.

Rows use the catalog's field names as keys (what JSON, YAML and CSV print); `Listing.headers` gives
the display header with its unit for each key, and `Listing.human` the formatter that table and
markdown output apply to a column (`8030000000` -> `8.03B`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sizer.units import format_params, format_tokens

if TYPE_CHECKING:
    from sizer.catalog.loading import Catalog

__all__ = [
    "Listing",
    "entry_record",
    "list_accelerators",
    "list_cloud_prices",
    "list_engines",
    "list_hosts",
    "list_models",
    "list_quants",
    "list_systems",
]

Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Listing:
    """Rows of key columns, in display order, with their headers (units included)."""

    rows: list[Row]
    headers: dict[str, str]
    human: dict[str, Callable[[Any], str]] = field(default_factory=dict)


def _lower(values: Iterable[str]) -> set[str]:
    return {v.lower() for v in values}


def _sources(entry: Any) -> list[str]:
    return [*entry.sources, *(u for u in entry.figure_sources.values() if u not in entry.sources)]


def _listing(
    entries: Iterable[Any],
    headers: dict[str, str],
    row: Callable[[Any], Row],
    sources: bool,
    human: dict[str, Callable[[Any], str]] | None = None,
) -> Listing:
    rows = []
    for entry in entries:
        values = row(entry)
        record = {key: values.get(key, getattr(entry, key, None)) for key in headers}
        if sources:
            record["sources"] = _sources(entry)
        rows.append(record)
    shown = {**headers, "sources": "sources"} if sources else headers
    return Listing(rows, shown, human or {})


ACCELERATOR_HEADERS = {
    "id": "id", "vendor": "vendor", "name": "name", "segment": "segment",
    "memory_gb_marketed": "memory (GB)", "memory_gib_usable": "usable (GiB)", "memory_type": "type",
    "memory_bandwidth_gb_s": "bandwidth (GB/s)", "bf16_dense_tflops": "BF16 dense (TFLOPS)",
    "fp8_dense_tflops": "FP8 dense (TFLOPS)", "unified_memory": "unified", "tdp_w": "TDP (W)",
    "price_usd": "price (USD)", "price_date": "price date", "availability": "availability",
}  # fmt: skip


def list_accelerators(
    catalog: Catalog,
    *,
    vendors: Collection[str] = (),
    min_memory_bytes: int | None = None,
    segments: Collection[str] = (),
    unified: bool | None = None,
    sources: bool = False,
) -> Listing:
    """Accelerators by vendor, then marketed memory. Filters combine; empty ones let everything through."""
    wanted = _lower(vendors)
    entries = [
        a for a in catalog.accelerators.values()
        if (not wanted or a.vendor.lower() in wanted)
        and (min_memory_bytes is None or a.memory_gb_marketed * 1e9 >= min_memory_bytes)
        and (not segments or a.segment in segments)
        and (unified is None or a.unified_memory == unified)
    ]  # fmt: skip
    entries.sort(key=lambda a: (a.vendor.lower(), a.memory_gb_marketed, a.id))
    return _listing(entries, ACCELERATOR_HEADERS, lambda a: {
        "memory_type": a.memory_type.value,
        "bf16_dense_tflops": a.dense.bf16_tflops,
        "fp8_dense_tflops": a.dense.fp8_tflops,
    }, sources)  # fmt: skip


MODEL_HEADERS = {
    "id": "id", "name": "name", "vendor": "vendor", "family": "family", "total_params": "total params",
    "active_params": "active params", "context_length": "context (tokens)", "native_quant": "native quant",
}  # fmt: skip


def list_models(
    catalog: Catalog,
    *,
    families: Collection[str] = (),
    vendors: Collection[str] = (),
    min_params: int | None = None,
    max_params: int | None = None,
    sources: bool = False,
) -> Listing:
    """Models by vendor, then total parameters."""
    wanted_families, wanted_vendors = _lower(families), _lower(vendors)
    entries = [
        m for m in catalog.models.values()
        if (not wanted_families or m.architecture.family.lower() in wanted_families)
        and (not wanted_vendors or m.vendor.lower() in wanted_vendors)
        and (min_params is None or m.total_params.value >= min_params)
        and (max_params is None or m.total_params.value <= max_params)
    ]  # fmt: skip
    entries.sort(key=lambda m: (m.vendor.lower(), m.total_params.value, m.id))
    return _listing(entries, MODEL_HEADERS, lambda m: {
        "family": m.architecture.family,
        "total_params": m.total_params.value,
        "active_params": m.active_params.value if m.active_params else None,
    }, sources, {"total_params": format_params, "active_params": format_params,
                 "context_length": format_tokens})  # fmt: skip


QUANT_HEADERS = {
    "id": "id", "name": "name", "format_kind": "kind", "bits_per_weight": "bits/weight",
    "block_size": "block (weights)", "type_size_bytes": "block (bytes)", "weight_bits": "weight bits",
    "group_size": "group", "resolves_to": "means",
}  # fmt: skip


def list_quants(catalog: Catalog, *, kinds: Collection[str] = (), sources: bool = False) -> Listing:
    """Quantization formats in catalog order."""
    entries = [q for q in catalog.quants.values() if not kinds or q.format_kind in kinds]
    return _listing(entries, QUANT_HEADERS, lambda q: {}, sources)


ENGINE_HEADERS = {
    "id": "id", "name": "name", "platforms": "platforms", "tensor_parallel": "TP", "pipeline_parallel": "PP",
    "expert_parallel": "EP", "layer_split": "layer split", "expert_offload": "expert offload",
    "multi_node": "multi-node",
}  # fmt: skip


def list_engines(catalog: Catalog, *, sources: bool = False) -> Listing:
    """Inference engines in catalog order."""
    return _listing(catalog.engines.values(), ENGINE_HEADERS, lambda e: {}, sources)


SYSTEM_HEADERS = {
    "id": "id", "name": "name", "segment": "segment", "accelerators": "accelerators", "nodes": "nodes",
    "host_ram_gb": "host RAM (GB)", "host_ram_bandwidth_gb_s": "RAM bandwidth (GB/s)",
    "intra_node_link": "link", "system_price_usd": "price (USD)",
}  # fmt: skip


def list_systems(catalog: Catalog, *, sources: bool = False) -> Listing:
    """Reference systems in catalog order; accelerators read `8x nvidia-h100-sxm-80gb`."""
    return _listing(catalog.systems.values(), SYSTEM_HEADERS, lambda s: {
        "accelerators": [f"{part.count}x {part.accelerator}" for part in s.accelerators],
    }, sources)  # fmt: skip


HOST_HEADERS = {
    "id": "id", "name": "name", "segment": "segment", "memory": "memory", "ram_bandwidth_gb_s": "RAM (GB/s)",
    "max_ram_gb": "max RAM (GB)", "pcie": "PCIe", "gpu_slots": "GPU links", "psu_w": "PSU (W)",
    "price_usd": "price w/o RAM (USD)", "ram_usd_per_gb": "RAM (USD/GB)", "ram_price_date": "RAM price date",
}  # fmt: skip


def list_hosts(catalog: Catalog, *, sources: bool = False) -> Listing:
    """Host platforms in catalog order; GPU links read `2: x8/x8` (GPUs installed: width each gets)."""
    return _listing(catalog.hosts.values(), HOST_HEADERS, lambda h: {
        "memory": f"{h.cpu_sockets * h.memory_channels}x {h.memory_type}-{h.memory_speed_mt_s}",
        "ram_bandwidth_gb_s": h.ram_bandwidth_gb_s, "pcie": f"Gen{h.pcie_gen}, {h.cpu_pcie_lanes} lanes",
        "gpu_slots": ", ".join(f"{s.gpus}: x{'/x'.join(map(str, s.lanes))}" for s in h.gpu_slots),
    }, sources)  # fmt: skip


CLOUD_HEADERS = {
    "id": "id", "accelerator": "accelerator", "provider": "provider", "usd_per_gpu_hour": "USD/GPU-hour",
    "pricing": "pricing", "price_date": "date", "price_source": "source",
}  # fmt: skip


def list_cloud_prices(catalog: Catalog, *, accelerators: Collection[str] = ()) -> Listing:
    """Cloud GPU rates by accelerator, cheapest first."""
    rows = sorted((c for c in catalog.cloud_prices.values() if not accelerators or c.accelerator in accelerators),
                  key=lambda c: (c.accelerator, c.usd_per_gpu_hour))
    return _listing(rows, CLOUD_HEADERS, lambda c: {}, False)


def entry_record(entry: Any, *, sources: bool = False) -> Row:
    """Every field of an entry (JSON types), derived figures added, notes last; sources on request."""
    record: Row = entry.model_dump(mode="json")
    if isinstance(getattr(type(entry), "bits_per_weight", None), property):  # quant formats
        record["bits_per_weight"] = entry.bits_per_weight
    if isinstance(getattr(type(entry), "ram_bandwidth_gb_s", None), property):  # host platforms
        record["ram_bandwidth_gb_s"] = entry.ram_bandwidth_gb_s
    if not sources:
        record.pop("sources", None)
        record.pop("figure_sources", None)
    if "notes" in record:
        record["notes"] = record.pop("notes")  # caveats read best after the figures
    return record
