"""DeepSeek-V3-style inventories: MLA attention + DeepSeekMoE (families deepseek_v3, deepseek_v32).

deepseek_v3 covers DeepSeek-V3, R1, V3.1 and Kimi K2 (Instruct and Thinking), which Moonshot ships as
``DeepseekV3ForCausalLM``; deepseek_v32 adds the sparse-attention lightning indexer (V3.2, V3.2-Exp).
DeepSeek V4 / V4.1 live in :mod:`.deepseek_v4` / :mod:`.deepseek_v41`; importing this module
registers them too.

Tensors per decoder layer (names as llama.cpp's ``deepseek2`` conversion writes them, shapes in ggml
order ``(in, out[, experts])``):

- MLA: ``attn_q_a`` (h, q_lora), ``attn_q_a_norm`` (q_lora), ``attn_q_b`` (q_lora, heads x (nope+rope)),
  ``attn_kv_a_mqa`` (h, kv_lora+rope), ``attn_kv_a_norm`` (kv_lora), ``attn_kv_b``
  (kv_lora, heads x (nope+v)), ``attn_output`` (heads x v, h). llama.cpp may split attn_kv_b into
  attn_k_b / attn_v_b; the inventory keeps the checkpoint's single tensor (same elements).
- ``attn_norm``, ``ffn_norm``; the first ``first_k_dense_replace`` layers have a dense SwiGLU
  ``ffn_gate/up/down``; the others ``ffn_gate_inp`` (router), ``exp_probs_b.bias``
  (e_score_correction_bias), ``ffn_{gate,up,down}_exps`` and ``ffn_{gate,up,down}_shexp``.
- V3.2 indexer (gguf's own names): ``indexer.attn_q_b`` (q_lora, index_heads x index_dim),
  ``indexer.attn_k`` (h, index_dim), ``indexer.k_norm`` weight + bias (LayerNorm, index_dim),
  ``indexer.proj`` (h, index_heads; weights_proj). Projections have role INDEXER, vectors NORM.
- MTP layers (index >= num_hidden_layers, ``is_mtp``): a full MoE decoder layer (with its indexer on
  V3.2) plus ``nextn.eh_proj`` (2h, h), ``nextn.enorm``, ``nextn.hnorm``, ``nextn.shared_head_norm``.
  They share the main embedding and head, as vLLM's MTP drafter does; the HF checkpoint also stores
  copies of both in the MTP layer (``model.layers.61.embed_tokens`` / ``shared_head.head``), which is
  why HF pages list 685B for a 671B model.

KV cache per token (for the KV-cache helper), by family:

- deepseek_v3: one MLA latent per layer, ``kv_lora_rank + qk_rope_head_dim`` values (576: 61 x 576 x
  2 B = 70,272 B/token in BF16), independent of the head count. MTP layers cache the same latent.
- deepseek_v32: the same latent, plus the indexer's key per token per layer: ``index_head_dim``
  values (128), which DeepSeek's kernels store as FP8 with one FP32 scale per 128 (132 B). Attention
  reads only ``index_topk`` (2048) latents per query, but all are kept.
- deepseek_v4 (V4-Flash / V4-Pro), per layer: a raw window of ``local_window_tokens`` (128) rows of
  ``head_dim`` (512) values (one shared K=V head); on CSA layers (ratio 4) ``ctx / 4`` compressed rows
  of 512 plus ``ctx / 4`` indexer keys of ``index_head_dim`` (128); on HCA layers (ratio 128)
  ``ctx / 128`` rows of 512; window-only layers (ratio 0) hold just the window. Compressors also keep
  fewer than ``ratio`` (CSA: 2 x ratio) buffered rows per layer (negligible). Use
  :func:`.deepseek_v4.compress_ratio` for a layer's ratio.
- deepseek_v41 (V4.1-Flash, CSA2): the 128-row window on every layer, but compressed rows only on
  ``kv_source_layers``: ``ctx / ratio`` rows of 512 and as many indexer keys of 128 (the following
  layers reuse the source's cache). Released: layers 2, 8, 14 at ratio 2 and layer 20 at ratio 1, i.e.
  2.5 rows of 512 + 2.5 keys of 128 per token (window KV FP8, compressed KV and keys FP4), about a
  quarter of V4-Flash's bytes. Use :func:`.deepseek_v41.kv_source` for a layer's source.
- qwen3_next: see :mod:`.qwen3_next`.
"""

from __future__ import annotations

from sizer.model.architecture import deepseek_v4, deepseek_v41  # noqa: F401  (importing them registers their builders; the registry imports only this module)
from sizer.model.architecture._common import (
    decoder_stack,
    matrix,
    routed_experts,
    router,
    shared_head_mtp_layers,
    swiglu_mlp,
    vector,
)
from sizer.model.architecture.registry import register
from sizer.model.tensors import Role, Tensor
from sizer.schema import Architecture

__all__ = ["deepseek_moe_ffn", "mla_attention", "v32_indexer"]


def mla_attention(arch: Architecture, layer: int, *, is_mtp: bool = False) -> list[Tensor]:
    """Multi-head latent attention of one layer (without its attn_norm)."""
    h, n = arch.hidden_size, arch.num_attention_heads
    q_lora, kv_lora = arch.q_lora_rank or 0, arch.kv_lora_rank or 0
    nope, rope, v = arch.qk_nope_head_dim or 0, arch.qk_rope_head_dim or 0, arch.v_head_dim or 0
    att = Role.ATTENTION
    return [
        matrix("attn_q_a", layer, h, q_lora, att, is_mtp=is_mtp),
        vector("attn_q_a_norm", layer, q_lora, is_mtp=is_mtp),
        matrix("attn_q_b", layer, q_lora, n * (nope + rope), att, is_mtp=is_mtp),
        matrix("attn_kv_a_mqa", layer, h, kv_lora + rope, att, is_mtp=is_mtp),
        vector("attn_kv_a_norm", layer, kv_lora, is_mtp=is_mtp),
        matrix("attn_kv_b", layer, kv_lora, n * (nope + v), att, is_mtp=is_mtp),
        matrix("attn_output", layer, n * v, h, att, is_mtp=is_mtp),
    ]


def v32_indexer(arch: Architecture, layer: int, *, is_mtp: bool = False) -> list[Tensor]:
    """DeepSeek-V3.2 lightning indexer of one layer (wq_b, wk, k_norm LayerNorm, weights_proj)."""
    h, q_lora = arch.hidden_size, arch.q_lora_rank or 0
    heads, dim = arch.index_n_heads or 0, arch.index_head_dim or 0
    idx = Role.INDEXER
    return [
        matrix("indexer.attn_q_b", layer, q_lora, heads * dim, idx, is_mtp=is_mtp),
        matrix("indexer.attn_k", layer, h, dim, idx, is_mtp=is_mtp),
        vector("indexer.k_norm", layer, dim, is_mtp=is_mtp),
        vector("indexer.k_norm", layer, dim, suffix="bias", is_mtp=is_mtp),
        matrix("indexer.proj", layer, h, heads, idx, is_mtp=is_mtp),
    ]


def deepseek_moe_ffn(
    arch: Architecture,
    layer: int,
    *,
    n_experts: int | None = None,
    score_correction: bool = True,
    is_mtp: bool = False,
) -> list[Tensor]:
    """Router (+ score-correction bias), stacked routed experts and the shared expert(s)."""
    h, fe = arch.hidden_size, arch.moe_intermediate_size or 0
    n = n_experts or arch.n_routed_experts or 0
    out = router(layer, hidden_size=h, n_experts=n, score_correction=score_correction, is_mtp=is_mtp)
    out += routed_experts(layer, hidden_size=h, moe_intermediate_size=fe, n_experts=n, is_mtp=is_mtp)
    if arch.n_shared_experts:
        width = arch.shared_expert_intermediate_size or arch.n_shared_experts * fe
        out += swiglu_mlp(
            layer, hidden_size=h, intermediate_size=width, role=Role.SHARED_EXPERT, kind_suffix="_shexp",
            is_mtp=is_mtp,
        )
    return out


def _decoder_layer(arch: Architecture, layer: int, *, is_mtp: bool) -> list[Tensor]:
    h = arch.hidden_size
    out = [vector("attn_norm", layer, h, is_mtp=is_mtp)]
    out += mla_attention(arch, layer, is_mtp=is_mtp)
    if arch.family == "deepseek_v32":
        out += v32_indexer(arch, layer, is_mtp=is_mtp)
    out.append(vector("ffn_norm", layer, h, is_mtp=is_mtp))
    if layer < arch.first_k_dense_replace and not is_mtp:
        out += swiglu_mlp(layer, hidden_size=h, intermediate_size=arch.intermediate_size or 0, is_mtp=is_mtp)
    else:
        out += deepseek_moe_ffn(arch, layer, score_correction=arch.router_bias, is_mtp=is_mtp)
    return out


@register("deepseek_v3", "deepseek_v32")
def build(arch: Architecture) -> tuple[Tensor, ...]:
    """Every tensor of a DeepSeek-V3 / V3.2 / Kimi K2 checkpoint, MTP layers last."""
    return tuple(decoder_stack(arch, _decoder_layer) + shared_head_mtp_layers(arch, _decoder_layer))
