"""Parameter counts recomputed from the tensor inventory: total and active per token.

Active-parameter convention (vendors differ; every option is exposed, the default is what a
decode step actually multiplies):

- every tensor that is not a routed expert counts in full (attention, dense MLPs, shared experts,
  routers, norms, biases, sinks);
- routed experts count their top-k share: ``elements x num_experts_per_tok / n_experts``
  (per-expert biases included);
- ``embeddings`` says what to do with the token embedding table and the LM head:
  ``"output_only"`` (default) counts the head but not the embedding table, from which a token reads
  one row; this reproduces gpt-oss's official 5.13B / 3.61B exactly. ``"both"`` counts both in
  full (Mixtral's 12.9B, Qwen3's 3.3B / 22B, Llama 4's 17B, DeepSeek's 37B). ``"none"`` drops both
  (GLM-4.5's 32B / 12B). For a tied model the one table is the head, so it counts unless
  ``"none"``. Engram tables (DeepSeek V4.1) count like the embedding table: only with ``"both"``,
  and then only the rows a token reads.
- MTP layers are excluded unless ``include_mtp`` (their routed experts then count
  ``mtp_num_experts_per_tok`` of ``n_experts`` when the architecture sets it).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from sizer.model.architecture import inventory
from sizer.model.tensors import Role
from sizer.schema import Architecture

__all__ = ["EmbeddingCount", "active_params", "total_params"]

EmbeddingCount = Literal["both", "output_only", "none"]


@lru_cache(maxsize=512)
def total_params(arch: Architecture, include_mtp: bool = False) -> int:
    """Parameters in the checkpoint's language model (MTP layers only if ``include_mtp``)."""
    return sum(t.elements for t in inventory(arch) if include_mtp or not t.is_mtp)


@lru_cache(maxsize=512)
def active_params(
    arch: Architecture, embeddings: EmbeddingCount = "output_only", include_mtp: bool = False
) -> int:
    """Parameters a token uses, under the convention in the module docstring."""
    tensors = [t for t in inventory(arch) if include_mtp or not t.is_mtp]
    has_head = any(t.role is Role.OUTPUT for t in tensors)
    k = arch.num_experts_per_tok or 0
    k_mtp = arch.mtp_num_experts_per_tok or k
    total = 0
    engram_seen = False
    for t in tensors:
        if t.role is Role.ROUTED_EXPERT:
            total += t.elements * (k_mtp if t.is_mtp else k) // t.n_experts
        elif t.role is Role.EMBEDDING:
            is_head = not has_head and not t.is_mtp
            if embeddings == "both" or (is_head and embeddings == "output_only"):
                total += t.elements
        elif t.role is Role.OUTPUT:
            if embeddings != "none":
                total += t.elements
        elif t.role is Role.ENGRAM:
            engram_seen = True
        else:
            total += t.elements
    if engram_seen and embeddings == "both":
        total += (arch.engram_rows_per_token or 0) * (arch.engram_row_width or 0)
    return total
