"""The hardware data of the catalog: accelerators, reference systems and engines.

Each entry is checked on its own (parametrized, the entry id as test id) against the schema and
against facts that do not come from the catalog: 2:4 sparsity at most doubles a rate, CUDA compute
capability decides which formats tensor cores run, PCIe and ggml block sizes are what their
specifications say, and every name a user types resolves back to its entry.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from sizer.schema import Accelerator, Engine, System, canonicalize_name
from sizer.schema.accelerator import MEMORY_TYPE_BANDWIDTH_GB_S

GIB = 2**30
TENSOR_FIELDS = {"tf32_tflops", "fp16_tflops", "bf16_tflops", "fp8_tflops", "fp6_tflops", "fp4_tflops",
                 "int8_tops", "int4_tops"}
# PCIe x16, GB/s per direction after 128b/130b encoding (PCI-SIG: 8, 16, 32 GT/s per lane)
PCIE_X16_GB_S = {3: 8 * 16 * 128 / 130 / 8, 4: 16 * 16 * 128 / 130 / 8, 5: 32 * 16 * 128 / 130 / 8}


def _read(relative: str) -> list[dict[str, Any]]:
    root = resources.files("gpu_catalog")
    node = root
    for part in relative.split("/"):
        node = node / part
    if not node.is_file():
        return []
    return yaml.load(node.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader) or []


def _accelerator_files() -> list[str]:
    folder = resources.files("gpu_catalog") / "accelerators"
    return sorted(f"accelerators/{item.name}" for item in folder.iterdir() if item.name.endswith(".yaml"))


ACCELERATORS = [entry for name in _accelerator_files() for entry in _read(name)]
SYSTEMS = _read("systems.yaml")
ENGINES = _read("engines.yaml")


def _ids(entries: list[dict[str, Any]]) -> list[str]:
    return [str(e.get("id")) for e in entries]


def _validated(model: type[BaseModel], raw: dict[str, Any]) -> Any:
    # the catalog loader validates through JSON, so YAML strings become enums; do the same here
    return model.model_validate_json(json.dumps(raw))


@cache
def _catalog() -> Any:
    from sizer.catalog.loading import load_catalog

    return load_catalog()


# ---------------------------------------------------------------- accelerators


def _check_sources_and_notes(acc: Accelerator) -> None:
    assert acc.sources, "every entry names where its figures come from"
    assert len(set(acc.sources)) == len(acc.sources)
    assert acc.notes, "conversions and estimates are explained in notes"
    for name in acc.derived_fields:
        assert name in TENSOR_FIELDS | {"fp32_tflops", "memory_bandwidth_gb_s"}, name


def _check_usable_memory_follows_its_stated_basis(acc: Accelerator) -> None:
    # memory chips come in binary sizes: an "80 GB" label is 80 GiB of cells
    marketed_bytes = acc.memory_gb_marketed * GIB
    usable_bytes = acc.memory_gib_usable * GIB
    assert usable_bytes <= marketed_bytes
    if acc.unified_memory:
        # the whole pool: the label read as GiB (binary-sized memory), or as decimal GB where the notes say so
        if acc.memory_gib_usable != acc.memory_gb_marketed:
            assert acc.memory_gib_usable * GIB == pytest.approx(acc.memory_gb_marketed * 1e9, rel=1e-9)
            assert "decimal" in (acc.notes or "") and acc.usable_memory_basis == "estimated"
    elif acc.usable_memory_basis == "observed":
        assert 0.9 * marketed_bytes < usable_bytes < marketed_bytes
    else:
        ecc = "15/16" in (acc.notes or "")
        expected = acc.memory_gb_marketed * 0.99 * (15 / 16 if ecc else 1)
        assert acc.memory_gib_usable == pytest.approx(expected, abs=0.006), "the rule the notes state holds"


def _check_throughput_is_dense_and_sparse_at_most_doubles_it(acc: Accelerator) -> None:
    dense, sparse = acc.dense.figures(), acc.sparse.figures()
    assert set(sparse) <= TENSOR_FIELDS, "vector FP32 has no 2:4 sparsity mode"
    for name, value in sparse.items():
        if name in dense:
            # 2:4 structured sparsity skips half the products: at most twice the dense rate, never less
            assert dense[name] <= value <= 2 * dense[name] * 1.01, name  # vendors round both figures
    if acc.dense.fp32_tflops is not None:
        for name in ("fp16_tflops", "bf16_tflops", "fp8_tflops", "fp4_tflops"):
            if name in dense:
                assert dense[name] >= acc.dense.fp32_tflops * 0.99 or acc.compute_capability == "6.1", name


def _check_bandwidth_is_plausible_for_its_memory_type(acc: Accelerator) -> None:
    low, high = MEMORY_TYPE_BANDWIDTH_GB_S[acc.memory_type]
    assert low <= acc.memory_bandwidth_gb_s <= high


def _check_native_formats_match_the_tensor_core_generation(acc: Accelerator) -> None:
    formats = set(acc.native_formats)
    if acc.vendor != "NVIDIA":
        assert acc.compute_capability is None
        return
    cc = tuple(int(part) for part in (acc.compute_capability or "0.0").split("."))
    assert cc >= (6, 0), "every NVIDIA entry states its compute capability"
    if cc < (8, 0):
        assert not formats & {"bf16", "tf32", "fp8", "fp4"}, "BF16/TF32 came with Ampere, FP8 with Ada/Hopper"
    if cc < (8, 9):
        assert "fp8" not in formats
    if cc >= (10, 0):
        assert {"fp4", "nvfp4", "mxfp4", "fp8"} <= formats, "Blackwell runs FP4 natively"
    else:
        assert not formats & {"fp4", "nvfp4", "mxfp4"}


def _check_price_and_link_fields_are_consistent(acc: Accelerator) -> None:
    if acc.price_is_estimate:
        assert acc.price_usd is not None
    if acc.interconnect_gb_s is not None:
        assert acc.max_per_node is not None and acc.max_per_node >= 2 or acc.unified_memory
    assert acc.memory_gb_marketed % acc.devices_per_package == 0


@pytest.mark.parametrize("raw", ACCELERATORS, ids=_ids(ACCELERATORS))
def test_accelerator_entry(raw: dict[str, Any]) -> None:
    """Valid, sourced, usable <= marketed memory, dense <= sparse, plausible bandwidth, native formats that
    match the tensor-core generation, consistent price and link fields; and every name resolves to it."""
    acc = _validated(Accelerator, raw)
    _check_sources_and_notes(acc)
    _check_usable_memory_follows_its_stated_basis(acc)
    _check_throughput_is_dense_and_sparse_at_most_doubles_it(acc)
    _check_bandwidth_is_plausible_for_its_memory_type(acc)
    _check_native_formats_match_the_tensor_core_generation(acc)
    _check_price_and_link_fields_are_consistent(acc)
    _check_id_and_aliases_resolve_back_to_it(raw)


def _check_id_and_aliases_resolve_back_to_it(raw: dict[str, Any]) -> None:  # public API only
    catalog = _catalog()
    for name in [raw["id"], *raw.get("aliases", [])]:
        assert catalog.accelerator(name).id == raw["id"], name


def test_hardware_names_are_unique_in_canonical_form() -> None:
    owner: dict[str, str] = {}
    for entry in ACCELERATORS + SYSTEMS + ENGINES:
        for name in [entry["id"], *entry.get("aliases", [])]:
            key = canonicalize_name(name)
            first = owner.setdefault(key, entry["id"])
            assert first == entry["id"], f"{name!r} names both {first} and {entry['id']}"


NAMES_PEOPLE_TYPE = {
    "h100": "nvidia-h100-sxm-80gb", "H100 SXM": "nvidia-h100-sxm-80gb", "rtx4090": "nvidia-rtx-4090-24gb",
    "RTX 4090": "nvidia-rtx-4090-24gb", "M2 Ultra": "apple-m2-ultra-192gb",
    "DGX Spark": "nvidia-dgx-spark-gb10-128gb", "Ascend 910C": "huawei-ascend-910c-128gb",
    "A100 80GB": "nvidia-a100-sxm4-80gb", "a100": "nvidia-a100-sxm4-80gb",
    "h200": "nvidia-h200-sxm-141gb", "b200": "nvidia-b200-hgx-180gb", "mi300x": "amd-instinct-mi300x-192gb",
    "rtx 5090": "nvidia-rtx-5090-32gb", "rtx 3090": "nvidia-rtx-3090-24gb",
    "rtx pro 6000": "nvidia-rtx-pro-6000-blackwell-96gb", "strix halo": "amd-ryzen-ai-max-plus-395-128gb",
    "ryzen ai max+ 395": "amd-ryzen-ai-max-plus-395-128gb", "m3 ultra": "apple-m3-ultra-512gb",
    "m4 max": "apple-m4-max-128gb", "gaudi 3": "intel-gaudi3-128gb",
}


@pytest.mark.parametrize(("name", "entry_id"), NAMES_PEOPLE_TYPE.items(), ids=list(NAMES_PEOPLE_TYPE))
def test_names_people_type_resolve_to_one_accelerator(name: str, entry_id: str) -> None:
    assert _catalog().accelerator(name).id == entry_id


# one name per family the catalog must cover, with the vendor it belongs to
REQUIRED_COVERAGE = {
    "NVIDIA": ["rtx 2080 ti", "rtx 3060", "rtx 3090", "rtx 4060", "rtx 4090", "rtx 5060", "rtx 5090", "v100",
               "a100", "h100", "h200", "b200", "b300", "gb200", "rtx pro 6000", "dgx spark", "l40s", "t4"],
    "AMD": ["mi300x", "mi355x", "rx 7900 xtx", "rx 9070 xt", "ryzen ai max+ 395"],
    "Apple": ["m1", "m1 pro", "m1 max", "m1 ultra", "m2", "m2 pro", "m2 max", "m2 ultra", "m3", "m3 pro",
              "m3 max", "m3 ultra", "m4", "m4 pro", "m4 max"],
    "Intel": ["gaudi 2", "gaudi 3", "arc b580", "arc a770"],
    "Huawei": ["ascend 910b", "ascend 910c"],
}


def test_catalog_covers_the_hardware_people_run() -> None:
    catalog = _catalog()
    assert len(ACCELERATORS) >= 80
    assert len(catalog.accelerators) >= len(ACCELERATORS)
    for vendor, names in REQUIRED_COVERAGE.items():
        for name in names:
            assert catalog.accelerator(name).vendor == vendor, name
    assert len(SYSTEMS) >= 8
    assert sorted(_ids(ENGINES)) == sorted(["llama.cpp", "vllm", "sglang", "tensorrt-llm", "ollama", "mlx",
                                            "ktransformers"])


# ---------------------------------------------------------------- systems


@pytest.mark.parametrize("raw", SYSTEMS, ids=_ids(SYSTEMS))
def test_system_entry(raw: dict[str, Any]) -> None:
    """Valid and sourced, built from catalog accelerators, with links that match them."""
    system = _validated(System, raw)
    assert system.sources and system.notes
    accelerators = _catalog().accelerators
    (part,) = system.accelerators
    assert part.accelerator in accelerators, part.accelerator
    acc = accelerators[part.accelerator]
    if acc.max_per_node is not None:
        assert part.count <= acc.max_per_node, "no more devices per node than the vendor's scale-up unit"
    if acc.unified_memory:
        assert system.host_ram_gb == 0, "a unified pool is the accelerator's memory, not extra host RAM"
        assert system.host_ram_bandwidth_gb_s == acc.memory_bandwidth_gb_s
        assert system.intra_node_link == "unified"
    elif system.intra_node_link == "pcie":
        assert acc.pcie_gen is not None
        per_direction = PCIE_X16_GB_S[acc.pcie_gen] * acc.pcie_lanes / 16
        assert system.intra_node_link_gb_s == pytest.approx(2 * per_direction, rel=0.01), "bidirectional x16"
    elif system.intra_node_link == "nvlink" and part.count > 1:
        assert system.intra_node_link_gb_s == acc.interconnect_gb_s
    if system.nodes > 1:
        assert system.inter_node_link_gb_s is not None
    if system.inter_node_link_gb_s is not None and not acc.unified_memory:
        # per direction between nodes never beats the bidirectional link inside one
        assert system.inter_node_link_gb_s <= system.intra_node_link_gb_s


# ---------------------------------------------------------------- engines


@pytest.mark.parametrize("raw", ENGINES, ids=_ids(ENGINES))
def test_engine_entry(raw: dict[str, Any]) -> None:
    """Valid and sourced; KV cache types and device tiers are consistent."""
    engine = _validated(Engine, raw)
    assert engine.sources and engine.notes
    names = [d.name for d in engine.kv_cache_dtypes]
    assert len(set(names)) == len(names)
    assert engine.kv_cache_dtypes[0].bytes_per_element == 2, "every engine defaults to a 16-bit KV cache"
    tiers = sorted(engine.device_tiers, key=lambda t: t.min_device_gib)
    assert len({t.min_device_gib for t in tiers}) == len(tiers)
    tokens = [t.activation_tokens for t in tiers]
    assert tokens == sorted(tokens), "bigger devices never get smaller micro-batches"
    for tier in tiers:
        if tier.reserved_gib is not None and tier.min_device_gib > 0:
            assert tier.reserved_gib < tier.min_device_gib
    if engine.id in ("llama.cpp", "ollama"):
        # ggml engines name their KV types after ggml tensor types: bytes per value = block bytes / block size
        import gguf

        for dtype in engine.kv_cache_dtypes:
            block, size = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType[dtype.name.upper()]]
            assert dtype.bytes_per_element == size / block, dtype.name


@pytest.mark.parametrize("raw", ENGINES, ids=_ids(ENGINES))
def test_engine_quants_exist_in_the_quant_catalog(raw: dict[str, Any]) -> None:
    quants = _read("quantization.yaml")
    assert quants, "gpu_catalog/quantization.yaml holds no entry"
    known = {q["id"]: q for q in quants}
    engine = _validated(Engine, raw)
    assert len(set(engine.supported_quants)) == len(engine.supported_quants)
    for quant in engine.supported_quants:
        assert quant in known, quant
        assert not known[quant].get("resolves_to"), f"{quant} is a plain name, not a format"
    if engine.id in ("llama.cpp", "ollama"):
        file_types = {i for i, q in known.items()
                      if q["format_kind"] == "gguf_file_type" and not q.get("resolves_to")}
        assert file_types <= set(engine.supported_quants), "ggml engines load every llama.cpp file type"
