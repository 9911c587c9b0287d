"""Speed estimates: decode, prefill, time to first token, throughput under load.

Decode reads every active byte once per step, so one step takes at least
sum over sequential stages of max over the stage's devices of (bytes read there / bandwidth there):
the roofline. Calibrated efficiency factors in (0, 1] (fitted on published measurements by
`sizer.calibrate`, stored in gpu_catalog/calibration.yaml with their sources) divide each tier's
time, and a calibrated fixed cost per layer (kernel launches and synchronisation, which dominate
small models) is added; neither can make an estimate exceed the roofline. Tensor parallel adds two
all-reduces per layer; pipeline stages and llama.cpp's layer split add a hand-off per boundary.
Prefill is compute-bound: about 2 x active parameters FLOPs per token plus attention, at the dense
throughput of the precision the kernels really use, never faster than reading the weights once per
micro-batch; weights in host RAM are streamed over PCIe (llama.cpp) or computed by the CPU
(KTransformers).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sizer.placement import Layout, Slot, Verdict
from sizer.placement.hardware import Hardware
from sizer.schema import Architecture, Engine, QuantFormat
from sizer.speed.terms import (
    CPU_PREFILL_TFLOPS,
    StepModel,
    StepTerms,
    backend_of,
    compute_tflops,
    decode_terms,
    device_class,
    layer_overhead,
    step_seconds,
)

__all__ = [
    "Efficiency",
    "Speed",
    "SpeedInputs",
    "StepTerms",
    "backend_of",
    "compute_tflops",
    "decode_terms",
    "device_class",
    "estimate",
    "prefill_flops_per_token",
]

# efficiency(phase, backend, device_class, quant_kernel) -> (factor in (0, 1], basis text).
# An Efficiency object may also offer `layer_overhead_s(backend, device_class) -> (seconds, basis)`:
# the fixed decode cost per layer (sizer.calibration's does); a plain function means none.
Efficiency = Callable[[str, str, str, str], tuple[float, str]]

_MAX_BATCH = 4096


@dataclass(frozen=True)
class SpeedInputs:
    arch: Architecture
    active_params: int
    quant: QuantFormat
    engine: Engine
    hardware: Hardware
    context_tokens: int
    users: int
    quant_kernel: str  # float | legacy | k_quant | i_quant | fp8 | fp4 | int4 | int8 | mlx


@dataclass(frozen=True)
class Speed:
    decode_tokens_per_s: float
    decode_roofline_tokens_per_s: float
    decode_bound_by: str
    per_user_decode_tokens_per_s: float
    aggregate_decode_tokens_per_s: float
    prefill_tokens_per_s: float
    prefill_bound_by: str
    ttft_s: float
    compute_bound_batch: int | None
    assumptions: tuple[str, ...]
    prefill_roofline_tokens_per_s: float = 0.0
    decode_overhead_s: float = 0.0  # fixed per-step cost (kernel launches per layer) inside decode time
    batched_bound_by: str = ""  # what bounds a decode step of --users sequences


def prefill_flops_per_token(arch: Architecture, active_params: int, context_tokens: int) -> float:
    """2 FLOPs per active parameter plus attention over half the prompt on average (QK^T and AV)."""
    attention = 4 * arch.num_hidden_layers * arch.num_attention_heads * arch.head_dim * (context_tokens / 2)
    return 2 * active_params + attention


def _active_bytes(s: Slot, arch: Architecture) -> float:
    """Bytes of weights one token multiplies with on this slot (its routed experts: k of E)."""
    if not s.routed_expert_bytes:
        return s.fixed_read_bytes
    return s.fixed_read_bytes + s.routed_expert_bytes * (arch.num_experts_per_tok or 1) / (
        arch.n_routed_experts or 1
    )


def _compute_rates(
    layout: Layout, inp: SpeedInputs, eff: Efficiency, notes: list[str]
) -> tuple[float, float, str]:
    """(seconds per token at peak, seconds per token calibrated, label) of the GPUs' matrix work.

    Each GPU does the share of the FLOPs that its share of the weights a token multiplies with stands
    for; devices of a stage (tensor parallel ranks) work together, stages one after another."""
    total = sum(_active_bytes(s, inp.arch) for s in layout.slots if s.kind != "host_ram") or 1.0
    accs = {a.name: a for a, _ in inp.hardware.accelerators}
    peak_s = calibrated_s = 0.0
    label = ""
    for stage in layout.stages:
        worst_peak = worst_cal = 0.0
        for pos in stage:
            s = layout.slots[pos]
            if s.kind == "host_ram":
                continue
            acc = accs[s.name]
            tflops, label = compute_tflops(acc, inp.quant, inp.engine, inp.quant_kernel)
            f, basis = eff("prefill", backend_of(acc), device_class(acc), inp.quant_kernel)
            notes.append(f"prefill: {acc.name} {label}, {tflops:,.1f} TFLOPS dense peak x {basis}")
            share = _active_bytes(s, inp.arch) / total
            worst_peak = max(worst_peak, share / (tflops * 1e12))
            worst_cal = max(worst_cal, share / (tflops * 1e12 * f))
        peak_s += worst_peak
        calibrated_s += worst_cal
    return peak_s, calibrated_s, label


def _prefill(
    layout: Layout, model: StepModel, inp: SpeedInputs, eff: Efficiency, notes: list[str]
) -> tuple[float, float, str]:
    """(prefill tokens/s, compute roofline tokens/s, what bounds it)."""
    flops = prefill_flops_per_token(inp.arch, inp.active_params, inp.context_tokens)
    peak_s, cal_s, label = _compute_rates(layout, inp, eff, notes)
    if cal_s <= 0:
        # no GPU: the CPU does the matrix work (the same stated, uncalibrated rate as for offloaded experts)
        notes.append(f"prefill: CPU at {CPU_PREFILL_TFLOPS:g} TFLOPS (uncalibrated assumption: AVX-512/AMX class)")
        tps = CPU_PREFILL_TFLOPS * 1e12 / flops
        return tps, tps, "CPU compute (no GPU)"
    roof_tps = 1 / (peak_s * flops)
    tps = 1 / (cal_s * flops)
    ubatch = max(inp.engine.activation_tokens, 1)
    # never faster than reading the weights once per micro-batch (KV of the one prompt aside)
    mem_s = model.seconds(ubatch, eff, inp.quant_kernel, kv_sequences=0)
    if ubatch / mem_s < tps:
        tps, label = ubatch / mem_s, f"reading the weights once per {ubatch}-token micro-batch"
    # offloaded experts / layers (the token embedding llama.cpp keeps in host memory is only looked up)
    host = next((s for s in layout.slots if s.kind == "host_ram"), None) if layout.offload != "none" else None
    gpus = [a for a, _ in inp.hardware.accelerators]
    if host is not None and gpus:
        gpu_t = ubatch / tps
        if inp.engine.id == "ktransformers":
            # routed experts in host RAM run on the CPU (AMX / AVX-512 kernels), at an effective rate;
            # the GPUs do the rest
            host_share = _active_bytes(host, inp.arch) / max(
                sum(_active_bytes(s, inp.arch) for s in layout.slots), 1.0
            )
            cpu_t = ubatch * flops * host_share / (CPU_PREFILL_TFLOPS * 1e12)
            gpu_t *= 1 - host_share
            notes.append(
                f"prefill: the CPU computes the experts held in host RAM at {CPU_PREFILL_TFLOPS:g} TFLOPS "
                "effective (uncalibrated assumption)"
            )
            tps, label = ubatch / (gpu_t + cpu_t), "CPU compute of the experts in host RAM"
        else:
            # llama.cpp streams host-held weights to the GPU once per micro-batch (op offload)
            pcie = inp.hardware.host_link_gb_s(gpus[0]) * 1e9
            notes.append(
                f"prefill: host-held weights cross PCIe at {pcie / 1e9:.1f} GB/s per micro-batch of {ubatch}"
            )
            streamed = host.fixed_read_bytes + host.routed_expert_bytes
            tps, label = ubatch / (streamed / pcie + gpu_t), "weights in host RAM streamed over PCIe"
    return tps, roof_tps, label


def _batched(
    model: StepModel, inp: SpeedInputs, eff: Efficiency, compute_s_per_token: float
) -> tuple[float, str, int | None]:
    """(step seconds for --users sequences, bound, smallest batch where decode turns compute-bound)."""
    users = max(inp.users, 1)
    mem, bound = step_seconds(model.terms(users), eff, inp.quant_kernel)
    comp = compute_s_per_token * users
    t = max(mem, comp)
    if comp > mem:
        bound = "compute (batched decode)"
    cb: int | None = None
    if compute_s_per_token > 0:

        def compute_bound(b: int) -> bool:
            return compute_s_per_token * b >= model.seconds(b, eff, inp.quant_kernel)

        lo, hi = 0, 1
        while hi <= _MAX_BATCH and not compute_bound(hi):
            lo, hi = hi, hi * 2
        if hi <= _MAX_BATCH:
            while hi - lo > 1:
                mid = (lo + hi) // 2
                lo, hi = (lo, mid) if compute_bound(mid) else (mid, hi)
            cb = hi
    return t, bound, cb


def estimate(layout: Layout, verdict: Verdict, inp: SpeedInputs, eff: Efficiency) -> Speed:
    notes: list[str] = []
    model = StepModel(layout, verdict, inp)
    terms1 = model.terms(1)
    t1, bound = step_seconds(terms1, eff, inp.quant_kernel, notes)
    overhead_s, _ = layer_overhead(eff, terms1)
    prefill_tps, prefill_roof, prefill_label = _prefill(layout, model, inp, eff, notes)
    ttft = inp.context_tokens / prefill_tps + t1 if prefill_tps else float("inf")
    # batched decode: matrix work of one token per sequence at the calibrated prefill rate
    _, cal_s, _ = _compute_rates(layout, inp, eff, [])
    step_b, bound_b, cb = _batched(model, inp, eff, cal_s * 2 * inp.active_params)
    users = max(inp.users, 1)
    per_user = 1 / step_b if step_b else 0.0
    roof = terms1.roofline_s
    return Speed(
        decode_tokens_per_s=1 / t1 if t1 else 0.0,
        decode_roofline_tokens_per_s=1 / roof if roof else 0.0,
        decode_bound_by=bound,
        per_user_decode_tokens_per_s=per_user,
        aggregate_decode_tokens_per_s=per_user * users,
        prefill_tokens_per_s=prefill_tps,
        prefill_bound_by=prefill_label,
        ttft_s=ttft,
        compute_bound_batch=cb,
        assumptions=tuple(dict.fromkeys(notes)),
        prefill_roofline_tokens_per_s=prefill_roof,
        decode_overhead_s=overhead_s,
        batched_bound_by=bound_b,
    )
