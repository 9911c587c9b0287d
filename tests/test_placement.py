"""Placement: where weights, KV cache, activations and overhead go, and the verdict (issue 4).

Independent truth used here: official parameter counts and config shapes (KV bytes per token worked out by
hand), engines.md's rules (vLLM: KV pool = budget - weights - activations - overhead, "Maximum concurrency"
= pool / one request's KV; llama.cpp: KV buffer per device = its layers x n_ctx x (K + V width) x bytes),
macOS's observed GPU working-set defaults (shared/reference/hosts.yaml), and invariants checked with
hypothesis: more memory or one more GPU never turns a fit into a non-fit, a fit never overfills a device,
the parts add up.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from sizer.catalog.loading import load_catalog
from sizer.model.tensors import Role
from sizer.placement.hardware import build_hardware
from sizer.sizing.fitter import fit
from sizer.sizing.results import DeviceUsage, FitResult

GIB = 2**30
MIB = 2**20
CAT = load_catalog()

# The JSON contract of `fit` (DESIGN.md "Command-line contract"): a golden key set, allowed because it is a
# contract. Fields may be added, never renamed.
CONTRACT_TOP = {"model", "quant", "memory", "placement", "fits", "performance", "max_context", "max_concurrency",
                "warnings", "assumptions"}
CONTRACT_MODEL = {"id", "total_params", "active_params"}
CONTRACT_MEMORY = {"weights_bytes", "kv_cache_bytes", "activations_bytes", "overhead_bytes", "total_bytes"}
CONTRACT_DEVICE = {"device", "index", "capacity_bytes", "used_bytes", "weights_bytes", "kv_cache_bytes"}
CONTRACT_PERFORMANCE = {"decode_tokens_per_s", "prefill_tokens_per_s", "ttft_s"}

# A bounded profile for the property tests: each example runs `fit` two or three times.
PROPERTY = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])

MODELS = ["llama-3.1-8b", "qwen3-30b-a3b", "mixtral-8x7b", "gpt-oss-20b", "gemma-3-12b", "llama-3.1-70b",
          "deepseek-v3", "qwen3-next-80b-a3b", "deepseek-v4-flash", "glm-4.5-air", "qwen3-32b"]
QUANTS = ["q4_k_m", "q8_0", "iq2_xxs", "bf16", "fp8", "int4", "native"]
GPUS = ["RTX 3060", "RTX 3090", "RTX 4060 Ti 16GB", "RTX 4090", "RTX 5090", "L40S", "A100 SXM4 80GB", "H100 SXM",
        "H200", "MI300X", "M3 Max", "DGX Spark"]
ENGINES = [None, "llama.cpp", "vllm", "sglang"]


def run(model: str, **kw: Any) -> FitResult:
    return fit(model, catalog=CAT, **kw)


def gpu_rows(r: FitResult) -> list[DeviceUsage]:
    return [d for d in r.placement if d.kind != "host_ram"]


def host_row(r: FitResult) -> DeviceUsage | None:
    return next((d for d in r.placement if d.kind == "host_ram"), None)


def layer_count(text: str | None) -> int:
    """'layers 40-79' -> 40, 'layer 3' -> 1."""
    m = re.search(r"layers? (\d+)(?:-(\d+))?", text or "")
    assert m, text
    return int(m.group(2) or m.group(1)) - int(m.group(1)) + 1


def engine_supports(model: str, quant: str, engine: str | None, gpu: str) -> bool:
    """Skip combinations an engine cannot run at all (a format it does not load, an Apple GPU for vLLM)."""
    acc = CAT.accelerator(gpu)
    if engine in ("vllm", "sglang") and acc.vendor.lower() == "apple":
        return False
    return not (engine == "llama.cpp" and quant == "native" and model in ("deepseek-v4-flash", "gpt-oss-20b"))


def fits_or_none(**kw: Any) -> bool | None:
    try:
        return run(**kw).fits
    except Exception as exc:  # a combination the library rejects up front is not a placement result
        from sizer.errors import SizerError

        if isinstance(exc, SizerError):
            return None
        raise


configs = st.fixed_dictionaries({
    "model": st.sampled_from(MODELS),
    "quant": st.sampled_from(QUANTS),
    "gpu": st.sampled_from(GPUS),
    "count": st.integers(1, 8),
    "engine": st.sampled_from(ENGINES),
    "context_tokens": st.sampled_from([2048, 8192, 32768]),
})


# ------------------------------------------------------------------------------------------------ properties


@PROPERTY
@given(cfg=configs, ram_a=st.integers(16, 1024), extra=st.integers(1, 1024))
def test_more_host_ram_never_turns_a_fit_into_a_non_fit(cfg: dict[str, Any], ram_a: int, extra: int) -> None:
    assume(engine_supports(cfg["model"], cfg["quant"], cfg["engine"], cfg["gpu"]))
    base = dict(model=cfg["model"], quant=cfg["quant"], gpus=((cfg["gpu"], cfg["count"]),), engine=cfg["engine"],
                context_tokens=cfg["context_tokens"])
    small = fits_or_none(**base, ram_bytes=ram_a * 10**9)
    large = fits_or_none(**base, ram_bytes=(ram_a + extra) * 10**9)
    assume(small is not None and large is not None)
    assert not (small and not large)


@PROPERTY
@given(cfg=configs)
def test_one_more_gpu_never_turns_a_fit_into_a_non_fit(cfg: dict[str, Any]) -> None:
    assume(engine_supports(cfg["model"], cfg["quant"], cfg["engine"], cfg["gpu"]))
    base = dict(model=cfg["model"], quant=cfg["quant"], engine=cfg["engine"], context_tokens=cfg["context_tokens"])
    fewer = fits_or_none(**base, gpus=((cfg["gpu"], cfg["count"]),))
    more = fits_or_none(**base, gpus=((cfg["gpu"], cfg["count"] + 1),))
    assume(fewer is not None and more is not None)
    assert not (fewer and not more)


@PROPERTY
@given(cfg=configs, other=st.sampled_from(["RTX 3060", "RTX 3090", "RTX 4090", "RTX 5090"]))
def test_adding_a_different_card_never_hurts_a_layer_split(cfg: dict[str, Any], other: str) -> None:
    """llama.cpp spreads layers over unequal cards, so any extra card only adds room."""
    assume(CAT.accelerator(cfg["gpu"]).vendor.lower() != "apple" and not CAT.accelerator(cfg["gpu"]).unified_memory)
    assume(engine_supports(cfg["model"], cfg["quant"], "llama.cpp", cfg["gpu"]))
    base = dict(model=cfg["model"], quant=cfg["quant"], engine="llama.cpp", context_tokens=cfg["context_tokens"])
    alone = fits_or_none(**base, gpus=((cfg["gpu"], cfg["count"]),))
    mixed = fits_or_none(**base, gpus=((cfg["gpu"], cfg["count"]), (other, 1)))
    assume(alone is not None and mixed is not None)
    assert not (alone and not mixed)


@PROPERTY
@given(cfg=configs, nodes=st.integers(1, 3))
def test_one_more_node_never_turns_a_fit_into_a_non_fit(cfg: dict[str, Any], nodes: int) -> None:
    assume(not CAT.accelerator(cfg["gpu"]).unified_memory)
    assume(engine_supports(cfg["model"], cfg["quant"], cfg["engine"], cfg["gpu"]))
    base = dict(model=cfg["model"], quant=cfg["quant"], engine=cfg["engine"], context_tokens=cfg["context_tokens"],
                gpus=((cfg["gpu"], cfg["count"]),))
    fewer = fits_or_none(**base, nodes=nodes)
    more = fits_or_none(**base, nodes=nodes + 1)
    assume(fewer is not None and more is not None)
    assert not (fewer and not more)


@PROPERTY
@given(cfg=configs, ram=st.one_of(st.none(), st.integers(16, 1024)), users=st.integers(1, 4))
def test_devices_are_never_overfilled_and_the_parts_add_up(cfg: dict[str, Any], ram: int | None, users: int) -> None:
    assume(engine_supports(cfg["model"], cfg["quant"], cfg["engine"], cfg["gpu"]))
    try:
        r = run(cfg["model"], quant=cfg["quant"], gpus=((cfg["gpu"], cfg["count"]),), engine=cfg["engine"],
                context_tokens=cfg["context_tokens"], users=users, ram_bytes=None if ram is None else ram * 10**9)
    except Exception as exc:
        from sizer.errors import SizerError

        assume(not isinstance(exc, SizerError))
        raise
    m = r.memory
    assert m.total_bytes == m.weights_bytes + m.kv_cache_bytes + m.activations_bytes + m.overhead_bytes
    for d in r.placement:
        assert d.used_bytes == d.weights_bytes + d.kv_cache_bytes + d.activations_bytes + d.overhead_bytes
        assert d.free_bytes == d.capacity_bytes - d.used_bytes
        assert min(d.weights_bytes, d.kv_cache_bytes, d.activations_bytes, d.overhead_bytes) >= 0
        if r.fits:
            assert d.used_bytes <= d.capacity_bytes, d
    assert r.fits == all(d.free_bytes >= 0 for d in r.placement)
    placed = sum(d.weights_bytes for d in r.placement)
    slack = len(r.placement)  # each device's share is rounded down to whole bytes
    tp_like = r.engine in ("vllm", "sglang", "tensorrt-llm", "mlx")
    if tp_like:
        # tensor parallel replicates norms, routers and KV projections, so the ranks together hold more
        assert placed >= m.weights_bytes - slack
        assert placed <= m.weights_bytes * max(len(gpu_rows(r)), 1)
    else:  # llama.cpp: every tensor lives on exactly one device (host RAM included)
        assert abs(placed - m.weights_bytes) <= slack
        assert abs(sum(d.kv_cache_bytes for d in r.placement) - m.kv_cache_bytes) <= slack
    if r.fits:
        assert (r.max_context or 0) >= min(cfg["context_tokens"], 1)
        assert (r.max_concurrency or 0) >= 0.99 * users


# ----------------------------------------------------------------------------------------------- JSON contract


def test_fit_json_keeps_the_contract_keys(run_cli) -> None:
    res = run_cli("fit", "deepseek-v3", "-q", "q4_k_m", "--gpu", "RTX 5090", "--ram", "768", "-c", "32k",
                  "-f", "json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert CONTRACT_TOP <= set(data)
    assert CONTRACT_MODEL <= set(data["model"])
    assert CONTRACT_MEMORY <= set(data["memory"])
    assert CONTRACT_PERFORMANCE <= set(data["performance"])
    for device in data["placement"]:
        assert CONTRACT_DEVICE <= set(device)
        assert all(isinstance(device[k], int) for k in CONTRACT_DEVICE - {"device"})
    assert all(isinstance(data["memory"][k], int) for k in CONTRACT_MEMORY)
    host = [d for d in data["placement"] if d["index"] == -1]
    assert len(host) == 1 and host[0]["device"] == "host RAM", "host RAM is a device of its own"
    assert data["fits"] is True and isinstance(data["max_context"], int)
    assert isinstance(data["warnings"], list) and isinstance(data["assumptions"], list)


def test_a_model_that_does_not_fit_is_still_exit_0_with_the_short_device(run_cli) -> None:
    res = run_cli("fit", "deepseek-v3", "-q", "q4_k_m", "--gpu", "RTX 5090", "-f", "json")
    assert res.exit_code == 0
    data = json.loads(res.stdout)
    assert data["fits"] is False
    assert re.fullmatch(r"GPU 0 \(.*\) is \d+\.\d GiB short", data["binding_constraint"])
    assert data["max_context"] == 0 and data["max_concurrency"] == 0


# ------------------------------------------------------------------------------- the 1T-MoE example


def test_a_1t_moe_at_4_bit_needs_host_ram_for_its_experts() -> None:
    """~1T MoE at ~4.5 bits: not on one 32 GB card, but on that card plus ~600+ GB of RAM holding the experts."""
    alone = run("kimi-k2-instruct", quant="q4_k_m", gpus=(("RTX 5090", 1),))
    assert alone.fits is False and alone.memory.weights_bytes > 500e9
    pinned = run("kimi-k2-instruct", quant="q4_k_m", gpus=(("RTX 5090", 1),), ram_bytes=768 * 10**9, offload="none")
    assert pinned.fits is False
    hybrid = run("kimi-k2-instruct", quant="q4_k_m", gpus=(("RTX 5090", 1),), ram_bytes=768 * 10**9)
    assert hybrid.fits is True and hybrid.offload == "experts"
    host = host_row(hybrid)
    assert host is not None and "routed experts" in (host.layers or "")
    routed = hybrid.memory.weights_by_class["routed_expert"]
    assert host.weights_bytes >= 0.9 * routed  # nearly all experts in RAM: N as small as fits
    assert gpu_rows(hybrid)[0].weights_bytes < 32e9
    assert hybrid.performance is not None and "host RAM" in hybrid.performance.decode_bound_by
    too_little = run("kimi-k2-instruct", quant="q4_k_m", gpus=(("RTX 5090", 1),), ram_bytes=256 * 10**9)
    assert too_little.fits is False and "host RAM" in (too_little.binding_constraint or "")


# ------------------------------------------------------------------------------------------- hardware forms


def test_mixed_cards_split_layers_in_proportion_to_memory() -> None:
    r = run("llama-3.1-70b", quant="q4_k_m", gpus=(("RTX 5090", 1), ("RTX 4090", 1)), engine="llama.cpp")
    big, small = gpu_rows(r)
    assert r.fits and big.device.endswith("5090") and small.device.endswith("4090")
    room = [d.capacity_bytes - d.activations_bytes - d.overhead_bytes for d in (big, small)]
    share = big.weights_bytes / (big.weights_bytes + small.weights_bytes)
    # whole layers: the split can miss the capacity ratio by about one layer (~1/80 of the model)
    assert share == pytest.approx(room[0] / sum(room), abs=0.03)
    assert layer_count(big.layers) + layer_count(small.layers) == 80
    # whole layers of 12 GiB: a cut in proportion to memory would overfill the small card, another cut fits
    big4 = run("deepseek-v4-flash", quant="bf16", gpus=(("H200", 4),), engine="llama.cpp", context_tokens=2048)
    plus = run("deepseek-v4-flash", quant="bf16", gpus=(("H200", 4), ("RTX 3060", 1)), engine="llama.cpp",
               context_tokens=2048)
    assert big4.fits is True and plus.fits is True
    # the same cards under vLLM's tensor parallel: every rank holds the same share, the smallest card
    # decides, and each card keeps its own capacity (so the one that is short is the one named)
    tp = run("llama-3.1-70b", quant="awq-int4-g128", gpus=(("RTX 5090", 1), ("RTX 4090", 1)), engine="vllm")
    assert any("smallest (GeForce RTX 4090" in w for w in tp.warnings)
    rows = gpu_rows(tp)
    assert len({d.weights_bytes for d in rows}) == 1
    assert rows[0].capacity_bytes > rows[1].capacity_bytes


def test_a_card_that_cannot_help_tensor_parallel_is_left_idle() -> None:
    """Issue 10: adding an RTX 3060 to an H100 turned a fit into a non-fit under vLLM and blamed the
    H100. The 3060 is left idle (as a card that does not divide the heads is), said in a warning."""
    alone = run("llama-3.3-70b", quant="q4_k_m", gpus=(("H100", 1),), engine="vllm")
    mixed = run("llama-3.3-70b", quant="q4_k_m", gpus=(("H100", 1), ("RTX 3060", 1)), engine="vllm")
    assert alone.fits is True and mixed.fits is True
    assert [d.device for d in gpu_rows(mixed)] == [d.device for d in gpu_rows(alone)]
    assert any("RTX 3060 12GB left idle" in w for w in mixed.warnings)
    # nothing fits: the card named short is the one that is short, not the H100
    big = run("llama-3.1-405b", quant="bf16", gpus=(("H100", 1), ("RTX 3060", 1)), engine="vllm")
    assert big.fits is False
    short = [d for d in gpu_rows(big) if d.free_bytes < 0]
    assert short and all(d.free_bytes >= min(x.free_bytes for x in short) for d in gpu_rows(big))
    worst = min(gpu_rows(big), key=lambda d: d.free_bytes)
    assert big.binding_constraint is not None
    assert worst.device.split(": ", 1)[-1] in big.binding_constraint


def test_nodes_pipeline_across_and_tensor_parallel_inside() -> None:
    one = run("llama-3.1-405b", quant="bf16", gpus=(("H100 SXM", 8),), engine="vllm")
    two = run("llama-3.1-405b", quant="bf16", gpus=(("H100 SXM", 8),), nodes=2, engine="vllm")
    assert one.fits is False and two.fits is True
    rows = gpu_rows(two)
    assert [d.node for d in rows] == [0] * 8 + [1] * 8
    assert sorted(d.index for d in rows) == list(range(16))
    # stage 0 holds the first half of the 126 layers, stage 1 the rest; every rank 1/16 of the weights
    assert {d.layers for d in rows[:8]} == {"layers 0-62"} and {d.layers for d in rows[8:]} == {"layers 63-125"}
    for d in rows:
        assert d.weights_bytes == pytest.approx(two.memory.weights_bytes / 16, rel=0.03)
    assert any("pipeline parallel 2" in a for a in two.assumptions)


def test_a_catalog_system_brings_its_gpus_ram_and_links() -> None:
    hw = build_hardware(CAT, system="dgx-h100")
    sys_entry = CAT.system("dgx-h100")
    assert [(a.id, n) for a, n in hw.accelerators] == [(sys_entry.accelerators[0].accelerator, 8)]
    assert hw.host_ram_bytes == int(sys_entry.host_ram_gb * 1e9)
    # two sockets: one process streams at one socket's bandwidth (NUMA)
    assert hw.host_ram_bandwidth_gb_s == sys_entry.host_ram_bandwidth_gb_s / sys_entry.cpu_sockets
    assert hw.intra_node_link_gb_s == sys_entry.intra_node_link_gb_s
    rack = build_hardware(CAT, system="gb200-nvl72")
    assert rack.nodes == 18 and len(rack.devices()) == 72
    # --gpu alongside a system replaces its GPUs but keeps its RAM
    swapped = build_hardware(CAT, (("H200", 8),), system="dgx-h100")
    assert swapped.accelerators[0][0].id == "nvidia-h200-sxm-141gb" and swapped.host_ram_bytes == hw.host_ram_bytes
    r = run("llama-3.1-70b", quant="bf16", system="dgx-h100")
    assert r.fits and len(gpu_rows(r)) == 8


def test_multi_device_packages_count_packages_and_split_them() -> None:
    """--gpu MI250X:4 means four packages = eight GCDs with half the memory and bandwidth each."""
    acc = CAT.accelerator("MI250X")
    assert acc.devices_per_package == 2
    hw = build_hardware(CAT, (("MI250X", 4),))
    devs = hw.devices()
    assert len(devs) == 8 and hw.gpus_per_node == 4 and hw.devices_per_node == 8
    assert all(d.capacity_bytes == int(acc.memory_gib_usable * GIB) // 2 for d in devs)
    assert all(d.bandwidth_gb_s == acc.memory_bandwidth_gb_s / 2 for d in devs)
    r = run("llama-3.1-70b", quant="bf16", gpus=(("MI250X", 4),), engine="vllm")
    assert len(gpu_rows(r)) == 8 and any("tensor parallel 8" in a for a in r.assumptions)
    assert all(d.capacity_bytes <= acc.memory_gib_usable * GIB / 2 for d in gpu_rows(r))


def test_tensor_parallel_respects_kv_heads_and_keeps_groups_inside_a_node() -> None:
    # GLM-4.5-Air: 96 query heads, 8 KV heads. TP 6 would divide the query heads but not the KV heads,
    # which vLLM rejects, so 6 GPUs give TP 4 (and 2 idle GPUs, said in a warning).
    r = run("glm-4.5-air", quant="fp8", gpus=(("H100 SXM", 6),), engine="vllm")
    assert any("tensor parallel 4" in a for a in r.assumptions)
    assert any("not divisible" in w and "idle" in w for w in r.warnings)
    # 2 nodes of 6: 2 stages per node of TP 4 would cross nodes; the stages stay inside their node
    r2 = run("glm-4.5-air", quant="fp8", gpus=(("H100 SXM", 6),), nodes=2, engine="vllm")
    for d in gpu_rows(r2):
        assert d.node == d.index // 6


# ------------------------------------------------------------------------------------------ unified memory


@pytest.mark.parametrize(
    ("gpu", "ram_gb", "expected_mib"),
    [
        # observed recommendedMaxWorkingSetSize (shared/reference/hosts.yaml, apple_gpu_working_set)
        ("apple-m1-16gb", None, 10922.67),  # 16 GB: 2/3
        ("apple-m1-pro-32gb", None, 21845.34),  # 32 GB: 2/3
        ("apple-m2-max-96gb", None, 73728.0),  # 96 GB: 3/4
        ("apple-m3-max-128gb", 64, 49152.0),  # a 64 GB machine given by --ram: 3/4
    ],
)
def test_apple_gpu_gets_the_default_working_set(gpu: str, ram_gb: int | None, expected_mib: float) -> None:
    r = run("llama-3.2-1b", quant="q4_k_m", gpus=((gpu, 1),), engine="llama.cpp",
            ram_bytes=None if ram_gb is None else ram_gb * 10**9)
    (row,) = r.placement
    assert row.kind == "unified"
    assert row.capacity_bytes / MIB == pytest.approx(expected_mib, abs=0.01)
    assert any("iogpu.wired_limit_mb" in a for a in r.assumptions)


def test_raising_the_wired_limit_lets_a_model_fit() -> None:
    kw = dict(quant="q4_k_m", gpus=(("M3 Ultra", 1),), context_tokens=131072)
    default = run("deepseek-r1", **kw)
    raised = run("deepseek-r1", **kw, wired_limit_bytes=480 * GIB)  # sudo sysctl iogpu.wired_limit_mb=491520
    assert gpu_rows(default)[0].capacity_bytes == 384 * GIB  # 3/4 of 512 GiB
    assert default.fits is False and "short" in (default.binding_constraint or "")
    assert raised.fits is True and gpu_rows(raised)[0].capacity_bytes == 480 * GIB


def test_ram_given_with_a_unified_chip_is_its_pool_not_extra_memory() -> None:
    r = run("deepseek-r1", quant="q4_k_m", gpus=(("M3 Ultra", 1),), ram_bytes=96 * 10**9)
    assert host_row(r) is None, "unified memory has no separate host RAM tier"
    assert gpu_rows(r)[0].capacity_bytes == 72 * GIB  # 3/4 of a 96 GB Mac (96 GiB of LPDDR)
    assert r.fits is False and "96 GiB unified" in r.hardware
    assert run("llama-3.1-70b", quant="q4_k_m", gpus=(("M3 Ultra", 1),), ram_bytes=96 * 10**9).fits is True


@pytest.mark.parametrize("gpu", ["DGX Spark", "strix halo"])
def test_other_unified_pools_keep_a_share_for_the_os(gpu: str) -> None:
    acc = CAT.accelerator(gpu)
    alone = run("gpt-oss-120b", quant="mxfp4_moe", gpus=((gpu, 1),), engine="llama.cpp")
    with_ram = run("gpt-oss-120b", quant="mxfp4_moe", gpus=((gpu, 1),), engine="llama.cpp",
                   ram_bytes=int(acc.memory_gb_marketed) * 10**9)
    for r in (alone, with_ram):
        assert r.fits is True and host_row(r) is None and len(r.placement) == 1
        assert r.placement[0].kind == "unified"
        assert r.placement[0].capacity_bytes < acc.memory_gib_usable * GIB  # the OS keeps some of the pool
    assert with_ram.placement[0].capacity_bytes == alone.placement[0].capacity_bytes
    half = run("gpt-oss-120b", quant="mxfp4_moe", gpus=((gpu, 1),), engine="llama.cpp", ram_bytes=64 * 10**9)
    assert half.placement[0].capacity_bytes < 64 * GIB and half.fits is False  # ~61 GiB of weights + buffers


# -------------------------------------------------------------------------------- engine-specific layouts


def test_llama_cpp_keeps_the_token_embedding_in_host_memory() -> None:
    """Even without --ram: llama.cpp never puts token_embd on the GPU (engines.md)."""
    r = run("llama-3-8b", quant="f16", gpus=(("RTX 4090", 1),), engine="llama.cpp")
    host = host_row(r)
    assert host is not None and "token embedding" in (host.layers or "")
    assert host.weights_bytes == r.memory.weights_by_class["embedding"]
    assert "GPU 0" in (r.binding_constraint or ""), "a host RAM of unknown size is never the binding constraint"
    assert gpu_rows(r)[0].weights_bytes == r.memory.weights_bytes - host.weights_bytes


def test_ktransformers_keeps_attention_shared_experts_and_kv_on_the_gpu() -> None:
    r = run("deepseek-r1", quant="q4_k_m", gpus=(("RTX 4090", 1),), ram_bytes=1024 * 10**9, engine="ktransformers")
    assert r.fits is True and r.offload == "experts"
    gpu, host = gpu_rows(r)[0], host_row(r)
    assert host is not None
    routed = r.memory.weights_by_class["routed_expert"]
    assert host.weights_bytes >= routed and host.kv_cache_bytes == 0  # every routed expert in RAM
    assert gpu.kv_cache_bytes == r.memory.kv_cache_bytes
    assert gpu.weights_bytes + gpu.kv_cache_bytes < 14e9  # the tutorial's "14GB VRAM" (weights + cache)
    # without --ram the experts have nowhere to go: the verdict says how much RAM is missing
    no_ram = run("deepseek-r1", quant="q4_k_m", gpus=(("RTX 4090", 1),), engine="ktransformers")
    assert no_ram.fits is False and (no_ram.binding_constraint or "").startswith("host RAM is")


def _engram_bytes(model: str) -> int:
    r = run(model)
    return r.memory.weights_by_class["engram"]


def test_engram_tables_go_to_host_ram_when_the_gpus_cannot_hold_them() -> None:
    engram = _engram_bytes("deepseek-v4.1-flash")
    assert engram > 180 * GIB  # two 384M-row FP8 tables (models.md: ~189-190 GiB)
    without = run("deepseek-v4.1-flash", gpus=(("H100 SXM", 4),), engine="vllm")
    assert without.fits is False
    r = run("deepseek-v4.1-flash", gpus=(("H100 SXM", 4),), ram_bytes=1024 * 10**9, engine="vllm")
    host = host_row(r)
    assert r.fits is True and host is not None and host.layers == "Engram tables"
    assert host.weights_bytes == pytest.approx(engram, abs=8)
    # with room on the GPUs the tables may stay there (SGLang's default placement)
    roomy = run("deepseek-v4.1-flash", gpus=(("H200", 8),), engine="vllm")
    assert roomy.fits is True and host_row(roomy) is None


def test_deepseek_v4_single_kv_head_stays_whole_on_every_rank() -> None:
    one = run("deepseek-v4-flash", gpus=(("H200", 1),), engine="vllm", context_tokens=65536)
    eight = run("deepseek-v4-flash", gpus=(("H200", 8),), engine="vllm", context_tokens=65536)
    # the shared 512-wide KV is one head: each rank keeps all of it
    assert all(d.kv_cache_bytes == one.placement[0].kv_cache_bytes for d in gpu_rows(eight))
    assert any("replicated on every tensor-parallel rank" in a for a in eight.assumptions)


# -------------------------------------------------------------------------------------------------- warnings


def test_warning_fp8_without_fp8_units_runs_weight_only() -> None:
    r = run("llama-3.1-70b", quant="fp8", gpus=(("A100 SXM4 80GB", 4),), engine="vllm")
    assert any("weight-only" in w and "A100" in w for w in r.warnings)
    assert not any("weight-only" in w for w in run("llama-3.1-70b", quant="fp8", gpus=(("H100 SXM", 4),),
                                                      engine="vllm").warnings)


def test_warning_heads_not_divisible_by_the_gpu_count() -> None:
    r = run("qwen3-32b", quant="bf16", gpus=(("H100 SXM", 6),), engine="vllm")
    assert any("not divisible by 6" in w for w in r.warnings)


def test_warning_tensor_parallel_8_without_nvlink() -> None:
    r = run("llama-3.1-70b", quant="awq-int4-g128", gpus=(("RTX 4090", 8),), engine="vllm")
    assert any("without NVLink" in w for w in r.warnings)
    assert not any("NVLink" in w for w in run("llama-3.1-70b", quant="bf16", gpus=(("H100 SXM", 8),),
                                                engine="vllm").warnings)


def test_warning_context_beyond_the_trained_length() -> None:
    r = run("llama-3.1-8b", quant="bf16", gpus=(("H100 SXM", 1),), context_tokens=2**20)
    assert any("trained length" in w for w in r.warnings)


def test_kv_heads_replicated_when_fewer_than_ranks() -> None:
    # Qwen3-30B-A3B: 4 KV heads of 128 over 48 layers -> 2 x 4 x 128 x 2 x 48 = 98,304 B per token (bf16)
    r = run("qwen3-30b-a3b", quant="bf16", gpus=(("H100 SXM", 8),), engine="vllm", context_tokens=32768)
    assert any("4 KV heads < tensor parallel 8" in w for w in r.warnings)
    per_rank = 32768 * 48 * 2 * 1 * 128 * 2  # every rank keeps one whole KV head
    for d in gpu_rows(r):
        assert d.kv_cache_bytes == per_rank


# ------------------------------------------------------------------- engine logs, reproduced from the rules


def _vllm_concurrency(r: FitResult, weights_per_rank: float, kv_per_token_per_rank: int, tokens: int) -> float:
    """engines.md: budget = device x gpu_memory_utilization; KV pool = budget - weights - activation peak -
    non-torch memory; "Maximum concurrency for L tokens per request" = pool / (L x KV per token)."""
    d = gpu_rows(r)[0]
    util = CAT.engine("vllm").gpu_memory_utilization
    acc = CAT.accelerator(d.device)
    budget = acc.memory_gib_usable * GIB * util
    pool = budget - weights_per_rank - d.activations_bytes - d.overhead_bytes
    blocks_per_request = -(-tokens // 16)  # whole 16-token blocks
    return pool / (blocks_per_request * 16 * kv_per_token_per_rank)


def test_vllm_max_concurrency_llama_3_1_8b_on_one_h100() -> None:
    # 8,030,261,248 parameters in BF16; KV 32 layers x 2 x 8 heads x 128 x 2 bytes = 131,072 B per token
    r = run("llama-3.1-8b", quant="bf16", gpus=(("H100 SXM", 1),), engine="vllm", context_tokens=32768)
    expected = _vllm_concurrency(r, 8_030_261_248 * 2, 131_072, 32768)
    assert r.max_concurrency == pytest.approx(expected, rel=0.05)


def test_vllm_max_concurrency_llama_3_1_70b_tensor_parallel_4() -> None:
    # 70,553,706,496 parameters in BF16 split over 4 ranks; 8 KV heads / 4 = 2 per rank:
    # 80 layers x 2 x 2 x 128 x 2 = 81,920 B per token per rank
    r = run("llama-3.1-70b", quant="bf16", gpus=(("H100 SXM", 4),), engine="vllm", context_tokens=32768)
    expected = _vllm_concurrency(r, 70_553_706_496 * 2 / 4, 81_920, 32768)
    assert r.max_concurrency == pytest.approx(expected, rel=0.05)


def test_vllm_max_concurrency_deepseek_v3_mla_replicated_latent() -> None:
    # MLA caches one latent of 512 + 64 values per layer, replicated on every rank: 61 x 576 x 2 = 70,272 B.
    # Weights per rank: the FP8 checkpoint / 8, plus the replicated q_a (7168 x 1536) and kv_a (7168 x 576)
    # down-projections (1 byte each in FP8) on the 7 other ranks' share.
    r = run("deepseek-v3", gpus=(("H200", 8),), engine="vllm", context_tokens=32768)
    replicated = 61 * 7168 * (1536 + 576) * (1 - 1 / 8)
    expected = _vllm_concurrency(r, r.memory.weights_bytes / 8 + replicated, 70_272, 32768)
    assert r.max_concurrency == pytest.approx(expected, rel=0.05)


def test_llama_cpp_kv_buffer_per_device_follows_its_layers() -> None:
    """llama.cpp: "CUDA0 KV buffer size = X MiB" = layers on CUDA0 x n_ctx x (K + V width) x 2 bytes (f16).
    Llama-3-70B: K + V width 2 x 8 x 128 = 2048, so 8192 x 2048 x 2 = 32 MiB per layer."""
    r = run("llama-3-70b", quant="q4_k_m", gpus=(("RTX 3090", 2),), engine="llama.cpp", context_tokens=8192)
    rows = gpu_rows(r)
    for d in rows:
        assert d.kv_cache_bytes == layer_count(d.layers) * 32 * MIB
    assert sum(d.kv_cache_bytes for d in rows) == 80 * 32 * MIB  # "KV self size = 2560.00 MiB"
    assert abs(layer_count(rows[0].layers) - layer_count(rows[1].layers)) <= 2  # equal cards, even split
    # -ngl: the layers left in host RAM keep their KV there
    part = run("llama-3.1-70b", quant="q4_k_m", gpus=(("RTX 3090", 1),), ram_bytes=64 * 10**9, offload="layers",
               engine="llama.cpp", context_tokens=8192)
    assert part.offload == "layers"
    gpu, host = gpu_rows(part)[0], host_row(part)
    assert host is not None
    assert gpu.kv_cache_bytes == layer_count(gpu.layers) * 32 * MIB
    assert host.kv_cache_bytes == layer_count(host.layers) * 32 * MIB
    assert layer_count(gpu.layers) + layer_count(host.layers) == 80


def test_max_context_and_concurrency_are_consistent_with_the_verdict() -> None:
    r = run("llama-3.1-8b", quant="q4_k_m", gpus=(("RTX 3060", 1),), engine="llama.cpp", context_tokens=8192)
    assert r.fits is True and r.max_context is not None and r.max_context >= 8192
    at_max = run("llama-3.1-8b", quant="q4_k_m", gpus=(("RTX 3060", 1),), engine="llama.cpp",
                 context_tokens=r.max_context)
    beyond = run("llama-3.1-8b", quant="q4_k_m", gpus=(("RTX 3060", 1),), engine="llama.cpp",
                 context_tokens=min(r.max_context * 2, 131072))
    assert at_max.fits is True
    if r.max_context < 131072:
        assert beyond.fits is False


def test_engine_budgets_follow_the_engine() -> None:
    """vLLM budgets gpu_memory_utilization of the device; SGLang a per-size reserve outside its static pool."""
    acc = CAT.accelerator("H100 SXM")
    v = gpu_rows(run("llama-3.1-8b", quant="bf16", gpus=(("H100 SXM", 1),), engine="vllm"))[0]
    assert v.capacity_bytes == int(acc.memory_gib_usable * GIB * CAT.engine("vllm").gpu_memory_utilization)
    s = gpu_rows(run("llama-3.1-8b", quant="bf16", gpus=(("H100 SXM", 1),), engine="sglang"))[0]
    tier = max((t for t in CAT.engine("sglang").device_tiers if t.min_device_gib <= acc.memory_gib_usable),
               key=lambda t: t.min_device_gib)
    assert tier.reserved_gib is not None
    assert s.capacity_bytes == int(acc.memory_gib_usable * GIB)
    assert s.activations_bytes + s.overhead_bytes == int(tier.reserved_gib * GIB)
    # llama.cpp takes the whole device (its --fit margin is not modelled as a cap)
    ll = gpu_rows(run("llama-3.1-8b", quant="q4_k_m", gpus=(("H100 SXM", 1),), engine="llama.cpp"))[0]
    assert ll.capacity_bytes == int(acc.memory_gib_usable * GIB)


def test_auto_picks_the_fastest_placement_that_fits() -> None:
    kw: dict[str, Any] = dict(quant="q4_k_m", gpus=(("RTX 4090", 1),), ram_bytes=128 * 10**9, engine="llama.cpp")
    auto = run("mixtral-8x7b", **kw)
    forced = [run("mixtral-8x7b", **kw, offload=o) for o in ("none", "experts", "layers")]
    fitting = [r for r in forced if r.fits]
    assert auto.fits is True and fitting
    assert auto.performance is not None
    best = max(r.performance.decode_tokens_per_s for r in fitting if r.performance is not None)
    assert auto.performance.decode_tokens_per_s == pytest.approx(best)


def test_offload_none_never_uses_host_ram_for_weights() -> None:
    r = run("mixtral-8x7b", quant="q4_k_m", gpus=(("RTX 4090", 1),), ram_bytes=64 * 10**9, offload="none")
    host = host_row(r)
    assert r.fits is False and r.offload == "none"
    assert host is None or host.weights_bytes == r.memory.weights_by_class["embedding"]
    auto = run("mixtral-8x7b", quant="q4_k_m", gpus=(("RTX 4090", 1),), ram_bytes=64 * 10**9)
    assert auto.fits is True and auto.offload in ("experts", "layers")


def test_role_classes_cover_routed_experts_for_the_host_share() -> None:
    # guard for the tests above: the inventory marks routed experts, so "weights_by_class" has them
    assert Role.ROUTED_EXPERT.value == "routed_expert"
