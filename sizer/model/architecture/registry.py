"""The builders of tensor inventories, one per family; each family module registers its own."""

from __future__ import annotations

from collections.abc import Callable

from sizer.model.tensors import Tensor
from sizer.schema import Architecture

__all__ = ["BUILDERS", "Builder", "register"]

Builder = Callable[[Architecture], tuple[Tensor, ...]]
BUILDERS: dict[str, Builder] = {}


def register(*families: str) -> Callable[[Builder], Builder]:
    def deco(fn: Builder) -> Builder:
        for f in families:
            BUILDERS[f] = fn
        return fn

    return deco
