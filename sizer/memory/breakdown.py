"""Inventory + workload -> the memory breakdown: weights, KV cache, activations, runtime overhead.

Weights are summed from the quantized tensor inventory (MTP layers are not loaded by default, so
their tensors are left out). The KV cache comes from :mod:`sizer.kv_cache` (per layer, so placement
can put each layer's KV with its layer), activations and runtime overhead from
:mod:`sizer.activations`. Every choice made on the user's behalf is written into ``assumptions``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sizer.errors import BadValueError
from sizer.memory.activations import activation_bytes, activation_tokens, runtime_overhead_bytes
from sizer.memory.kv_cache import KvDtype, LayerKv, kv_bytes_per_token, kv_cache_per_layer, resolve_kv_dtype
from sizer.model.tensors import QuantizedTensor
from sizer.schema import Architecture, Engine, KvCacheDtype

__all__ = ["MemoryBreakdown", "Workload", "breakdown"]


@dataclass(frozen=True, slots=True)
class Workload:
    """What the model is asked to serve."""

    context_tokens: int  # tokens per sequence (prompt + output)
    users: int = 1  # concurrent sequences
    kv_dtype: str | None = None  # KV cache type name; None: the engine's default (its first entry)
    batch_tokens: int | None = None  # micro-batch override (llama.cpp n_ubatch, vLLM max_num_batched_tokens)
    flash_attention: bool = True  # llama.cpp -fa (on by default where supported)
    swa_full: bool = False  # llama.cpp --swa-full: sliding-window layers keep the full context
    unified_kv: bool = False  # llama.cpp --kv-unified: one KV stream shared by all sequences

    def __post_init__(self) -> None:
        if self.context_tokens < 1:
            raise BadValueError(f"context must be at least 1 token, got {self.context_tokens}")
        if self.users < 1:
            raise BadValueError(f"users must be at least 1, got {self.users}")
        if self.batch_tokens is not None and self.batch_tokens < 1:
            raise BadValueError(f"batch tokens must be at least 1, got {self.batch_tokens}")


@dataclass(frozen=True, slots=True)
class MemoryBreakdown:
    """Bytes a model needs for a workload on an engine, before placement (summed over devices)."""

    weights_bytes: int
    weights_by_role: dict[str, int]  # Role value -> bytes
    weights_by_kind: dict[str, int]  # tensor kind -> bytes
    kv_cache_bytes: int
    kv_layers: tuple[LayerKv, ...]
    kv_state_bytes: int  # fixed per-sequence part of the KV cache (DeltaNet / compressor state), all users
    kv_bytes_per_token: float  # asymptotic KV bytes one sequence adds per token
    kv_dtype: KvDtype
    activations_bytes: int
    overhead_bytes: int
    total_bytes: int  # weights + KV cache + activations + overhead
    assumptions: tuple[str, ...] = field(default=())

    @property
    def kv_layer_bytes(self) -> tuple[int, ...]:
        """KV bytes per layer (all users), indexed by layer: what placement needs."""
        return tuple(x.kv_bytes for x in self.kv_layers)


def _weights(tensors: Iterable[QuantizedTensor]) -> tuple[int, dict[str, int], dict[str, int], int]:
    total = mtp = 0
    by_role: dict[str, int] = {}
    by_kind: dict[str, int] = {}
    for qt in tensors:
        t, b = qt.tensor, qt.weights_bytes
        if t.is_mtp:
            mtp += b
            continue
        total += b
        by_role[t.role.value] = by_role.get(t.role.value, 0) + b
        by_kind[t.kind] = by_kind.get(t.kind, 0) + b
    return total, by_role, by_kind, mtp


def breakdown(
    quantized_tensors: Iterable[QuantizedTensor],
    arch: Architecture,
    workload: Workload,
    engine: Engine | None,
    kv_dtype: KvDtype | KvCacheDtype | str | None = None,
    *,
    n_devices: int = 1,
) -> MemoryBreakdown:
    """The memory breakdown of a model (its quantized tensors) serving ``workload`` on ``engine``.

    ``kv_dtype`` may be a resolved dtype, a name, or None (then ``workload.kv_dtype``, then the
    engine's default). ``n_devices`` multiplies the per-device activation and overhead terms; placement
    refines them per device.
    """
    if n_devices < 1:
        raise BadValueError("n_devices must be at least 1")
    if isinstance(kv_dtype, KvCacheDtype):
        dtype = KvDtype(kv_dtype.name, kv_dtype.bytes_per_element)
    elif isinstance(kv_dtype, KvDtype):
        dtype = kv_dtype
    else:
        dtype = resolve_kv_dtype(kv_dtype if kv_dtype is not None else workload.kv_dtype, engine)
    w, by_role, by_kind, mtp = _weights(quantized_tensors)
    layers = kv_cache_per_layer(
        arch, workload.context_tokens, dtype.bytes_per_element, engine=engine, sequences=workload.users,
        batch_tokens=workload.batch_tokens, swa_full=workload.swa_full, unified_kv=workload.unified_kv,
    )
    kv = sum(x.kv_bytes for x in layers)
    state = sum(x.state_bytes for x in layers)
    per_token = kv_bytes_per_token(arch, dtype.bytes_per_element, engine=engine)
    if engine is not None:
        act = activation_bytes(arch, engine, n_devices=n_devices, context_tokens=workload.context_tokens,
                               users=workload.users, batch_tokens=workload.batch_tokens,
                               flash_attention=workload.flash_attention) * n_devices
        overhead = runtime_overhead_bytes(engine) * n_devices
    else:
        act = overhead = 0
    notes = [f"KV {dtype.name}, {dtype.bytes_per_element:g} bytes per element",
             f"KV {per_token:,.0f} bytes per token per sequence (asymptotic)",
             f"context {workload.context_tokens:,} tokens x {workload.users} concurrent sequence(s)"]
    notes += _engine_notes(engine, workload, layers)
    if state:
        notes.append(f"fixed per-sequence state {state // workload.users:,} bytes (linear attention / compressor)")
    if mtp:
        notes.append(f"MTP layers not loaded ({mtp:,} bytes left out)")
    if engine is None:
        notes.append("no engine: activations and runtime overhead not counted")
    return MemoryBreakdown(
        weights_bytes=w, weights_by_role=by_role, weights_by_kind=by_kind, kv_cache_bytes=kv, kv_layers=layers,
        kv_state_bytes=state, kv_bytes_per_token=per_token, kv_dtype=dtype, activations_bytes=act,
        overhead_bytes=overhead, total_bytes=w + kv + act + overhead, assumptions=tuple(notes),
    )


def _engine_notes(engine: Engine | None, workload: Workload, layers: tuple[LayerKv, ...]) -> list[str]:
    if engine is None:
        return ["KV exactly as the reference implementation holds it (no engine rounding)"]
    notes: list[str] = []
    batch = activation_tokens(engine, workload.batch_tokens)
    windowed = any(x.kind in ("sliding_window", "chunked") for x in layers)
    if engine.activation_rule == "llama_cpp_compute_buffer":
        pad = engine.context_pad_tokens
        n_ctx = -(-workload.context_tokens * workload.users // pad) * pad
        notes.append(f"{engine.name} n_ctx = context x users = {n_ctx:,}, padded to {pad}"
                     + (", one KV stream shared by all sequences (--kv-unified)" if workload.unified_kv
                        else f", one stream per sequence (--parallel {workload.users})" if workload.users > 1 else ""))
        notes.append(f"{engine.name} compute buffer for n_ubatch {batch}, flash attention "
                     f"{'on' if workload.flash_attention else 'off'}")
        if windowed:
            notes.append(f"{engine.name} sliding-window layers hold "
                         + ("the full context (--swa-full)" if workload.swa_full
                            else "window + n_ubatch cells per sequence, padded to 256"))
    else:
        if engine.kv_block_tokens > 1:
            notes.append(f"{engine.name} KV in blocks of {engine.kv_block_tokens} tokens per sequence")
        if engine.activation_rule == "vllm_profile_peak":
            notes.append(f"{engine.name} activation peak of a profiling pass over {batch} tokens "
                         "(max_num_batched_tokens)")
            if windowed:
                notes.append(f"{engine.name} sliding-window layers reserve window - 1 + {batch} tokens + 1 block")
        else:
            notes.append(f"{engine.name} activations for a {batch}-token step")
    overhead_gib = engine.runtime_overhead_gib
    notes.append(f"{engine.name} runtime overhead {overhead_gib:g} GiB per device (CUDA context, workspaces)")
    return notes
