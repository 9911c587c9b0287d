"""DeepSeek V4 inventory (family deepseek_v4: V4-Flash, V4-Pro).

Shapes follow the released checkpoints as read by Hugging Face transformers 5.18
(``models/deepseek_v4``: modeling and checkpoint conversion mapping) and NVIDIA NeMo AutoModel
0.7.0 (``components/models/deepseek_v4``: layers, mtp, state_dict_adapter). llama.cpp has no
DeepSeek V4 names yet, so the names below are this project's, built the GGUF way
(``blk.N.<kind>.weight``); the checkpoint key each one comes from is given in brackets.

Per decoder layer:

- ``attn_norm``, ``ffn_norm`` (h) [attn_norm, ffn_norm]
- ``attn_q_a`` (h, q_lora) [attn.wq_a], ``attn_q_a_norm`` (q_lora) [attn.q_norm],
  ``attn_q_b`` (q_lora, heads x 512) [attn.wq_b]
- ``attn_kv`` (h, 512) [attn.wkv]: the single shared K=V head; ``attn_kv_norm`` (512) [attn.kv_norm]
- ``attn_output_a`` (heads x 512 / o_groups, o_groups x o_lora) [attn.wo_a]: the grouped low-rank
  output projection, one block per group stacked along the output axis; ``attn_output_b``
  (o_groups x o_lora, h) [attn.wo_b]; ``attn_sinks`` (heads) [attn.attn_sink]
- compressed layers (ratio > 0): ``compressor_kv`` and ``compressor_gate`` (h, c x 512),
  ``compressor_ape`` (c x 512, ratio) (learned position bias, FP32), ``compressor_norm`` (512)
  [attn.compressor.{wkv, wgate, ape, norm}], with c = 2 on CSA layers (ratio 4: overlapping windows)
  and 1 on HCA layers; role INDEXER
- CSA layers also have the lightning indexer with its own compressor: ``indexer.compressor_kv`` /
  ``indexer.compressor_gate`` (h, 2 x index_dim), ``indexer.compressor_ape`` (2 x index_dim, 4),
  ``indexer.compressor_norm`` (index_dim) [attn.indexer.compressor.*], ``indexer.attn_q_b``
  (q_lora, index_heads x index_dim) [attn.indexer.wq_b], ``indexer.proj`` (h, index_heads)
  [attn.indexer.weights_proj]
- mHC (role OTHER, FP32): ``hc_attn_fn`` / ``hc_ffn_fn`` (hc x h, (2 + hc) x hc), ``hc_*_base``
  ((2 + hc) x hc), ``hc_*_scale`` (3) [hc_attn_fn, hc_attn_base, ...]
- MoE: ``ffn_gate_inp`` (h, E) [ffn.gate.weight]; learned-router layers add ``exp_probs_b.bias``
  (E) [ffn.gate.bias]; the first ``n_hash_routed_layers`` instead hold ``ffn_gate_tid2eid``
  (top_k, vocab) [ffn.gate.tid2eid]: the token-id -> expert table, an INT32 lookup table, not
  trained weights (quantizers must keep it ggml-i32, 4 bytes per element); ``ffn_*_exps`` (FP4 in
  the instruct checkpoints), ``ffn_*_shexp``.

Globals: ``token_embd``, ``output_norm``, ``output``, and the final stream collapse ``hc_head_fn``
(hc x h, hc), ``hc_head_base`` (hc), ``hc_head_scale`` (1) [hc_head_*].

MTP layers (``mtp.K.*``, index num_hidden_layers + K, ``is_mtp``): a full decoder layer without a
compressor (NeMo pads the ratio schedule with 0 for them), plus ``nextn.e_proj`` and
``nextn.h_proj`` (h, h) [e_proj, h_proj: V3's eh_proj split in two], ``nextn.enorm``,
``nextn.hnorm``, ``nextn.shared_head_norm`` [norm] and its own ``nextn.hc_head_*``. Embedding and
head are shared with the main model.

Released weights (NeMo's adapter): routed experts FP4 e2m1 with one e8m0 scale per 32 inputs;
attention, shared experts, embedding and head FP8 e4m3 with 128 x 128 block scales; compressor and
indexer kv/gate projections BF16 in the Flash checkpoint; mHC, sinks, ape and norms FP32.
"""

from __future__ import annotations

from sizer.model.architecture._common import decoder_stack, matrix, routed_experts, router, swiglu_mlp, vector
from sizer.model.architecture.registry import register
from sizer.model.tensors import Role, Tensor
from sizer.schema import Architecture

__all__ = ["compress_ratio", "hc_mixer", "v4_attention_core", "v4_shared_expert"]

CSA_RATIO = 4  # the compression ratio whose layers overlap windows and carry an indexer (V4)


def compress_ratio(arch: Architecture, layer: int) -> int:
    """Tokens per compressed KV row at ``layer``; 0 for window-only layers (and MTP layers)."""
    if layer >= arch.num_hidden_layers or layer < arch.window_only_layers or not arch.compress_ratios:
        return 0
    ratios = arch.compress_ratios
    return ratios[(layer - arch.window_only_layers) % len(ratios)]


def v4_attention_core(arch: Architecture, layer: int, *, is_mtp: bool = False) -> list[Tensor]:
    """Q low-rank, shared single KV head, grouped low-rank output and sinks (V4 and V4.1)."""
    h, n, d = arch.hidden_size, arch.num_attention_heads, arch.head_dim
    q_lora, groups, o_rank = arch.q_lora_rank or 0, arch.o_groups or 1, arch.o_lora_rank or 0
    att = Role.ATTENTION
    return [
        matrix("attn_q_a", layer, h, q_lora, att, is_mtp=is_mtp),
        vector("attn_q_a_norm", layer, q_lora, is_mtp=is_mtp),
        matrix("attn_q_b", layer, q_lora, n * d, att, is_mtp=is_mtp),
        matrix("attn_kv", layer, h, d, att, is_mtp=is_mtp),
        vector("attn_kv_norm", layer, d, is_mtp=is_mtp),
        matrix("attn_output_a", layer, n * d // groups, groups * o_rank, att, is_mtp=is_mtp),
        matrix("attn_output_b", layer, groups * o_rank, h, att, is_mtp=is_mtp),
        vector("attn_sinks", layer, n, is_mtp=is_mtp),
    ]


def hc_mixer(site: str, layer: int | None, arch: Architecture, *, is_mtp: bool = False) -> list[Tensor]:
    """One mHC coefficient predictor (``site`` = "attn" or "ffn"): fn, base, scale (FP32)."""
    hc = arch.hc_mult or 1
    width = (2 + hc) * hc
    other = Role.OTHER
    return [
        matrix(f"hc_{site}_fn", layer, hc * arch.hidden_size, width, other, is_mtp=is_mtp),
        vector(f"hc_{site}_base", layer, width, other, is_mtp=is_mtp),
        vector(f"hc_{site}_scale", layer, 3, other, is_mtp=is_mtp),
    ]


def _hc_head(arch: Architecture, prefix: str, layer: int | None, *, is_mtp: bool = False) -> list[Tensor]:
    hc = arch.hc_mult or 1
    other = Role.OTHER
    return [
        matrix(f"{prefix}hc_head_fn", layer, hc * arch.hidden_size, hc, other, is_mtp=is_mtp),
        vector(f"{prefix}hc_head_base", layer, hc, other, is_mtp=is_mtp),
        vector(f"{prefix}hc_head_scale", layer, 1, other, is_mtp=is_mtp),
    ]


def v4_shared_expert(arch: Architecture, layer: int, *, is_mtp: bool = False) -> list[Tensor]:
    width = arch.shared_expert_intermediate_size or arch.n_shared_experts * (arch.moe_intermediate_size or 0)
    return swiglu_mlp(
        layer, hidden_size=arch.hidden_size, intermediate_size=width, role=Role.SHARED_EXPERT,
        kind_suffix="_shexp", is_mtp=is_mtp,
    )


def _compressor(prefix: str, layer: int, h: int, width: int, ratio: int, overlap: bool) -> list[Tensor]:
    proj = (2 if overlap else 1) * width
    idx = Role.INDEXER
    return [
        matrix(f"{prefix}compressor_kv", layer, h, proj, idx),
        matrix(f"{prefix}compressor_gate", layer, h, proj, idx),
        matrix(f"{prefix}compressor_ape", layer, proj, ratio, idx),
        vector(f"{prefix}compressor_norm", layer, width),
    ]


def _compression(arch: Architecture, layer: int) -> list[Tensor]:
    ratio = compress_ratio(arch, layer)
    if not ratio:
        return []
    h = arch.hidden_size
    csa = ratio == CSA_RATIO
    out = _compressor("", layer, h, arch.head_dim, ratio, csa)
    if csa:
        heads, dim = arch.index_n_heads or 0, arch.index_head_dim or 0
        out += _compressor("indexer.", layer, h, dim, ratio, True)
        out += [
            matrix("indexer.attn_q_b", layer, arch.q_lora_rank or 0, heads * dim, Role.INDEXER),
            matrix("indexer.proj", layer, h, heads, Role.INDEXER),
        ]
    return out


def _moe(arch: Architecture, layer: int, *, is_mtp: bool) -> list[Tensor]:
    h, n = arch.hidden_size, arch.n_routed_experts or 0
    if not is_mtp and layer < arch.n_hash_routed_layers:
        out = [
            matrix("ffn_gate_inp", layer, h, n, Role.ROUTER),
            matrix("ffn_gate_tid2eid", layer, arch.num_experts_per_tok or 0, arch.vocab_size, Role.ROUTER),
        ]
    else:
        out = router(layer, hidden_size=h, n_experts=n, score_correction=True, is_mtp=is_mtp)
    fe = arch.moe_intermediate_size or 0
    out += routed_experts(layer, hidden_size=h, moe_intermediate_size=fe, n_experts=n, is_mtp=is_mtp)
    return out + v4_shared_expert(arch, layer, is_mtp=is_mtp)


def _decoder_layer(arch: Architecture, layer: int, *, is_mtp: bool) -> list[Tensor]:
    h = arch.hidden_size
    out = [vector("attn_norm", layer, h, is_mtp=is_mtp)]
    out += v4_attention_core(arch, layer, is_mtp=is_mtp)
    out += _compression(arch, layer)  # empty on MTP layers (ratio 0)
    out += hc_mixer("attn", layer, arch, is_mtp=is_mtp)
    out.append(vector("ffn_norm", layer, h, is_mtp=is_mtp))
    out += _moe(arch, layer, is_mtp=is_mtp)
    out += hc_mixer("ffn", layer, arch, is_mtp=is_mtp)
    return out


def _mtp_extras(arch: Architecture, layer: int) -> list[Tensor]:
    h = arch.hidden_size
    return [
        matrix("nextn.e_proj", layer, h, h, Role.OTHER, is_mtp=True),
        matrix("nextn.h_proj", layer, h, h, Role.OTHER, is_mtp=True),
        vector("nextn.enorm", layer, h, is_mtp=True),
        vector("nextn.hnorm", layer, h, is_mtp=True),
        vector("nextn.shared_head_norm", layer, h, is_mtp=True),
        *_hc_head(arch, "nextn.", layer, is_mtp=True),
    ]


@register("deepseek_v4")
def build(arch: Architecture) -> tuple[Tensor, ...]:
    """Every tensor of a DeepSeek V4 checkpoint, MTP layers last."""
    n_layers = arch.num_hidden_layers
    out = decoder_stack(arch, _decoder_layer)
    out += _hc_head(arch, "", None)
    for layer in range(n_layers, n_layers + arch.num_nextn_predict_layers):
        out += _decoder_layer(arch, layer, is_mtp=True)
        out += _mtp_extras(arch, layer)
    return tuple(out)
