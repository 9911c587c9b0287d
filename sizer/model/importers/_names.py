"""Tensor names -> (kind, layer, role): one vocabulary for GGUF files and Hugging Face checkpoints.

Kinds are GGUF's own names (``gguf.constants.TENSOR_NAMES`` without the ``blk.{bid}.`` prefix), so a
safetensors tensor and its GGUF conversion get the same kind. Kinds used here beyond the shared list in
the IDS brief (all spelled as llama.cpp spells them):

- ``ffn_gate_up_exps``: gate and up projections of the routed experts fused in one stacked tensor
  (gpt-oss, Llama 4 checkpoints).
- ``attn_post_norm`` / ``post_attention_norm``: norm after attention (Gemma 2/3, Qwen3-Next).
- ``indexer.attn_q_b``, ``indexer.attn_k``, ``indexer.k_norm``, ``indexer.proj``: DeepSeek sparse
  attention lightning indexer (V3.2).
- ``ssm_in``, ``ssm_ba``, ``ssm_conv1d``, ``ssm_a``, ``ssm_dt``, ``ssm_norm``, ``ssm_out``: Gated
  DeltaNet mixer of Qwen3-Next linear-attention layers.
- ``nextn.eh_proj``, ``nextn.enorm``, ``nextn.hnorm``, ``nextn.embed_tokens``, ``nextn.shared_head_head``,
  ``nextn.shared_head_norm``: extra tensors of a multi-token-prediction layer.
- ``rope_freqs``: precomputed RoPE frequencies; ``vision``: anything of a vision tower or projector.

A name that matches nothing keeps its module path as its kind (``mlp.foo``) with role OTHER.
"""

from __future__ import annotations

import re

from sizer.model.tensors import Role

__all__ = ["gguf_kind", "hf_kind", "role_for"]

_GGUF_SUFFIXES = (".weight", ".bias", ".scale", ".scales")
_BLK = re.compile(r"^blk\.(\d+)\.(.+)$")


def gguf_kind(name: str) -> tuple[str, int | None, bool]:
    """``blk.3.ffn_up_exps.weight`` -> (``ffn_up_exps``, 3, is_bias=False); globals have layer None."""
    stem, is_bias = name, False
    for suffix in _GGUF_SUFFIXES:
        if name.endswith(suffix):
            stem, is_bias = name[: -len(suffix)], suffix == ".bias"
            break
    match = _BLK.match(stem)
    if match is None:
        return stem, None, is_bias
    return match.group(2), int(match.group(1)), is_bias


def role_for(kind: str, ndim: int, is_bias: bool) -> Role:
    """What a tensor of this kind is for (see sizer.model.tensors.Role)."""
    if kind in ("token_embd", "nextn.embed_tokens"):
        return Role.EMBEDDING
    if kind in ("output", "nextn.shared_head_head"):
        return Role.OUTPUT
    if kind.endswith("_exps"):
        return Role.ROUTED_EXPERT
    if kind in ("ffn_gate_inp", "exp_probs_b"):
        return Role.ROUTER
    if kind.endswith("_shexp"):
        return Role.SHARED_EXPERT
    if kind.startswith("indexer."):
        return Role.INDEXER
    if "norm" in kind or kind in ("attn_sinks", "rope_freqs") or is_bias or ndim <= 1:
        return Role.NORM
    if kind.startswith("engram"):
        return Role.ENGRAM
    if kind.startswith(("attn_", "ssm_")):
        return Role.ATTENTION
    if kind in ("ffn_gate", "ffn_up", "ffn_down"):
        return Role.DENSE_FFN
    return Role.OTHER


# Hugging Face module paths inside a decoder layer (expert index removed) -> kind
_HF_LAYER: dict[str, str] = {
    "input_layernorm": "attn_norm",
    "post_attention_layernorm": "ffn_norm",
    "pre_feedforward_layernorm": "ffn_norm",
    "post_feedforward_layernorm": "post_ffw_norm",
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "self_attn.qkv_proj": "attn_qkv",
    "self_attn.q_norm": "attn_q_norm",
    "self_attn.k_norm": "attn_k_norm",
    "self_attn.sinks": "attn_sinks",
    "self_attn.q_a_proj": "attn_q_a",
    "self_attn.q_a_layernorm": "attn_q_a_norm",
    "self_attn.q_b_proj": "attn_q_b",
    "self_attn.kv_a_proj_with_mqa": "attn_kv_a_mqa",
    "self_attn.kv_a_layernorm": "attn_kv_a_norm",
    "self_attn.kv_b_proj": "attn_kv_b",
    "self_attn.indexer.wq_b": "indexer.attn_q_b",
    "self_attn.indexer.wk": "indexer.attn_k",
    "self_attn.indexer.k_norm": "indexer.k_norm",
    "self_attn.indexer.weights_proj": "indexer.proj",
    "linear_attn.in_proj_qkvz": "ssm_in",
    "linear_attn.in_proj_ba": "ssm_ba",
    "linear_attn.conv1d": "ssm_conv1d",
    "linear_attn.A_log": "ssm_a",
    "linear_attn.dt_bias": "ssm_dt",
    "linear_attn.norm": "ssm_norm",
    "linear_attn.out_proj": "ssm_out",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
    "mlp.gate_up_proj": "ffn_up",  # Phi-3 fused gate+up: llama.cpp keeps it as ffn_up
    "feed_forward.gate_proj": "ffn_gate",
    "feed_forward.up_proj": "ffn_up",
    "feed_forward.down_proj": "ffn_down",
    "mlp.gate": "ffn_gate_inp",
    "mlp.router": "ffn_gate_inp",
    "block_sparse_moe.gate": "ffn_gate_inp",
    "feed_forward.router": "ffn_gate_inp",
    "mlp.experts.gate_proj": "ffn_gate_exps",
    "mlp.experts.up_proj": "ffn_up_exps",
    "mlp.experts.down_proj": "ffn_down_exps",
    "mlp.experts.gate_up_proj": "ffn_gate_up_exps",
    "block_sparse_moe.experts.w1": "ffn_gate_exps",
    "block_sparse_moe.experts.w3": "ffn_up_exps",
    "block_sparse_moe.experts.w2": "ffn_down_exps",
    "feed_forward.experts.gate_up_proj": "ffn_gate_up_exps",
    "feed_forward.experts.down_proj": "ffn_down_exps",
    "mlp.shared_experts.gate_proj": "ffn_gate_shexp",
    "mlp.shared_experts.up_proj": "ffn_up_shexp",
    "mlp.shared_experts.down_proj": "ffn_down_shexp",
    "mlp.shared_expert.gate_proj": "ffn_gate_shexp",
    "mlp.shared_expert.up_proj": "ffn_up_shexp",
    "mlp.shared_expert.down_proj": "ffn_down_shexp",
    "feed_forward.shared_expert.gate_proj": "ffn_gate_shexp",
    "feed_forward.shared_expert.up_proj": "ffn_up_shexp",
    "feed_forward.shared_expert.down_proj": "ffn_down_shexp",
    "mlp.shared_expert_gate": "ffn_gate_inp_shexp",
    # multi-token-prediction layer extras (DeepSeek V3, GLM-4.5: stored as layer num_hidden_layers + i)
    "eh_proj": "nextn.eh_proj",
    "enorm": "nextn.enorm",
    "hnorm": "nextn.hnorm",
    "embed_tokens": "nextn.embed_tokens",
    "shared_head.head": "nextn.shared_head_head",
    "shared_head.norm": "nextn.shared_head_norm",
}
_HF_GLOBAL = {
    "embed_tokens": "token_embd",
    "norm": "output_norm",
    "lm_head": "output",
    "rotary_emb": "rope_freqs",
}
_HF_PREFIXES = ("model.language_model.", "language_model.model.", "language_model.", "model.")
_HF_VISION = (
    "vision_tower",
    "vision_model",
    "multi_modal_projector",
    "visual",
    "mm_projector",
    "vision_encoder",
)
_HF_LAYER_RE = re.compile(r"^(?:layers|h|blocks)\.(\d+)\.(.+)$")
_HF_MTP_RE = re.compile(r"^mtp\.(?:layers\.(\d+)\.)?(.+)$")
_HF_EXPERT_RE = re.compile(r"\.experts\.(?:\d+|\*)\.")  # an expert index, or "*" for a stack
# parameter suffixes, longest first: (suffix, is_bias)
_HF_SUFFIXES = (
    (".weight_packed", False),
    (".qweight", False),
    (".weight", False),
    (".bias", True),
    ("_blocks", False),
    ("_bias", True),
)


def hf_kind(name: str, *, post_attention_norm: bool = False) -> tuple[str, int | None, bool, bool]:
    """Hugging Face tensor name -> (kind, layer, is_bias, is_mtp).

    ``post_attention_norm``: name ``post_attention_layernorm`` as llama.cpp does for Gemma 2/3 (which
    also have a ``pre_feedforward_layernorm``) and Qwen3-Next, instead of ``ffn_norm``.
    Qwen3-Next ``mtp.*`` tensors come back with layer None and is_mtp True; the caller renumbers them.
    """
    stem = name
    for prefix in _HF_PREFIXES:
        if stem.startswith(prefix):
            stem = stem[len(prefix) :]
            break
    if stem.startswith(_HF_VISION) or name.startswith(_HF_VISION):
        return "vision", None, False, False
    is_mtp = False
    layer: int | None = None
    match = _HF_LAYER_RE.match(stem)
    if match is not None:
        layer, stem = int(match.group(1)), match.group(2)
    else:
        mtp = _HF_MTP_RE.match(stem)
        if mtp is not None:
            is_mtp, stem = True, mtp.group(2)
            layer = int(mtp.group(1)) if mtp.group(1) is not None else None
    stem = _HF_EXPERT_RE.sub(".experts.", stem)
    if stem.endswith("e_score_correction_bias"):
        return "exp_probs_b", layer, True, is_mtp
    table = _HF_LAYER if (layer is not None or is_mtp) else _HF_GLOBAL
    kind = table.get(stem)
    is_bias = False
    if kind is None:
        for suffix, bias in _HF_SUFFIXES:
            if stem.endswith(suffix):
                stem, is_bias = stem[: -len(suffix)], bias
                break
        kind = table.get(stem)
        if kind is None and is_mtp:
            kind = _HF_GLOBAL.get(stem)  # Qwen3-Next mtp.norm, mtp.fc ...
    if kind == "ffn_norm" and post_attention_norm and stem == "post_attention_layernorm":
        kind = "post_attention_norm"
    return (kind if kind is not None else stem), layer, is_bias, is_mtp
