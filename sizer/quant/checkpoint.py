"""Exact bytes of safetensors checkpoint formats (FP8, MXFP4, NVFP4, GPTQ, AWQ, bitsandbytes, MLX, ...).

Per weight matrix of ``I`` inputs and ``O`` outputs (ggml shape ``(I, O, *experts)``; each stacked
expert is one matrix and pays its own scales):

======================  ==========================================================================
FP8 per-tensor          I*O + one fp32 scale
FP8 per-channel         I*O + O scales
FP8 block-128           I*O + ceil(O/128) * ceil(I/128) fp32 scales (``weight_scale_inv``)
MXFP4 / NVFP4           I*O/2 + O * I/block scales (+ NVFP4's two fp32 scalars per tensor)
GPTQ                    qweight int32 [ceil(I*b/32), O] + qzeros int32 [G, ceil(O*b/32)]
                        + scales fp16 [G, O] + g_idx int32 [I], G = ceil(I/g)
AWQ                     qweight int32 [I, ceil(O*b/32)] + qzeros int32 [ceil(I/g), ceil(O*b/32)]
                        + scales fp16 [ceil(I/g), O]
compressed-tensors      weight_packed int32 [O, ceil(I*b/32)] + weight_scale [O, ceil(I/g)]
pack-quantized          + weight_shape (``tensor_overhead_bytes``)
bitsandbytes 4-bit      ceil(n/2) codes + one absmax per 64 (uint8 with double quant, plus one fp32
                        per 256 absmax) + code tables; LLM.int8(): n + fp32 SCB per row
MLX affine              O * I * bits/8 + (scale + bias) per group; only when I % group == 0
======================  ==========================================================================

Which tensors are quantized follows each ecosystem's practice: linear weights of attention, MLP,
shared and routed experts, indexers and other projections; embeddings and the LM head only where
``quantizes_embeddings`` / ``quantizes_output`` say so (MLX); norms, biases and routers stay BF16
(MLX keeps routers at 8 bits); mHC mixing parameters (``hc_*``) stay F32 as DeepSeek ships them;
conv1d weights stay BF16. Native mixed checkpoints (``applies_to: routed_experts``) put the routed
experts in their own layout and the other linear weights in ``other_tensors_format``. Engram tables
are FP8 with one UE8M0 scale per 32 values in their native checkpoint (264 bytes per 256-value
row), BF16 in other checkpoint formats (they are tables, not linear layers), and quantized like
embeddings by MLX.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from math import ceil

from sizer.errors import BadValueError
from sizer.model.tensors import Role, Tensor
from sizer.schema import QuantFormat

__all__ = ["checkpoint_tensor_types", "matrix_bytes"]

_FLOAT_BYTES = {"F32": 4, "F16": 2, "BF16": 2}


@cache
def _mlx_router() -> QuantFormat:
    """mlx-lm's per-model predicates keep MoE routers at 8 bits, group 64. Built on first use: at
    import time it would build QuantFormat's validator in every cold run."""
    return QuantFormat(
        id="mlx-8bit-router",
        format_kind="mlx",
        name="MLX 8-bit",
        weight_bits=8,
        group_size=64,
        scale_bits=16,
        zero_point_bits=16,
        compute_precision="fp16",
        sources=["https://github.com/ml-explore/mlx-lm"],
    )


def _ints(x: float) -> int:
    return ceil(x)


def _matrix_bytes(fmt: QuantFormat, i: int, o: int) -> int | None:
    """Bytes of one I x O matrix in `fmt`; None when the layout cannot hold it (kept 16-bit)."""
    kind = fmt.format_kind
    b = int(fmt.weight_bits or 0)
    n = i * o
    scale_b = (fmt.scale_bits or 0) / 8
    extra = fmt.tensor_overhead_bytes
    if kind == "fp8":
        scales = {"tensor": 1, "channel": o}.get(fmt.scale_granularity or "")
        if scales is None:  # block2d
            g = fmt.group_size or 128
            scales = ceil(o / g) * ceil(i / g)
        return n + _ints(scales * scale_b) + extra
    if fmt.block_size and not fmt.group_size:  # microscaling: MXFP4, NVFP4, FP4 experts
        if i % fmt.block_size:
            return None
        return n * b // 8 + _ints(o * (i // fmt.block_size) * scale_b) + extra
    g = fmt.group_size if fmt.group_size and fmt.group_size > 0 else i
    groups = ceil(i / g)
    if kind == "gptq":
        zeros = groups * ceil(o * b / 32) * 4 if fmt.zero_point_bits else 0
        g_idx = i * 4 if fmt.has_g_idx else 0
        return ceil(i * b / 32) * o * 4 + zeros + _ints(groups * o * scale_b) + g_idx + extra
    if kind == "awq":
        zeros = groups * ceil(o * b / 32) * 4 if fmt.zero_point_bits else 0
        return i * ceil(o * b / 32) * 4 + zeros + _ints(groups * o * scale_b) + extra
    if kind == "mlx":
        if i % g:
            return None
        return n * b // 8 + _ints(o * groups * (scale_b + (fmt.zero_point_bits or 0) / 8)) + extra
    if kind == "bitsandbytes":
        if b == 8:  # LLM.int8(): int8 weights + one fp32 absmax per row (SCB)
            return n + _ints(o * scale_b) + extra
        blocks = ceil(n / g)
        if fmt.double_quant_group_size:
            absmax = blocks * scale_b + ceil(blocks / fmt.double_quant_group_size) * 4
        else:
            absmax = blocks * 4
        return ceil(n / 2) + _ints(absmax) + extra
    if kind == "int_weight_only" and fmt.scale_granularity == "channel":
        return n * b // 8 + _ints(o * scale_b) + extra
    if kind in ("native", "int_weight_only"):  # compressed-tensors pack-quantized (symmetric)
        zeros = ceil(o * (fmt.zero_point_bits or 0) / 32) * groups * 4
        return o * ceil(i * b / 32) * 4 + _ints(o * groups * scale_b) + zeros + extra
    raise BadValueError(f"no byte layout for {fmt.id} ({kind})")


def matrix_bytes(fmt: QuantFormat, shape: Sequence[int]) -> int | None:
    """Bytes of a weight of ggml `shape` (I, O, *experts) in `fmt`; None if it stays unquantized."""
    i = shape[0]
    o = shape[1] if len(shape) > 1 else 1
    experts = 1
    for n in shape[2:]:
        experts *= n
    one = _matrix_bytes(fmt, i, o)
    return None if one is None else one * experts


def _float_bytes(t: Tensor, qtype: str) -> tuple[str, int]:
    return qtype, t.elements * _FLOAT_BYTES[qtype]


def _is_linear_weight(t: Tensor) -> bool:
    return len(t.shape) >= 2 and t.shape[1] > 1 and t.name.endswith(".weight")


def checkpoint_tensor_types(
    tensors: Sequence[Tensor], fmt: QuantFormat, formats: Mapping[str, QuantFormat]
) -> list[tuple[Tensor, str, int]]:
    """(tensor, storage type, bytes) for every tensor of a checkpoint stored in `fmt`."""
    other = fmt
    if fmt.applies_to == "routed_experts":
        other = formats[fmt.other_tensors_format or "bf16"]
    out: list[tuple[Tensor, str, int]] = []
    for t in tensors:
        qtype, nbytes = _one(t, fmt, other)
        out.append((t, qtype, nbytes))
    return out


def _quantized(t: Tensor, fmt: QuantFormat) -> tuple[str, int]:
    if fmt.format_kind == "gguf_file_type":  # the plain float "formats": bf16, f16, f32
        return _float_bytes(t, fmt.base_ggml_type if fmt.base_ggml_type in _FLOAT_BYTES else "BF16")
    nbytes = matrix_bytes(fmt, t.shape)
    return _float_bytes(t, "BF16") if nbytes is None else (_label(fmt), nbytes)


def _label(fmt: QuantFormat) -> str:
    """Storage type name; for a native mix, the name of its expert layout (MXFP4, INT4 g32)."""
    if fmt.format_kind != "native":
        return fmt.name
    if fmt.block_size and not fmt.group_size:
        return {32: "MXFP4", 16: "NVFP4"}.get(
            fmt.block_size, f"FP{int(fmt.weight_bits or 4)} block {fmt.block_size}"
        )
    return f"INT{int(fmt.weight_bits or 4)} g{fmt.group_size}"


def _one(t: Tensor, fmt: QuantFormat, other: QuantFormat) -> tuple[str, int]:
    kind = t.kind
    if "tid2eid" in kind:  # DeepSeek-V4 hash-routing table (token id -> expert ids)
        return "I32", t.elements * 4
    if kind.startswith("hc_"):  # mHC mixing parameters ship in fp32
        return _float_bytes(t, "F32")
    linear = _is_linear_weight(t) and "conv1d" not in kind
    mlx = fmt.format_kind == "mlx"
    if not linear:
        return _float_bytes(t, "BF16")
    if t.role is Role.ENGRAM:
        if fmt.applies_to == "routed_experts" and other.format_kind == "fp8":
            rows = t.elements // t.shape[0]
            return "FP8 + UE8M0/32", rows * (t.shape[0] + ceil(t.shape[0] / 32))
        return _quantized(t, fmt) if fmt.quantizes_embeddings else _float_bytes(t, "BF16")
    if t.role is Role.ROUTER or "gate_inp" in kind:
        return _quantized(t, _mlx_router()) if mlx else _float_bytes(t, "BF16")
    if t.role is Role.NORM:
        return _float_bytes(t, "BF16")
    if t.role is Role.EMBEDDING:
        return _quantized(t, fmt) if fmt.quantizes_embeddings else _float_bytes(t, "BF16")
    if t.role is Role.OUTPUT:
        return _quantized(t, fmt) if fmt.quantizes_output else _float_bytes(t, "BF16")
    if t.role is Role.ROUTED_EXPERT or fmt.applies_to == "all_linear":
        return _quantized(t, fmt)
    return _quantized(t, other)
