"""Speed under load: one decode step of B sequences per layout, and the throughput / interactivity curve.

One step of a group (a tensor-parallel group, or a data-parallel-attention group; replicas run side by
side) with B sequences takes

    max(bytes read / (peak bandwidth x e_bw), FLOPs / (peak dense compute x e_c)) + links
      + layers x c_layer + MoE layers x c_moe

where the bytes are the weights read once per step (MoE: the distinct experts B tokens touch), plus the KV
of B sequences at their filled length, and the FLOPs are 2 x active parameters plus attention over the
filled length per sequence. Chunked prefill steals step time: each request's prompt is prefilled in chunks
of the engine's max_num_batched_tokens between decode steps, so per output token the group also spends
prompt / output prefill tokens. e_bw, e_c <= 1 and c >= 0, so no estimate exceeds the roofline. The
parameters are fitted per engine and device class (sizer.speed.serving_factors).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sizer.model.architecture._common import is_local_layer, is_moe_layer
from sizer.placement import Layout, Verdict
from sizer.schema import Architecture
from sizer.speed.serving_factors import ServingParams
from sizer.speed.terms import StepModel

__all__ = [
    "DEFAULT_NEW_PROMPT_TOKENS", "DEFAULT_OUTPUT_TOKENS", "ServingModel", "ServingPoint", "ServingTerms", "Speculation",
    "attention_flops_per_token", "mix_for_context",
]

# A request when only the context is given (fit / recommend): it prefills DEFAULT_NEW_PROMPT_TOKENS new
# tokens (the earlier turns' KV stays cached: prefix caching, on by default in vLLM and SGLang), generates
# DEFAULT_OUTPUT_TOKENS, and its decode reads KV over the whole context. 1k / 1k is the standard shape of the
# engines' own throughput tables (TensorRT-LLM perf-overview, InferenceX).
DEFAULT_OUTPUT_TOKENS = 1024
DEFAULT_NEW_PROMPT_TOKENS = 1024


def mix_for_context(context_tokens: int) -> tuple[int, int]:
    """(new prompt tokens, output tokens) of one request within `context_tokens`."""
    out = min(DEFAULT_OUTPUT_TOKENS, max(context_tokens // 2, 1))
    return min(DEFAULT_NEW_PROMPT_TOKENS, max(context_tokens - out, 0)), out


def attention_flops_per_token(arch: Architecture, filled_tokens: float) -> float:
    """FLOPs of one token's attention over `filled_tokens` cached tokens, all layers (QK^T and AV)."""
    if arch.kv_lora_rank is not None:  # MLA in its absorbed decode form: scores and values on the latent
        width = 2 * arch.kv_lora_rank + (arch.qk_rope_head_dim or 0)
        per_layer = 2 * arch.num_attention_heads * width * filled_tokens
    else:
        per_layer = 4 * arch.num_attention_heads * arch.head_dim * filled_tokens
    if arch.local_layer_kind is not None:
        total = 0.0
        window = arch.local_window_tokens or 0
        for i in range(arch.num_hidden_layers):
            if not is_local_layer(arch, i):
                total += per_layer
            elif arch.local_layer_kind != "linear_attention" and window:
                total += per_layer * min(1.0, window / max(filled_tokens, 1.0))
        return total
    return per_layer * arch.num_hidden_layers


@dataclass(frozen=True, slots=True)
class ServingPoint:
    users: int
    group_batch: int  # sequences one replica decodes per step
    step_s: float  # one decode step of the group, prefill chunks excluded
    per_user_decode_tokens_per_s: float  # what one user sees (others' prefill chunks included)
    aggregate_decode_tokens_per_s: float  # users x per-user speed
    throughput_tokens_per_s: float  # output tokens/s with every request's own prefill counted
    ttft_s: float
    prefill_tokens_per_s: float  # of one group
    bound_by: str


class _Bandwidth:
    """An efficiency callable for StepModel that returns one bandwidth efficiency everywhere."""

    __slots__ = ("value",)

    def __init__(self, value: float) -> None:
        self.value = value

    def __call__(self, phase: str, backend: str, device_class: str, quant_kernel: str) -> tuple[float, str]:
        return self.value, ""


class ServingModel:
    """Batch-independent terms of one layout, evaluated for any number of users."""

    def __init__(self, layout: Layout, verdict: Verdict, inputs: object, peak_s_per_flop: float,
                 active_params: int, arch: Architecture, chunk_tokens: int, gpus: int) -> None:
        self.step = StepModel(layout, verdict, inputs)
        self.arch = arch
        self.peak_s_per_flop = peak_s_per_flop  # critical-path seconds per FLOP of one group at peak
        self.active_params = active_params
        self.replicas = max(layout.replicas, 1)
        self.context = max(getattr(inputs, "context_tokens", 1), 1)
        self.chunk = max(chunk_tokens, 1)
        self.gpus = max(gpus, 1)
        self.layers = arch.num_hidden_layers
        self.moe_layers = sum(1 for i in range(self.layers) if is_moe_layer(arch, i)) if arch.is_moe else 0
        # parameters of the routed experts a token multiplies with (k experts of each MoE layer: gate, up, down)
        expert = 3 * arch.hidden_size * (arch.moe_intermediate_size or 0) * (arch.num_experts_per_tok or 0)
        self.expert_active_params = min(self.moe_layers * expert, active_params)
        self.kernel = getattr(inputs, "quant_kernel", "float")
        self.spec: Speculation | None = None

    def memory_roofline_s(self, batch: int, filled_tokens: float) -> float:
        """Bytes read by one step of `batch` sequences / peak bandwidth (links excluded)."""
        kv_seqs = batch * filled_tokens / self.context
        t = self.step.seconds(batch, _Bandwidth(1.0), self.kernel, kv_sequences=kv_seqs)  # type: ignore[arg-type]
        return t - self.link_s(batch)

    def link_s(self, batch: int) -> float:
        return self.step.link_fixed_s + self.step.link_per_seq_s * batch

    def flops_per_token(self, filled_tokens: float) -> float:
        return 2 * self.active_params + attention_flops_per_token(self.arch, filled_tokens)

    def fixed_s(self, p: ServingParams) -> float:
        return self.layers * p.layer_overhead_s + self.moe_layers * p.moe_layer_overhead_s

    def terms(self, users: int, prompt_tokens: int, output_tokens: int,
              filled_tokens: float | None = None) -> ServingTerms:
        """The parameter-free terms of `users` sequences (`users` / replicas per group) at this mix."""
        users = max(users, 1)
        b = math.ceil(users / self.replicas)
        filled = filled_tokens if filled_tokens is not None else prompt_tokens + output_tokens / 2
        moe_flops = 2.0 * self.expert_active_params
        return ServingTerms(
            users=users, batch=b, memory_s=self.memory_roofline_s(b, filled),
            compute_s=self.peak_s_per_flop * b * (self.flops_per_token(filled) - moe_flops),
            moe_compute_s=self.peak_s_per_flop * b * moe_flops, link_s=self.link_s(b),
            layers=self.layers, moe_layers=self.moe_layers,
            prefill_compute_s=self.peak_s_per_flop * self.flops_per_token(prompt_tokens / 2),
            weights_read_s=self.memory_roofline_s(0, 0.0), link0_s=self.link_s(0), chunk=self.chunk,
            prompt_tokens=prompt_tokens, output_tokens=output_tokens, spec=self.spec)

    def point(self, users: int, p: ServingParams, prompt_tokens: int, output_tokens: int,
              filled_tokens: float | None = None) -> ServingPoint:
        return self.terms(users, prompt_tokens, output_tokens, filled_tokens).evaluate(p)


@dataclass(frozen=True, slots=True)
class Speculation:
    """Speculative decoding: `draft_tokens` drafted per step (MTP layers or a draft model), verified in one pass
    of the target; `tokens_per_step` the expected tokens a step yields (accepted drafts + the verified one)."""

    draft_tokens: int
    tokens_per_step: float
    draft_memory_s: float  # bytes the drafting reads per step / peak bandwidth
    draft_layers: int  # layers the drafting runs one after another per step (each pays the fixed cost)
    basis: str


@dataclass(frozen=True, slots=True)
class ServingTerms:
    """Everything a serving point needs except the fitted parameters (what the calibration fits on)."""

    users: int
    batch: int  # per group
    memory_s: float  # bytes read by one step / peak bandwidth
    compute_s: float  # FLOPs of one step outside the routed experts / peak dense compute (critical path)
    moe_compute_s: float  # the routed experts' FLOPs of one step / peak dense compute
    link_s: float
    layers: int
    moe_layers: int
    prefill_compute_s: float  # one prompt token's FLOPs / peak
    weights_read_s: float  # the weights alone / peak bandwidth (a prefill chunk reads them once)
    link0_s: float
    chunk: int
    prompt_tokens: int
    output_tokens: int
    spec: Speculation | None = None

    def evaluate(self, p: ServingParams) -> ServingPoint:
        sp = self.spec
        fixed = self.layers * p.layer_overhead_s + self.moe_layers * p.moe_layer_overhead_s
        mem = self.memory_s / p.bandwidth_efficiency
        # MoE models run their whole step's GEMMs less efficiently (routing, grouped expert GEMMs of few tokens)
        comp = (self.compute_s + self.moe_compute_s) / p.compute_efficiency / (
            p.moe_compute_efficiency if self.moe_layers else 1.0)
        if sp is not None:  # drafting (sequential small passes), then one verification pass of draft + 1 tokens
            fixed += sp.draft_layers * p.layer_overhead_s
            mem += sp.draft_memory_s / p.bandwidth_efficiency
            comp *= sp.draft_tokens + 1
        step = max(mem, comp) + self.link_s + fixed
        bound = "compute (batched decode)" if comp > mem else "memory bandwidth"
        if fixed > max(mem, comp):
            bound = "fixed cost per layer (launches, routing, collectives)"
        # prefill: compute-bound over the prompt, never faster than reading the weights once per chunk
        chunk_s = (self.weights_read_s / p.bandwidth_efficiency + fixed + self.link0_s) / self.chunk
        prefill_s = max(self.prefill_compute_s / (p.prefill_efficiency or p.compute_efficiency), chunk_s)
        ratio = self.prompt_tokens / max(self.output_tokens, 1)
        b = self.batch
        per_step = 1.0 if sp is None else sp.tokens_per_step
        per_user = per_step / (step + (b - 1) * ratio * prefill_s)  # others' prefill chunks steal its steps
        throughput = per_step * self.users / (step + b * ratio * prefill_s)  # every request's prefill counted
        chunks = math.ceil(self.prompt_tokens / self.chunk) if self.prompt_tokens else 0
        ttft = self.prompt_tokens * prefill_s + step + (chunks * step if b > 1 else 0.0)
        return ServingPoint(self.users, b, step, per_user, per_user * self.users, throughput, ttft,
                            1.0 / prefill_s, bound)
