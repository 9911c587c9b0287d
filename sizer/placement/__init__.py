"""Place weights, KV cache, activations and overhead on devices, as each engine really does it.

A *layout* decides where every tensor and every layer's KV cache lives; *evaluating* it against a
workload's KV bytes gives per-device usage and the verdict. Layouts are built once per
(model, quant, hardware, engine, strategy) and evaluated cheaply for many contexts (max_context
search, recommendation).

Strategies (see ../shared/reference/engines.md), one module each:
- ``tensor_parallel`` (vLLM, SGLang, TensorRT-LLM, MLX; :mod:`.parallel`): tensor parallel inside a
  node, pipeline parallel across nodes and across TP groups of a node.
- ``layer_split`` (llama.cpp, Ollama; :mod:`.split`): whole layers, then the output head, on devices
  in order and in proportion to their room, with a cut that fits when the proportional one would
  overfill a device; KV with its layer; the token embedding in host memory.
- ``experts`` offload (llama.cpp ``--n-cpu-moe N``; KTransformers: all layers) and ``layers`` offload
  (llama.cpp ``-ngl``): chosen by :mod:`.candidates`, N as small as fits.

Modules: :mod:`.layout` (records, evaluation), :mod:`._table` (bytes per layer and tensor class, once
per inventory), :mod:`._devices` (engine budgets per device, host RAM), :mod:`.parallel`,
:mod:`.split`, :mod:`.candidates`.
"""

from __future__ import annotations

from sizer.placement._devices import HOST_OS_RESERVE_FRACTION, HOST_OS_RESERVE_MIN_GIB, host_capacity_bytes
from sizer.placement.candidates import layouts_for
from sizer.placement.layout import GIB, Layout, Slot, SlotUsage, Verdict, evaluate, with_capacity
from sizer.placement.parallel import tensor_parallel
from sizer.placement.split import layer_split

__all__ = [
    "GIB", "HOST_OS_RESERVE_FRACTION", "HOST_OS_RESERVE_MIN_GIB", "Layout", "Slot", "SlotUsage", "Verdict",
    "evaluate", "host_capacity_bytes", "layer_split", "layouts_for", "tensor_parallel", "with_capacity",
]
