"""The result contract of `fit` (and of each recommendation): field names are stable.

DESIGN.md fixes these names: ``model{id,total_params,active_params}``, ``quant``,
``memory{weights_bytes, kv_cache_bytes, activations_bytes, overhead_bytes, total_bytes}``,
``placement[{device, index, capacity_bytes, used_bytes, weights_bytes, kv_cache_bytes}]`` (host RAM
is a device too), ``fits``, ``performance{decode_tokens_per_s, prefill_tokens_per_s, ttft_s}``,
``max_context``, ``max_concurrency``, ``warnings[]``, ``assumptions[]``. Fields may be added, never
renamed. All sizes are integers in bytes; speeds are tokens per second.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from sizer.memory.breakdown import MemoryBreakdown

__all__ = [
    "MEMORY_SUMMED_OVER_DEVICES", "MEMORY_WITHOUT_HARDWARE", "DeviceUsage", "EngineCandidate", "FitResult",
    "MemoryResult", "ModelResult", "PerformanceResult", "QuantRow", "Suggestion", "memory_result",
]

# What `memory` means: the one rule, written into every result's assumptions.
MEMORY_SUMMED_OVER_DEVICES = (
    "memory = the sum over the placement's devices (host RAM included): weights and KV cache each device holds "
    "(tensor parallel copies included), activations and runtime overhead of every device"
)
MEMORY_WITHOUT_HARDWARE = (
    "memory without hardware: weights and KV cache counted once, plus one device's activations and runtime "
    "overhead at the engine's defaults (give --gpu for the sum over a placement)"
)


class _Result(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelResult(_Result):
    id: str = Field(description="Catalog id, file name, or 'raw'.")
    name: str = Field(description="Display name.")
    source: Literal["catalog", "config", "safetensors", "gguf", "raw", "huggingface", "ollama"] = Field(
        description="Where the model came from: the catalog, a local config/safetensors/GGUF file, raw counts, "
        "a Hugging Face repo read header-only, or an Ollama tag of a catalog model.")
    repo: str | None = Field(default=None, description="The Hugging Face repo (and GGUF file) the model was read from.")
    total_params: int = Field(description="Parameters of the loaded model (MTP layers excluded unless loaded).")
    active_params: int = Field(description="Parameters a token uses (equal to total for dense models).")
    official_total_params: int | None = Field(default=None, description="The vendor's count, when known.")
    family: str | None = Field(default=None, description="Architecture family.")


class MemoryResult(_Result):
    weights_bytes: int
    kv_cache_bytes: int
    activations_bytes: int
    overhead_bytes: int
    total_bytes: int
    weights_by_class: dict[str, int] = Field(default_factory=dict, description="Weight bytes per tensor role.")
    kv_cache_bytes_per_token: float = Field(default=0.0, description="Asymptotic KV bytes per token per sequence.")
    kv_cache_state_bytes: int = Field(default=0, description="Fixed per-sequence state (linear attention), all users.")
    mtp_weights_bytes: int = Field(
        default=0,
        description="Weights of multi-token-prediction layers in this format: stored in checkpoints that ship "
        "them, not loaded by default (so not in weights_bytes).",
    )
    model_weights_bytes: int = Field(
        default=0,
        description="The model's weights counted once per tensor (what weights_by_class splits); weights_bytes "
        "adds the copies a placement keeps on several devices (tensors tensor parallelism replicates).",
    )
    summed_over_devices: bool = Field(
        default=False,
        description="True: every part is the sum over the placement's devices. False (no hardware): weights and "
        "KV cache counted once plus one device's activations and runtime overhead.",
    )


class DeviceUsage(_Result):
    device: str = Field(description="Accelerator name, or 'host RAM'.")
    index: int = Field(description="Device index (host RAM is -1).")
    kind: Literal["gpu", "unified", "host_ram"]
    node: int = 0
    capacity_bytes: int = Field(description="What the engine may use on this device (after its utilization cap).")
    used_bytes: int
    weights_bytes: int
    kv_cache_bytes: int
    activations_bytes: int = 0
    overhead_bytes: int = 0
    free_bytes: int = Field(description="capacity - used; negative when it does not fit.")
    layers: str | None = Field(default=None, description="Which layers / tensors live here, in words.")


class PerformanceResult(_Result):
    decode_tokens_per_s: float = Field(description="One sequence's decode speed at the given context.")
    prefill_tokens_per_s: float
    ttft_s: float = Field(description="Time to first token for a prompt of the given context.")
    decode_bound_by: str = Field(default="", description="The memory tier / link that bounds decode.")
    prefill_bound_by: str = Field(default="", description="What bounds prefill (compute precision, CPU).")
    decode_roofline_tokens_per_s: float = Field(default=0.0, description="Physical upper bound for decode.")
    users: int = 1
    per_user_decode_tokens_per_s: float = Field(default=0.0, description="Per-sequence decode speed with --users.")
    aggregate_decode_tokens_per_s: float = Field(default=0.0, description="All users together.")
    compute_bound_batch: int | None = Field(default=None, description="Batch size where decode turns compute-bound.")
    batched_bound_by: str = Field(default="", description="What bounds a decode step of --users sequences.")
    prefill_roofline_tokens_per_s: float = Field(default=0.0, description="Compute upper bound for prefill.")


class EngineCandidate(_Result):
    """One engine tried when the user named none (the engines people use on that hardware compete)."""

    engine: str
    quant: str = Field(description="The format that engine runs (a converted format where it loads one).")
    fits: bool | None
    offload: str = "none"
    decode_tokens_per_s: float | None = None
    ttft_s: float | None = None
    note: str = Field(default="", description="The binding constraint or why the engine was not placed.")


class Suggestion(_Result):
    """A change that makes a does-not-fit answer fit, worked out by the same core."""

    change: str = Field(description="The change in words.")
    args: list[str] = Field(description="The CLI options that apply it (they replace the same options).")
    fits: bool
    decode_tokens_per_s: float | None = None
    ttft_s: float | None = None
    note: str = ""


class FitResult(_Result):
    model: ModelResult
    quant: str = Field(description="Quant format id.")
    quant_name: str = ""
    engine: str = ""
    context_tokens: int = 0
    users: int = 1
    kv_dtype: str = ""
    hardware: str = Field(default="", description="The hardware in words ('2x RTX 3090 + 128 GB RAM').")
    memory: MemoryResult
    placement: list[DeviceUsage] = Field(default_factory=list)
    fits: bool | None = Field(default=None, description="None when no hardware was given.")
    binding_constraint: str | None = None
    offload: str = Field(default="none", description="none | experts | layers | cpu (no GPU: all in host RAM)")
    performance: PerformanceResult | None = None
    max_context: int | None = None
    max_concurrency: float | None = None
    quality_loss: dict[str, float | str] | None = None
    warnings: list[str] = Field(default_factory=list)
    assumptions: list[str] = Field(default_factory=list)
    engine_choice: str = Field(default="", description="Which engine won, and why, when the user named none.")
    engine_candidates: list[EngineCandidate] = Field(default_factory=list, description="The engines that competed.")
    suggestions: list[Suggestion] = Field(
        default_factory=list, description="When it does not fit: the nearest changes that make it fit."
    )


class QuantRow(_Result):
    """One row of `fit --quant all`: sizes per format."""

    quant: str
    quant_name: str
    weights_bytes: int
    bits_per_weight: float
    total_bytes: int
    fits: bool | None = None


def memory_result(mem: MemoryBreakdown, placement: list[DeviceUsage], *, mtp_weights_bytes: int = 0) -> MemoryResult:
    """The `memory` of a result: with a placement, each part is the sum of that part over its devices (so
    memory and placement always agree); without one, the breakdown of the model on one device."""
    if placement:
        weights = sum(d.weights_bytes for d in placement)
        kv = sum(d.kv_cache_bytes for d in placement)
        act = sum(d.activations_bytes for d in placement)
        overhead = sum(d.overhead_bytes for d in placement)
    else:
        weights, kv, act, overhead = mem.weights_bytes, mem.kv_cache_bytes, mem.activations_bytes, mem.overhead_bytes
    return MemoryResult(weights_bytes=weights, kv_cache_bytes=kv, activations_bytes=act, overhead_bytes=overhead,
                        total_bytes=weights + kv + act + overhead,
                        weights_by_class=dict(sorted(mem.weights_by_role.items())),
                        kv_cache_bytes_per_token=mem.kv_bytes_per_token, kv_cache_state_bytes=mem.kv_state_bytes,
                        mtp_weights_bytes=mtp_weights_bytes, model_weights_bytes=mem.weights_bytes,
                        summed_over_devices=bool(placement))
