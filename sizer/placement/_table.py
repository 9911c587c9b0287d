"""Bytes per (layer, tensor class), summed once per quantized inventory.

Every tensor placement handles falls in one of six classes (replicated, KV projection, sharded,
routed expert, Engram table, embedding) and belongs to a layer or to no layer (``GLOBAL``: output
head, final norm, token embedding). Layouts add up these sums instead of walking tens of thousands
of tensors, so a layout costs O(layers). The table also keeps the per-layer sums the offload
searches need (:mod:`sizer.placement.candidates`) and whether the model has Engram tables.
"""

from __future__ import annotations

from dataclasses import dataclass

from sizer.model.tensors import QuantizedTensor, Role
from sizer.placement.traffic import tp_fraction
from sizer.schema import Architecture

__all__ = ["EMBED", "ENGRAM", "EXPERT", "GLOBAL", "KVPROJ", "REP", "SHARD", "Table", "table_for"]

REP, KVPROJ, SHARD, EXPERT, ENGRAM, EMBED = range(6)
GLOBAL = -1  # layer index used for tensors outside the blocks (output head, final norm, embedding)


@dataclass(frozen=True, slots=True)
class Table:
    n_layers: int
    bytes: dict[tuple[int, int], int]  # (layer or GLOBAL, class) -> bytes
    reads: dict[tuple[int, int], float]  # (layer or GLOBAL, class) -> bytes one token reads (batch 1)
    # (layer, class, bytes, read bytes) in the order of `bytes`: layouts accumulate floats in this order
    entries: tuple[tuple[int, int, int, float], ...]
    layer_bytes: tuple[int, ...]  # per layer: every class
    layer_expert_bytes: tuple[int, ...]  # per layer: routed experts
    layer_engram_bytes: tuple[int, ...]  # per layer: Engram tables
    global_bytes: int  # outside the layers, every class
    global_embed_bytes: int  # outside the layers, the token embedding
    has_engram: bool  # any tensor (MTP ones included) is an Engram table


_TABLES: dict[int, tuple[tuple[QuantizedTensor, ...], Architecture, Table]] = {}


def _class_of(qt: QuantizedTensor) -> int:
    t = qt.tensor
    if t.role is Role.ROUTED_EXPERT:
        return EXPERT
    if t.role is Role.ENGRAM:
        return ENGRAM
    if t.role is Role.EMBEDDING:
        return EMBED
    return REP if t.role is Role.NORM or len(t.shape) < 2 else (KVPROJ if t.kind in ("attn_k", "attn_v") else SHARD)


def table_for(tensors: tuple[QuantizedTensor, ...], arch: Architecture) -> Table:
    """The table of a quantized inventory (cached by identity of the inventory and architecture)."""
    hit = _TABLES.get(id(tensors))
    if hit is not None and hit[0] is tensors and hit[1] is arch:
        return hit[2]
    table = _build(tensors, arch)
    if len(_TABLES) > 256:
        _TABLES.clear()
    _TABLES[id(tensors)] = (tensors, arch, table)
    return table


def _build(tensors: tuple[QuantizedTensor, ...], arch: Architecture) -> Table:
    L = arch.num_hidden_layers
    by: dict[tuple[int, int], int] = {}
    rd: dict[tuple[int, int], float] = {}
    has_engram = False
    for qt in tensors:
        t = qt.tensor
        if t.role is Role.ENGRAM:
            has_engram = True
        if t.is_mtp:
            continue
        cls = _class_of(qt)
        if cls == REP or cls == SHARD:
            # MLA down-projections and routers stay whole on every rank (traffic.tp_fraction)
            cls = REP if tp_fraction(t, arch, 2) == 1.0 else SHARD
        layer = GLOBAL if t.layer is None else min(t.layer, L - 1)
        key = (layer, cls)
        b = qt.weights_bytes
        by[key] = by.get(key, 0) + b
        if cls == EMBED:
            r = b / max(arch.vocab_size, 1)
        elif cls == ENGRAM:
            rows = t.shape[1] if len(t.shape) > 1 else 1
            per_table = (arch.engram_rows_per_token or 0) / max(len(arch.engram_layers), 1)
            r = b * min(1.0, per_table / rows)
        elif cls == EXPERT:
            r = 0.0
        else:
            r = float(b)
        rd[key] = rd.get(key, 0.0) + r
    layer_all, layer_expert, layer_engram = [0] * L, [0] * L, [0] * L
    global_all = global_embed = 0
    for (layer, cls), b in by.items():
        if layer == GLOBAL:
            global_all += b
            if cls == EMBED:
                global_embed += b
            continue
        layer_all[layer] += b
        if cls == EXPERT:
            layer_expert[layer] += b
        elif cls == ENGRAM:
            layer_engram[layer] += b
    entries = tuple((layer, cls, b, rd[(layer, cls)]) for (layer, cls), b in by.items())
    return Table(L, by, rd, entries, tuple(layer_all), tuple(layer_expert), tuple(layer_engram),
                 global_all, global_embed, has_engram)
