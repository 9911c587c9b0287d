"""A checkpoint's ``quantization_config`` (or dtype) -> the catalog quant id it corresponds to.

Ids are the ones agreed in the IDS brief (quant helper's gpu_catalog/quantization.yaml). The hint says
what the checkpoint is; the exact bytes still come from the tensors when a safetensors file is given.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sizer.model.importers.safetensors_file import WeightRecord

__all__ = ["describe_quantization", "quant_hint_from_config", "quant_hint_from_tensors"]

_GPTQ = {"gptq-int4-g128", "gptq-int4-g32", "gptq-int8-g128", "gptq-int3-g128"}
_AWQ = {"awq-int4-g128", "awq-int4-g64"}
_MLX = {"mlx-4bit", "mlx-8bit", "mlx-6bit", "mlx-3bit"}
_DTYPES = {"bfloat16": "bf16", "float16": "f16", "float32": "f32"}


def quant_hint_from_config(config: Mapping[str, Any], family: str | None) -> str | None:
    """Map quantization_config (fp8 block, GPTQ/AWQ bits+group, MXFP4, compressed-tensors, bnb, MLX)."""
    qc = config.get("quantization_config")
    if not isinstance(qc, Mapping):
        qc = config.get("quantization")  # MLX writes {"group_size": 64, "bits": 4} here
    if not isinstance(qc, Mapping):
        dtype = config.get("torch_dtype") or config.get("dtype")
        return _DTYPES.get(dtype) if isinstance(dtype, str) else None
    method = str(qc.get("quant_method", "")).lower().replace("_", "-")
    bits, group = qc.get("bits"), qc.get("group_size")
    if method == "fp8":
        block = qc.get("weight_block_size")
        if block is None:
            return "fp8-per-tensor"
        return "fp8-block128" if list(block) == [128, 128] else None
    if method == "gptq":
        hint = f"gptq-int{bits}-g{group}"
        return hint if hint in _GPTQ else None
    if method == "awq":
        hint = f"awq-int{bits}-g{group}"
        return hint if hint in _AWQ else None
    if method == "mxfp4":
        return (
            "mxfp4-experts"
            if family == "gpt_oss" or _experts_only(qc.get("modules_to_not_convert"))
            else "mxfp4"
        )
    if method == "bitsandbytes":
        if qc.get("load_in_4bit"):
            return "bnb-fp4" if qc.get("bnb_4bit_quant_type") == "fp4" else "bnb-nf4"
        return "bnb-int8" if qc.get("load_in_8bit") else None
    if method == "fbgemm-fp8":  # FP8 weights with one scale per output channel
        return "fp8-per-channel"
    if method == "modelopt":
        algo = str(qc.get("quant_algo", "")).upper()
        return {"NVFP4": "nvfp4", "FP8": "fp8-per-tensor"}.get(algo)
    if method == "compressed-tensors":
        return _compressed(qc)
    if not method and isinstance(bits, int) and group is not None:
        hint = f"mlx-{bits}bit"
        return hint if hint in _MLX else None
    return None


def _experts_only(ignored: Any) -> bool:
    """An ignore list that keeps attention and shared experts unquantized: only routed experts are."""
    if not isinstance(ignored, list):
        return False
    text = " ".join(str(i) for i in ignored)
    return "self_attn" in text and ("shared_expert" in text or "router" in text)


def _compressed(qc: Mapping[str, Any]) -> str | None:
    groups = qc.get("config_groups")
    if not isinstance(groups, Mapping) or not groups:
        return None
    group = next(iter(groups.values()))
    weights = group.get("weights") if isinstance(group, Mapping) else None
    if not isinstance(weights, Mapping):
        return None
    bits, kind, strategy = weights.get("num_bits"), weights.get("type"), weights.get("strategy")
    size = weights.get("group_size")
    acts = group.get("input_activations")
    if kind == "int" and bits == 4:
        if size == 32 and _experts_only(qc.get("ignore")):
            return "int4-g32-experts"
        return (
            {128: "awq-int4-g128", 64: "awq-int4-g64"}.get(size)
            if strategy == "group" and isinstance(size, int)
            else None
        )
    if kind == "int" and bits == 8 and isinstance(acts, Mapping) and acts.get("num_bits") == 8:
        return "w8a8-int8"
    if kind == "float" and bits == 8:
        if strategy == "block":
            return "fp8-block128" if list(weights.get("block_structure") or ()) == [128, 128] else None
        return {"channel": "fp8-per-channel", "tensor": "fp8-per-tensor"}.get(str(strategy))
    if kind == "float" and bits == 4 and size == 16:
        return "nvfp4"
    return None


def quant_hint_from_tensors(records: tuple[WeightRecord, ...]) -> str | None:
    """Without a config: FP8 with block scales, gpt-oss-style MXFP4 blocks, or the dominant float dtype."""
    by_bytes: dict[str, int] = {}
    fp8_block = mxfp4 = False
    for r in records:
        by_bytes[r.dtype] = by_bytes.get(r.dtype, 0) + r.nbytes
        fp8_block |= (
            r.dtype.startswith("F8_")
            and len(r.shape) == 2
            and any(
                c.name.endswith(("weight_scale_inv", "weight_scale"))
                and c.shape == tuple(-(-d // 128) for d in r.shape)
                for c in r.companions
            )
        )
        mxfp4 |= r.name.endswith("_blocks") and any(c.name.endswith("_scales") for c in r.companions)
    if fp8_block:
        return "fp8-block128"
    if mxfp4:
        return "mxfp4-experts"
    dominant = max(by_bytes, key=by_bytes.__getitem__, default=None)
    return {"BF16": "bf16", "F16": "f16", "F32": "f32"}.get(dominant or "")


def describe_quantization(config: Mapping[str, Any], records: tuple[WeightRecord, ...] = ()) -> str | None:
    """The checkpoint's quantization method in words, for the report and the engine choice:
    what ``quantization_config`` declares, checked against the stored dtypes (the bytes themselves
    always come from the tensors)."""
    qc = config.get("quantization_config")
    mlx = config.get("quantization")
    stored = sorted({r.dtype for r in records if r.nbytes > 1 << 16})
    dtypes = f" (stored {'/'.join(stored)})" if stored else ""
    if not isinstance(qc, Mapping):
        if isinstance(mlx, Mapping) and isinstance(mlx.get("bits"), int):
            return f"MLX affine {mlx['bits']}-bit, group {mlx.get('group_size', 64)}{dtypes}"
        if any(r.name.endswith("_blocks") for r in records):
            return f"MXFP4 blocks (no quantization_config){dtypes}"
        return f"unquantized{dtypes}" if stored else None
    method = str(qc.get("quant_method", "?")).lower()
    bits, group = qc.get("bits"), qc.get("group_size")
    if method == "fp8":
        block = qc.get("weight_block_size")
        kind = f"block {block[0]}x{block[1]} (DeepSeek style)" if isinstance(block, list) and len(block) == 2 else "per-tensor"
        return f"FP8 {kind}{dtypes}"
    if method in ("gptq", "awq"):
        return f"{method.upper()} int{bits}, group {group}{', act-order' if qc.get('desc_act') else ''}{dtypes}"
    if method == "bitsandbytes":
        if qc.get("load_in_4bit"):
            return f"bitsandbytes 4-bit {qc.get('bnb_4bit_quant_type', 'fp4')}{dtypes}"
        return f"bitsandbytes 8-bit (LLM.int8){dtypes}"
    if method == "fbgemm_fp8":
        return f"fbgemm FP8 per-channel weights, dynamic per-token activations{dtypes}"
    if method == "mxfp4":
        return f"MXFP4 (OCP microscaling, 32-value blocks with an E8M0 scale){dtypes}"
    if method == "modelopt":
        return f"NVIDIA ModelOpt {qc.get('quant_algo', '?')}{dtypes}"
    if method == "compressed-tensors":
        groups = qc.get("config_groups")
        group0 = next(iter(groups.values()), None) if isinstance(groups, Mapping) and groups else None
        weights = group0.get("weights") if isinstance(group0, Mapping) else None
        acts = group0.get("input_activations") if isinstance(group0, Mapping) else None
        if not isinstance(weights, Mapping):
            return f"compressed-tensors ({qc.get('format', '?')}){dtypes}"
        w = f"W{weights.get('num_bits')} {weights.get('type')} {weights.get('strategy')}"
        if weights.get("group_size"):
            w += f" group {weights.get('group_size')}"
        if weights.get("block_structure"):
            w += f" block {weights.get('block_structure')}"
        a = f", A{acts.get('num_bits')} {acts.get('type')}" if isinstance(acts, Mapping) else ", weight-only"
        return f"compressed-tensors {qc.get('format', '')} {w}{a}{dtypes}".replace("  ", " ")
    return f"{method} (bits {bits}, group {group}){dtypes}"
