"""The offload searches' fast check agrees with building the layout and evaluating it.

`candidates._Probe` answers "do the GPUs hold this split?" from per-layer sums; `layer_split` +
`evaluate` is the reference. They must never drift apart.
"""

from __future__ import annotations

from functools import cache

from hypothesis import given, settings
from hypothesis import strategies as st

from sizer.catalog.loading import load_catalog
from sizer.memory.activations import runtime_overhead_bytes
from sizer.memory.breakdown import Workload
from sizer.model.reference import resolve_model
from sizer.placement import evaluate, layer_split
from sizer.placement._devices import device_budget
from sizer.placement._table import table_for
from sizer.placement.candidates import _Probe
from sizer.placement.hardware import build_hardware
from sizer.quant.assignment import resolve_quant
from sizer.sizing.fitter import Fitter

CAT = load_catalog()
MODELS = ["mixtral-8x7b", "qwen3-30b-a3b", "gpt-oss-20b", "llama-3.1-8b", "deepseek-v3"]
GPUS = ["RTX 3060", "RTX 3090", "RTX 4090", "RTX 5090", "RTX A6000"]


@cache
def fitter(model: str, quant: str, context: int) -> Fitter:
    resolved = resolve_model(model, CAT)
    return Fitter(resolved, resolve_quant(quant, resolved.entry, CAT), CAT.engine("llama.cpp"),
                  Workload(context), CAT)


def _gpus_fit(layout, kv) -> bool:
    return all(u.free_bytes >= 0 for u in evaluate(layout, kv).usages if u.slot.kind != "host_ram")


@settings(max_examples=25, deadline=None)
@given(
    model=st.sampled_from(MODELS),
    quant=st.sampled_from(["q4_k_m", "q8_0", "q2_k"]),
    context=st.sampled_from([2048, 32768]),
    gpus=st.lists(st.tuples(st.sampled_from(GPUS), st.integers(1, 2)), min_size=1, max_size=2),
)
def test_probe_agrees_with_the_built_layout(model, quant, context, gpus) -> None:
    f = fitter(model, quant, context)
    arch, engine = f.model.arch, f.engine
    hw = build_hardware(CAT, tuple(gpus), ram_bytes=2048 * 10**9)
    kv = f.memory.kv_layer_bytes  # type: ignore[union-attr]
    act, ovh = 512 * 2**20, runtime_overhead_bytes(engine)
    rooms = [c - a - o for c, a, o, _ in (device_budget(engine, d.capacity_bytes, 1, act, ovh)
                                           for d in hw.devices())]
    probe = _Probe(table_for(f.tensors, arch), kv, rooms, True, False)
    L = arch.num_hidden_layers
    for n in range(L + 1):  # every N, so the boundary the binary search looks for is always checked
        if arch.is_moe:
            built = layer_split(f.tensors, arch, hw, engine, act, ovh, cpu_moe_layers=n,
                                kv_bytes_per_layer_hint=kv)
            assert probe.experts_fit(n) == _gpus_fit(built, kv), n
        built = layer_split(f.tensors, arch, hw, engine, act, ovh, gpu_layers=L - n, kv_bytes_per_layer_hint=kv)
        assert probe.layers_fit(n) == _gpus_fit(built, kv), n
