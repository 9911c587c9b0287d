"""Serving layouts of vLLM / SGLang / TensorRT-LLM beyond one tensor-parallel group.

- **Data-parallel attention** (SGLang ``--enable-dp-attention``, vLLM ``--data-parallel-size N
  --enable-expert-parallel``, TensorRT-LLM ``enable_attention_dp``; MoE models): every rank of the group
  keeps the whole attention (its weights are not sharded) and runs attention for its own requests only,
  so it holds only their KV cache; the routed experts are spread over the group by expert (EP, with an
  all-to-all per MoE layer) and the other weights (dense FFN, shared experts, embedding, head) are
  sharded as in tensor parallel. This is what makes an MLA model (one latent "KV head", replicated on
  every tensor-parallel rank) hold ~N times more sequences on N GPUs.
  https://docs.sglang.io/docs/advanced_features/dp_dpa_smg_guide
- **Replicas** (data parallel, ``--data-parallel-size`` / ``--dp`` without DP attention, or one engine per
  GPU group behind a router): R independent copies, each a tensor-parallel (x pipeline-parallel) group of
  the GPUs / R; each holds the whole model and the KV of its share of the requests.
- **Expert parallel** on a tensor-parallel layout (vLLM ``--enable-expert-parallel``): the same bytes per
  rank as sharding the experts by column; it changes the collectives (all-to-all), recorded in ``ep``.

The layouts are built from :func:`sizer.placement.parallel.tensor_parallel` on one group and adjusted, so
the memory rules stay in one place.
"""

from __future__ import annotations

from dataclasses import replace

from sizer.model.tensors import QuantizedTensor, Role
from sizer.placement.hardware import Hardware
from sizer.placement.layout import Layout, Slot
from sizer.placement.parallel import tensor_parallel
from sizer.placement.traffic import tp_fraction
from sizer.schema import Architecture, Engine

__all__ = ["LayoutPins", "dp_attention", "group_hardware", "replicas", "serving_layouts", "with_expert_parallel"]

DP_ATTENTION_SOURCE = "https://docs.sglang.io/docs/advanced_features/dp_dpa_smg_guide"
_ATTENTION_ROLES = frozenset({Role.ATTENTION, Role.INDEXER})
_EXTRA: dict[tuple[int, int], tuple[tuple[QuantizedTensor, ...], tuple[tuple[float, float], ...]]] = {}


class LayoutPins:
    """Degrees pinned on the command line (`--tp/--pp/--ep/--dp`); None leaves one free."""

    __slots__ = ("dp", "ep", "pp", "tp")

    def __init__(self, tp: int | None = None, pp: int | None = None, ep: int | None = None,
                 dp: int | None = None) -> None:
        self.tp, self.pp, self.ep, self.dp = tp, pp, ep, dp

    def describe(self) -> str:
        return " ".join(f"--{k} {v}" for k, v in (("tp", self.tp), ("pp", self.pp), ("ep", self.ep), ("dp", self.dp))
                        if v is not None)

    @property
    def any(self) -> bool:
        return any(v is not None for v in (self.tp, self.pp, self.ep, self.dp))

    def admit(self, layout: Layout) -> bool:
        attention_tp = layout.tp // max(layout.attention_dp, 1)
        dp = layout.attention_dp * layout.replicas
        return ((self.tp is None or self.tp in (layout.tp, attention_tp))
                and (self.pp is None or self.pp == layout.pp)
                and (self.ep is None or self.ep == layout.ep or (self.ep <= 1 and layout.ep <= 1))
                and (self.dp is None or self.dp == dp))


def _attention_extra(tensors: tuple[QuantizedTensor, ...], arch: Architecture, tp: int) -> tuple[tuple[float, float], ...]:
    """Per layer: (bytes, bytes read per token) a rank adds when it keeps the whole attention instead of
    its tensor-parallel share."""
    hit = _EXTRA.get((id(tensors), tp))
    if hit is not None and hit[0] is tensors:
        return hit[1]
    L = arch.num_hidden_layers
    extra = [[0.0, 0.0] for _ in range(L)]
    for qt in tensors:
        t = qt.tensor
        if t.is_mtp or t.layer is None or t.role not in _ATTENTION_ROLES:
            continue
        add = qt.weights_bytes * (1.0 - tp_fraction(t, arch, tp))
        row = extra[min(t.layer, L - 1)]
        row[0] += add
        row[1] += add
    out = tuple((a, b) for a, b in extra)
    if len(_EXTRA) > 64:
        _EXTRA.clear()
    _EXTRA[(id(tensors), tp)] = (tensors, out)
    return out


def _layers_of(slot: Slot, n_layers: int) -> list[int]:
    return [i for i in range(n_layers) if slot.kv_share[i] > 0]


def dp_attention(base: Layout, tensors: tuple[QuantizedTensor, ...], arch: Architecture, engine: Engine) -> Layout:
    """The tensor-parallel layout `base` turned into data-parallel attention over each TP group (+ EP)."""
    g = base.tp
    extra = _attention_extra(tensors, arch, g)
    L = arch.num_hidden_layers
    slots = []
    for s in base.slots:
        if s.kind == "host_ram":
            slots.append(s)
            continue
        layers = _layers_of(s, L)
        add_b = sum(extra[i][0] for i in layers)
        add_r = sum(extra[i][1] for i in layers)
        share = tuple(1.0 / g if i in set(layers) else 0.0 for i in range(L))
        slots.append(replace(s, weights_bytes=int(s.weights_bytes + add_b), fixed_read_bytes=s.fixed_read_bytes + add_r,
                             kv_share=share))
    assumptions = [a for a in base.assumptions if "replicated on every tensor-parallel rank" not in a
                   and "tensor parallel" not in a]
    assumptions.insert(0, f"{engine.name}: data-parallel attention over {g} GPUs x pipeline parallel {base.pp}: each "
                          f"GPU keeps the whole attention and the KV cache of its own 1/{g} of the requests "
                          f"(requests spread evenly); routed experts spread by expert over the {g} GPUs "
                          f"(expert parallel, all-to-all per MoE layer); other weights sharded as in tensor "
                          f"parallel ({DP_ATTENTION_SOURCE})")
    warnings = tuple(w for w in base.warnings if "KV heads are replicated" not in w)
    return replace(base, slots=tuple(slots), attention_dp=g, ep=g, warnings=warnings, assumptions=tuple(assumptions))


def with_expert_parallel(base: Layout, engine: Engine) -> Layout:
    """A tensor-parallel layout whose routed experts are spread by expert (same bytes per rank)."""
    note = (f"{engine.name}: expert parallel {base.tp}: whole routed experts spread over the tensor-parallel "
            "ranks (all-to-all per MoE layer); attention stays tensor parallel")
    return replace(base, ep=base.tp, assumptions=(*base.assumptions, note))


def group_hardware(hw: Hardware, group: int) -> Hardware | None:
    """The hardware of one replica of `group` devices, or None when `group` does not tile the machine."""
    if not hw.is_homogeneous or not hw.accelerators:
        return None
    acc, count = hw.accelerators[0]
    per_node = hw.devices_per_node
    total = per_node * hw.nodes
    if group <= 0 or total % group or group == total:
        return None
    if group < per_node:
        if acc.devices_per_package != 1 or per_node % group:
            return None
        return replace(hw, accelerators=((acc, group),), nodes=1)
    if group % per_node:
        return None
    return replace(hw, nodes=group // per_node)


def replicas(one: Layout, hw: Hardware, group: int) -> Layout:
    """R = devices / group copies of the one-group layout `one`, each with 1/R of the requests' KV."""
    per_node = hw.devices_per_node
    r = hw.devices_per_node * hw.nodes // group
    slots = []
    for k in range(r):
        for s in one.slots:
            if s.kind == "host_ram":
                continue
            index = k * group + s.index
            slots.append(replace(s, index=index, node=index // per_node,
                                 kv_share=tuple(x / r for x in s.kv_share)))
    note = (f"{r} independent replicas of {group} GPU(s) behind a router (data parallel): each holds the whole "
            f"model and the KV cache of 1/{r} of the requests (spread evenly)")
    return replace(one, slots=tuple(slots), replicas=r, assumptions=(note, *one.assumptions))


def serving_layouts(tensors: tuple[QuantizedTensor, ...], arch: Architecture, hw: Hardware, engine: Engine,
                    activations_bytes: int, overhead_bytes: int, base: Layout | None,
                    pins: LayoutPins | None = None) -> list[Layout]:
    """Layouts beyond the default tensor-parallel one: DP attention, expert parallel, replicas, pinned TP."""
    pins = pins or LayoutPins()
    out: list[Layout] = []
    moe = arch.is_moe
    bases: list[Layout] = [] if base is None else [base]
    if pins.tp is not None and base is not None and pins.tp != base.tp and pins.tp <= hw.devices_per_node:
        pinned = tensor_parallel(tensors, arch, hw, engine, activations_bytes, overhead_bytes, tp_pin=pins.tp)
        if pinned.tp == pins.tp:
            bases.append(pinned)
            out.append(pinned)
    for b in bases:
        if moe and engine.expert_parallel and b.tp > 1:
            if getattr(engine, "attention_data_parallel", False):
                out.append(dp_attention(b, tensors, arch, engine))
            out.append(with_expert_parallel(b, engine))
    total = hw.devices_per_node * hw.nodes
    for group in range(1, total):
        sub = group_hardware(hw, group)
        if sub is None:
            continue
        r = total // group
        if pins.dp is not None and pins.dp != r:
            continue
        one = tensor_parallel(tensors, arch, sub, engine, activations_bytes, overhead_bytes,
                              tp_pin=pins.tp if pins.tp is not None and pins.tp <= group else None)
        if one.tp * one.pp != group:
            continue  # the heads do not split over the group: some GPUs would idle
        out.append(replicas(one, hw, group))
    return out


def layout_words(layout: Layout) -> str:
    """'2 replicas x tensor parallel 4', 'data-parallel attention 8 + expert parallel 8', ..."""
    if layout.attention_dp > 1:
        text = f"data-parallel attention {layout.attention_dp} + expert parallel {layout.ep}"
    elif layout.tp > 1 or layout.pp > 1:
        text = f"tensor parallel {layout.tp}" + (f" + expert parallel {layout.ep}" if layout.ep > 1 else "")
    else:
        text = "one GPU"
    if layout.pp > 1:
        text += f" x pipeline parallel {layout.pp}"
    if layout.replicas > 1:
        text = f"{layout.replicas} replicas of " + text
    return text
