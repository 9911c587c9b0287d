"""Speed estimates obey the physics whatever the calibration: hypothesis properties of sizer.speed.

Every property is checked with random efficiency factors and per-layer overheads as well as with the
shipped calibration, so a bad fit can never break them. Bounds are computed independently of perf:
bytes a token reads from the tensor inventory, peak throughput from the catalog.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from sizer.catalog.loading import Catalog, load_catalog
from sizer.memory.breakdown import Workload
from sizer.model.reference import resolve_model
from sizer.placement.hardware import Hardware, build_hardware
from sizer.quant.assignment import resolve_quant
from sizer.sizing.fitter import Fitter, default_engine, fit
from sizer.speed.estimate import Speed, prefill_flops_per_token
from sizer.speed.factors import efficiency_for

MODELS = ("llama-2-7b", "llama-3-8b", "qwen3-30b-a3b", "mistral-7b-v0.3", "gemma-2-9b")
QUANTS = ("q4_0", "q4_k_m", "q8_0", "f16", "iq4_xs")
GPUS = ("rtx 4090", "rtx 3090", "h100", "a100", "m2 ultra", "rtx 5090", "rx 7900 xtx", "l40s")


@cache
def catalog() -> Catalog:
    return load_catalog()


@dataclass(frozen=True)
class RandomCalibration:
    """An Efficiency with arbitrary factors in (0, 1] and an arbitrary fixed cost per layer."""

    decode: float
    prefill: float
    cpu: float
    overhead_us: float

    def __call__(self, phase: str, backend: str, device_class: str, quant_kernel: str) -> tuple[float, str]:
        if backend == "cpu":
            return self.cpu, "random"
        return (self.decode if phase == "decode" else self.prefill), "random"

    def layer_overhead_s(self, backend: str, device_class: str) -> tuple[float, str]:
        return self.overhead_us * 1e-6, "random"


factors = st.floats(min_value=0.02, max_value=1.0)
calibrations = st.one_of(
    st.builds(RandomCalibration, factors, factors, factors, st.floats(min_value=0.0, max_value=500.0)),
    st.just(None),  # the shipped calibration
)
setups = st.tuples(
    st.sampled_from(MODELS),
    st.sampled_from(QUANTS),
    st.sampled_from(GPUS),
    st.integers(min_value=1, max_value=2),
)
contexts = st.integers(min_value=16, max_value=32768)


def _hardware(gpu: str, count: int, bandwidth_scale: float = 1.0, ram_gb: int | None = 64) -> Hardware:
    hw = build_hardware(
        catalog(),
        ((gpu, count),),
        ram_bytes=None if ram_gb is None else ram_gb * 10**9,
        ram_bandwidth_gb_s=None if ram_gb is None else 89.6,
    )
    if bandwidth_scale == 1.0:
        return hw
    accs = tuple(
        (a.model_copy(update={"memory_bandwidth_gb_s": a.memory_bandwidth_gb_s * bandwidth_scale}), n)
        for a, n in hw.accelerators
    )
    return replace(
        hw,
        accelerators=accs,
        host_ram_bandwidth_gb_s=(hw.host_ram_bandwidth_gb_s or 0) * bandwidth_scale or None,
    )


def _place(
    model: str, quant: str, hw: Hardware, context: int, users: int, eff: RandomCalibration | None
) -> tuple[Fitter, Speed, bool]:
    resolved = resolve_model(model, catalog())
    fmt = resolve_quant(quant, resolved.entry, catalog())
    engine = default_engine(catalog(), hw, fmt)
    fitter = Fitter(resolved, fmt, engine, Workload(context, users, None), catalog())
    placed = fitter.place(hw, "auto", efficiency=eff or efficiency_for(catalog()))
    assert placed is not None
    _, verdict, speed = placed
    return fitter, speed, verdict.fits


def _bytes_per_token(fitter: Fitter) -> float:
    """Weight bytes one decode token reads at least, from the tensor inventory and the GGUF tensor names alone
    (not sizer's traffic rules): the token embedding is one row (counted as 0 here), a stack of routed experts
    (`*_exps`, ne2 = experts) is read top-k of n, every other tensor whole. KV excluded: a lower bound."""
    top_k = fitter.model.arch.num_experts_per_tok or 1
    total = 0.0
    for qt in fitter.tensors:
        t = qt.tensor
        if t.is_mtp or t.kind == "token_embd":
            continue
        total += qt.weights_bytes * (top_k / t.shape[2] if t.kind.endswith("_exps") else 1.0)
    return total


@given(setups, contexts, calibrations)
def test_decode_never_exceeds_bandwidth_over_bytes_per_token(
    setup: tuple[str, str, str, int], context: int, eff: RandomCalibration | None
) -> None:
    model, quant, gpu, count = setup
    hw = _hardware(gpu, count)
    fitter, speed, _ = _place(model, quant, hw, context, 1, eff)
    # every byte comes from some tier and tiers at best all work at once: total peak bandwidth bounds it
    total_bw = sum(d.bandwidth_gb_s for d in hw.devices()) * 1e9 + (hw.host_ram_bandwidth_gb_s or 0) * 1e9
    assert speed.decode_tokens_per_s <= speed.decode_roofline_tokens_per_s * (1 + 1e-9)
    assert speed.decode_roofline_tokens_per_s <= total_bw / _bytes_per_token(fitter) * (1 + 1e-9)


@given(setups, contexts, calibrations, st.floats(min_value=1.0, max_value=8.0))
def test_more_bandwidth_is_never_slower(
    setup: tuple[str, str, str, int], context: int, eff: RandomCalibration | None, scale: float
) -> None:
    model, quant, gpu, count = setup
    _, base, _ = _place(model, quant, _hardware(gpu, count), context, 1, eff)
    _, faster, _ = _place(model, quant, _hardware(gpu, count, scale), context, 1, eff)
    assert faster.decode_tokens_per_s >= base.decode_tokens_per_s * (1 - 1e-9)
    assert faster.decode_roofline_tokens_per_s >= base.decode_roofline_tokens_per_s * (1 - 1e-9)


@given(setups, contexts, contexts, calibrations)
def test_longer_context_never_decodes_faster(
    setup: tuple[str, str, str, int], a: int, b: int, eff: RandomCalibration | None
) -> None:
    short, long = sorted((a, b))
    model, quant, gpu, count = setup
    hw = _hardware(gpu, count)
    _, slow, fits = _place(model, quant, hw, long, 1, eff)
    assume(fits)  # the layout chosen at the long context is then available at the short one
    _, quick, _ = _place(model, quant, hw, short, 1, eff)
    assert slow.decode_tokens_per_s <= quick.decode_tokens_per_s * (1 + 1e-9)
    assert slow.ttft_s >= quick.ttft_s * (1 - 1e-9)


@given(setups, st.integers(min_value=1, max_value=64), st.integers(min_value=1, max_value=64), calibrations)
def test_more_users_never_faster_per_user(
    setup: tuple[str, str, str, int], a: int, b: int, eff: RandomCalibration | None
) -> None:
    few, many = sorted((a, b))
    model, quant, gpu, count = setup
    hw = _hardware(gpu, count)
    _, crowded, fits = _place(model, quant, hw, 1024, many, eff)
    assume(fits)
    _, calm, _ = _place(model, quant, hw, 1024, few, eff)
    assert crowded.per_user_decode_tokens_per_s <= calm.per_user_decode_tokens_per_s * (1 + 1e-9)
    assert crowded.aggregate_decode_tokens_per_s >= crowded.per_user_decode_tokens_per_s * (1 - 1e-9)
    assert crowded.per_user_decode_tokens_per_s <= crowded.decode_roofline_tokens_per_s * (1 + 1e-9)


@given(setups, contexts, calibrations)
def test_prefill_never_exceeds_the_compute_roofline(
    setup: tuple[str, str, str, int], context: int, eff: RandomCalibration | None
) -> None:
    model, quant, gpu, count = setup
    hw = _hardware(gpu, count)
    fitter, speed, _ = _place(model, quant, hw, context, 1, eff)
    # the best figure of any precision the catalog has for the device, on every device at once
    peak = 0.0
    for d in hw.devices():
        figures = d.accelerator.dense.figures().values()
        peak += max([*figures, d.accelerator.memory_bandwidth_gb_s / 30]) * 1e12
    flops = 2 * fitter.model.active_params
    assert speed.prefill_tokens_per_s <= speed.prefill_roofline_tokens_per_s * (1 + 1e-9)
    assert speed.prefill_tokens_per_s <= peak / flops * (1 + 1e-9)


@given(setups, contexts, contexts)
def test_ttft_grows_with_the_prompt(setup: tuple[str, str, str, int], a: int, b: int) -> None:
    short, long = sorted((a, b))
    model, quant, gpu, count = setup
    r_long = fit(model, quant=quant, gpus=((gpu, count),), context_tokens=long, catalog=catalog())
    assume(r_long.fits)
    r_short = fit(model, quant=quant, gpus=((gpu, count),), context_tokens=short, catalog=catalog())
    assert r_long.performance is not None and r_short.performance is not None
    assert r_long.performance.ttft_s >= r_short.performance.ttft_s * (1 - 1e-9)


def test_prefill_flops_count_active_parameters_and_attention() -> None:
    arch = resolve_model("llama-2-7b", catalog()).arch
    # 4 x layers x heads x head_dim x context/2: QK^T and AV over half the prompt on average
    attention = 4 * 32 * 32 * 128 * 1024 / 2
    assert prefill_flops_per_token(arch, 6_738_415_616, 1024) == pytest.approx(2 * 6_738_415_616 + attention)


def test_moe_decode_reads_only_active_experts() -> None:
    """Qwen3-30B-A3B reads ~3.3B of its 30.5B parameters per token: decode must be far above a dense
    30B at the same bytes per weight, and within the bandwidth over the active bytes."""
    r = fit("qwen3-30b-a3b", quant="q8_0", gpus=(("h100", 1),), context_tokens=512, catalog=catalog())
    assert r.performance is not None
    dense_bound = 3350e9 / r.memory.weights_bytes
    assert r.performance.decode_roofline_tokens_per_s > 5 * dense_bound


def test_offloaded_experts_are_bounded_by_host_ram() -> None:
    """DeepSeek-V3 on one 24 GB card with its routed experts in 768 GB of 332.8 GB/s RAM: the host tier
    bounds decode. Per token the CPU reads 8 of 256 experts in each of the 58 MoE layers (3 x 7168 x
    2048 weights each, DeepSeek-V3 config), at 4.5 bits or more (Q4_K); a 24 GB card keeps at most a
    few layers' experts, so decode can never beat RAM bandwidth over the experts of 50 layers."""
    r = fit(
        "deepseek-v3",
        quant="q4_k_m",
        gpus=(("rtx 4090", 1),),
        ram_bytes=768 * 10**9,
        ram_bandwidth_gb_s=332.8,
        catalog=catalog(),
    )
    assert r.performance is not None and r.offload == "experts"
    assert r.performance.decode_bound_by == "host RAM bandwidth"
    expert_bytes_per_layer = 8 * 3 * 7168 * 2048 * 4.5 / 8
    assert r.performance.decode_roofline_tokens_per_s < 332.8e9 / (50 * expert_bytes_per_layer)
