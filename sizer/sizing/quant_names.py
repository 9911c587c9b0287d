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

__all__ = ["ALL", "all_format_names", "expand_quant_names", "is_all", "is_comparison"]

ALL = "all"


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
