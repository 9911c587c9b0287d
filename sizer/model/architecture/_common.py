"""Building blocks for the family builders: one tensor, one attention block, one MLP, stacked experts.

Every helper returns ``Tensor`` records named as ``convert_hf_to_gguf.py`` writes them
(``blk.{layer}.{kind}.weight`` / ``.bias``; globals ``token_embd.weight``, ``output_norm.weight``,
``output.weight``) with shapes in ggml order: a Hugging Face ``Linear(in, out)`` weight is
``(in, out)``, a stacked routed-expert tensor is ``(in, out, n_experts)``.

Conventions shared by all families (the DeepSeek / Qwen3-Next builders use them too):

- Roles: 1-D vectors (norm weights, attention biases, sinks) are ``Role.NORM``; per-expert biases
  stacked ``(width, n_experts)`` are ``Role.ROUTED_EXPERT`` with ``n_experts`` set, since a token
  reads only its top-k rows of them; the router weight and its bias / score-correction vector are
  ``Role.ROUTER``.
- ``is_mtp`` marks tensors of multi-token-prediction layers, whose layer index is
  ``>= num_hidden_layers``.
- Helpers are pure and cheap (no validation beyond what the dataclass does); the registry caches
  whole inventories.

Public helpers (stable API):
    matrix, vector, stacked_experts      one tensor
    token_embedding, output_head         globals (output_norm + output unless tied)
    gqa_attention                        q/k/v/o (+ biases, q/k norms, sinks, fused qkv, output gate)
    swiglu_mlp                           gate/up/down (dense, or ``_shexp`` shared expert; fused gate_up)
    routed_experts, router               stacked experts (+ biases), router (+ bias / exp_probs_b)
    nextn_extras                         the MTP layer's own tensors (eh_proj, enorm, hnorm, ...)
    is_moe_layer, is_local_layer         per-layer pattern from the Architecture fields
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from sizer.model.tensors import Role, Tensor
from sizer.schema import Architecture

__all__ = [
    "LayerBuilder",
    "arch_attention",
    "decoder_stack",
    "shared_head_mtp_layers",
    "gqa_attention",
    "is_local_layer",
    "is_moe_layer",
    "matrix",
    "nextn_extras",
    "output_head",
    "router",
    "routed_experts",
    "stacked_experts",
    "swiglu_mlp",
    "token_embedding",
    "vector",
]


def _name(kind: str, layer: int | None, suffix: str) -> str:
    return f"{kind}.{suffix}" if layer is None else f"blk.{layer}.{kind}.{suffix}"


def matrix(
    kind: str, layer: int | None, in_features: int, out_features: int, role: Role, *, is_mtp: bool = False
) -> Tensor:
    """A 2-D weight ``blk.{layer}.{kind}.weight`` of shape ``(in_features, out_features)``."""
    return Tensor(_name(kind, layer, "weight"), kind, layer, (in_features, out_features), role, is_mtp)


def vector(
    kind: str,
    layer: int | None,
    width: int,
    role: Role = Role.NORM,
    *,
    suffix: Literal["weight", "bias"] = "weight",
    is_mtp: bool = False,
) -> Tensor:
    """A 1-D tensor (norm weight, bias, sinks): ``blk.{layer}.{kind}.{suffix}`` of shape ``(width,)``."""
    return Tensor(_name(kind, layer, suffix), kind, layer, (width,), role, is_mtp)


def stacked_experts(
    kind: str,
    layer: int,
    in_features: int,
    out_features: int,
    n_experts: int,
    *,
    is_mtp: bool = False,
) -> Tensor:
    """Routed experts stacked in one tensor: ``(in_features, out_features, n_experts)``."""
    return Tensor(
        _name(kind, layer, "weight"), kind, layer, (in_features, out_features, n_experts),
        Role.ROUTED_EXPERT, is_mtp, n_experts,
    )


def token_embedding(vocab_size: int, hidden_size: int) -> Tensor:
    """``token_embd.weight``: (hidden, vocab)."""
    return matrix("token_embd", None, hidden_size, vocab_size, Role.EMBEDDING)


def output_head(vocab_size: int, hidden_size: int, *, tied: bool) -> list[Tensor]:
    """``output_norm.weight`` and, unless tied to the embedding, ``output.weight`` (hidden, vocab)."""
    out = [vector("output_norm", None, hidden_size)]
    if not tied:
        out.append(matrix("output", None, hidden_size, vocab_size, Role.OUTPUT))
    return out


def gqa_attention(
    layer: int,
    *,
    hidden_size: int,
    n_heads: int,
    n_kv_heads: int,
    head_dim: int,
    qkv_bias: bool = False,
    output_bias: bool = False,
    qk_norm: Literal["head", "full"] | None = None,
    sinks: bool = False,
    fused_qkv: bool = False,
    output_gate: bool = False,
    is_mtp: bool = False,
) -> list[Tensor]:
    """One (grouped-query) attention block without its input norm.

    ``qk_norm="head"``: attn_q_norm / attn_k_norm of width head_dim (Qwen3, Gemma 3, GLM-4.5);
    ``"full"``: widths heads x head_dim and kv_heads x head_dim (MiniMax-M2). ``output_gate``
    doubles attn_q's output (Qwen3-Next). ``fused_qkv`` writes one attn_qkv (Phi-3).
    """
    q_out = n_heads * head_dim * (2 if output_gate else 1)
    kv_out = n_kv_heads * head_dim
    o_in = n_heads * head_dim
    att = Role.ATTENTION
    if fused_qkv:
        out = [matrix("attn_qkv", layer, hidden_size, q_out + 2 * kv_out, att, is_mtp=is_mtp)]
        if qkv_bias:
            out.append(vector("attn_qkv", layer, q_out + 2 * kv_out, suffix="bias", is_mtp=is_mtp))
    else:
        out = []
        for kind, width in (("attn_q", q_out), ("attn_k", kv_out), ("attn_v", kv_out)):
            out.append(matrix(kind, layer, hidden_size, width, att, is_mtp=is_mtp))
            if qkv_bias:
                out.append(vector(kind, layer, width, suffix="bias", is_mtp=is_mtp))
    out.append(matrix("attn_output", layer, o_in, hidden_size, att, is_mtp=is_mtp))
    if output_bias:
        out.append(vector("attn_output", layer, hidden_size, suffix="bias", is_mtp=is_mtp))
    if qk_norm == "head":
        out += [vector("attn_q_norm", layer, head_dim, is_mtp=is_mtp),
                vector("attn_k_norm", layer, head_dim, is_mtp=is_mtp)]
    elif qk_norm == "full":
        out += [vector("attn_q_norm", layer, n_heads * head_dim, is_mtp=is_mtp),
                vector("attn_k_norm", layer, kv_out, is_mtp=is_mtp)]
    if sinks:
        out.append(vector("attn_sinks", layer, n_heads, is_mtp=is_mtp))
    return out


def arch_attention(arch: Architecture, layer: int, *, fused_qkv: bool = False, is_mtp: bool = False) -> list[Tensor]:
    """`gqa_attention` with every option read from the architecture (biases, q/k norms, sinks, gate)."""
    return gqa_attention(
        layer,
        hidden_size=arch.hidden_size,
        n_heads=arch.num_attention_heads,
        n_kv_heads=arch.num_key_value_heads,
        head_dim=arch.head_dim,
        qkv_bias=arch.attention_bias,
        output_bias=arch.attention_output_bias,
        qk_norm="full" if arch.qk_norm_full_width else "head" if arch.qk_norm else None,
        sinks=arch.attention_sinks,
        fused_qkv=fused_qkv,
        output_gate=arch.attention_output_gate,
        is_mtp=is_mtp,
    )


def swiglu_mlp(
    layer: int,
    *,
    hidden_size: int,
    intermediate_size: int,
    role: Role = Role.DENSE_FFN,
    kind_suffix: str = "",
    fused_gate_up: bool = False,
    is_mtp: bool = False,
) -> list[Tensor]:
    """Gated MLP: ffn_gate, ffn_up (hidden -> intermediate), ffn_down (intermediate -> hidden).

    A shared expert is ``role=Role.SHARED_EXPERT, kind_suffix="_shexp"``. ``fused_gate_up`` writes
    gate and up as one ffn_up of width 2 x intermediate, as the Phi-3 conversion does.
    """
    h, f, s = hidden_size, intermediate_size, kind_suffix
    out: list[Tensor] = []
    if fused_gate_up:
        out.append(matrix("ffn_up" + s, layer, h, 2 * f, role, is_mtp=is_mtp))
    else:
        out.append(matrix("ffn_gate" + s, layer, h, f, role, is_mtp=is_mtp))
        out.append(matrix("ffn_up" + s, layer, h, f, role, is_mtp=is_mtp))
    out.append(matrix("ffn_down" + s, layer, f, h, role, is_mtp=is_mtp))
    return out


def routed_experts(
    layer: int,
    *,
    hidden_size: int,
    moe_intermediate_size: int,
    n_experts: int,
    bias: bool = False,
    is_mtp: bool = False,
) -> list[Tensor]:
    """ffn_gate_exps / ffn_up_exps (hidden, moe_inter, n) and ffn_down_exps (moe_inter, hidden, n).

    ``bias`` adds per-expert biases ``ffn_*_exps.bias`` of shape (width, n) (gpt-oss).
    """
    h, f, n = hidden_size, moe_intermediate_size, n_experts
    out = [
        stacked_experts("ffn_gate_exps", layer, h, f, n, is_mtp=is_mtp),
        stacked_experts("ffn_up_exps", layer, h, f, n, is_mtp=is_mtp),
        stacked_experts("ffn_down_exps", layer, f, h, n, is_mtp=is_mtp),
    ]
    if bias:
        for kind, width in (("ffn_gate_exps", f), ("ffn_up_exps", f), ("ffn_down_exps", h)):
            name = _name(kind, layer, "bias")
            out.append(Tensor(name, kind, layer, (width, n), Role.ROUTED_EXPERT, is_mtp, n))
    return out


def router(
    layer: int,
    *,
    hidden_size: int,
    n_experts: int,
    bias: bool = False,
    score_correction: bool = False,
    is_mtp: bool = False,
) -> list[Tensor]:
    """ffn_gate_inp.weight (hidden, n); ``bias``: ffn_gate_inp.bias (gpt-oss);
    ``score_correction``: exp_probs_b.bias (DeepSeek-V3-style e_score_correction_bias)."""
    out = [matrix("ffn_gate_inp", layer, hidden_size, n_experts, Role.ROUTER, is_mtp=is_mtp)]
    if bias:
        out.append(vector("ffn_gate_inp", layer, n_experts, Role.ROUTER, suffix="bias", is_mtp=is_mtp))
    if score_correction:
        out.append(vector("exp_probs_b", layer, n_experts, Role.ROUTER, suffix="bias", is_mtp=is_mtp))
    return out


def nextn_extras(
    layer: int,
    *,
    hidden_size: int,
    vocab_size: int,
    own_embedding: bool,
    own_head: bool,
) -> list[Tensor]:
    """The tensors an MTP (NextN) layer has besides its attention/FFN block (all ``is_mtp``).

    Kinds ``nextn.eh_proj`` (2 x hidden -> hidden), ``nextn.enorm``, ``nextn.hnorm``,
    ``nextn.shared_head_norm``; ``nextn.embed_tokens`` / ``nextn.shared_head_head`` only when the
    checkpoint stores its own copies (``own_embedding`` / ``own_head``).
    """
    h = hidden_size
    out = [
        matrix("nextn.eh_proj", layer, 2 * h, h, Role.OTHER, is_mtp=True),
        vector("nextn.enorm", layer, h, is_mtp=True),
        vector("nextn.hnorm", layer, h, is_mtp=True),
        vector("nextn.shared_head_norm", layer, h, is_mtp=True),
    ]
    if own_embedding:
        out.append(matrix("nextn.embed_tokens", layer, h, vocab_size, Role.EMBEDDING, is_mtp=True))
    if own_head:
        out.append(matrix("nextn.shared_head_head", layer, h, vocab_size, Role.OUTPUT, is_mtp=True))
    return out


def is_moe_layer(arch: Architecture, layer: int) -> bool:
    """Whether decoder layer ``layer`` has routed experts.

    Layers below ``first_k_dense_replace`` are dense; after that every ``moe_layer_period``-th layer
    is MoE, counting from 1 (period 2: layers 1, 3, 5 ..., as Llama 4 Maverick's ``moe_layers``).
    MTP layers (index >= num_hidden_layers) are MoE whenever the model is.
    """
    if not arch.is_moe or layer < arch.first_k_dense_replace:
        return False
    if layer >= arch.num_hidden_layers:
        return True
    return (layer + 1) % arch.moe_layer_period == 0


def is_local_layer(arch: Architecture, layer: int) -> bool:
    """Whether ``layer`` uses local attention (sliding window / chunk / linear): every layer except
    each ``local_layer_period``-th one (counting from 1); no local layers when the period is unset."""
    period = arch.local_layer_period
    if arch.local_layer_kind is None or period is None:
        return False
    return period == 1 or (layer + 1) % period != 0


LayerBuilder = Callable[..., list[Tensor]]  # (arch, layer, *, is_mtp) -> that layer's tensors


def decoder_stack(arch: Architecture, layer: LayerBuilder) -> list[Tensor]:
    """Token embedding, every decoder layer, the output head (MTP layers are the family's to add)."""
    out = [token_embedding(arch.vocab_size, arch.hidden_size)]
    for i in range(arch.num_hidden_layers):
        out += layer(arch, i, is_mtp=False)
    out += output_head(arch.vocab_size, arch.hidden_size, tied=arch.tie_word_embeddings)
    return out


def shared_head_mtp_layers(arch: Architecture, layer: LayerBuilder) -> list[Tensor]:
    """DeepSeek-style MTP layers: a full decoder layer plus enorm / hnorm / eh_proj each, sharing the
    main model's embedding and head."""
    out: list[Tensor] = []
    n = arch.num_hidden_layers
    for i in range(n, n + arch.num_nextn_predict_layers):
        out += layer(arch, i, is_mtp=True)
        out += nextn_extras(i, hidden_size=arch.hidden_size, vocab_size=arch.vocab_size, own_embedding=False,
                            own_head=False)
    return out
