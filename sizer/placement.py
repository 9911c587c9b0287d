"""Place weights, KV cache, activations and overhead on devices, as each engine really does it.

A *layout* decides where every tensor and every layer's KV cache lives; *evaluating* it against a
workload's KV bytes gives per-device usage and the verdict. Layouts are built once per
(model, quant, hardware, engine, strategy) and evaluated cheaply for many contexts (max_context
search, recommendation).

Strategies (see ../shared/reference/engines.md):
- ``tensor_parallel`` (vLLM, SGLang, TensorRT-LLM, MLX): tensor parallel inside a node (the largest TP
  that divides the query heads and divides or is divided by the KV heads), pipeline parallel across
  nodes and across TP groups of a node; per-rank shares from `traffic.tp_fraction`.
- ``layer_split`` (llama.cpp, Ollama): whole layers, then the output head, on devices in order and in
  proportion to their room, with a cut that fits when the proportional one would overfill a device;
  KV with its layer; the token embedding stays in host memory (also without --ram: a host RAM of
  unknown size is assumed to hold it and nothing else).
- ``experts`` offload (llama.cpp ``--n-cpu-moe N``; KTransformers: all layers): the routed experts of
  the first N layers in host RAM, computed by the CPU; N as small as fits.
- ``layers`` offload (llama.cpp ``-ngl``): the first layers (weights and KV) in host RAM.

Each engine budgets a device its own way (`_budget`): vLLM and TensorRT-LLM a gpu_memory_utilization
fraction holding activations and overhead; SGLang and KTransformers the device minus a size-dependent
reserve (engine.device_tiers reserved_gib) outside their static weights + KV pool; llama.cpp all of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from .hardware import Hardware
from .schema import Architecture, Engine
from .tensors import QuantizedTensor, Role
from .traffic import kv_tp_fraction, tp_fraction

__all__ = ["Layout", "Slot", "Verdict", "evaluate", "layouts_for"]

GIB = 2**30
HOST_OS_RESERVE_FRACTION = 0.05  # of host RAM, at least HOST_OS_RESERVE_MIN_GIB, kept for the OS
HOST_OS_RESERVE_MIN_GIB = 4.0


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
    capacity_known: bool = True  # False: host RAM whose size was not given (see _host_slot)


@dataclass(frozen=True)
class Layout:
    strategy: str  # single | tensor_parallel | layer_split | unified
    offload: str  # none | experts | layers
    slots: tuple[Slot, ...]
    stages: tuple[tuple[int, ...], ...]  # slot positions working together; stages run in sequence
    tp: int = 1
    pp: int = 1
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
    usages = []
    for s in layout.slots:
        kv = sum(f * b for f, b in zip(s.kv_share, kv_layer_bytes, strict=False))
        usages.append(SlotUsage(s, int(kv)))
    short = [u for u in usages if u.free_bytes < 0]
    if short:
        worst = min(short, key=lambda u: u.free_bytes)
        binding = f"{_label(worst.slot)} is {-worst.free_bytes / GIB:.1f} GiB short"
        return Verdict(tuple(usages), False, binding)
    known = [u for u in usages if u.slot.capacity_known] or usages
    tight = min(known, key=lambda u: u.free_bytes / max(u.slot.capacity_bytes, 1))
    binding = f"{_label(tight.slot)} has {tight.free_bytes / GIB:.1f} GiB free"
    return Verdict(tuple(usages), True, binding)


# --------------------------------------------------------------------------------------- helpers

# Tensor classes placement needs; every tensor of a layer falls in one. Sums per (layer, class) are
# computed once per quantized inventory, so a layout costs O(layers), not O(tensors).
_REP, _KVPROJ, _SHARD, _EXPERT, _ENGRAM, _EMBED = range(6)
_GLOBAL = -1  # layer index used for tensors outside the blocks (output head, final norm)


@dataclass(frozen=True)
class _Table:
    n_layers: int
    bytes: dict[tuple[int, int], int]  # (layer or _GLOBAL, class) -> bytes
    reads: dict[tuple[int, int], float]  # (layer or _GLOBAL, class) -> bytes one token reads (batch 1)


_TABLES: dict[int, tuple[tuple[QuantizedTensor, ...], Architecture, _Table]] = {}


def _class_of(qt: QuantizedTensor) -> int:
    t = qt.tensor
    if t.role is Role.ROUTED_EXPERT:
        return _EXPERT
    if t.role is Role.ENGRAM:
        return _ENGRAM
    if t.role is Role.EMBEDDING:
        return _EMBED
    return _REP if t.role is Role.NORM or len(t.shape) < 2 else (_KVPROJ if t.kind in ("attn_k", "attn_v") else _SHARD)


def _table(tensors: tuple[QuantizedTensor, ...], arch: Architecture) -> _Table:
    hit = _TABLES.get(id(tensors))
    if hit is not None and hit[0] is tensors and hit[1] is arch:
        return hit[2]
    L = arch.num_hidden_layers
    by: dict[tuple[int, int], int] = {}
    rd: dict[tuple[int, int], float] = {}
    for qt in tensors:
        t = qt.tensor
        if t.is_mtp:
            continue
        cls = _class_of(qt)
        if cls == _REP or cls == _SHARD:
            # MLA down-projections and routers stay whole on every rank (traffic.tp_fraction)
            cls = _REP if tp_fraction(t, arch, 2) == 1.0 else _SHARD
        layer = _GLOBAL if t.layer is None else min(t.layer, L - 1)
        key = (layer, cls)
        b = qt.weights_bytes
        by[key] = by.get(key, 0) + b
        if cls == _EMBED:
            r = b / max(arch.vocab_size, 1)
        elif cls == _ENGRAM:
            rows = t.shape[1] if len(t.shape) > 1 else 1
            per_table = (arch.engram_rows_per_token or 0) / max(len(arch.engram_layers), 1)
            r = b * min(1.0, per_table / rows)
        elif cls == _EXPERT:
            r = 0.0
        else:
            r = float(b)
        rd[key] = rd.get(key, 0.0) + r
    table = _Table(L, by, rd)
    if len(_TABLES) > 256:
        _TABLES.clear()
    _TABLES[id(tensors)] = (tensors, arch, table)
    return table


@dataclass
class _Acc:
    weights: float = 0.0
    fixed_read: float = 0.0
    experts: float = 0.0
    layers: list[int] = field(default_factory=list)

    def add(self, table: _Table, layer: int, cls: int, fraction: float = 1.0) -> None:
        b = table.bytes.get((layer, cls))
        if not b:
            return
        self.weights += b * fraction
        if cls == _EXPERT:
            self.experts += b * fraction
        else:
            self.fixed_read += table.reads[(layer, cls)] * fraction


def _span(layers: list[int]) -> str:
    if not layers:
        return ""
    return f"layers {min(layers)}-{max(layers)}" if len(layers) > 1 else f"layer {layers[0]}"


def host_capacity_bytes(ram_bytes: int) -> int:
    reserve = max(HOST_OS_RESERVE_FRACTION * ram_bytes, HOST_OS_RESERVE_MIN_GIB * GIB)
    return int(ram_bytes - reserve)


def _host_slot(hw: Hardware, acc: _Acc, n_layers: int, kv_layers: set[int], label: str,
               *, small_only: bool = False) -> Slot:
    """Host RAM as a device. Its size unknown (no --ram), it is assumed to hold what every machine can
    (llama.cpp's token embedding: `small_only`) and to hold nothing else, so an offload without --ram
    shows how much RAM it needs."""
    share = tuple(1.0 if layer in kv_layers else 0.0 for layer in range(n_layers))
    known = hw.host_ram_bytes is not None
    if known:
        cap = host_capacity_bytes(hw.host_ram_bytes or 0)
    else:
        cap = int(acc.weights) if small_only else 0
        label += " (host RAM size not given)"
    return Slot("host RAM", -1, "host_ram", 0, cap, hw.host_ram_bandwidth_gb_s or 0.0, int(acc.weights),
                acc.fixed_read, int(acc.experts), share, 0, 0, label, capacity_known=known)


def _budget(engine: Engine, capacity_bytes: int, group: int, activations_bytes: int,
            overhead_bytes: int) -> tuple[int, int, int, str]:
    """(capacity, activations, overhead) an engine budgets on one device of `capacity_bytes`, and why.

    SGLang-style engines size a static pool (weights + KV) as the device minus a reserve that depends on
    the device size (engine.device_tiers reserved_gib; each further GPU of the TP x PP group adds 1/8
    GiB): the reserve stands for activations, CUDA graphs and the runtime context. Other engines budget
    gpu_memory_utilization of the device and hold activations and overhead inside it (vLLM).
    """
    gib = capacity_bytes / GIB
    tier = None
    for t in engine.device_tiers:
        if t.reserved_gib is not None and t.min_device_gib <= gib and (tier is None or t.min_device_gib > tier.min_device_gib):
            tier = t
    if tier is not None and tier.reserved_gib is not None:
        reserve = int((tier.reserved_gib + 0.125 * (group - 1)) * GIB)
        return capacity_bytes, max(reserve - overhead_bytes, 0), overhead_bytes, (
            f"{engine.name} keeps {reserve / GIB:.2f} GiB of each {gib:.0f} GiB device outside its static "
            f"weights + KV pool (mem_fraction_static rule) for activations, CUDA graphs and the runtime")
    util = engine.gpu_memory_utilization
    note = f"{engine.name} budgets {util:.0%} of each GPU (gpu_memory_utilization)" if util < 1 else ""
    return int(capacity_bytes * util), activations_bytes, overhead_bytes, note


# ------------------------------------------------------------------------------ tensor parallel


def tensor_parallel(
    tensors: tuple[QuantizedTensor, ...], arch: Architecture, hw: Hardware, engine: Engine,
    activations_bytes: int, overhead_bytes: int, *, engram_on_host: bool = False,
) -> Layout:
    devices = hw.devices()
    per_node = hw.devices_per_node
    heads = arch.num_attention_heads
    tp = per_node
    warnings: list[str] = []
    single_latent = arch.kv_lora_rank is not None or arch.family in ("deepseek_v4", "deepseek_v41")
    kv_heads = arch.num_key_value_heads
    # vLLM needs the query heads split evenly, and the KV heads split evenly or replicated evenly
    while tp > 1 and (heads % tp or (not single_latent and kv_heads % tp and tp % kv_heads)):
        tp -= 1
    per_stage_node = per_node // tp  # pipeline stages inside one node (a TP group never spans nodes)
    pp = hw.nodes * per_stage_node
    member = [(st // per_stage_node) * per_node + (st % per_stage_node) * tp for st in range(pp)]  # first device
    if tp != per_node:
        idle = len(devices) - tp * pp
        warnings.append(f"{heads} attention heads / {kv_heads} KV heads are not divisible by {per_node} GPUs: "
                        f"tensor parallel {tp}"
                        + (f", {idle} GPU(s) left idle" if idle else ""))
    if arch.num_key_value_heads < tp and not single_latent:
        warnings.append(
            f"{arch.num_key_value_heads} KV heads < tensor parallel {tp}: KV heads are replicated across ranks"
        )
    if not hw.is_homogeneous:
        warnings.append("tensor parallel with different GPUs: every rank is sized as the smallest one")
    L = arch.num_hidden_layers
    stage_of_layer = [min(pp - 1, layer * pp // L) for layer in range(L)]
    accs = [_Acc() for _ in range(pp)]
    host = _Acc()
    kv_frac = kv_tp_fraction(arch, tp)
    table = _table(tensors, arch)
    share_of = {_REP: 1.0, _KVPROJ: kv_frac, _SHARD: 1 / tp, _EXPERT: 1 / tp, _ENGRAM: 1 / tp, _EMBED: 1 / tp}
    for (layer, cls), _b in table.bytes.items():
        if cls == _ENGRAM and engram_on_host:
            host.add(table, layer, cls)
            continue
        if layer == _GLOBAL:
            stage = 0 if cls == _EMBED else pp - 1
        else:
            stage = stage_of_layer[layer]
            accs[stage].layers.append(layer)
        accs[stage].add(table, layer, cls, share_of[cls])
    used = [devices[member[st] + rank] for st in range(pp) for rank in range(tp)]
    budgets = [_budget(engine, d.capacity_bytes, tp * pp, activations_bytes, overhead_bytes) for d in used]
    cap = min(b[0] - b[1] - b[2] for b in budgets)  # a rank's room for weights + KV: the smallest one's
    slots: list[Slot] = []
    stages: list[tuple[int, ...]] = []
    for stage in range(pp):
        share = tuple(kv_frac if stage_of_layer[layer] == stage else 0.0 for layer in range(L))
        a = accs[stage]
        members = []
        for rank in range(tp):
            d = devices[member[stage] + rank]
            members.append(len(slots))
            dev_cap, dev_act, dev_ovh, _ = budgets[stage * tp + rank]
            slots.append(Slot(d.accelerator.name, d.index, "unified" if d.accelerator.unified_memory else "gpu",
                              d.node, min(dev_cap, cap + dev_act + dev_ovh), d.bandwidth_gb_s,
                              int(a.weights), a.fixed_read, int(a.experts), share, dev_act, dev_ovh,
                              _span(a.layers)))
        stages.append(tuple(members))
    if engram_on_host:
        slots.append(_host_slot(hw, host, L, set(), "Engram tables"))
    assumptions = [
        f"{engine.name}: tensor parallel {tp} x pipeline parallel {pp}; routed experts split evenly across ranks",
        *dict.fromkeys(b[3] for b in budgets if b[3]),
    ]
    if kv_frac == 1.0 and tp > 1:
        assumptions.append("the KV cache (one latent / single KV head) is replicated on every tensor-parallel rank")
    return Layout("tensor_parallel" if len(devices) > 1 else "single", "none", tuple(slots), tuple(stages),
                  tp=tp, pp=pp, engram_on_host=engram_on_host, warnings=tuple(warnings),
                  assumptions=tuple(assumptions))


# ----------------------------------------------------------------------------------- layer split


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
    table = _table(tensors, arch)
    layer_bytes = [0] * L
    for (layer, cls), b in table.bytes.items():
        if layer == _GLOBAL or (cls == _EXPERT and layer < cpu_moe_layers) or (cls == _ENGRAM and engram_on_host):
            continue
        layer_bytes[layer] += b
    for layer, kv in enumerate(kv_bytes_per_layer_hint[:L]):
        layer_bytes[layer] += kv
    devices = hw.devices()
    host_mode = not hw.is_unified  # llama.cpp's token embedding lives in host memory even without --ram
    budgets = [_budget(engine, d.capacity_bytes, 1, activations_bytes, overhead_bytes) for d in devices]
    # the output head (and final norm) is one more item of the split, after the last layer (llama.cpp
    # splits n_layer + 1 "layers"); the token embedding stays in host memory
    tail = sum(table.bytes.get((_GLOBAL, cls), 0) for cls in (_REP, _KVPROJ, _SHARD, _EXPERT, _ENGRAM, _EMBED)
               if not (host_mode and (cls == _EMBED or ngl <= 0)))
    where = _split(layer_bytes[first_gpu_layer:] + [tail], [c - a - o for c, a, o, _ in budgets])
    device_of_layer: list[int | None] = [None] * first_gpu_layer + list(where[:-1])
    tail_device = where[-1]
    accs = [_Acc() for _ in devices]
    host = _Acc()
    for (layer, cls), _b in table.bytes.items():
        if layer == _GLOBAL:
            # llama.cpp keeps token_embd in host memory; the output head goes where the split put it
            on_host = host_mode and (cls == _EMBED or ngl <= 0)
            target = tail_device
        else:
            d = device_of_layer[layer]
            on_host = d is None or (cls == _EXPERT and layer < cpu_moe_layers) or (cls == _ENGRAM and engram_on_host)
            target = d if d is not None else 0
        acc = host if on_host else accs[target]
        acc.add(table, layer, cls)
        if layer != _GLOBAL:
            acc.layers.append(layer)
    slots: list[Slot] = []
    for i, d in enumerate(devices):
        share = tuple(1.0 if device_of_layer[layer] == i else 0.0 for layer in range(L))
        a = accs[i]
        dev_cap, dev_act, dev_ovh, _ = budgets[i]
        slots.append(Slot(d.accelerator.name, d.index, "unified" if d.accelerator.unified_memory else "gpu",
                          d.node, dev_cap, d.bandwidth_gb_s, int(a.weights), a.fixed_read,
                          int(a.experts), share, dev_act, dev_ovh, _span(sorted(set(a.layers)))))
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
        slots.append(_host_slot(hw, host, L, host_kv, ", ".join(words),
                                small_only=not (cpu_moe_layers or first_gpu_layer or engram_on_host)))
        stages.append((len(slots) - 1,))
    stages = [(i,) for i in range(len(devices))] + stages
    offload = "layers" if first_gpu_layer > 0 else ("experts" if cpu_moe_layers else "none")
    if not devices:
        offload = "cpu"
    assumptions = list(dict.fromkeys(b[3] for b in budgets if b[3]))
    if len(devices) > 1:
        assumptions.append(f"{engine.name}: layers split across GPUs in proportion to their memory (layer split)")
    if cpu_moe_layers:
        assumptions.append(
            f"{engine.name}: routed experts of the first {cpu_moe_layers} of {L} layers in host RAM "
            f"(llama.cpp --n-cpu-moe {cpu_moe_layers}), computed by the CPU"
        )
    if first_gpu_layer:
        assumptions.append(f"{engine.name}: {ngl} of {L} layers on the GPU (-ngl {ngl}); the rest in host RAM")
    strategy = "unified" if hw.is_unified else ("layer_split" if len(devices) > 1 else "single")
    return Layout(strategy, offload, tuple(slots), tuple(stages), cpu_moe_layers=cpu_moe_layers,
                  gpu_layers=ngl, engram_on_host=engram_on_host, assumptions=tuple(assumptions))


def _split(items: Sequence[int], rooms: Sequence[int]) -> list[int]:
    """Device of each item (layers in order, then the output head): contiguous, in device order, in
    proportion to each device's room, as llama.cpp's --tensor-split / --fit do. When whole layers make that
    overfill a device although another cut would not, the cut that leaves the fullest device (relative to
    its room) least full wins: the smallest ratio at which filling the devices in order holds every item.
    """
    n = len(rooms)
    if n <= 1:
        return [0] * len(items)
    room = [max(r, 1) for r in rooms]
    total = sum(items) or 1
    out: list[int] = []
    cum, dev, bound = 0, 0, total * room[0] / sum(room)
    for b in items:
        while dev < n - 1 and cum + b / 2 > bound:
            dev += 1
            bound += total * room[dev] / sum(room)
        out.append(dev)
        cum += b
    fill = [0] * n
    for d, b in zip(out, items, strict=True):
        fill[d] += b
    if all(f <= r for f, r in zip(fill, rooms, strict=True)) or total > sum(max(r, 0) for r in rooms):
        return out  # fits as split, or fits no way

    def in_order(ratio: float) -> list[int] | None:
        res, d, f = [], 0, 0
        for b in items:
            while f + b > ratio * room[d]:
                d, f = d + 1, 0
                if d == n:
                    return None
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


def layouts_for(
    tensors: tuple[QuantizedTensor, ...], arch: Architecture, hw: Hardware, engine: Engine,
    activations_bytes: int, overhead_bytes: int, kv_layer_bytes: Sequence[int], offload: str = "auto",
) -> list[Layout]:
    """Candidate layouts for this engine and offload policy, best first; the caller evaluates them."""
    tp_engine = engine.tensor_parallel and not engine.layer_split
    has_engram = any(qt.tensor.role is Role.ENGRAM for qt in tensors)
    has_host = hw.host_ram_bytes is not None and not hw.is_unified
    engram_options = [False, True] if has_engram and has_host else [False]
    out: list[Layout] = []
    if not hw.devices():
        # no GPU: llama.cpp runs the whole model on the CPU from host RAM
        if has_host and engine.layer_split:
            out.append(layer_split(tensors, arch, hw, engine, 0, 0, gpu_layers=0,
                                   kv_bytes_per_layer_hint=kv_layer_bytes))
        return out
    for engram_on_host in engram_options:
        if tp_engine and not (engine.id == "ktransformers" and arch.is_moe):  # KTransformers: experts on the CPU
            out.append(tensor_parallel(tensors, arch, hw, engine, activations_bytes, overhead_bytes,
                                       engram_on_host=engram_on_host))
            continue
        base = layer_split(tensors, arch, hw, engine, activations_bytes, overhead_bytes,
                           engram_on_host=engram_on_host, kv_bytes_per_layer_hint=kv_layer_bytes)
        forced_experts = engine.id == "ktransformers" and arch.is_moe
        if offload in ("auto", "none") and not forced_experts:
            out.append(base)
        if not has_host and not forced_experts:
            continue
        L = arch.num_hidden_layers
        if arch.is_moe and engine.expert_offload and offload in ("auto", "experts"):
            n = L if forced_experts else _smallest(lambda n: layer_split(
                tensors, arch, hw, engine, activations_bytes, overhead_bytes, cpu_moe_layers=n,
                engram_on_host=engram_on_host, kv_bytes_per_layer_hint=kv_layer_bytes), kv_layer_bytes, L)
            out.append(layer_split(tensors, arch, hw, engine, activations_bytes, overhead_bytes, cpu_moe_layers=n,
                                   engram_on_host=engram_on_host, kv_bytes_per_layer_hint=kv_layer_bytes))
        if offload in ("auto", "layers") and engine.layer_split and not forced_experts:
            g = _largest_gpu_layers(tensors, arch, hw, engine, activations_bytes, overhead_bytes,
                                    kv_layer_bytes, engram_on_host)
            out.append(layer_split(tensors, arch, hw, engine, activations_bytes, overhead_bytes, gpu_layers=g,
                                   engram_on_host=engram_on_host, kv_bytes_per_layer_hint=kv_layer_bytes))
    return out


def _gpus_fit(layout: Layout, kv_layer_bytes: Sequence[int]) -> bool:
    v = evaluate(layout, kv_layer_bytes)
    return all(u.free_bytes >= 0 for u in v.usages if u.slot.kind != "host_ram")


def _smallest(make, kv_layer_bytes: Sequence[int], hi: int) -> int:  # type: ignore[no-untyped-def]
    """Smallest n in [0, hi] whose layout fits the GPUs (monotone: more layers offloaded, less GPU use)."""
    lo = 0
    if _gpus_fit(make(0), kv_layer_bytes):
        return 0
    while lo < hi:
        mid = (lo + hi) // 2
        if _gpus_fit(make(mid), kv_layer_bytes):
            hi = mid
        else:
            lo = mid + 1
    return hi


def _largest_gpu_layers(tensors, arch, hw, engine, act, ovh, kv_layer_bytes, engram_on_host) -> int:  # type: ignore[no-untyped-def]
    L = arch.num_hidden_layers
    n_off = _smallest(lambda n: layer_split(tensors, arch, hw, engine, act, ovh, gpu_layers=L - n,
                                            engram_on_host=engram_on_host, kv_bytes_per_layer_hint=kv_layer_bytes),
                      kv_layer_bytes, L)
    return L - n_off


def with_capacity(layout: Layout, index: int, capacity_bytes: int) -> Layout:
    """A copy with one slot's capacity changed (used by tests)."""
    slots = tuple(replace(s, capacity_bytes=capacity_bytes) if i == index else s for i, s in enumerate(layout.slots))
    return replace(layout, slots=slots)
