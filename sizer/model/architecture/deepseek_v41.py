"""DeepSeek V4.1 inventory (family deepseek_v41: V4.1-Flash, with Engram memory and CSA2 attention).

Shapes follow NVIDIA NeMo AutoModel 0.7.0 ``components/models/deepseek_v41`` (config, attention,
engram, layers, dspark, state_dict_adapter), which reads the released safetensors. Names are built
as in :mod:`.deepseek_v4` (attention core, mHC and MoE names are the same); what differs:

- CSA2 attention: compressed KV is computed only on ``kv_source_layers`` and reused by the layers
  after each source. A source layer has ``compressor_kv`` (h, 512) and ``compressor_norm`` (512),
  plus ``compressor_gate`` (h, 512) when its ratio is above 1 (no ape, no overlap)
  [attn.compressor.{wkv, norm, wgate}]. ``index_source_layers`` carry an indexer:
  ``indexer.attn_q_b`` (q_lora, index_heads x index_dim) and ``indexer.proj`` (h, index_heads); on
  KV sources it also owns the keys: ``indexer.attn_k`` (512, index_dim) and ``indexer.k_norm``
  (index_dim) [attn.indexer.{wq_b, weights_proj, wk, k_norm}].
- Routers add ``exp_probs_b_vl.bias`` (E) [ffn.gate.bias_vl]: the selection bias for image tokens.
  No hash-routed layers; no final hc_head (the last FFN-site mix collapses the streams).
- Engram, on each of ``engram_layers``: ``engram_embd`` (row_width, rows): the hashed n-gram table,
  role ENGRAM [engram.embed]; ``engram_kv`` (hash_heads x row_width, h x (hc + 1)): the fused
  key/value projection every token multiplies, role ATTENTION [engram.wkv]; ``engram_q_norm`` and
  ``engram_k_norm`` (h, hc) [engram.q_weight, engram.k_weight]. hash_heads = rows a token reads
  per table = engram_rows_per_token / len(engram_layers) (24 = 3 n-gram orders x 8 heads).
- MTP: the released ``mtp.0``-``mtp.2`` are a DSpark parallel drafter, not V3-style MTP. Each stage
  is a window-only decoder layer whose MoE has ``mtp_n_routed_experts`` (128, top
  ``mtp_num_experts_per_tok`` 3) experts; stage 0 adds ``nextn.main_proj`` (3h, h) and
  ``nextn.main_norm``; the last stage adds ``nextn.shared_head_norm``, a Markov head
  ``nextn.markov_embd`` (256, vocab) / ``nextn.markov_head`` (256, vocab) and
  ``nextn.confidence`` (h + 256, 1). Embedding and LM head are the main model's.

Not in the inventory: the 32-layer ViT and its aligner (about 0.49B; the catalog entry's
``extra_params``).

Released weights: routed experts FP4 e2m1 (e8m0 scale per 32 inputs); projections (attention,
indexer wq_b, shared experts, engram_kv) FP8 e4m3 with e8m0 scales over 32 x 32 blocks (not V4's
128 x 128); Engram tables FP8 e4m3 with one e8m0 scale per 32 values of a row, i.e. 8 scale bytes
per 256-wide row = 264 bytes per row (:data:`ENGRAM_NATIVE_SCALE_BYTES_PER_ROW`; the layout of
MXFP8 applied along the row); BF16/FP32 elsewhere (norms, routers, mHC, compressors, index keys,
sinks, embedding, head).
"""

from __future__ import annotations

from sizer.model.architecture._common import decoder_stack, matrix, routed_experts, router, vector
from sizer.model.architecture.deepseek_v4 import compress_ratio, hc_mixer, v4_attention_core, v4_shared_expert
from sizer.model.architecture.registry import register
from sizer.model.tensors import Role, Tensor
from sizer.schema import Architecture

__all__ = ["ENGRAM_NATIVE_SCALE_BYTES_PER_ROW", "engram_hash_heads", "kv_source"]

ENGRAM_NATIVE_SCALE_BYTES_PER_ROW = 8  # e8m0 scales per 256-value FP8 row in the V4.1 checkpoint
DSPARK_TARGET_LAYERS = 3  # backbone layers whose states feed the drafter (37, 38, 39)
DSPARK_MARKOV_RANK = 256


def kv_source(arch: Architecture, layer: int) -> int | None:
    """The KV-source layer whose compressed cache ``layer`` attends to (None: window only)."""
    if not compress_ratio(arch, layer):
        return None
    sources = [s for s in arch.kv_source_layers if s <= layer]
    return sources[-1] if sources else None


def engram_hash_heads(arch: Architecture) -> int:
    """Rows one token reads from each Engram table."""
    return (arch.engram_rows_per_token or 0) // max(len(arch.engram_layers), 1)


def _csa2(arch: Architecture, layer: int) -> list[Tensor]:
    h, d, idx = arch.hidden_size, arch.head_dim, Role.INDEXER
    out: list[Tensor] = []
    is_source = layer in arch.kv_source_layers
    if is_source:
        out += [matrix("compressor_kv", layer, h, d, idx), vector("compressor_norm", layer, d)]
        if compress_ratio(arch, layer) > 1:
            out.append(matrix("compressor_gate", layer, h, d, idx))
    if layer in arch.index_source_layers:
        heads, dim = arch.index_n_heads or 0, arch.index_head_dim or 0
        out += [
            matrix("indexer.attn_q_b", layer, arch.q_lora_rank or 0, heads * dim, idx),
            matrix("indexer.proj", layer, h, heads, idx),
        ]
        if is_source:
            out += [matrix("indexer.attn_k", layer, d, dim, idx), vector("indexer.k_norm", layer, dim)]
    return out


def _engram(arch: Architecture, layer: int) -> list[Tensor]:
    if layer not in arch.engram_layers:
        return []
    h, hc, width = arch.hidden_size, arch.hc_mult or 1, arch.engram_row_width or 0
    rows = arch.engram_rows_per_table[arch.engram_layers.index(layer)]
    return [
        matrix("engram_embd", layer, width, rows, Role.ENGRAM),
        matrix("engram_kv", layer, engram_hash_heads(arch) * width, h * (hc + 1), Role.ATTENTION),
        matrix("engram_q_norm", layer, h, hc, Role.NORM),
        matrix("engram_k_norm", layer, h, hc, Role.NORM),
    ]


def _decoder_layer(arch: Architecture, layer: int, *, is_mtp: bool) -> list[Tensor]:
    h = arch.hidden_size
    n = (arch.mtp_n_routed_experts if is_mtp else None) or arch.n_routed_experts or 0
    out = _engram(arch, layer) if not is_mtp else []
    out.append(vector("attn_norm", layer, h, is_mtp=is_mtp))
    out += v4_attention_core(arch, layer, is_mtp=is_mtp)
    out += _csa2(arch, layer) if not is_mtp else []
    out += hc_mixer("attn", layer, arch, is_mtp=is_mtp)
    out.append(vector("ffn_norm", layer, h, is_mtp=is_mtp))
    out += router(layer, hidden_size=h, n_experts=n, score_correction=True, is_mtp=is_mtp)
    out.append(vector("exp_probs_b_vl", layer, n, Role.ROUTER, suffix="bias", is_mtp=is_mtp))
    fe = arch.moe_intermediate_size or 0
    out += routed_experts(layer, hidden_size=h, moe_intermediate_size=fe, n_experts=n, is_mtp=is_mtp)
    out += v4_shared_expert(arch, layer, is_mtp=is_mtp)
    out += hc_mixer("ffn", layer, arch, is_mtp=is_mtp)
    return out


def _dspark_extras(arch: Architecture, stage: int) -> list[Tensor]:
    h, vocab, layer = arch.hidden_size, arch.vocab_size, arch.num_hidden_layers + stage
    out: list[Tensor] = []
    if stage == 0:
        out += [
            matrix("nextn.main_proj", layer, DSPARK_TARGET_LAYERS * h, h, Role.OTHER, is_mtp=True),
            vector("nextn.main_norm", layer, h, is_mtp=True),
        ]
    if stage == arch.num_nextn_predict_layers - 1:
        rank = DSPARK_MARKOV_RANK
        out += [
            vector("nextn.shared_head_norm", layer, h, is_mtp=True),
            matrix("nextn.markov_embd", layer, rank, vocab, Role.EMBEDDING, is_mtp=True),
            matrix("nextn.markov_head", layer, rank, vocab, Role.OUTPUT, is_mtp=True),
            matrix("nextn.confidence", layer, h + rank, 1, Role.OTHER, is_mtp=True),
        ]
    return out


@register("deepseek_v41")
def build(arch: Architecture) -> tuple[Tensor, ...]:
    """Every tensor of the DeepSeek V4.1 language model (vision tower excluded), drafter last."""
    n_layers = arch.num_hidden_layers
    out = decoder_stack(arch, _decoder_layer)
    for stage in range(arch.num_nextn_predict_layers):
        out += _decoder_layer(arch, n_layers + stage, is_mtp=True)
        out += _dspark_extras(arch, stage)
    return tuple(out)
