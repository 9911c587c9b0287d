"""Speed estimates: decode, prefill, time to first token, throughput under load.

Decode reads every active byte once per step, so one step takes at least
sum over sequential stages of max over the stage's devices of (bytes read there / bandwidth there):
the roofline. Efficiency factors below 1 (calibrated on published measurements, stored in the
catalog with their sources) turn the roofline into an estimate; they never exceed 1, so no
estimate exceeds the roofline. Tensor parallel adds two all-reduces per layer; pipeline stages add
a hand-off. Prefill is compute-bound: about 2 x active parameters FLOPs per token plus attention,
at the dense throughput of the precision the kernels really use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .hardware import Hardware, pcie_gb_s_per_direction
from .placement import Layout, Verdict
from .schema import Accelerator, Architecture, Engine, QuantFormat
from .traffic import distinct_experts_read

__all__ = ["Efficiency", "SpeedInputs", "Speed", "estimate"]

# Latency of one all-reduce / pipeline hand-off. Not calibrated (no published per-call figure in our
# references); NCCL small-message all-reduce latency is typically a few to tens of microseconds.
ALLREDUCE_LATENCY_S = {"nvlink": 8e-6, "pcie": 25e-6, "network": 30e-6}

# efficiency(phase, backend, device_class, quant_kernel) -> (factor in (0, 1], basis text)
Efficiency = Callable[[str, str, str, str], tuple[float, str]]


@dataclass(frozen=True)
class SpeedInputs:
    arch: Architecture
    active_params: int
    quant: QuantFormat
    engine: Engine
    hardware: Hardware
    context_tokens: int
    users: int
    quant_kernel: str  # float | legacy | k_quant | i_quant | fp8 | fp4 | int4 | int8


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


def device_class(acc: Accelerator) -> str:
    v = acc.vendor.lower()
    if v == "apple":
        return "apple"
    if v == "nvidia":
        return "nvidia-datacenter" if acc.segment == "datacenter" else "nvidia-consumer"
    if v == "amd":
        return "amd"
    return "other"


def backend_of(acc: Accelerator) -> str:
    v = acc.vendor.lower()
    return {"apple": "metal", "nvidia": "cuda", "amd": "rocm"}.get(v, "other")


def compute_tflops(acc: Accelerator, quant: QuantFormat) -> tuple[float, str]:
    """Dense TFLOPS of the precision the kernels really use on this device."""
    d = acc.dense
    prec = quant.compute_precision
    native = set(acc.native_formats)
    if prec == "fp8" and "fp8" in native and d.fp8_tflops:
        return d.fp8_tflops, "FP8 tensor cores"
    if prec == "fp4" and native & {"fp4", "nvfp4", "mxfp4"} and d.fp4_tflops:
        return d.fp4_tflops, "FP4 tensor cores"
    if prec == "int8" and "int8" in native and d.int8_tops:
        return d.int8_tops, "INT8 tensor cores"
    for value, label in ((d.bf16_tflops, "BF16"), (d.fp16_tflops, "FP16"), (d.fp32_tflops, "FP32")):
        if value:
            suffix = "" if prec in ("bf16", "fp16", "fp32", "native") else f" (weights dequantized from {quant.name})"
            return value, f"{label} matrix units{suffix}"
    # Apple GPUs: the catalog has no vendor TFLOPS; estimate from bandwidth is not honest, so use a floor
    return max(acc.memory_bandwidth_gb_s / 30, 1.0), "no vendor TFLOPS figure: bandwidth/30 placeholder"


def _step_time(layout: Layout, verdict: Verdict, inp: SpeedInputs, batch: int, eff: Efficiency,
               notes: list[str]) -> tuple[float, float, str]:
    """(estimated seconds, roofline seconds, bounding tier) for one decode step of `batch` sequences."""
    arch = inp.arch
    E = arch.n_routed_experts or 1
    k = arch.num_experts_per_tok or 1
    expert_frac = distinct_experts_read(E, k, batch) / E if arch.is_moe else 1.0
    usage = {id(u.slot): u for u in verdict.usages}
    total, roof, worst, worst_t = 0.0, 0.0, "", -1.0
    for stage in layout.stages:
        stage_t, stage_roof, stage_label = 0.0, 0.0, ""
        for pos in stage:
            s = layout.slots[pos]
            kv = usage[id(s)].kv_cache_bytes
            read = s.fixed_read_bytes + s.routed_expert_bytes * expert_frac + kv
            if s.kind == "host_ram":
                bw = s.bandwidth_gb_s * 1e9
                f, basis = eff("decode", "cpu", "cpu", inp.quant_kernel)
                label = "host RAM bandwidth"
            else:
                acc = next(a for a, _ in inp.hardware.accelerators if a.name == s.name)
                bw = acc.memory_bandwidth_gb_s * 1e9
                f, basis = eff("decode", backend_of(acc), device_class(acc), inp.quant_kernel)
                label = f"{s.name} memory bandwidth"
            if bw <= 0:
                continue
            notes.append(basis)
            t_roof = read / bw
            t = t_roof / f
            if t > stage_t:
                stage_t, stage_roof, stage_label = t, t_roof, label
        total += stage_t
        roof += stage_roof
        if stage_t > worst_t:
            worst_t, worst = stage_t, stage_label
    comm = _comm_time(layout, inp, batch)
    if comm > 0:
        total += comm
        roof += comm
        if comm > worst_t:
            worst = "GPU-to-GPU link"
    return total, roof, worst


def _comm_time(layout: Layout, inp: SpeedInputs, batch: int) -> float:
    hw = inp.hardware
    msg = inp.arch.hidden_size * 2 * batch  # bf16 activations of one layer
    t = 0.0
    if layout.tp > 1:
        link = hw.intra_node_link_gb_s or 32.0
        kind = "nvlink" if link > 130 else "pcie"
        per_dir = link / 2 * 1e9
        ring = 2 * (layout.tp - 1) / layout.tp * msg / per_dir
        t += 2 * inp.arch.num_hidden_layers * (ring + ALLREDUCE_LATENCY_S[kind])
    if layout.pp > 1:
        per_dir = (hw.inter_node_link_gb_s or 50.0) * 1e9
        t += (layout.pp - 1) * (msg / per_dir + ALLREDUCE_LATENCY_S["network"])
    if layout.strategy == "layer_split":
        gpus = [s for s in layout.slots if s.kind != "host_ram"]
        t += max(len(gpus) - 1, 0) * ALLREDUCE_LATENCY_S["pcie"]
    return t


def estimate(layout: Layout, verdict: Verdict, inp: SpeedInputs, eff: Efficiency) -> Speed:
    notes: list[str] = []
    t1, roof1, bound = _step_time(layout, verdict, inp, 1, eff, notes)
    arch = inp.arch
    # compute for one decode step per sequence: 2 FLOPs per active parameter
    gpus = [a for a, n in inp.hardware.accelerators for _ in range(n)] * inp.hardware.nodes
    flops_total = 0.0
    prefill_label = ""
    for acc in gpus:
        tflops, prefill_label = compute_tflops(acc, inp.quant)
        f, _ = eff("prefill", backend_of(acc), device_class(acc), inp.quant_kernel)
        flops_total += tflops * 1e12 * f
    if layout.strategy in ("layer_split", "unified", "single") and gpus:
        # layers run one device after another: the pipeline is only as fast as the sum of its parts
        flops_total = flops_total / len(gpus)
    attn_flops_per_token = 4 * arch.num_hidden_layers * arch.num_attention_heads * arch.head_dim * (
        inp.context_tokens / 2)
    flops_per_token = 2 * inp.active_params + attn_flops_per_token
    prefill_tps = flops_total / flops_per_token if flops_total else 0.0
    # weights in host RAM stream over PCIe once per micro-batch during prefill (llama.cpp op offload)
    host = [s for s in layout.slots if s.kind == "host_ram"]
    ubatch = inp.engine.activation_tokens
    if host and gpus and host[0].weights_bytes:
        pcie = pcie_gb_s_per_direction(gpus[0]) * 1e9
        stream_t = host[0].weights_bytes / pcie  # per micro-batch
        gpu_t = ubatch / prefill_tps if prefill_tps else 0.0
        prefill_tps = ubatch / (stream_t + gpu_t)
        prefill_label = "weights in host RAM streamed over PCIe per micro-batch"
    ttft = inp.context_tokens / prefill_tps + t1 if prefill_tps else float("inf")
    # batched decode
    users = max(inp.users, 1)
    tb, roofb, bound_b = _step_time(layout, verdict, inp, users, eff, [])
    compute_t = 2 * inp.active_params * users / flops_total if flops_total else 0.0
    step = max(tb, compute_t)
    per_user = 1 / step if step else 0.0
    if compute_t > tb:
        bound_b = "compute"
    cb = None
    if flops_total:
        t_single_compute = 2 * inp.active_params / flops_total
        b = 1
        while b < 4096:
            tb_b, _, _ = _step_time(layout, verdict, inp, b, eff, [])
            if t_single_compute * b >= tb_b:
                cb = b
                break
            b *= 2
    assumptions = tuple(sorted(set(notes)))
    return Speed(
        decode_tokens_per_s=1 / t1 if t1 else 0.0,
        decode_roofline_tokens_per_s=1 / roof1 if roof1 else 0.0,
        decode_bound_by=bound,
        per_user_decode_tokens_per_s=per_user,
        aggregate_decode_tokens_per_s=per_user * users,
        prefill_tokens_per_s=prefill_tps,
        prefill_bound_by=prefill_label,
        ttft_s=ttft,
        compute_bound_batch=cb,
        assumptions=assumptions,
    )
