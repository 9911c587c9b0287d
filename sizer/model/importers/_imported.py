"""ImportedModel and the conversions of file records into sizer.model.tensors.QuantizedTensor."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sizer.model.importers._names import gguf_kind, hf_kind, role_for
from sizer.model.importers.gguf_file import GgufFile
from sizer.model.importers.safetensors_file import WeightRecord
from sizer.model.tensors import QuantizedTensor, Role, Tensor
from sizer.schema import Architecture

__all__ = ["ImportedModel", "from_gguf", "from_safetensors", "packed_bits"]

_EXPERT_INDEX = re.compile(r"\.experts\.\d+\.")
# stacked expert parameters stored [experts, in, out] (Llama 4, unquantized gpt-oss), not [experts, out, in]
_IN_OUT_STACKED = re.compile(r"\.experts\.(gate_up_proj|down_proj)$")


@dataclass(frozen=True, slots=True)
class ImportedModel:
    """What a model file (or folder) says about a model, read from headers only."""

    source: str  # the path (or hub repo) given
    architecture: Architecture | None  # None when the files do not name a family sizer models
    tensors: tuple[QuantizedTensor, ...] | None  # None when only a config.json was given
    quant_hint: str | None  # catalog quant id of the checkpoint (q4_k_m, fp8-block128, bf16 ...)
    file_bytes: int  # bytes on disk of the weight files read (0 for a config alone)
    warnings: tuple[str, ...] = ()

    @property
    def weights_bytes(self) -> int:
        """Exact bytes of all tensors (scale tensors included); 0 without tensors."""
        return sum(t.weights_bytes for t in self.tensors or ())


def _mtp_layers(arch: Architecture | None) -> int | None:
    return arch.num_hidden_layers if arch is not None else None


def from_gguf(gguf: GgufFile, arch: Architecture | None) -> tuple[QuantizedTensor, ...]:
    """GGUF tensors -> QuantizedTensor (qtype = ggml type name, bytes exact)."""
    n_layers = _mtp_layers(arch)
    out = []
    for t in gguf.tensors:
        kind, layer, is_bias = gguf_kind(t.name)
        role = role_for(kind, len(t.shape), is_bias)
        n_experts = t.shape[-1] if role is Role.ROUTED_EXPERT and len(t.shape) >= 2 else 1
        is_mtp = layer is not None and n_layers is not None and layer >= n_layers
        tensor = Tensor(t.name, kind, layer, t.shape, role, is_mtp=is_mtp, n_experts=n_experts)
        out.append(QuantizedTensor(tensor, t.ggml_type, t.nbytes))
    return tuple(out)


def packed_bits(config: Mapping[str, Any] | None) -> int:
    """Bits per value of int-packed weights (GPTQ/AWQ/compressed-tensors/MLX); 4 when not stated."""
    if not config:
        return 4
    qc = config.get("quantization_config") or config.get("quantization")
    if isinstance(qc, Mapping):
        bits = qc.get("bits")
        groups = qc.get("config_groups")
        if bits is None and isinstance(groups, Mapping) and groups:
            weights = next(iter(groups.values()))
            bits = weights.get("weights", {}).get("num_bits") if isinstance(weights, Mapping) else None
        if isinstance(bits, int) and bits in (2, 3, 4, 5, 6, 8):
            return bits
    return 4


def _companion(record: WeightRecord, suffix: str) -> tuple[int, ...] | None:
    for c in record.companions:
        if c.name.endswith(suffix):
            return c.shape
    return None


def _logical_shape(r: WeightRecord, bits: int) -> tuple[int, ...]:
    """Hugging Face-order shape in values, undoing the packing of quantized storage."""
    shape = r.shape
    if r.name.endswith("_blocks") and len(shape) >= 2:  # MXFP4: [..., blocks, 16 bytes] -> 32 values a block
        return (*shape[:-2], shape[-2] * shape[-1] * 2)
    if r.name.endswith(".qweight") and len(shape) == 2:
        scales, g_idx = _companion(r, ".scales"), _companion(r, ".g_idx")
        if g_idx is not None:  # GPTQ: qweight [in * bits / 32, out]
            return (shape[1], g_idx[0])
        return (
            scales[-1] if scales else shape[1] * 32 // bits,
            shape[0],
        )  # AWQ: qweight [in, out * bits / 32]
    if r.name.endswith(".weight_packed") and len(shape) == 2:  # compressed-tensors: [out, in * bits / 32]
        return (shape[0], shape[1] * 32 // bits)
    if (
        len(shape) >= 1
        and r.dtype == "U8"
        and any(c.name.endswith(".weight_scale") and c.dtype.startswith("F8_") for c in r.companions)
    ):  # NVFP4: two values a byte
        return (*shape[:-1], shape[-1] * 2)
    if len(shape) >= 1 and r.dtype == "U32" and _companion(r, ".biases") is not None:  # MLX affine
        return (*shape[:-1], shape[-1] * 32 // bits)
    return shape


def from_safetensors(
    records: Sequence[WeightRecord], arch: Architecture | None, config: Mapping[str, Any] | None
) -> tuple[QuantizedTensor, ...]:
    """Safetensors weight records -> QuantizedTensor (qtype = main dtype, bytes include scales).

    Per-expert tensors (``model.layers.3.mlp.experts.17.up_proj.weight``) are stacked as a GGUF
    conversion stacks them: one ``model.layers.3.mlp.experts.*.up_proj.weight`` of shape
    (in, out, n_experts) per layer and projection, with the bytes of all its experts.
    """
    n_layers = _mtp_layers(arch)
    bits = packed_bits(config)
    post_norm = (arch is not None and arch.family == "qwen3_next") or any(
        "pre_feedforward_layernorm" in r.name or ".linear_attn." in r.name for r in records
    )
    groups: dict[tuple[str, str, tuple[int, ...]], list[WeightRecord]] = {}
    for r in records:
        name = _EXPERT_INDEX.sub(".experts.*.", r.name) if ".experts." in r.name else r.name
        groups.setdefault((name, r.dtype, r.shape), []).append(r)
    out = []
    for (name, dtype, _), members in groups.items():
        first = members[0]
        kind, layer, is_bias, is_mtp = hf_kind(name, post_attention_norm=post_norm)
        hf_shape = _logical_shape(first, bits)
        shape: tuple[int, ...]
        if _IN_OUT_STACKED.search(name) and len(hf_shape) == 3:
            shape = (hf_shape[1], hf_shape[2], hf_shape[0])
        else:
            shape = tuple(reversed(hf_shape))
        if is_mtp and layer is not None and n_layers is not None:
            layer += n_layers  # Qwen3-Next mtp.layers.i
        elif layer is not None and n_layers is not None and layer >= n_layers:
            is_mtp = True  # DeepSeek / GLM store MTP layers after the decoder layers
        role = role_for(kind, len(shape), is_bias)
        if name != first.name:  # per-expert tensors stacked: (in, out) -> (in, out, n_experts)
            shape, n_experts = (*shape, len(members)), len(members)
        else:
            n_experts = shape[-1] if role is Role.ROUTED_EXPERT and len(shape) >= 2 else 1
        tensor = Tensor(name, kind, layer, shape, role, is_mtp=is_mtp, n_experts=n_experts)
        out.append(QuantizedTensor(tensor, dtype, sum(m.nbytes for m in members)))
    return tuple(out)
