"""What the quant names a user gives mean when they ask for several formats (`--quant all` and friends).

`all` means, for `fit` and `recommend` alike: the model's own checkpoint (`native`), then every llama.cpp
file type and every checkpoint format in catalog order. Left out: single ggml tensor types (they are
parts of file types, not files people make), plain names that only stand for another entry (`int4` ->
AWQ), and other models' mixed native checkpoints.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sizer.catalog.loading import Catalog

__all__ = [
    "ALL", "DEFAULT_FLOOR", "QUALITY_ORDER", "all_format_names", "expand_quant_names", "is_all", "is_comparison",
    "quality_ladder",
]

ALL = "all"
# llama.cpp file types from best to worst quality (llama.cpp perplexity scoreboard order)
QUALITY_ORDER = ("bf16", "q8_0", "q6_k", "q5_k_m", "q4_k_m", "iq4_xs", "q3_k_m", "iq3_xxs", "q2_k", "iq2_xxs",
                 "iq1_m")
# Below Q3_K_M the quality loss grows fast (mean KLD > 0.3 on Llama-3-8B for 2-bit types): not offered unasked
# (fits-here, models list --gpu, the suggestions of a does-not-fit answer).
DEFAULT_FLOOR = "q3_k_m"


def quality_ladder(floor: str = DEFAULT_FLOOR) -> tuple[str, ...]:
    """The file types from the best down to `floor`, most accurate first."""
    return QUALITY_ORDER[:QUALITY_ORDER.index(floor) + 1]


def all_format_names(catalog: Catalog) -> list[str]:
    """The names `all` expands to (see the module docstring)."""
    return ["native", *(q.id for q in catalog.quants.values()
                        if q.format_kind not in ("ggml_type", "native") and q.resolves_to is None)]


def is_all(names: Sequence[str]) -> bool:
    return [n.lower() for n in names] == [ALL]


def expand_quant_names(names: Sequence[str], catalog: Catalog) -> list[str]:
    """`all` -> every format (see the module docstring); any other list as given."""
    return all_format_names(catalog) if is_all(names) else list(names)


def is_comparison(names: Sequence[str]) -> bool:
    """Whether `fit` compares formats (several names, or `all`) instead of sizing one."""
    return len(names) > 1 or is_all(names)
