"""What one decode token reads of each tensor, and what a tensor-parallel rank holds of it.

Both are rules of the architecture, shared by placement (bytes per device) and speed (bytes read
per token per device), so they live in one place.
"""

from __future__ import annotations

from sizer.model.tensors import Role, Tensor
from sizer.schema import Architecture

__all__ = ["distinct_experts_read", "kv_tp_fraction", "read_fraction", "tp_fraction"]

# Tensors vLLM keeps whole on every tensor-parallel rank (ReplicatedLinear in its model code):
# MLA's q_a / kv_a down-projections and their norms, routers. DeepSeek V4 / V4.1 have one shared KV
# head, so what produces it stays whole too (Hugging Face's V4 tensor-parallel plan does not shard the
# main attention's KV path): the KV projection, the KV compressors and the indexer's single key path.
_REPLICATED_KINDS = frozenset({
    "attn_q_a", "attn_kv_a_mqa", "attn_q_a_norm", "attn_kv_a_norm", "ffn_gate_inp",
    "attn_kv", "compressor_kv", "compressor_gate", "indexer.compressor_kv", "indexer.compressor_gate",
    "indexer.attn_k",
})


def distinct_experts_read(n_experts: int, top_k: int, batch: int) -> float:
    """Expected distinct routed experts a decode step touches for `batch` sequences (uniform routing)."""
    if n_experts <= 0:
        return 0.0
    miss = (1 - top_k / n_experts) ** max(batch, 1)
    return n_experts * (1 - miss)


def read_fraction(t: Tensor, arch: Architecture, batch: int = 1) -> float:
    """Fraction of a tensor's bytes one decode step of `batch` sequences reads."""
    if t.role is Role.ROUTED_EXPERT:
        k = arch.num_experts_per_tok or 1
        return distinct_experts_read(t.n_experts, k, batch) / t.n_experts
    if t.role is Role.EMBEDDING:
        # one row per sequence
        return min(1.0, batch / max(arch.vocab_size, 1))
    if t.role is Role.ENGRAM:
        rows = t.shape[1] if len(t.shape) > 1 else 1
        per_token = (arch.engram_rows_per_token or 0) / max(len(arch.engram_layers), 1)
        return min(1.0, per_token * batch / rows)
    return 1.0


def tp_fraction(t: Tensor, arch: Architecture, tp: int) -> float:
    """Fraction of a tensor one tensor-parallel rank holds (vLLM / SGLang / TensorRT-LLM rules)."""
    if tp <= 1:
        return 1.0
    if t.role is Role.NORM or t.kind in _REPLICATED_KINDS or len(t.shape) < 2:
        return 1.0
    if t.kind in ("attn_k", "attn_v"):
        return kv_tp_fraction(arch, tp)
    return 1.0 / tp


def kv_tp_fraction(arch: Architecture, tp: int) -> float:
    """Fraction of a layer's KV (or of its k/v projections) one rank holds.

    GQA shards KV heads, but a rank holds at least one head, so with fewer KV heads than ranks the
    heads are replicated. MLA's latent and DeepSeek V4's single 512-wide KV are one "head": every
    rank keeps the whole of it (vLLM replicates the MLA cache across TP ranks).
    """
    if tp <= 1:
        return 1.0
    if arch.kv_lora_rank is not None or arch.family in ("deepseek_v4", "deepseek_v41"):
        return 1.0
    kv = arch.num_key_value_heads
    return max(1, kv // tp) / kv

