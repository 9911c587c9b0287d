"""GGUF metadata -> schema.Architecture and the llama.cpp file type -> catalog quant id.

Key names are gguf's (``{arch}.attention.head_count`` ...); what GGUF does not store (sliding-window
periods that llama.cpp hard-codes per architecture) comes from the family defaults below, which follow
/work/shared/reference/models.md (Gemma 2 alternating, Gemma 3 5:1, gpt-oss alternating, Llama 4
chunked 8192 with every 4th layer global).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from sizer.model.importers.gguf_file import GgufArray, GgufTensor, gguf_constants
from sizer.schema import Architecture

__all__ = ["architecture_from_gguf", "file_type_quant_id"]

# general.architecture -> family ("llama" with experts is Mixtral, "deepseek2" with an indexer is V3.2)
_FAMILIES = {
    "llama": "llama",
    "qwen2": "qwen2",
    "qwen3": "qwen3",
    "phi3": "phi3",
    "gemma2": "gemma2",
    "gemma3": "gemma3",
    "qwen3moe": "qwen3_moe",
    "llama4": "llama4",
    "gpt-oss": "gpt_oss",
    "glm4moe": "glm4_moe",
    "minimax-m2": "minimax_m2",
    "deepseek2": "deepseek_v3",
    "qwen3next": "qwen3_next",
}
# family -> (local_layer_kind, local_layer_period, default window) where llama.cpp hard-codes the pattern
_LOCAL_DEFAULTS: dict[str, tuple[str, int, int | None]] = {
    "gemma2": ("sliding_window", 2, 4096),
    "gemma3": ("sliding_window", 6, 1024),
    "gpt_oss": ("sliding_window", 2, 128),
    "llama4": ("chunked", 4, 8192),
    "qwen3_next": ("linear_attention", 4, None),
}
# llama.cpp file types users type (IDS brief); LlamaFileType names map onto them by lower-casing
FILE_TYPE_IDS = frozenset(
    (
        "f32",
        "f16",
        "bf16",
        "q8_0",
        "q6_k",
        "q5_k_m",
        "q5_k_s",
        "q5_1",
        "q5_0",
        "q4_k_m",
        "q4_k_s",
        "q4_1",
        "q4_0",
        "q3_k_l",
        "q3_k_m",
        "q3_k_s",
        "q2_k",
        "q2_k_s",
        "iq4_xs",
        "iq4_nl",
        "iq3_m",
        "iq3_s",
        "iq3_xs",
        "iq3_xxs",
        "iq2_m",
        "iq2_s",
        "iq2_xs",
        "iq2_xxs",
        "iq1_m",
        "iq1_s",
        "tq1_0",
        "tq2_0",
        "mxfp4_moe",
    )
)


def file_type_quant_id(metadata: Mapping[str, Any]) -> str | None:
    """``general.file_type`` (LlamaFileType) -> catalog quant id such as ``q4_k_m``; None if absent/unknown."""
    raw = metadata.get("general.file_type")
    if not isinstance(raw, int):
        return None
    c = gguf_constants()
    try:
        name = c.LlamaFileType(raw & ~int(c.LlamaFileType.GUESSED)).name
    except ValueError:
        return None
    quant_id = name.removeprefix("MOSTLY_").removeprefix("ALL_").lower()
    return quant_id if quant_id in FILE_TYPE_IDS else None


def _scalar(value: Any) -> int | None:
    """An integer metadata value; a per-layer array gives its largest entry."""
    if isinstance(value, GgufArray):
        numbers = [v for v in value.values or () if isinstance(v, int)]
        return max(numbers) if numbers else None
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def architecture_from_gguf(
    metadata: Mapping[str, Any], tensors: Sequence[GgufTensor], source: str
) -> tuple[Architecture | None, list[str]]:
    """Architecture from GGUF hyperparameters (None with a warning when the family is unknown)."""
    arch = metadata.get("general.architecture")
    family = _FAMILIES.get(arch) if isinstance(arch, str) else None
    if family is None:
        message = (
            f"{source}: GGUF architecture {arch!r} is not a family sizer models; "
            "the tensor bytes are exact but the KV cache cannot be sized"
        )
        return None, [message]

    def get(key: str) -> int | None:
        return _scalar(metadata.get(f"{arch}.{key}"))

    names = {t.name for t in tensors}
    shapes = {t.name: t.shape for t in tensors}
    experts = get("expert_count") or None
    if family == "llama" and experts:
        family = "mixtral"
    if family == "deepseek_v3" and get("attention.indexer.head_count"):
        family = "deepseek_v32"
    hidden, blocks, heads = get("embedding_length"), get("block_count"), get("attention.head_count")
    missing = [f"{arch}.{k}" for k, v in (("embedding_length", hidden), ("block_count", blocks),
                                          ("attention.head_count", heads)) if not v]
    if missing or not (hidden and blocks and heads):
        return None, [f"{source}: GGUF metadata lacks {', '.join(missing)}"]
    nextn = get("nextn_predict_layers") or 0
    mismatch = _against_tensors(str(arch), hidden, blocks - nextn, shapes)
    if mismatch:
        return None, [f"{source}: {mismatch}"]
    vocab = get("vocab_size") or _vocab(metadata, shapes)
    fields: dict[str, Any] = {
        "family": family,
        "hidden_size": hidden,
        "num_hidden_layers": blocks - nextn,
        "num_attention_heads": heads,
        "num_key_value_heads": get("attention.head_count_kv") or heads,
        "head_dim": get("attention.key_length") or hidden // heads,
        "intermediate_size": get("feed_forward_length") or None,
        "vocab_size": vocab,
        "tie_word_embeddings": "output.weight" not in names,
        "max_position_embeddings": get("context_length"),
        "num_nextn_predict_layers": nextn,
        "attention_bias": "blk.0.attn_q.bias" in names or "blk.0.attn_qkv.bias" in names,
        "attention_output_bias": "blk.0.attn_output.bias" in names,
        "qk_norm": "blk.0.attn_q_norm.weight" in names,
        "attention_sinks": "blk.0.attn_sinks.weight" in names,
        "norms_per_layer": 4 if family in ("gemma2", "gemma3") else 2,
    }
    q_norm = shapes.get("blk.0.attn_q_norm.weight")
    if family == "minimax_m2" and q_norm:
        fields["qk_norm_full_width"] = q_norm[0] == heads * fields["head_dim"]
    if experts:
        fields.update(
            n_routed_experts=experts,
            num_experts_per_tok=get("expert_used_count"),
            n_shared_experts=get("expert_shared_count") or 0,
            moe_intermediate_size=get("expert_feed_forward_length") or get("feed_forward_length"),
            shared_expert_intermediate_size=get("expert_shared_feed_forward_length"),
            first_k_dense_replace=get("leading_dense_block_count") or 0,
            moe_layer_period=get("interleave_moe_layer_step") or 1,
            router_bias=any(
                n.endswith(("exp_probs_b.bias", "exp_probs_b.weight", "ffn_gate_inp.bias")) for n in names
            ),
            expert_bias=any(n.endswith("_exps.bias") for n in names),
            shared_expert_gate=any("ffn_gate_inp_shexp" in n for n in names),
        )
        if not fields["n_shared_experts"] and any("_shexp." in n for n in names):
            fields["n_shared_experts"] = 1  # Qwen3-Next / Llama 4 store one shared expert without a count
        if fields["first_k_dense_replace"] == 0 and family in (
            "qwen3_moe",
            "mixtral",
            "gpt_oss",
            "minimax_m2",
        ):
            fields["intermediate_size"] = None  # ffn length is the expert width there
    if family in ("deepseek_v3", "deepseek_v32"):
        rope = get("rope.dimension_count") or 0
        key_length = get("attention.key_length_mla") or get("attention.key_length") or 0
        fields.update(
            q_lora_rank=get("attention.q_lora_rank"),
            kv_lora_rank=get("attention.kv_lora_rank"),
            qk_rope_head_dim=rope or None,
            qk_nope_head_dim=(key_length - rope) or None,
            v_head_dim=get("attention.value_length_mla") or get("attention.value_length"),
            head_dim=key_length or fields["head_dim"],
            index_n_heads=get("attention.indexer.head_count"),
            index_head_dim=get("attention.indexer.key_length"),
            index_topk=get("attention.indexer.top_k"),
        )
    if family in _LOCAL_DEFAULTS:
        kind, period, window = _LOCAL_DEFAULTS[family]
        fields.update(
            local_layer_kind=kind,
            local_layer_period=get("full_attention_interval")
            or _period(metadata.get(f"{arch}.attention.sliding_window_pattern"))
            or period,
            local_window_tokens=get("attention.sliding_window") or window,
        )
    if family == "qwen3_next":
        value_heads = get("ssm.time_step_rank")
        inner = get("ssm.inner_size")
        fields.update(
            attention_output_gate=True,
            linear_num_key_heads=get("ssm.group_count"),
            linear_num_value_heads=value_heads,
            linear_key_head_dim=get("ssm.state_size"),
            linear_value_head_dim=inner // value_heads if inner and value_heads else None,
            linear_conv_kernel_dim=get("ssm.conv_kernel"),
        )
    try:
        return Architecture(**fields), []
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'architecture'}: {e['msg']}" for e in exc.errors()
        )
        return None, [f"{source}: GGUF metadata does not make a valid {family} architecture ({problems})"]


_BLOCK = re.compile(r"^blk\.(\d+)\.")


def _against_tensors(arch: str, hidden: int, layers: int, shapes: Mapping[str, tuple[int, ...]]) -> str | None:
    """Header metadata the tensors contradict (a file claiming 10^9 layers over 2 layers of tensors,
    or a width of 2^40 over 256-wide embeddings): what is wrong, or None."""
    indices = {int(m[1]) for name in shapes if (m := _BLOCK.match(name)) and len(m[1]) < 9}
    if indices and layers > max(indices) + 1:
        return (f"{arch}.block_count says {layers:,} layers but the tensors hold {max(indices) + 1:,} "
                "(blk.0 ... blk.N): the header does not describe this file")
    embedding = shapes.get("token_embd.weight")
    if embedding and embedding[0] != hidden:
        return (f"{arch}.embedding_length says {hidden:,} but token_embd.weight is {embedding[0]:,} wide: "
                "the header does not describe this file")
    return None


def _period(pattern: Any) -> int | None:
    """sliding_window_pattern: an int n (every n-th layer full) or one bool per layer (True = sliding)."""
    if isinstance(pattern, GgufArray):
        swa = [bool(v) for v in pattern.values or ()]
        if not swa:
            return None
        return 1 if all(swa) else swa.index(False) + 1
    return pattern if isinstance(pattern, int) and not isinstance(pattern, bool) and pattern > 0 else None


def _vocab(metadata: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]]) -> int | None:
    tokens = metadata.get("tokenizer.ggml.tokens")
    if isinstance(tokens, GgufArray):
        return tokens.length
    embd = shapes.get("token_embd.weight")
    return embd[1] if embd and len(embd) > 1 else None
