"""Inference engines and how they account for memory."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from sizer.schema.common import Entry, SourceUrl, StrictModel

__all__ = ["Engine", "EngineDeviceTier", "EngineLimit", "KvCacheDtype"]


class KvCacheDtype(StrictModel):
    """A KV cache element type an engine offers."""

    name: str = Field(description="The engine's own spelling (f16, q8_0, fp8_e4m3, auto).")
    bytes_per_element: float = Field(gt=0, le=4, description="Storage bytes per cached value, scales included.")


class EngineLimit(StrictModel):
    """Accelerators on which the engine does not run some (or all) formats, though its platform matches."""

    accelerators: list[str] = Field(default_factory=list, description="Accelerator ids the limit applies to.")
    platforms: list[Literal["cuda", "rocm", "metal", "cpu", "xpu", "hpu", "npu", "vulkan", "tpu"]] = Field(
        default_factory=list,
        description="Also every accelerator of these platforms (the engine's documented support matrix: "
        "format x platform).",
    )
    compute_capability_below: str | None = Field(
        default=None, description="Also every NVIDIA part whose CUDA compute capability is below this (e.g. '8.9')."
    )
    quants: list[str] | None = Field(
        default=None, description="Formats it cannot run there; null means every format except `except_quants`."
    )
    except_quants: list[str] = Field(
        default_factory=list, description="With quants null: the only formats that do run there."
    )
    reason: str = Field(description="Why, in words shown to the user.")
    source: SourceUrl = Field(description="Where the limit is documented.")


class EngineDeviceTier(StrictModel):
    """Defaults an engine picks from the device's memory size (vLLM, SGLang)."""

    min_device_gib: float = Field(
        ge=0, description="The tier applies to devices with at least this much memory, GiB."
    )
    activation_tokens: int = Field(
        ge=1,
        description="Tokens in the micro-batch on this tier "
        "(vLLM max_num_batched_tokens, SGLang chunked_prefill_size).",
    )
    reserved_gib: float | None = Field(
        default=None,
        ge=0,
        description="Memory the engine leaves outside its static pool on this tier, GiB: weights + KV "
        "cache get device memory - reserved_gib (SGLang's mem_fraction_static rule); the reserve stands "
        "for activations, CUDA graphs, workspaces and the runtime context. Null: gpu_memory_utilization "
        "applies.",
    )


class Engine(Entry):
    """An inference engine: what it runs, how it places, what it reserves."""

    kind: Literal["engine"] = Field(default="engine", description="Entry kind marker.")
    name: str = Field(description="Display name.")
    platforms: list[Literal["cuda", "rocm", "metal", "cpu", "xpu", "hpu", "npu", "vulkan", "tpu"]] = Field(
        min_length=1, description="Backends the engine runs on."
    )
    supported_quants: list[str] = Field(min_length=1, description="Quant format ids the engine can load.")
    converted_formats: dict[str, str] = Field(
        default_factory=dict,
        description="Checkpoint formats the engine runs after a conversion that keeps the quantized weights as "
        "they are: checkpoint format id -> the id of the engine's own format (gpt-oss MXFP4 experts -> GGUF "
        "MXFP4_MOE). Sourced in `sources`.",
    )
    kv_cache_dtypes: list[KvCacheDtype] = Field(min_length=1, description="KV cache types; the first is the default.")
    tensor_parallel: bool = Field(description="Shards attention heads and FFN columns across GPUs.")
    pipeline_parallel: bool = Field(description="Splits layers across GPUs or nodes.")
    expert_parallel: bool = Field(description="Spreads routed experts across GPUs.")
    layer_split: bool = Field(description="Splits whole layers across unequal GPUs by memory (llama.cpp).")
    expert_offload: bool = Field(description="Can keep routed experts in host RAM and compute them on the CPU.")
    multi_node: bool = Field(description="Runs one model across several machines.")
    gpu_memory_utilization: float = Field(
        default=1.0, gt=0, le=1, description="Fraction of device memory the engine budgets (vLLM default 0.9)."
    )
    kv_block_tokens: int = Field(default=1, ge=1, description="KV cache allocation granularity in tokens (vLLM 16).")
    context_pad_tokens: int = Field(default=1, ge=1, description="Context length is padded to a multiple of this.")
    runtime_overhead_gib: float = Field(
        ge=0, description="Per-device memory outside weights/KV/activations: CUDA context, library workspaces, NCCL."
    )
    activation_tokens: int = Field(
        ge=1,
        description="Tokens in the micro-batch that sizes activation / compute buffers "
        "(llama.cpp n_ubatch 512; vLLM max_num_batched_tokens).",
    )
    device_tiers: list[EngineDeviceTier] = Field(
        default_factory=list,
        description="Device-size dependent defaults, any order: the tier with the largest min_device_gib "
        "not above the device's memory wins; below every tier, activation_tokens and "
        "gpu_memory_utilization apply.",
    )
    activation_rule: Literal["llama_cpp_compute_buffer", "vllm_profile_peak", "mlx_lazy"] = Field(
        description="Which activation memory rule applies."
    )
    launch_command: str | None = Field(default=None, description="Program that starts a server (vllm serve, llama-server).")
    limits: list[EngineLimit] = Field(
        default_factory=list,
        description="Accelerators where the engine does not run some formats although its platform matches.",
    )
