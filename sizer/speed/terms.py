"""The terms of one decode step: what each memory tier reads, the links, the fixed cost per layer.

`decode_terms` turns a layout into roofline seconds per tier (bytes read there / peak bandwidth),
grouped in stages that run one after another; `step_seconds` applies efficiency factors to them.
`sizer.calibrate` fits the factors on the same terms, so the estimate and the fit cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sizer.placement import Layout, Verdict
from sizer.placement.traffic import distinct_experts_read
from sizer.schema import Accelerator, Engine, QuantFormat

__all__ = [
    "ALLREDUCE_LATENCY_S",
    "CPU_PREFILL_TFLOPS",
    "LAYER_SPLIT_HOP_S",
    "StepModel",
    "StepTerms",
    "TierRead",
    "backend_of",
    "compute_tflops",
    "decode_terms",
    "device_class",
    "layer_overhead",
    "step_seconds",
]

# Latency of one all-reduce / pipeline hand-off. Not calibrated (no published per-call figure in our
# references); NCCL small-message all-reduce latency is typically a few to tens of microseconds.
ALLREDUCE_LATENCY_S = {"nvlink": 8e-6, "pcie": 25e-6, "network": 30e-6}
# llama.cpp layer split: hidden state copied to the next GPU and the streams synchronised, per boundary.
LAYER_SPLIT_HOP_S = ALLREDUCE_LATENCY_S["pcie"]
# KTransformers computes host-held experts on the CPU in prefill (AMX / AVX-512). Uncalibrated: its
# published DeepSeek-R1 prefill on two Xeon sockets implies roughly this rate
# (https://github.com/kvcache-ai/ktransformers/blob/main/doc/en/DeepseekR1_V3_tutorial.md).
CPU_PREFILL_TFLOPS = 10.0

_LLAMA_CPP_ENGINES = frozenset({"llama.cpp", "ollama"})
_MMQ_KERNELS = frozenset({"legacy", "k_quant", "i_quant", "fp4"})  # MMQ covers MXFP4 too (ggml-cuda mmq)


def device_class(acc: Accelerator) -> str:
    v = acc.vendor.lower()
    if v == "apple":
        return "apple"
    if v == "nvidia" and acc.unified_memory:
        # Grace / Tegra SoCs with LPDDR unified memory (DGX Spark GB10, Jetson AGX Orin): measured prefill and
        # decode sit well off the discrete cards' factors (issue 13: DGX Spark prefill estimates 70-85 % low)
        return "nvidia-unified"
    if v == "nvidia":
        # HBM parts (A100, H100, B200, GH200, ...) vs GDDR / LPDDR parts, whose dies are the consumer and
        # workstation ones even when sold for data centers (L40S, A40, L4, A10)
        return "nvidia-datacenter" if acc.memory_type.value.startswith("HBM") else "nvidia-consumer"
    if v == "amd":
        return "amd"
    return "other"


def backend_of(acc: Accelerator) -> str:
    return {"apple": "metal", "nvidia": "cuda", "amd": "rocm"}.get(acc.vendor.lower(), "other")


def compute_tflops(
    acc: Accelerator, quant: QuantFormat, engine: Engine | None = None, quant_kernel: str | None = None
) -> tuple[float, str]:
    """Dense TFLOPS (or TOPS) of the precision the kernels really use on this device."""
    d = _with_derived_tensor_rates(acc)
    prec = quant.compute_precision
    native = set(acc.native_formats)
    if (
        engine is not None
        and engine.id in _LLAMA_CPP_ENGINES
        and quant_kernel in _MMQ_KERNELS
        and acc.vendor.lower() == "nvidia"
        and "int8" in native
        and d.int8_tops
    ):
        # llama.cpp's MMQ kernels quantize activations to 8 bits and multiply on INT8 tensor cores
        return d.int8_tops, "INT8 tensor cores (llama.cpp MMQ)"
    if prec == "fp8" and "fp8" in native and d.fp8_tflops:
        return d.fp8_tflops, "FP8 tensor cores"
    if prec == "fp4" and acc.runs_natively("fp4") and d.fp4_tflops:
        return d.fp4_tflops, "FP4 tensor cores"
    if prec == "int8" and "int8" in native and d.int8_tops:
        return d.int8_tops, "INT8 tensor cores"
    for value, label in ((d.bf16_tflops, "BF16"), (d.fp16_tflops, "FP16"), (d.fp32_tflops, "FP32")):
        if value:
            suffix = (
                ""
                if prec in ("bf16", "fp16", "fp32", "native")
                else f" (weights dequantized from {quant.name})"
            )
            return value, f"{label} matrix units{suffix}"
    # Apple GPUs: no vendor TFLOPS in the catalog; a placeholder scaled from bandwidth (stated as such)
    return max(acc.memory_bandwidth_gb_s / 30, 1.0), "no vendor TFLOPS figure: bandwidth/30 placeholder"


# GeForce Blackwell's published dense rates (RTX 5090: FP4 1,676, INT8 838, FP16 with FP32 accumulate 209.5; the
# catalog's nvidia-rtx-5090-32gb entry): INT8 = FP4 / 2, FP16 = FP4 / 8
_BLACKWELL_INT8_PER_FP4 = 0.5
_BLACKWELL_FP16_PER_FP4 = 0.125


def _with_derived_tensor_rates(acc: Accelerator) -> Any:
    """The dense figures, with INT8 and FP16 tensor rates derived from the FP4 one (GeForce Blackwell ratios)
    for NVIDIA parts whose vendor publishes only FP4 and FP32 (RTX PRO 6000 Blackwell, DGX Spark GB10): without
    them prefill fell back to FP32 CUDA cores, 4-8x too slow."""
    d = acc.dense
    if acc.vendor.lower() != "nvidia" or not d.fp4_tflops or d.int8_tops or d.fp16_tflops or d.bf16_tflops:
        return d
    fp16 = d.fp4_tflops * _BLACKWELL_FP16_PER_FP4
    return d.model_copy(update={"int8_tops": d.fp4_tflops * _BLACKWELL_INT8_PER_FP4, "fp16_tflops": fp16,
                                "bf16_tflops": fp16})


@dataclass(frozen=True, slots=True)
class TierRead:
    """One device's (or host RAM's) share of a decode step."""

    label: str  # "GeForce RTX 4090 memory bandwidth", "host RAM bandwidth"
    backend: str
    device_class: str
    bandwidth_gb_s: float
    roofline_s: float  # bytes read here / peak bandwidth


@dataclass(frozen=True, slots=True)
class StepTerms:
    stages: tuple[tuple[TierRead, ...], ...]  # stages run one after another; tiers of a stage in parallel
    link_s: float  # all-reduces, pipeline hand-offs, layer-split hops (not scaled by efficiency)
    layers: int  # layers a step runs one after another (each pays the fixed per-layer cost)
    backend: str  # of the device that launches the layers (the first GPU)
    device_class: str

    @property
    def roofline_s(self) -> float:
        return sum(max((t.roofline_s for t in stage), default=0.0) for stage in self.stages) + self.link_s


def layer_overhead(eff: Any, terms: StepTerms) -> tuple[float, str]:
    """(seconds per step, basis) of the fixed per-layer cost, if the efficiency object has one."""
    fn: Callable[[str, str], tuple[float, str]] | None = getattr(eff, "layer_overhead_s", None)
    if fn is None or terms.layers <= 0:
        return 0.0, ""
    per_layer, basis = fn(terms.backend, terms.device_class)
    return per_layer * terms.layers, basis


def step_seconds(
    terms: StepTerms, eff: Any, quant_kernel: str, notes: list[str] | None = None
) -> tuple[float, str]:
    """(seconds for one decode step, what bounds it) with efficiency factors applied."""
    total, worst, worst_t = 0.0, "", -1.0
    for stage in terms.stages:
        stage_t, stage_label = 0.0, ""
        for tier in stage:
            f, basis = eff("decode", tier.backend, tier.device_class, quant_kernel)
            t = tier.roofline_s / f
            if notes is not None:
                notes.append(f"decode: {tier.label} {tier.bandwidth_gb_s:,.0f} GB/s peak x {basis}")
            if t > stage_t:
                stage_t, stage_label = t, tier.label
        total += stage_t
        if stage_t > worst_t:
            worst_t, worst = stage_t, stage_label
    if terms.link_s > 0:
        total += terms.link_s
        if terms.link_s > worst_t:
            worst_t, worst = terms.link_s, "GPU-to-GPU link"
    overhead, basis = layer_overhead(eff, terms)
    if overhead > 0:
        total += overhead
        if notes is not None:
            notes.append(f"decode: {basis} x {terms.layers} layers")
        if overhead > worst_t:
            worst = "fixed cost per layer (kernel launches)"
    return total, worst


def _link_seconds(layout: Layout, inp: Any) -> tuple[float, float]:
    """(fixed seconds, seconds per sequence) of the links one decode step crosses."""
    hw = inp.hardware
    arch = inp.arch
    msg = arch.hidden_size * 2  # 16-bit activations of one layer, per sequence
    fixed = per_seq = 0.0
    if layout.tp > 1:
        link = hw.intra_node_link_gb_s or 32.0
        kind = "nvlink" if link > 130 else "pcie"
        per_dir = link / 2 * 1e9
        per_seq += 2 * arch.num_hidden_layers * 2 * (layout.tp - 1) / layout.tp * msg / per_dir
        fixed += 2 * arch.num_hidden_layers * ALLREDUCE_LATENCY_S[kind]
    if layout.pp > 1:
        per_dir = (hw.inter_node_link_gb_s or 50.0) * 1e9
        per_seq += (layout.pp - 1) * msg / per_dir
        fixed += (layout.pp - 1) * ALLREDUCE_LATENCY_S["network"]
    if layout.strategy in ("layer_split", "unified") or layout.offload != "none":
        gpus = sum(1 for s in layout.slots if s.kind != "host_ram")
        fixed += max(gpus - 1, 0) * LAYER_SPLIT_HOP_S
        L = arch.num_hidden_layers
        host_layers = layout.cpu_moe_layers or (L - (L if layout.gpu_layers is None else layout.gpu_layers))
        if host_layers > 0 and layout.offload != "none":
            # activations to the CPU and back for each layer it computes
            fixed += 2 * host_layers * ALLREDUCE_LATENCY_S["pcie"]
    return fixed, per_seq


@dataclass(frozen=True, slots=True)
class _SlotRead:
    label: str
    backend: str
    device_class: str
    bandwidth_gb_s: float
    fixed_bytes: float  # read every step whatever the batch
    expert_bytes: float  # routed experts held here; a step reads the distinct experts its tokens pick
    kv_bytes_per_seq: float


class StepModel:
    """Everything about a decode step that does not depend on the batch, computed once per layout."""

    __slots__ = (
        "_factors",
        "backend",
        "device_class",
        "layers",
        "link_fixed_s",
        "link_per_seq_s",
        "n_experts",
        "stages",
        "top_k",
    )

    def __init__(self, layout: Layout, verdict: Verdict, inp: Any) -> None:
        arch = inp.arch
        users = max(inp.users, 1)
        kv_of = {id(u.slot): u.kv_cache_bytes for u in verdict.usages}
        accs = {a.name: a for a, _ in inp.hardware.accelerators}
        stages = []
        for stage in layout.stages:
            reads = []
            for pos in stage:
                s = layout.slots[pos]
                if s.kind == "host_ram":
                    where = ("host RAM bandwidth", "cpu", "cpu", s.bandwidth_gb_s)
                else:
                    acc = accs[s.name]
                    where = (
                        f"{s.name} memory bandwidth",
                        backend_of(acc),
                        device_class(acc),
                        s.bandwidth_gb_s,
                    )
                if where[3] > 0:
                    reads.append(
                        _SlotRead(*where, s.fixed_read_bytes, s.routed_expert_bytes, kv_of[id(s)] / users)
                    )
            stages.append(tuple(reads))
        self.stages: tuple[tuple[_SlotRead, ...], ...] = tuple(stages)
        self.link_fixed_s, self.link_per_seq_s = _link_seconds(layout, inp)
        self.layers = arch.num_hidden_layers
        first = next((accs[s.name] for s in layout.slots if s.kind != "host_ram"), None)
        self.backend = backend_of(first) if first else "cpu"
        self.device_class = device_class(first) if first else "cpu"
        self.n_experts = (arch.n_routed_experts or 1) if arch.is_moe else 0
        self.top_k = arch.num_experts_per_tok or 1
        self._factors: tuple[Any, tuple[tuple[float, ...], ...], float] | None = None

    def _expert_fraction(self, batch: int) -> float:
        if not self.n_experts:
            return 1.0
        return distinct_experts_read(self.n_experts, self.top_k, batch) / self.n_experts

    def terms(self, batch: int, kv_sequences: int | None = None) -> StepTerms:
        kv_seqs = batch if kv_sequences is None else kv_sequences
        frac = self._expert_fraction(batch)
        stages = tuple(
            tuple(
                TierRead(
                    r.label,
                    r.backend,
                    r.device_class,
                    r.bandwidth_gb_s,
                    (r.fixed_bytes + r.expert_bytes * frac + r.kv_bytes_per_seq * kv_seqs)
                    / (r.bandwidth_gb_s * 1e9),
                )
                for r in stage
            )
            for stage in self.stages
        )
        return StepTerms(
            stages,
            self.link_fixed_s + self.link_per_seq_s * batch,
            self.layers,
            self.backend,
            self.device_class,
        )

    def seconds(self, batch: int, eff: Any, quant_kernel: str, kv_sequences: int | None = None) -> float:
        """Calibrated seconds of one step (the fast path of `step_seconds(self.terms(...))`)."""
        if self._factors is None or self._factors[0] is not eff:
            factors = tuple(
                tuple(eff("decode", r.backend, r.device_class, quant_kernel)[0] for r in stage)
                for stage in self.stages
            )
            overhead, _ = layer_overhead(
                eff, StepTerms((), 0.0, self.layers, self.backend, self.device_class)
            )
            self._factors = (eff, factors, overhead)
        _, factors, overhead = self._factors
        kv_seqs = batch if kv_sequences is None else kv_sequences
        frac = self._expert_fraction(batch)
        total = self.link_fixed_s + self.link_per_seq_s * batch + overhead
        for stage, fs in zip(self.stages, factors, strict=True):
            worst = 0.0
            for r, f in zip(stage, fs, strict=True):
                t = (r.fixed_bytes + r.expert_bytes * frac + r.kv_bytes_per_seq * kv_seqs) / (
                    r.bandwidth_gb_s * 1e9 * f
                )
                worst = max(worst, t)
            total += worst
        return total


def decode_terms(
    layout: Layout, verdict: Verdict, inp: Any, batch: int, kv_sequences: int | None = None
) -> StepTerms:
    """Roofline terms of one decode step of `batch` sequences (each with the workload's context).

    `kv_sequences` (default `batch`) is how many sequences' KV the step reads; the verdict holds the
    KV of all `inp.users` sequences."""
    return StepModel(layout, verdict, inp).terms(batch, kv_sequences)
