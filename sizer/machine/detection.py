"""The local machine: GPUs, host RAM and CPU, and the catalog entries they match (`sizer detect`, `--here`).

Sources, by platform:
- NVIDIA (any OS but macOS): NVML through `pynvml` (package nvidia-ml-py, optional extra `sizer[detect]`);
  without it the result says so in `notes` instead of failing.
- AMD (Linux): `rocm-smi --json` when installed, otherwise /sys/class/drm/cardN/device (vendor 0x1002,
  mem_info_vram_total), with PCI device ids named by a small table (`sizer.machine.matching`).
- Apple silicon (macOS): `sysctl` (hw.memsize, machdep.cpu.brand_string, iogpu.wired_limit_mb): one GPU that
  shares the whole RAM.
- Host RAM and CPU: /proc/meminfo and /proc/cpuinfo on Linux, sysctl on macOS, os.sysconf as a fallback.

All I/O goes through a `Probes` object; `detect()` never raises for missing tools, drivers or GPUs: what
could not be probed, and why, is in `LocalMachine.notes`.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass, replace

from sizer.errors import SizerError
from sizer.machine.host import darwin_host, generic_host, linux_host, to_hex, to_int
from sizer.machine.matching import AcceleratorLookup, amd_name_from_pci, lookup_errors, match_accelerator
from sizer.machine.probes import Probes

__all__ = ["DetectedGpu", "LocalHardware", "LocalMachine", "Probes", "detect", "hardware_from_local"]

GIB = 2**30
NVIDIA_EXTRA_NOTE = "install sizer[detect] for NVIDIA GPUs"
_AMD_VENDOR, _NVIDIA_VENDOR = 0x1002, 0x10DE


@dataclass(frozen=True, slots=True)
class DetectedGpu:
    name: str  # as the driver reports it (sysfs has no name: "AMD <PCI table name>" or the PCI id)
    vendor: str  # NVIDIA, AMD, Apple
    memory_total_bytes: int | None
    memory_free_bytes: int | None  # None where the source does not say (sysctl)
    backend: str  # nvml, rocm-smi, sysfs, sysctl
    driver_version: str | None
    catalog_id: str | None
    match_note: str


@dataclass(frozen=True, slots=True)
class LocalMachine:
    gpus: tuple[DetectedGpu, ...]
    host_ram_bytes: int | None
    host_ram_available_bytes: int | None
    cpu_model: str | None
    cpu_cores_physical: int | None
    cpu_threads: int | None
    os: str  # linux, darwin, windows, freebsd, ...
    unified_memory: bool  # the GPU shares host RAM (Apple silicon)
    apple_chip: str | None  # "M3 Ultra"
    apple_gpu_wired_limit_bytes: int | None  # `sysctl iogpu.wired_limit_mb` when set (non-zero)
    notes: tuple[str, ...]  # what could not be probed, and why


@dataclass(frozen=True, slots=True)
class LocalHardware:
    """What `fit --here` / `recommend --here` need. With unified memory the GPU's pool IS host_ram_bytes."""

    gpus: tuple[tuple[str, int], ...]  # (accelerator id, count), in detection order
    host_ram_bytes: int  # 0 when unknown (see notes)
    host_ram_bandwidth_gb_s: float | None
    unified_memory: bool
    notes: tuple[str, ...]
    wired_limit_bytes: int | None = None  # Apple: GPU wiring limit set with iogpu.wired_limit_mb
    # (accelerator id, smallest size one of its devices reported): the real capacity if it differs
    device_memory_bytes: tuple[tuple[str, int], ...] = ()


def detect(probes: Probes | None = None, *, catalog: AcceleratorLookup | None = None) -> LocalMachine:
    """Probe this machine (or the recorded one behind `probes`) and match its GPUs to the catalog."""
    probes = probes if probes is not None else Probes()
    notes: list[str] = []
    os_name = probes.os_name()
    raw_gpus: list[tuple[DetectedGpu, str | None]] = []  # (gpu without match, name to match or None)
    if os_name == "darwin":
        host = darwin_host(probes, notes)
        if host.get("brand"):
            gpu = DetectedGpu(
                host["brand"], "Apple", host["ram"], None, "sysctl", None, None, "unified memory"
            )
            raw_gpus.append((gpu, host["brand"]))
    else:
        host = linux_host(probes, notes) if os_name == "linux" else generic_host(probes, notes, os_name)
        amd, nvidia_in_sysfs = _amd(probes, notes) if os_name == "linux" else ([], 0)
        raw_gpus = _nvidia(probes, notes, nvidia_in_sysfs) + amd
    gpus: list[DetectedGpu] = []
    if raw_gpus:
        if catalog is None:
            catalog = _load_catalog(notes)
        for gpu, match_name in raw_gpus:
            if match_name is None:
                gpus.append(gpu)
                continue
            match = match_accelerator(catalog, match_name, gpu.memory_total_bytes)
            note = f"{gpu.match_note}; {match.note}" if gpu.match_note else match.note
            gpus.append(replace(gpu, catalog_id=match.catalog_id, match_note=note))
    else:
        notes.append("no GPU found: CPU and host RAM only")
    return LocalMachine(
        gpus=tuple(gpus),
        host_ram_bytes=host.get("ram"),
        host_ram_available_bytes=host.get("ram_available"),
        cpu_model=host.get("cpu_model"),
        cpu_cores_physical=host.get("cores"),
        cpu_threads=host.get("threads"),
        os=os_name,
        unified_memory=bool(host.get("apple_chip")),
        apple_chip=host.get("apple_chip"),
        apple_gpu_wired_limit_bytes=host.get("wired_limit"),
        notes=tuple(notes),
    )


def hardware_from_local(machine: LocalMachine, catalog: AcceleratorLookup | None = None) -> LocalHardware:
    """Group matched GPUs by catalog id; unmatched ones are left out with a note."""
    notes: list[str] = []
    counts: dict[str, int] = {}
    memory: dict[str, int] = {}
    for gpu in machine.gpus:
        if gpu.catalog_id is None:
            notes.append(f"left out {gpu.name}: no catalog match ({gpu.match_note})")
            continue
        counts[gpu.catalog_id] = counts.get(gpu.catalog_id, 0) + 1
        if gpu.memory_total_bytes:
            memory[gpu.catalog_id] = min(
                memory.get(gpu.catalog_id, gpu.memory_total_bytes), gpu.memory_total_bytes
            )
    if machine.host_ram_bytes is None:
        notes.append("host RAM size unknown; counted as 0")
    bandwidth: float | None = None
    if machine.unified_memory and counts:
        first = next(iter(counts))
        catalog = catalog if catalog is not None else _load_catalog(notes)
        try:
            bandwidth = (
                float(catalog.accelerator(first).memory_bandwidth_gb_s) if catalog is not None else None
            )
        except lookup_errors() as exc:
            notes.append(f"host RAM bandwidth unknown ({exc})")
        if bandwidth is not None:
            notes.append(
                f"host RAM bandwidth is the unified pool's: catalog entry {first} (its top configuration)"
            )
    else:
        notes.append("host RAM bandwidth is not detected (reading DIMM speeds needs root)")
    return LocalHardware(
        gpus=tuple(counts.items()),
        host_ram_bytes=machine.host_ram_bytes or 0,
        host_ram_bandwidth_gb_s=bandwidth,
        unified_memory=machine.unified_memory,
        notes=tuple(notes),
        wired_limit_bytes=machine.apple_gpu_wired_limit_bytes,
        device_memory_bytes=tuple(memory.items()),
    )


# ---------------------------------------------------------------------------------------------- GPUs


def _nvidia(probes: Probes, notes: list[str], seen_in_sysfs: int) -> list[tuple[DetectedGpu, str | None]]:
    seen = f" ({seen_in_sysfs} NVIDIA PCI device(s) seen in /sys)" if seen_in_sysfs else ""
    nvml = probes.nvml()
    if nvml is None:
        notes.append(f"NVIDIA GPUs not probed: nvidia-ml-py is not installed; {NVIDIA_EXTRA_NOTE}{seen}")
        return []
    error = getattr(nvml, "NVMLError", Exception)
    try:
        nvml.nvmlInit()
    except error as exc:
        notes.append(f"NVIDIA GPUs not probed: NVML did not start ({exc}){seen}")
        return []
    gpus: list[tuple[DetectedGpu, str | None]] = []
    try:
        try:
            driver: str | None = _text(nvml.nvmlSystemGetDriverVersion())
        except error:
            driver = None
        for index in range(nvml.nvmlDeviceGetCount()):
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            name = _text(nvml.nvmlDeviceGetName(handle))
            total: int | None = None
            free: int | None = None
            try:
                info = nvml.nvmlDeviceGetMemoryInfo(handle)
                total, free = int(info.total), int(info.free)
            except error:
                pass  # the GPU is still listed; its size is unknown
            gpus.append((DetectedGpu(name, "NVIDIA", total, free, "nvml", driver, None, ""), name))
    except error as exc:
        notes.append(f"NVML failed while listing GPUs ({exc})")
    finally:
        with contextlib.suppress(error):
            nvml.nvmlShutdown()
    return gpus


def _amd(probes: Probes, notes: list[str]) -> tuple[list[tuple[DetectedGpu, str | None]], int]:
    """AMD GPUs from rocm-smi (preferred) or sysfs, and the number of NVIDIA devices sysfs shows."""
    cards = probes.drm_cards()
    nvidia_count = sum(1 for c in cards if to_hex(c.get("vendor")) == _NVIDIA_VENDOR)
    text = probes.rocm_smi()
    if text is not None:
        gpus = _parse_rocm_smi(text, notes)
        if gpus:
            return gpus, nvidia_count
    gpus = []
    for card in cards:
        if to_hex(card.get("vendor")) != _AMD_VENDOR:
            continue
        device = to_hex(card.get("device"))
        total = to_int(card.get("mem_info_vram_total"))
        used = to_int(card.get("mem_info_vram_used"))
        free = total - used if total is not None and used is not None else None
        table_name, note = (
            amd_name_from_pci(device, total) if device is not None else (None, "no PCI device id")
        )
        if table_name is None and note.startswith("integrated"):
            notes.append(f"{card['card']}: {note}")
            continue
        if table_name is None and (total or 0) < 2 * GIB:
            notes.append(f"{card['card']}: {note}, with under 2 GiB VRAM (integrated?); not counted")
            continue
        product = card.get("product_name")
        name = product or (f"AMD {table_name}" if table_name else f"AMD GPU 0x{device or 0:04x}")
        gpus.append((DetectedGpu(name, "AMD", total, free, "sysfs", None, None, note), table_name or product))
    return gpus, nvidia_count


def _parse_rocm_smi(text: str, notes: list[str]) -> list[tuple[DetectedGpu, str | None]]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        notes.append(f"rocm-smi printed something other than JSON ({exc}); using sysfs")
        return []
    gpus: list[tuple[DetectedGpu, str | None]] = []
    cards = [(k, v) for k, v in data.items() if re.fullmatch(r"card\d+", k) and isinstance(v, dict)]
    for _, card in sorted(cards, key=lambda kv: int(kv[0][4:])):
        fields = {str(k).strip().lower(): str(v).strip() for k, v in card.items()}
        total = to_int(fields.get("vram total memory (b)"))
        used = to_int(fields.get("vram total used memory (b)"))
        free = total - used if total is not None and used is not None else None
        series = fields.get("card series") or fields.get("device name")
        device = to_hex(fields.get("device id")) or to_hex(fields.get("card model"))
        table_name, note = amd_name_from_pci(device, total) if device is not None else (None, "")
        name = series or (f"AMD {table_name}" if table_name else "AMD GPU")
        gpus.append(
            (DetectedGpu(name, "AMD", total, free, "rocm-smi", None, None, note), table_name or series)
        )
    return gpus


# ---------------------------------------------------------------------------------------------- helpers


def _load_catalog(notes: list[str]) -> AcceleratorLookup | None:
    try:
        from sizer.catalog.loading import load_catalog

        return load_catalog()
    except ImportError as exc:
        notes.append(f"catalog not available ({exc}); GPUs are not matched")
    except SizerError as exc:  # an invalid overlay must not stop detection
        notes.append(f"catalog did not load ({exc}); GPUs are not matched")
    return None


def _text(value: str | bytes) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
