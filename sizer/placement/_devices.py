"""What each engine lets a layout use of a device, and host RAM as a device.

Each engine budgets a device its own way (:func:`device_budget`): vLLM and TensorRT-LLM a
gpu_memory_utilization fraction holding activations and overhead; SGLang and KTransformers the device
minus a size-dependent reserve (engine.device_tiers reserved_gib) outside their static weights + KV
pool; llama.cpp all of it. Host RAM keeps a reserve for the operating system (:func:`host_capacity_bytes`).
"""

from __future__ import annotations

from collections.abc import Collection

from sizer.placement.hardware import Hardware
from sizer.placement.layout import GIB, Slot
from sizer.schema import Engine

__all__ = ["HOST_OS_RESERVE_FRACTION", "HOST_OS_RESERVE_MIN_GIB", "device_budget", "host_capacity_bytes",
           "host_slot", "span"]

HOST_OS_RESERVE_FRACTION = 0.05  # of host RAM, at least HOST_OS_RESERVE_MIN_GIB, kept for the OS
HOST_OS_RESERVE_MIN_GIB = 4.0


def host_capacity_bytes(ram_bytes: int) -> int:
    reserve = max(HOST_OS_RESERVE_FRACTION * ram_bytes, HOST_OS_RESERVE_MIN_GIB * GIB)
    return int(ram_bytes - reserve)


def span(layers: list[int]) -> str:
    """'layers 3-9', 'layer 4' or '' for the layers a slot holds."""
    if not layers:
        return ""
    return f"layers {min(layers)}-{max(layers)}" if len(layers) > 1 else f"layer {layers[0]}"


def host_slot(hw: Hardware, weights_bytes: int, fixed_read_bytes: float, routed_expert_bytes: int,
              n_layers: int, kv_layers: Collection[int], label: str, *, small_only: bool = False) -> Slot:
    """Host RAM as a device. Its size unknown (no --ram), it is assumed to hold what every machine can
    (llama.cpp's token embedding: `small_only`) and to hold nothing else, so an offload without --ram
    shows how much RAM it needs."""
    share = tuple(1.0 if layer in kv_layers else 0.0 for layer in range(n_layers))
    known = hw.host_ram_bytes is not None
    if known:
        cap = host_capacity_bytes(hw.host_ram_bytes or 0)
    else:
        cap = weights_bytes if small_only else 0
        label += " (host RAM size not given)"
    return Slot("host RAM", -1, "host_ram", 0, cap, hw.host_ram_bandwidth_gb_s or 0.0, weights_bytes,
                fixed_read_bytes, routed_expert_bytes, share, 0, 0, label, capacity_known=known)


def device_budget(engine: Engine, capacity_bytes: int, group: int, activations_bytes: int,
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
        if t.reserved_gib is not None and t.min_device_gib <= gib and (
                tier is None or t.min_device_gib > tier.min_device_gib):
            tier = t
    if tier is not None and tier.reserved_gib is not None:
        reserve = int((tier.reserved_gib + 0.125 * (group - 1)) * GIB)
        return capacity_bytes, max(reserve - overhead_bytes, 0), overhead_bytes, (
            f"{engine.name} keeps {reserve / GIB:.2f} GiB of each {gib:.0f} GiB device outside its static "
            f"weights + KV pool (mem_fraction_static rule) for activations, CUDA graphs and the runtime")
    util = engine.gpu_memory_utilization
    note = f"{engine.name} budgets {util:.0%} of each GPU (gpu_memory_utilization)" if util < 1 else ""
    return int(capacity_bytes * util), activations_bytes, overhead_bytes, note
