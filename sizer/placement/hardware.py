"""Hardware a model is placed on: accelerators x count x nodes, host RAM, links.

Built from `--gpu NAME[:COUNT]` (repeatable), `--nodes`, `--ram`, `--system`, or the local machine.
Capacities here are what the *device* offers; an engine's own cap (vLLM's gpu_memory_utilization)
is applied in placement.

COUNT counts packages: a package of several devices (MI250X: 2 GCDs, A16: 4 GPUs, Ascend 910C: 2 dies)
gives that many devices, each with an equal share of its memory and bandwidth. With a unified-memory
chip (Apple, DGX Spark, Strix Halo) `--ram` is the machine's memory, i.e. the chip's pool, not a second
tier: the GPU's share of it is the device capacity and there is no separate host RAM.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sizer.catalog.loading import Catalog
from sizer.errors import BadValueError
from sizer.limits import MAX_DEVICES, MAX_GPUS_PER_NODE, MAX_NODES
from sizer.schema import Accelerator, Host, System
from sizer.schema.host import pcie_gb_s_per_direction as _pcie_gen_lanes_gb_s

__all__ = [
    "APPLE_WORKING_SET_SOURCE",
    "Device",
    "Hardware",
    "build_hardware",
    "device_capacity_bytes",
    "host_for_ram",
    "pcie_gb_s_per_direction",
    "unified_pool_bytes",
]

GIB = 2**30

# macOS caps what Metal may wire for the GPU (recommendedMaxWorkingSetSize): about 2/3 of RAM up to
# 36 GB machines and about 3/4 above (observed defaults; `sudo sysctl iogpu.wired_limit_mb=N` raises it).
APPLE_WORKING_SET_SOURCE = "https://github.com/ggml-org/llama.cpp/issues/3213"
# Other unified-memory machines (DGX Spark, Strix Halo under Linux GTT): the OS and its page cache keep
# some of the pool; we reserve this much for them.
UNIFIED_OS_RESERVE_GIB = 4.0

# PCIe per direction after encoding: GT/s x lanes x 128/130 / 8 (sizer.schema.host; source below).
PCIE_SOURCE = "https://hpc-notes.pages.dev/reference/pcie"


def pcie_gb_s_per_direction(acc: Accelerator, slot_lanes: int | None = None, slot_gen: int | None = None) -> float:
    """Per-direction PCIe bandwidth of `acc`'s host link: the narrower of the card and its slot."""
    gen = min(acc.pcie_gen or 4, slot_gen or 6)
    return _pcie_gen_lanes_gb_s(gen, min(acc.pcie_lanes, slot_lanes or 16))


def host_for_ram(catalog: Catalog, ram_bytes: int, ram_type: str = "DDR5") -> Host | None:
    """The host a bare `--ram SIZE[:TYPE]` is read as: the smallest one-socket catalog host of that type that
    takes the RAM, among the classes recommend builds (`in_search`) where one does (DDR5: two channels up to
    256 GB, eight up to 1 TB, twelve above), else among every host of the type (DDR4)."""
    of_type = [h for h in catalog.hosts.values() if h.memory_type == ram_type and h.cpu_sockets == 1]
    pool = [h for h in of_type if h.in_search] or of_type
    fits = [h for h in pool if h.max_ram_gb * 1e9 >= ram_bytes]
    return min(fits, key=lambda h: (h.memory_channels, h.max_ram_gb), default=None)


def device_capacity_bytes(
    acc: Accelerator, *, wired_limit_bytes: int | None = None, pool_bytes: int | None = None
) -> tuple[int, str | None]:
    """Bytes a runtime can allocate on one package, and the assumption behind it (for unified memory).

    `pool_bytes` is a unified-memory machine's own RAM size (--ram); without it the catalog entry's pool
    (its largest configuration) is used. A package of `devices_per_package` devices (MI250X, A16) is
    shared equally by them: see `Hardware.devices`.
    """
    pool = int(acc.memory_gib_usable * GIB)
    if not acc.unified_memory:
        return pool, None
    size = f"{acc.memory_gb_marketed:g} GB"
    if pool_bytes is not None:
        pool, size = pool_bytes, f"{pool_bytes / GIB:.0f} GiB"
    if acc.vendor.lower() == "apple":
        if wired_limit_bytes:
            return min(pool, wired_limit_bytes), (
                f"{acc.name}: GPU limited to iogpu.wired_limit_mb = {wired_limit_bytes // 2**20} MiB")
        fraction = 2 / 3 if pool <= 36 * GIB else 3 / 4
        return int(pool * fraction), (
            f"{acc.name}: macOS lets the GPU wire {fraction:.0%} of {size} by default "
            f"(raise with `sudo sysctl iogpu.wired_limit_mb=N`; {APPLE_WORKING_SET_SOURCE})"
        )
    reserve = int(UNIFIED_OS_RESERVE_GIB * GIB)
    if wired_limit_bytes:
        return min(pool - reserve, wired_limit_bytes), f"{acc.name}: GPU memory limited to {wired_limit_bytes / GIB:.1f} GiB"
    return pool - reserve, f"{acc.name}: {UNIFIED_OS_RESERVE_GIB:g} GiB of the {size} unified pool kept for the OS"


def unified_pool_bytes(acc: Accelerator, ram_bytes: int) -> tuple[int, str]:
    """A unified-memory machine's pool from --ram, and how it was read.

    Unified memory is sold in binary gigabytes (a "96GB" Mac has 96 GiB, as the catalog maps this chip's
    marketed GB to usable GiB), so a whole number of decimal GB (`--ram 96`, `96GB`) is read as that many
    GiB; an exact byte count (`96GiB`, or what `sizer detect` reads) is taken as is. Capped at the chip's
    largest configuration (the catalog entry).
    """
    pool = ram_bytes
    if ram_bytes % 10**9 == 0 and acc.memory_gib_usable == acc.memory_gb_marketed:
        pool = ram_bytes // 10**9 * GIB
    largest = int(acc.memory_gib_usable * GIB)
    if pool > largest:
        return largest, (f"{acc.name}: --ram {ram_bytes / 1e9:g} GB is above the chip's largest configuration; "
                         f"{acc.memory_gb_marketed:g} GB used")
    return pool, f"{acc.name}: unified memory pool {pool / GIB:.0f} GiB from --ram (shared by CPU and GPU)"


def _guessed_ram_bandwidth(catalog: Catalog, ram_bytes: int, ram_type: str) -> tuple[float, str]:
    guessed = host_for_ram(catalog, ram_bytes, ram_type)
    if guessed is None:
        raise BadValueError(f"no catalog host takes {ram_bytes / 1e9:g} GB of {ram_type}; give --ram-bandwidth")
    channels = guessed.memory_channels
    return guessed.ram_bandwidth_gb_s, (
        f"host RAM bandwidth {guessed.ram_bandwidth_gb_s:g} GB/s peak assumed for {ram_bytes / 1e9:.0f} GB of "
        f"{ram_type} ({channels} channels of {ram_type}-{guessed.memory_speed_mt_s}, {guessed.name}); set --host, "
        "--ram-bandwidth or --system for your machine")


@dataclass(frozen=True, slots=True)
class Device:
    """One device the driver exposes: a GPU, or one die of a multi-device package (an MI250X GCD)."""

    accelerator: Accelerator
    index: int
    node: int
    capacity_bytes: int
    bandwidth_gb_s: float = 0.0  # this device's share of the package's memory bandwidth


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
    unified_pool_bytes: int | None = None  # a unified-memory machine's RAM (--ram), else the catalog pool
    host: Host | None = None  # the host platform (--host, a system's host): slot widths, RAM type

    def host_link_gb_s(self, acc: Accelerator) -> float:
        """Per-direction PCIe bandwidth between host RAM and `acc`: the host's slot width with this many GPUs
        (a 2-GPU AM5 desktop runs both at x8), else the card's own link."""
        if self.host is not None:
            layout = self.host.slot_layout(self.gpus_per_node)
            if layout is not None:
                return pcie_gb_s_per_direction(acc, min(layout.lanes), layout.pcie_gen or self.host.pcie_gen)
        return pcie_gb_s_per_direction(acc)

    @property
    def devices_per_node(self) -> int:
        """Devices the driver exposes per node: packages x devices_per_package (MI250X:4 -> 8 GCDs)."""
        return sum(n * a.devices_per_package for a, n in self.accelerators)

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
        """Every device, node by node. `--gpu NAME:COUNT` counts packages (what is bought and slotted):
        a package of k devices (MI250X: 2 GCDs, A16: 4 GPUs) gives k devices of 1/k of its memory and
        bandwidth each, which a model must be sharded across."""
        out: list[Device] = []
        for node in range(self.nodes):
            for acc, count in self.accelerators:
                cap, _ = self._capacity(acc)
                k = acc.devices_per_package
                for _ in range(count * k):
                    out.append(Device(acc, len(out), node, cap // k, acc.memory_bandwidth_gb_s / k))
        return tuple(out)

    def _capacity(self, acc: Accelerator) -> tuple[int, str | None]:
        pool = self.unified_pool_bytes if acc.unified_memory else None
        return device_capacity_bytes(acc, wired_limit_bytes=self.wired_limit_bytes, pool_bytes=pool)

    def describe(self) -> str:
        parts = [f"{n}x {a.name}" + (f" ({n * a.devices_per_package} devices)" if a.devices_per_package > 1 else "")
                 for a, n in self.accelerators]
        text = " + ".join(parts) if parts else "no GPU"
        if self.nodes > 1:
            text = f"{self.nodes} nodes of {text}"
        if self.is_unified and self.unified_pool_bytes:
            text += f" with {self.unified_pool_bytes / GIB:.0f} GiB unified memory"
        elif self.host_ram_bytes and not self.is_unified:
            text += f" + {self.host_ram_bytes / 1e9:.0f} GB RAM"
        return text

    def capacity_notes(self) -> tuple[str, ...]:
        seen: dict[str, str] = {}
        for acc, _ in self.accelerators:
            _, note = self._capacity(acc)
            if note:
                seen[acc.id] = note
        return (*self.notes, *seen.values())


def _check_counts(accs: list[tuple[Accelerator, int]], nodes: int) -> None:
    """Physical bounds on the machine asked for (sizer.limits), checked before anything loops over
    its devices: a typo like `h100:100000 --nodes 1024` is an error, not a hang."""
    per_node = sum(n for _, n in accs)
    if per_node > MAX_GPUS_PER_NODE:
        raise BadValueError(f"--gpu: {per_node:,} accelerators per node (at most {MAX_GPUS_PER_NODE:,}; "
                            "use --nodes for more machines)")
    if not 1 <= nodes <= MAX_NODES:
        raise BadValueError(f"--nodes: {nodes:,} nodes (from 1 to {MAX_NODES:,})")
    devices = nodes * sum(n * a.devices_per_package for a, n in accs)
    if devices > MAX_DEVICES:
        raise BadValueError(f"--gpu/--nodes: {devices:,} devices in all (at most {MAX_DEVICES:,}; no single "
                            "model replica spans more)")


def build_hardware(
    catalog: Catalog,
    gpus: tuple[tuple[str, int], ...] = (),
    *,
    nodes: int = 1,
    ram_bytes: int | None = None,
    ram_bandwidth_gb_s: float | None = None,
    system: str | None = None,
    wired_limit_bytes: int | None = None,
    host: str | None = None,
    ram_type: str | None = None,
) -> Hardware:
    """Resolve names against the catalog. A system brings its GPUs, RAM, RAM bandwidth and links;
    explicit --gpu / --ram / --nodes given alongside override the system's. A host platform (--host, or the
    system's) brings the RAM type and bandwidth and the PCIe width of each GPU slot; `ram_type` (DDR4 / DDR5,
    from `--ram 128GB:DDR4`) picks the smallest catalog host of that type when no host is named."""
    sys_entry = catalog.system(system) if system else None
    host_entry = catalog.host(host) if host else (
        catalog.host(sys_entry.host) if sys_entry is not None and sys_entry.host else None)
    if ram_type is not None:
        ram_type = ram_type.upper()
        if ram_type not in ("DDR4", "DDR5"):
            raise BadValueError(f"RAM type {ram_type!r}: give DDR4 or DDR5 (e.g. --ram 128GB:DDR4)")
        if host_entry is not None and host_entry.memory_type != ram_type:
            raise BadValueError(f"--ram says {ram_type} but host {host_entry.id} takes {host_entry.memory_type}")
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
    notes: list[str] = []
    if sys_entry is not None and not ram_bandwidth_gb_s:
        ram_bandwidth_gb_s = sys_entry.host_ram_bandwidth_gb_s
        if sys_entry.cpu_sockets > 1:
            # Without NUMA-aware placement one process streams at about one socket's bandwidth
            # (llama.cpp on dual EPYC: 2.4 -> 4.3 tok/s only after a first-touch fix).
            ram_bandwidth_gb_s /= sys_entry.cpu_sockets
            notes.append(f"{sys_entry.name}: {sys_entry.cpu_sockets} CPU sockets; host RAM counted at one socket's "
                         f"{ram_bandwidth_gb_s:g} GB/s (NUMA: https://github.com/ggml-org/llama.cpp/issues/11744)")
    if host_entry is not None:
        if ram_bytes and ram_bytes > host_entry.max_ram_gb * 1e9:
            raise BadValueError(f"{ram_bytes / 1e9:g} GB of RAM is more than host {host_entry.id} takes "
                                f"({host_entry.max_ram_gb:g} GB)")
        if not ram_bandwidth_gb_s and sys_entry is None:
            ram_bandwidth_gb_s = host_entry.ram_bandwidth_gb_s
            notes.append(f"host {host_entry.name}: {host_entry.cpu_sockets * host_entry.memory_channels} channels of "
                         f"{host_entry.memory_type}-{host_entry.memory_speed_mt_s} = {ram_bandwidth_gb_s:g} GB/s peak")
        gpus_here = sum(n for _, n in accs)
        layout = host_entry.slot_layout(gpus_here)
        if layout is None and gpus_here:
            raise BadValueError(f"host {host_entry.id} takes at most {host_entry.max_gpus} GPU(s), not {gpus_here}")
        if layout is not None and min(layout.lanes) < 16:
            notes.append(f"host {host_entry.name}: with {gpus_here} GPU(s) the slots run at "
                         f"x{'/x'.join(map(str, layout.lanes))} (PCIe {layout.pcie_gen or host_entry.pcie_gen}.0)")
    elif ram_type is not None and ram_bytes and not ram_bandwidth_gb_s and not any(a.unified_memory for a, _ in accs):
        ram_bandwidth_gb_s, note = _guessed_ram_bandwidth(catalog, ram_bytes, ram_type)
        notes.append(note)
    unified = next((a for a, _ in accs if a.unified_memory), None)
    pool: int | None = None
    if unified is not None and ram_bytes:
        # the machine's RAM IS the accelerator's pool: no separate host RAM tier
        pool, note = unified_pool_bytes(unified, ram_bytes)
        ram_bytes = pool
        notes.append(note)
    if unified is not None and not ram_bandwidth_gb_s:
        ram_bandwidth_gb_s = unified.memory_bandwidth_gb_s
    if ram_bytes and not ram_bandwidth_gb_s:
        ram_bandwidth_gb_s, note = _guessed_ram_bandwidth(catalog, ram_bytes, "DDR5")
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
            layout = host_entry.slot_layout(sum(n for _, n in accs)) if host_entry is not None else None
            lanes = min(layout.lanes) if layout is not None else None
            intra = 2 * min(pcie_gb_s_per_direction(a, lanes) for a, _ in accs)
    if nodes > 1 and inter is None:
        inter = 50.0  # one 400 Gb/s NIC per GPU, per direction (DGX H100 class)
        notes.append("between nodes: one 400 Gb/s NIC per GPU assumed (50 GB/s per direction, DGX H100 class: "
                      "https://docs.nvidia.com/dgx-basepod/reference-architecture-infrastructure-foundation-enterprise-ai/"
                      "latest/core-components.html)")
    _check_counts(accs, nodes)
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
        unified_pool_bytes=pool,
        host=host_entry,
    )
