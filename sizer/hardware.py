"""Hardware a model is placed on: accelerators x count x nodes, host RAM, links.

Built from `--gpu NAME[:COUNT]` (repeatable), `--nodes`, `--ram`, `--system`, or the local machine.
Capacities here are what the *device* offers; an engine's own cap (vLLM's gpu_memory_utilization)
is applied in placement.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .catalog import Catalog
from .schema import Accelerator, System

__all__ = [
    "APPLE_WORKING_SET_SOURCE",
    "Device",
    "Hardware",
    "build_hardware",
    "device_capacity_bytes",
    "guess_ram_bandwidth",
    "pcie_gb_s_per_direction",
]

GIB = 2**30

# macOS caps what Metal may wire for the GPU (recommendedMaxWorkingSetSize): about 2/3 of RAM up to
# 36 GB machines and about 3/4 above (observed defaults; `sudo sysctl iogpu.wired_limit_mb=N` raises it).
APPLE_WORKING_SET_SOURCE = "https://github.com/ggml-org/llama.cpp/issues/3213"
# Other unified-memory machines (DGX Spark, Strix Halo under Linux GTT): the OS and its page cache keep
# some of the pool; we reserve this much for them.
UNIFIED_OS_RESERVE_GIB = 4.0

# PCIe x16 per direction after encoding, GB/s (hosts.yaml interconnects.pcie; source below).
_PCIE_X16_GB_S = {3: 15.75, 4: 31.5, 5: 63.0, 6: 121.0}
PCIE_SOURCE = "https://hpc-notes.pages.dev/reference/pcie"


# When only --ram is given, guess the platform from the amount of RAM (peak = channels x DDR5 rate;
# hosts.yaml platforms, https://www.ai-hpc.org/en/guide/02-cluster/stream-benchmark):
# up to 256 GB a dual-channel DDR5-5600 desktop, up to 1 TB an 8-channel DDR5-5200 workstation,
# above that a 12-channel DDR5-4800 EPYC Genoa socket.
_RAM_PLATFORMS = (
    (256e9, 89.6, "dual-channel DDR5-5600 desktop"),
    (1024e9, 332.8, "8-channel DDR5-5200 workstation (Threadripper PRO / Xeon W)"),
    (float("inf"), 460.8, "12-channel DDR5-4800 server socket (EPYC 9004)"),
)


def guess_ram_bandwidth(ram_bytes: int) -> tuple[float, str]:
    for limit, gb_s, label in _RAM_PLATFORMS:
        if ram_bytes <= limit:
            return gb_s, (f"host RAM bandwidth {gb_s:g} GB/s peak assumed for {ram_bytes / 1e9:.0f} GB "
                          f"({label}); set --ram-bandwidth or --system for your machine")
    raise AssertionError("unreachable")


def pcie_gb_s_per_direction(acc: Accelerator) -> float:
    gen = acc.pcie_gen or 4
    return _PCIE_X16_GB_S.get(gen, 31.5) * acc.pcie_lanes / 16


def device_capacity_bytes(acc: Accelerator, *, wired_limit_bytes: int | None = None) -> tuple[int, str | None]:
    """Bytes a runtime can allocate on one device, and the assumption behind it (for unified memory)."""
    pool = int(acc.memory_gib_usable * GIB)
    if not acc.unified_memory:
        return pool, None
    if acc.vendor.lower() == "apple":
        if wired_limit_bytes:
            return min(pool, wired_limit_bytes), f"{acc.name}: GPU limited to iogpu.wired_limit_mb"
        fraction = 2 / 3 if acc.memory_gb_marketed <= 36 else 3 / 4
        return int(pool * fraction), (
            f"{acc.name}: macOS lets the GPU wire {fraction:.0%} of {acc.memory_gb_marketed:g} GB by default "
            f"(raise with `sudo sysctl iogpu.wired_limit_mb=N`; {APPLE_WORKING_SET_SOURCE})"
        )
    reserve = int(UNIFIED_OS_RESERVE_GIB * GIB)
    return pool - reserve, f"{acc.name}: {UNIFIED_OS_RESERVE_GIB:g} GiB of the unified pool kept for the OS"


@dataclass(frozen=True, slots=True)
class Device:
    accelerator: Accelerator
    index: int
    node: int
    capacity_bytes: int


@dataclass(frozen=True)
class Hardware:
    """Accelerators (per node, possibly mixed), node count, host RAM and links."""

    accelerators: tuple[tuple[Accelerator, int], ...]  # per node
    nodes: int = 1
    host_ram_bytes: int | None = None
    host_ram_bandwidth_gb_s: float | None = None
    intra_node_link_gb_s: float | None = None  # bidirectional, per device
    inter_node_link_gb_s: float | None = None  # per direction, per device
    system: System | None = None
    wired_limit_bytes: int | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def gpus_per_node(self) -> int:
        return sum(n for _, n in self.accelerators)

    @property
    def gpu_count(self) -> int:
        return self.gpus_per_node * self.nodes

    @property
    def is_unified(self) -> bool:
        return any(a.unified_memory for a, _ in self.accelerators)

    @property
    def is_homogeneous(self) -> bool:
        return len({a.id for a, _ in self.accelerators}) <= 1

    def devices(self) -> tuple[Device, ...]:
        out: list[Device] = []
        for node in range(self.nodes):
            for acc, count in self.accelerators:
                cap, _ = device_capacity_bytes(acc, wired_limit_bytes=self.wired_limit_bytes)
                for _ in range(count):
                    out.append(Device(acc, len(out), node, cap))
        return tuple(out)

    def describe(self) -> str:
        parts = [f"{n}x {a.name}" for a, n in self.accelerators]
        text = " + ".join(parts) if parts else "no GPU"
        if self.nodes > 1:
            text = f"{self.nodes} nodes of {text}"
        if self.host_ram_bytes:
            text += f" + {self.host_ram_bytes / 1e9:.0f} GB RAM"
        return text

    def capacity_notes(self) -> tuple[str, ...]:
        seen: dict[str, str] = {}
        for acc, _ in self.accelerators:
            _, note = device_capacity_bytes(acc, wired_limit_bytes=self.wired_limit_bytes)
            if note:
                seen[acc.id] = note
        return (*self.notes, *seen.values())


def build_hardware(
    catalog: Catalog,
    gpus: tuple[tuple[str, int], ...] = (),
    *,
    nodes: int = 1,
    ram_bytes: int | None = None,
    ram_bandwidth_gb_s: float | None = None,
    system: str | None = None,
    wired_limit_bytes: int | None = None,
) -> Hardware:
    """Resolve names against the catalog. A system brings its GPUs, RAM, RAM bandwidth and links;
    explicit --gpu / --ram / --nodes given alongside override the system's."""
    sys_entry = catalog.system(system) if system else None
    accs: list[tuple[Accelerator, int]] = []
    for name, count in gpus:
        acc = catalog.accelerator(name)
        for i, (a, n) in enumerate(accs):
            if a.id == acc.id:
                accs[i] = (a, n + count)
                break
        else:
            accs.append((acc, count))
    if sys_entry is not None and not accs:
        accs = [(catalog.accelerator(s.accelerator), s.count) for s in sys_entry.accelerators]
        if nodes == 1:
            nodes = sys_entry.nodes
    if sys_entry is not None:
        if ram_bytes is None and sys_entry.host_ram_gb:
            ram_bytes = int(sys_entry.host_ram_gb * 1e9)
        ram_bandwidth_gb_s = ram_bandwidth_gb_s or sys_entry.host_ram_bandwidth_gb_s
    notes: list[str] = []
    if ram_bytes and not ram_bandwidth_gb_s:
        ram_bandwidth_gb_s, note = guess_ram_bandwidth(ram_bytes)
        notes.append(note)
    intra = sys_entry.intra_node_link_gb_s if sys_entry else None
    inter = sys_entry.inter_node_link_gb_s if sys_entry else None
    if intra is None and accs:
        first = accs[0][0]
        same = len(accs) == 1
        count = accs[0][1]
        if same and first.interconnect_gb_s and first.max_per_node and count <= first.max_per_node:
            intra = first.interconnect_gb_s
        else:
            intra = 2 * min(pcie_gb_s_per_direction(a) for a, _ in accs)
    if nodes > 1 and inter is None:
        inter = 50.0  # one 400 Gb/s NIC per GPU (DGX H100 class); stated in assumptions by placement
    return Hardware(
        accelerators=tuple(accs),
        nodes=nodes,
        host_ram_bytes=ram_bytes,
        host_ram_bandwidth_gb_s=ram_bandwidth_gb_s,
        intra_node_link_gb_s=intra,
        inter_node_link_gb_s=inter,
        system=sys_entry,
        wired_limit_bytes=wired_limit_bytes,
        notes=tuple(notes),
    )
