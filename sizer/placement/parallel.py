"""Tensor-parallel layouts (vLLM, SGLang, TensorRT-LLM, MLX).

Tensor parallel inside a node (the largest TP that divides the query heads and divides or is divided
by the KV heads), pipeline parallel across nodes and across TP groups of a node; per-rank shares from
:func:`sizer.placement.traffic.tp_fraction`. Every rank holds the same share, so with different cards the
smallest one decides what fits (each slot keeps its own capacity: the card that is short is the one named).
"""

from __future__ import annotations

from sizer.model.tensors import QuantizedTensor
from sizer.placement._devices import device_budget, host_slot, span
from sizer.placement._table import EMBED, ENGRAM, EXPERT, GLOBAL, KVPROJ, REP, SHARD, table_for
from sizer.placement.hardware import Hardware
from sizer.placement.layout import Layout, Slot
from sizer.placement.traffic import kv_tp_fraction
from sizer.schema import Architecture, Engine

__all__ = ["tensor_parallel"]


def tensor_parallel(
    tensors: tuple[QuantizedTensor, ...], arch: Architecture, hw: Hardware, engine: Engine,
    activations_bytes: int, overhead_bytes: int, *, engram_on_host: bool = False, tp_pin: int | None = None,
) -> Layout:
    devices = hw.devices()
    per_node = hw.devices_per_node
    heads = arch.num_attention_heads
    tp = per_node if tp_pin is None else min(tp_pin, per_node)
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
    L = arch.num_hidden_layers
    stage_of_layer = [min(pp - 1, layer * pp // L) for layer in range(L)]
    kv_frac = kv_tp_fraction(arch, tp)
    share_of = {REP: 1.0, KVPROJ: kv_frac, SHARD: 1 / tp, EXPERT: 1 / tp, ENGRAM: 1 / tp, EMBED: 1 / tp}
    # per stage, then host RAM at index pp: floats added in table order, as the bytes shares are fractional
    weights = [0.0] * (pp + 1)
    fixed_read = [0.0] * (pp + 1)
    experts = [0.0] * (pp + 1)
    layers: list[list[int]] = [[] for _ in range(pp)]
    for layer, cls, b, r in table_for(tensors, arch).entries:
        if cls == ENGRAM and engram_on_host:
            stage, frac = pp, 1.0
        else:
            if layer == GLOBAL:
                stage = 0 if cls == EMBED else pp - 1
            else:
                stage = stage_of_layer[layer]
                layers[stage].append(layer)
            frac = share_of[cls]
        if not b:
            continue
        weights[stage] += b * frac
        if cls == EXPERT:
            experts[stage] += b * frac
        else:
            fixed_read[stage] += r * frac
    used = [devices[member[st] + rank] for st in range(pp) for rank in range(tp)]
    budgets = [device_budget(engine, d.capacity_bytes, tp * pp, activations_bytes, overhead_bytes) for d in used]
    if not hw.is_homogeneous:
        smallest = min(range(len(used)), key=lambda i: budgets[i][0] - budgets[i][1] - budgets[i][2])
        warnings.append(f"tensor parallel with different GPUs: every rank holds the same share, so the smallest "
                        f"({used[smallest].accelerator.name}) decides what fits; the others' extra memory stays unused")
    slots: list[Slot] = []
    stages: list[tuple[int, ...]] = []
    for stage in range(pp):
        share = tuple(kv_frac if stage_of_layer[layer] == stage else 0.0 for layer in range(L))
        members = []
        for rank in range(tp):
            d = devices[member[stage] + rank]
            members.append(len(slots))
            dev_cap, dev_act, dev_ovh, _ = budgets[stage * tp + rank]
            slots.append(Slot(d.accelerator.name, d.index, "unified" if d.accelerator.unified_memory else "gpu",
                              d.node, dev_cap, d.bandwidth_gb_s,
                              int(weights[stage]), fixed_read[stage], int(experts[stage]), share, dev_act, dev_ovh,
                              span(layers[stage])))
        stages.append(tuple(members))
    if engram_on_host:
        slots.append(host_slot(hw, int(weights[pp]), fixed_read[pp], int(experts[pp]), L, (), "Engram tables"))
    assumptions = [
        f"{engine.name}: tensor parallel {tp} x pipeline parallel {pp}; routed experts split evenly across ranks",
        *dict.fromkeys(b[3] for b in budgets if b[3]),
    ]
    if kv_frac == 1.0 and tp > 1:
        assumptions.append("the KV cache (one latent / single KV head) is replicated on every tensor-parallel rank")
    return Layout("tensor_parallel" if len(devices) > 1 else "single", "none", tuple(slots), tuple(stages),
                  tp=tp, pp=pp, engram_on_host=engram_on_host, warnings=tuple(warnings),
                  assumptions=tuple(assumptions))
