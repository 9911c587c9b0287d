"""ModelSpec (schema.Architecture) -> tensor inventory, one builder per family.

Each family module registers a builder with ``@register("family", ...)``. A builder returns every
tensor of the checkpoint as the GGUF conversion names it (``blk.N.attn_q.weight``), with shapes in
ggml order, routed experts stacked (``ffn_up_exps``: (hidden, moe_intermediate, n_experts)), and MTP
layers flagged ``is_mtp``. Totals must match the vendor's official count.
"""

from __future__ import annotations

from functools import lru_cache

from sizer.model.architecture.registry import BUILDERS
from sizer.model.tensors import Tensor
from sizer.schema import Architecture

__all__ = ["inventory"]


def _load_families() -> None:
    # importing the family modules registers their builders
    from sizer.model.architecture import deepseek, dense, moe, qwen3_next  # noqa: F401


@lru_cache(maxsize=256)
def inventory(arch: Architecture) -> tuple[Tensor, ...]:
    """Every tensor of a model with this architecture (cached: Architecture is frozen and hashable)."""
    if arch.family not in BUILDERS:
        _load_families()
    try:
        builder = BUILDERS[arch.family]
    except KeyError:
        raise NotImplementedError(f"no tensor inventory for family {arch.family}") from None
    return builder(arch)
