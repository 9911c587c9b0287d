"""The candidate layouts of an engine and offload policy, with the offload searches.

For a layer-split engine with host RAM: the layout without offload, the smallest ``--n-cpu-moe N``
that fits the GPUs, and the largest ``-ngl`` that does; a tensor-parallel engine gets one layout
(KTransformers: the routed experts of every layer on the CPU). With Engram tables and host RAM, each
candidate also comes with the tables in host RAM. The binary searches ask "do the GPUs hold this
split?" from per-layer sums (:class:`_Probe`), which is exactly what evaluating the built layout
says; the full layout is built once, for the N chosen.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial
from itertools import accumulate

from sizer.model.tensors import QuantizedTensor
from sizer.placement._devices import device_budget
from sizer.placement._table import Table, table_for
from sizer.placement.hardware import Hardware
from sizer.placement.layout import Layout
from sizer.placement.parallel import tensor_parallel
from sizer.placement.split import balanced_cut, layer_items, layer_split, tail_bytes
from sizer.schema import Architecture, Engine

__all__ = ["larger_cards", "layouts_for"]


def layouts_for(
    tensors: tuple[QuantizedTensor, ...], arch: Architecture, hw: Hardware, engine: Engine,
    activations_bytes: int, overhead_bytes: int, kv_layer_bytes: Sequence[int], offload: str = "auto",
) -> list[Layout]:
    """Candidate layouts for this engine and offload policy, best first; the caller evaluates them."""
    tp_engine = engine.tensor_parallel and not engine.layer_split
    table = table_for(tensors, arch)
    has_host = hw.host_ram_bytes is not None and not hw.is_unified
    engram_options = [False, True] if table.has_engram and has_host else [False]
    out: list[Layout] = []
    devices = hw.devices()
    if not devices:
        # no GPU: llama.cpp runs the whole model on the CPU from host RAM
        if has_host and engine.layer_split:
            out.append(layer_split(tensors, arch, hw, engine, 0, 0, gpu_layers=0,
                                   kv_bytes_per_layer_hint=kv_layer_bytes))
        return out
    forced_experts = engine.id == "ktransformers" and arch.is_moe
    rooms = [c - a - o for c, a, o, _ in (device_budget(engine, d.capacity_bytes, 1, activations_bytes,
                                                                overhead_bytes) for d in devices)]
    L = arch.num_hidden_layers
    for engram_on_host in engram_options:
        if tp_engine and not forced_experts:
            out.append(tensor_parallel(tensors, arch, hw, engine, activations_bytes, overhead_bytes,
                                       engram_on_host=engram_on_host))
            continue
        split = partial(layer_split, tensors, arch, hw, engine, activations_bytes, overhead_bytes,
                        engram_on_host=engram_on_host, kv_bytes_per_layer_hint=kv_layer_bytes)
        if forced_experts:  # KTransformers: the routed experts of every layer on the CPU
            if engine.expert_offload and offload in ("auto", "experts"):
                out.append(split(cpu_moe_layers=L))
            continue
        if offload in ("auto", "none"):
            out.append(split())
        if not has_host:
            continue
        probe = _Probe(table, kv_layer_bytes, rooms, not hw.is_unified, engram_on_host)
        if arch.is_moe and engine.expert_offload and offload in ("auto", "experts"):
            out.append(split(cpu_moe_layers=_smallest(probe.experts_fit, L)))
        if offload in ("auto", "layers") and engine.layer_split:
            out.append(split(gpu_layers=L - _smallest(probe.layers_fit, L)))
    return out


def larger_cards(hw: Hardware, engine: Engine) -> list[tuple[Hardware, str | None]]:
    """The machine, then (tensor parallel over different cards) the machine without its smallest kind
    of card, without its two smallest, ..., each with a note naming the cards left idle. Every rank of
    tensor parallel holds the same share, so a small card can only hold the others back; it is left
    idle, as a card that does not divide the heads is. O(kinds of card)."""
    out: list[tuple[Hardware, str | None]] = [(hw, None)]
    if not engine.tensor_parallel or engine.layer_split or hw.is_homogeneous:
        return out  # a layer split gives each card a share in proportion to its room: every card helps
    kinds = sorted(hw.accelerators, key=lambda an: an[0].memory_gib_usable / an[0].devices_per_package)
    idle: list[str] = []
    while len(kinds) > 1:
        (dropped, count), kinds = kinds[0], kinds[1:]
        idle.append(f"{count}x {dropped.name}")
        keep = tuple(an for an in hw.accelerators if an in kinds)
        note = f"{', '.join(idle)} left idle: tensor parallel over the larger cards fits or runs better"
        out.append((replace(hw, accelerators=keep), note))
    return out


def _smallest(fits: Callable[[int], bool], hi: int) -> int:
    """Smallest n in [0, hi] whose layout fits the GPUs (monotone: more layers offloaded, less GPU use)."""
    lo = 0
    if fits(0):
        return 0
    while lo < hi:
        mid = (lo + hi) // 2
        if fits(mid):
            hi = mid
        else:
            lo = mid + 1
    return hi


class _Probe:
    """Whether the GPUs hold a layer split with N layers' experts (or N whole layers) in host RAM.

    A device of a layer split holds exactly the items the cut gives it (its layers' weights outside
    host RAM and their KV, and maybe the output head), so "every GPU fits" is "every device's items fit
    its room (capacity - activations - overhead)", the same integers `evaluate` compares (bytes are
    integers, so sums in any order are exact). One device needs only prefix sums; more run the same
    cut as `layer_split` on the item list.
    """

    __slots__ = (
        "gpu_items",
        "host_experts_items",
        "host_mode",
        "n_layers",
        "prefix_gpu",
        "prefix_host_experts",
        "rooms",
        "table",
    )

    def __init__(self, table: Table, kv_layer_bytes: Sequence[int], rooms: list[int], host_mode: bool,
                 engram_on_host: bool) -> None:
        self.table, self.rooms, self.host_mode, self.n_layers = table, rooms, host_mode, table.n_layers
        self.gpu_items = layer_items(table, kv_layer_bytes, 0, engram_on_host)  # experts on the GPU
        self.host_experts_items = layer_items(table, kv_layer_bytes, table.n_layers, engram_on_host)
        if len(rooms) == 1:
            self.prefix_gpu = [0, *accumulate(self.gpu_items)]
            self.prefix_host_experts = [0, *accumulate(self.host_experts_items)]

    def experts_fit(self, n: int) -> bool:
        """--n-cpu-moe n: the routed experts of the first n layers in host RAM."""
        L = self.n_layers
        tail = tail_bytes(self.table, self.host_mode, L)
        if len(self.rooms) == 1:
            pg, ph = self.prefix_gpu, self.prefix_host_experts
            return ph[n] + pg[L] - pg[n] + tail <= self.rooms[0]
        return self._fits(self.host_experts_items[:n] + self.gpu_items[n:] + [tail])

    def layers_fit(self, n: int) -> bool:
        """-ngl L - n: the first n layers in host RAM."""
        L = self.n_layers
        tail = tail_bytes(self.table, self.host_mode, L - n)
        if len(self.rooms) == 1:
            pg = self.prefix_gpu
            return pg[L] - pg[n] + tail <= self.rooms[0]
        return self._fits(self.gpu_items[n:] + [tail])

    def _fits(self, items: list[int]) -> bool:
        fill = [0] * len(self.rooms)
        for d, b in zip(balanced_cut(items, self.rooms), items, strict=True):
            fill[d] += b
        return all(f <= r for f, r in zip(fill, self.rooms, strict=True))
