"""llama.cpp layer-split layouts (llama.cpp, Ollama), with expert and layer offload to host RAM.

Whole layers, then the output head, go on devices in order and in proportion to their room, with a
cut that fits when the proportional one would overfill a device (:func:`balanced_cut`); each layer's
KV cache goes with it. The token embedding stays in host memory (also without --ram: a host RAM of
unknown size is assumed to hold it and nothing else). ``--n-cpu-moe N`` keeps the routed experts of
the first N layers in host RAM (computed by the CPU); ``-ngl`` keeps the first layers, weights and KV,
in host RAM.
"""

from __future__ import annotations

from collections.abc import Sequence

from sizer.model.tensors import QuantizedTensor
from sizer.placement._devices import device_budget, host_slot, span
from sizer.placement._table import EMBED, ENGRAM, EXPERT, GLOBAL, Table, table_for
from sizer.placement.hardware import Hardware
from sizer.placement.layout import Layout, Slot
from sizer.schema import Architecture, Engine

__all__ = ["balanced_cut", "layer_items", "layer_split", "tail_bytes"]


def layer_items(table: Table, kv_layer_bytes: Sequence[int], cpu_moe_layers: int, engram_on_host: bool) -> list[int]:
    """Bytes each layer puts on the device it is split to: its weights not held in host RAM, and its KV."""
    L = table.n_layers
    out = list(table.layer_bytes)
    if engram_on_host:
        out = [b - g for b, g in zip(out, table.layer_engram_bytes, strict=True)]
    experts = table.layer_expert_bytes
    for layer in range(min(cpu_moe_layers, L)):
        out[layer] -= experts[layer]
    for layer, kv in enumerate(kv_layer_bytes[:L]):
        out[layer] += kv
    return out


def tail_bytes(table: Table, host_mode: bool, gpu_layers: int) -> int:
    """The last item of the split (output head, final norm; the embedding too without host memory).

    llama.cpp splits n_layer + 1 "layers": the output head goes after the last layer; in host mode the
    token embedding stays in host memory, and with no layer on the GPU so does the head."""
    if not host_mode:
        return table.global_bytes
    return table.global_bytes - table.global_embed_bytes if gpu_layers > 0 else 0


def layer_split(
    tensors: tuple[QuantizedTensor, ...], arch: Architecture, hw: Hardware, engine: Engine,
    activations_bytes: int, overhead_bytes: int, *, cpu_moe_layers: int = 0, gpu_layers: int | None = None,
    engram_on_host: bool = False, kv_bytes_per_layer_hint: Sequence[int] = (),
) -> Layout:
    """llama.cpp: layers on devices in proportion to memory; first `cpu_moe_layers` layers' routed
    experts and all layers below the last `gpu_layers` in host RAM."""
    L = arch.num_hidden_layers
    ngl = L if gpu_layers is None else gpu_layers
    first_gpu_layer = L - ngl
    table = table_for(tensors, arch)
    devices = hw.devices()
    n = len(devices)
    host_mode = not hw.is_unified  # llama.cpp's token embedding lives in host memory even without --ram
    if not host_mode:
        cpu_moe_layers = 0  # unified memory: the CPU's experts share the one pool, so they stay on the device
    budgets = [device_budget(engine, d.capacity_bytes, 1, activations_bytes, overhead_bytes) for d in devices]
    items = layer_items(table, kv_bytes_per_layer_hint, cpu_moe_layers, engram_on_host)[first_gpu_layer:]
    where = balanced_cut(items + [tail_bytes(table, host_mode, ngl)], [c - a - o for c, a, o, _ in budgets])
    device_of_layer: list[int | None] = [None] * first_gpu_layer + list(where[:-1])
    tail_device = where[-1]
    # per device, then host RAM at index n; fixed reads are floats added in table order
    weights = [0] * (n + 1)
    fixed_read = [0.0] * (n + 1)
    experts = [0] * (n + 1)
    layers: list[set[int]] = [set() for _ in range(n)]
    for layer, cls, b, r in table.entries:
        if layer == GLOBAL:
            # llama.cpp keeps token_embd in host memory; the output head goes where the split put it
            target = n if host_mode and (cls == EMBED or ngl <= 0) else tail_device
        else:
            d = device_of_layer[layer]
            if d is None or (cls == EXPERT and layer < cpu_moe_layers) or (cls == ENGRAM and engram_on_host):
                target = n
            else:
                target = d
                layers[d].add(layer)
        if not b:
            continue
        weights[target] += b
        if cls == EXPERT:
            experts[target] += b
        else:
            fixed_read[target] += r
    slots: list[Slot] = []
    for i, dev in enumerate(devices):
        share = tuple(1.0 if device_of_layer[layer] == i else 0.0 for layer in range(L))
        dev_cap, dev_act, dev_ovh, _ = budgets[i]
        slots.append(Slot(dev.accelerator.name, dev.index, "unified" if dev.accelerator.unified_memory else "gpu",
                          dev.node, dev_cap, dev.bandwidth_gb_s, weights[i], fixed_read[i],
                          experts[i], share, dev_act, dev_ovh, span(sorted(layers[i]))))
    stages: list[tuple[int, ...]] = []
    if host_mode:
        host_kv = {layer for layer in range(L) if device_of_layer[layer] is None}
        words = []
        if cpu_moe_layers:
            words.append(f"routed experts of layers 0-{cpu_moe_layers - 1}")
        if first_gpu_layer:
            words.append(f"layers 0-{first_gpu_layer - 1}")
        if engram_on_host:
            words.append("Engram tables")
        words.append("token embedding")
        slots.append(host_slot(hw, weights[n], fixed_read[n], experts[n], L, host_kv, ", ".join(words),
                               small_only=not (cpu_moe_layers or first_gpu_layer or engram_on_host)))
        stages.append((len(slots) - 1,))
    stages = [(i,) for i in range(n)] + stages
    offload = "layers" if first_gpu_layer > 0 else ("experts" if cpu_moe_layers else "none")
    if not devices:
        offload = "cpu"
    assumptions = list(dict.fromkeys(b[3] for b in budgets if b[3]))
    if n > 1:
        assumptions.append(f"{engine.name}: layers split across GPUs in proportion to their memory (layer split)")
    if cpu_moe_layers:
        assumptions.append(
            f"{engine.name}: routed experts of the first {cpu_moe_layers} of {L} layers in host RAM "
            f"(llama.cpp --n-cpu-moe {cpu_moe_layers}), computed by the CPU"
        )
    if first_gpu_layer:
        assumptions.append(f"{engine.name}: {ngl} of {L} layers on the GPU (-ngl {ngl}); the rest in host RAM")
    strategy = "unified" if hw.is_unified else ("layer_split" if n > 1 else "single")
    return Layout(strategy, offload, tuple(slots), tuple(stages), cpu_moe_layers=cpu_moe_layers,
                  gpu_layers=ngl, engram_on_host=engram_on_host, assumptions=tuple(assumptions))


def balanced_cut(items: Sequence[int], rooms: Sequence[int]) -> list[int]:
    """Device of each item (layers in order, then the output head): contiguous, in device order, in
    proportion to each device's room, as llama.cpp's --tensor-split / --fit do. When whole layers make that
    overfill a device although another cut would not, the cut that leaves the fullest device (relative to
    its room) least full wins: the smallest ratio at which filling the devices in order holds every item.
    """
    n = len(rooms)
    if n <= 1:
        return [0] * len(items)
    room = [max(r, 1) for r in rooms]
    room_total = sum(room)
    total = sum(items) or 1
    out: list[int] = []
    cum, dev, bound = 0, 0, total * room[0] / room_total
    for b in items:
        while dev < n - 1 and cum + b / 2 > bound:
            dev += 1
            bound += total * room[dev] / room_total
        out.append(dev)
        cum += b
    fill = [0] * n
    for d, b in zip(out, items, strict=True):
        fill[d] += b
    if all(f <= r for f, r in zip(fill, rooms, strict=True)) or total > sum(max(r, 0) for r in rooms):
        return out  # fits as split, or fits no way

    def in_order(ratio: float) -> list[int] | None:
        res, d, f = [], 0, 0
        limit = ratio * room[0]
        for b in items:
            while f + b > limit:
                d, f = d + 1, 0
                if d == n:
                    return None
                limit = ratio * room[d]
            res.append(d)
            f += b
        return res

    lo, hi = 0.0, max(f / r for f, r in zip(fill, room, strict=True))  # the proportional cut is feasible at hi
    for _ in range(24):
        mid = (lo + hi) / 2
        if in_order(mid) is None:
            lo = mid
        else:
            hi = mid
    return in_order(hi) or out
