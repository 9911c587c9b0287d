"""Dense decoder families: llama (Llama 2/3.x, Mistral 7B/Small/Large), qwen2, qwen3, phi3, gemma2, gemma3.

Tensors per layer, as ``convert_hf_to_gguf.py`` names them:

- attention: attn_q / attn_k / attn_v / attn_output (Phi-3: one fused attn_qkv); q/k/v biases
  (``attention_bias``, Qwen2); per-head attn_q_norm / attn_k_norm (``qk_norm``, Qwen3, Gemma 3);
- MLP: ffn_gate / ffn_up / ffn_down (Phi-3: gate and up fused into one ffn_up of width
  2 x intermediate, as the conversion writes it; this changes llama.cpp's per-tensor quant rules);
- norms: attn_norm + ffn_norm, or the Gemma four attn_norm, post_attention_norm, ffn_norm,
  post_ffw_norm (``norms_per_layer`` must agree with the family).

Globals: token_embd, output_norm, output (absent when ``tie_word_embeddings``). Tensors that the
conversion synthesises and no checkpoint holds (Llama 3.1 ``rope_freqs``, Phi-3 long/short rope
factors) are not parameters and are left out.
"""

from __future__ import annotations

from sizer.model.architecture._common import arch_attention, output_head, swiglu_mlp, token_embedding, vector
from sizer.model.architecture.registry import register
from sizer.model.tensors import Tensor
from sizer.schema import Architecture

__all__ = ["build_dense", "layer_norm_kinds"]

_TWO_NORMS = ("attn_norm", "ffn_norm")
_GEMMA_NORMS = ("attn_norm", "post_attention_norm", "ffn_norm", "post_ffw_norm")

_NORMS: dict[str, tuple[str, ...]] = {
    "llama": _TWO_NORMS,
    "qwen2": _TWO_NORMS,
    "qwen3": _TWO_NORMS,
    "phi3": _TWO_NORMS,
    "gemma2": _GEMMA_NORMS,
    "gemma3": _GEMMA_NORMS,
}


def layer_norm_kinds(arch: Architecture, table: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    """The per-layer norm kinds of ``arch.family`` from ``table``; checks ``norms_per_layer`` agrees."""
    kinds = table[arch.family]
    if arch.norms_per_layer != len(kinds):
        raise ValueError(
            f"family {arch.family} has {len(kinds)} norms per layer, architecture says {arch.norms_per_layer}"
        )
    return kinds


@register("llama", "qwen2", "qwen3", "phi3", "gemma2", "gemma3")
def build_dense(arch: Architecture) -> tuple[Tensor, ...]:
    """Tensor inventory of a dense GQA decoder."""
    if arch.intermediate_size is None:  # Architecture.check_family requires it for dense families
        raise ValueError(f"family {arch.family} needs intermediate_size")
    h = arch.hidden_size
    norms = layer_norm_kinds(arch, _NORMS)
    fused = arch.family == "phi3"
    out: list[Tensor] = [token_embedding(arch.vocab_size, h)]
    for i in range(arch.num_hidden_layers):
        out += [vector(kind, i, h) for kind in norms]
        out += arch_attention(arch, i, fused_qkv=fused)
        out += swiglu_mlp(i, hidden_size=h, intermediate_size=arch.intermediate_size, fused_gate_up=fused)
    out += output_head(arch.vocab_size, h, tied=arch.tie_word_embeddings)
    return tuple(out)
