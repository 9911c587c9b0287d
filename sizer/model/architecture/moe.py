"""GQA mixture-of-experts families: mixtral, qwen3_moe, llama4, gpt_oss, glm4_moe, minimax_m2.

Tensors per layer, as ``convert_hf_to_gguf.py`` names them:

- attention as in ``dense`` (q/k/v biases for GLM and gpt-oss, output bias and ``attn_sinks`` for
  gpt-oss, per-head q/k norms for Qwen3-MoE and GLM-4.5/4.6, full-width q/k norms for MiniMax-M2);
- norms: attn_norm + ffn_norm, except glm4_moe and gpt_oss whose pre-MLP norm converts to
  post_attention_norm;
- MoE layers (``is_moe_layer``): router ffn_gate_inp (+ ffn_gate_inp.bias for gpt-oss, or the
  score-correction exp_probs_b.bias for GLM / MiniMax when ``router_bias``), stacked
  ffn_{gate,up,down}_exps (+ per-expert .bias for gpt-oss), and shared experts ffn_*_shexp
  (Llama 4, GLM); other layers (GLM's first ``first_k_dense_replace``, Llama 4 Maverick's even
  layers) have a dense ffn_gate/up/down of width ``intermediate_size``;
- MTP layers (GLM: 1) follow the decoder layers at index >= num_hidden_layers, flagged ``is_mtp``,
  with the family-specific kinds nextn.eh_proj, nextn.enorm, nextn.hnorm, nextn.shared_head_norm
  (they share the main embedding and head).

Mixtral converts to GGUF arch ``llama``, the others to their own arch (llama4, gpt-oss, glm4moe,
minimax-m2, qwen3moe); the kinds are those arches' tensors.
"""

from __future__ import annotations

from sizer.model.architecture._common import (
    arch_attention,
    is_moe_layer,
    nextn_extras,
    output_head,
    routed_experts,
    router,
    swiglu_mlp,
    token_embedding,
    vector,
)
from sizer.model.architecture.dense import layer_norm_kinds
from sizer.model.architecture.registry import register
from sizer.model.tensors import Role, Tensor
from sizer.schema import Architecture

__all__ = ["build_moe"]

_NORMS: dict[str, tuple[str, ...]] = {
    "mixtral": ("attn_norm", "ffn_norm"),
    "qwen3_moe": ("attn_norm", "ffn_norm"),
    "llama4": ("attn_norm", "ffn_norm"),
    "minimax_m2": ("attn_norm", "ffn_norm"),
    "gpt_oss": ("attn_norm", "post_attention_norm"),
    "glm4_moe": ("attn_norm", "post_attention_norm"),
}


def _layer(arch: Architecture, i: int, norms: tuple[str, ...]) -> list[Tensor]:
    h = arch.hidden_size
    mtp = i >= arch.num_hidden_layers
    out = [vector(kind, i, h, is_mtp=mtp) for kind in norms]
    out += arch_attention(arch, i, is_mtp=mtp)
    if is_moe_layer(arch, i):
        n = arch.n_routed_experts or 0
        gpt_oss = arch.family == "gpt_oss"
        out += router(
            i,
            hidden_size=h,
            n_experts=n,
            bias=arch.router_bias and gpt_oss,
            score_correction=arch.router_bias and not gpt_oss,
            is_mtp=mtp,
        )
        out += routed_experts(
            i, hidden_size=h, moe_intermediate_size=arch.moe_intermediate_size or 0, n_experts=n,
            bias=arch.expert_bias, is_mtp=mtp,
        )
        if arch.n_shared_experts:
            moe_width = (arch.moe_intermediate_size or 0) * arch.n_shared_experts
            width = arch.shared_expert_intermediate_size or moe_width
            out += swiglu_mlp(
                i, hidden_size=h, intermediate_size=width, role=Role.SHARED_EXPERT, kind_suffix="_shexp",
                is_mtp=mtp,
            )
    else:
        if arch.intermediate_size is None:
            raise ValueError(f"{arch.family}: layer {i} is dense but intermediate_size is not set")
        out += swiglu_mlp(i, hidden_size=h, intermediate_size=arch.intermediate_size, is_mtp=mtp)
    if mtp:
        out += nextn_extras(i, hidden_size=h, vocab_size=arch.vocab_size, own_embedding=False, own_head=False)
    return out


@register("mixtral", "qwen3_moe", "llama4", "gpt_oss", "glm4_moe", "minimax_m2")
def build_moe(arch: Architecture) -> tuple[Tensor, ...]:
    """Tensor inventory of a GQA MoE decoder, MTP layers included (flagged ``is_mtp``)."""
    norms = layer_norm_kinds(arch, _NORMS)
    out: list[Tensor] = [token_embedding(arch.vocab_size, arch.hidden_size)]
    for i in range(arch.num_hidden_layers + arch.num_nextn_predict_layers):
        out += _layer(arch, i, norms)
    out += output_head(arch.vocab_size, arch.hidden_size, tied=arch.tie_word_embeddings)
    return tuple(out)
