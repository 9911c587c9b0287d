"""Layout records and their evaluation against a workload's KV cache.

A :class:`Layout` says where every tensor and every layer's KV cache lives, one :class:`Slot` per
device (host RAM included). :func:`evaluate` turns it into per-device usage (:class:`SlotUsage`) and a
:class:`Verdict` for the KV bytes of one workload, so a layout built once serves many contexts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from operator import mul

__all__ = ["GIB", "Layout", "Slot", "SlotUsage", "Verdict", "evaluate", "with_capacity"]

GIB = 2**30


@dataclass(frozen=True, slots=True)
class Slot:
    """One device's share of a layout."""

    name: str
    index: int  # -1 for host RAM
    kind: str  # gpu | unified | host_ram
    node: int
    capacity_bytes: int
    bandwidth_gb_s: float  # peak; perf applies efficiency
    weights_bytes: int
    fixed_read_bytes: float  # non-expert weight bytes one decode token reads here
    routed_expert_bytes: int  # routed-expert bytes held here (read k/E of them per token)
    kv_share: tuple[float, ...]  # per layer: fraction of that layer's KV (all sequences) held here
    activations_bytes: int
    overhead_bytes: int
    layers: str
    capacity_known: bool = True  # False: host RAM whose size was not given (see placement._devices.host_slot)


@dataclass(frozen=True)
class Layout:
    strategy: str  # single | tensor_parallel | layer_split | unified
    offload: str  # none | experts | layers | cpu
    slots: tuple[Slot, ...]
    stages: tuple[tuple[int, ...], ...]  # slot positions working together; stages run in sequence
    tp: int = 1
    pp: int = 1
    ep: int = 1  # ranks the routed experts are spread over by expert (all-to-all); 1: sharded like TP
    attention_dp: int = 1  # data-parallel attention ranks per group: each keeps only its own requests' KV
    replicas: int = 1  # independent copies (DP) behind a router; `stages` are one replica's
    cpu_moe_layers: int = 0
    gpu_layers: int | None = None
    engram_on_host: bool = False
    warnings: tuple[str, ...] = ()
    assumptions: tuple[str, ...] = ()


@dataclass(frozen=True)
class SlotUsage:
    slot: Slot
    kv_cache_bytes: int

    @property
    def used_bytes(self) -> int:
        s = self.slot
        return s.weights_bytes + self.kv_cache_bytes + s.activations_bytes + s.overhead_bytes

    @property
    def free_bytes(self) -> int:
        return self.slot.capacity_bytes - self.used_bytes


@dataclass(frozen=True)
class Verdict:
    usages: tuple[SlotUsage, ...]
    fits: bool
    binding_constraint: str
    notes: tuple[str, ...] = field(default=())


def _label(s: Slot) -> str:
    return "host RAM" if s.kind == "host_ram" else f"GPU {s.index} ({s.name})"


def evaluate(layout: Layout, kv_layer_bytes: Sequence[int]) -> Verdict:
    """Per-device usage for a workload whose layer l needs kv_layer_bytes[l] of KV (all sequences)."""
    # sum(map(mul, ...)) adds the same products in the same order as a generator over zip, only faster
    usages = [SlotUsage(s, int(sum(map(mul, s.kv_share, kv_layer_bytes)))) for s in layout.slots]
    short = [u for u in usages if u.free_bytes < 0]
    if short:
        worst = min(short, key=lambda u: u.free_bytes)
        binding = f"{_label(worst.slot)} is {-worst.free_bytes / GIB:.1f} GiB short"
        return Verdict(tuple(usages), False, binding)
    known = [u for u in usages if u.slot.capacity_known] or usages
    tight = min(known, key=lambda u: u.free_bytes / max(u.slot.capacity_bytes, 1))
    binding = f"{_label(tight.slot)} has {tight.free_bytes / GIB:.1f} GiB free"
    return Verdict(tuple(usages), True, binding)


def with_capacity(layout: Layout, index: int, capacity_bytes: int) -> Layout:
    """A copy with one slot's capacity changed (used by tests)."""
    slots = tuple(replace(s, capacity_bytes=capacity_bytes) if i == index else s for i, s in enumerate(layout.slots))
    return replace(layout, slots=slots)
