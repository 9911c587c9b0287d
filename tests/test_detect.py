"""`sizer.detect`: recorded outputs of the real tools (tests/data/detect/) replayed at the Probes boundary.

Expected figures come from the hardware's own specs (a Ryzen 7 5800X has 8 cores and 16 threads, an
M3 Ultra Mac Studio has 512 GiB) and from the recorded files as the tools define them (/proc/meminfo's
"kB" is KiB, rocm-smi reports bytes), not from the code under test. Tests that need real catalog
entries skip while the accelerator data is not there yet.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sizer.errors import AmbiguousNameError, UnknownNameError
from sizer.machine.detection import NVIDIA_EXTRA_NOTE, LocalMachine, Probes, detect, hardware_from_local
from sizer.machine.host import parse_cpuinfo
from sizer.machine.matching import amd_name_from_pci, match_accelerator

DATA = Path(__file__).parent / "data" / "detect"
GIB = 2**30
MIB = 2**20


# ---------------------------------------------------------------------------------------------- boundary


class FakeNvml:
    """Replays an nvml.json recording through the pynvml calls detect() makes."""

    class NVMLError(Exception):
        pass

    def __init__(
        self, recording: dict[str, Any] | None = None, init_error: str | None = None, as_bytes: bool = False
    ):
        self.recording = recording or {"devices": []}
        self.init_error = init_error
        self.as_bytes = as_bytes
        self.shutdown_calls = 0

    def nvmlInit(self) -> None:
        if self.init_error:
            raise self.NVMLError(self.init_error)

    def nvmlShutdown(self) -> None:
        self.shutdown_calls += 1

    def nvmlSystemGetDriverVersion(self) -> str:
        return str(self.recording["nvmlSystemGetDriverVersion"])

    def nvmlDeviceGetCount(self) -> int:
        return len(self.recording["devices"])

    def nvmlDeviceGetHandleByIndex(self, index: int) -> dict[str, Any]:
        return dict(self.recording["devices"][index])

    def nvmlDeviceGetName(self, handle: dict[str, Any]) -> str | bytes:
        name = str(handle["nvmlDeviceGetName"])
        return name.encode() if self.as_bytes else name  # nvidia-ml-py < 11.515 returned bytes

    def nvmlDeviceGetMemoryInfo(self, handle: dict[str, Any]) -> SimpleNamespace:
        return SimpleNamespace(**handle["nvmlDeviceGetMemoryInfo"])


class RecordedProbes(Probes):
    """The real Probes reading a recorded /proc and /sys tree; tool runs replay recorded output."""

    def __init__(self, machine: str, os_name: str = "linux", nvml: Any = "recorded"):
        root = DATA / machine
        super().__init__(proc_root=root / "proc", sys_root=root / "sys")
        self.root = root
        self._os = os_name
        if nvml == "recorded":
            path = root / "nvml.json"
            nvml = FakeNvml(json.loads(path.read_text())) if path.exists() else None
        self._nvml = nvml

    def os_name(self) -> str:
        return self._os

    def sysconf(self, name: str) -> int | None:
        return None

    def cpu_count(self) -> int | None:
        return None

    def _recorded(self, name: str) -> str | None:
        path = self.root / name
        return path.read_text() if path.exists() else None

    def sysctl(self) -> str | None:
        return self._recorded("sysctl.txt")

    def rocm_smi(self) -> str | None:
        return self._recorded("rocm-smi.json")

    def nvml(self) -> Any:
        return self._nvml


class NoCatalog:
    """A catalog that knows nothing (the accelerator data is written in parallel)."""

    def accelerator(self, name: str) -> Any:
        raise UnknownNameError("accelerator", name)


@pytest.fixture(scope="module")
def catalog() -> Any:
    from sizer.catalog.loading import load_catalog

    return load_catalog()


def need(catalog: Any, accelerator_id: str) -> Any:
    """The catalog entry with exactly this id (a missing one fails the test: the data exists)."""
    entry = catalog.accelerator(accelerator_id)
    assert entry.id == accelerator_id, f"{accelerator_id} resolves to {entry.id}"
    return entry


# ---------------------------------------------------------------------------------------------- Linux host


def test_linux_host_ram_and_cpu_from_proc() -> None:
    machine = detect(RecordedProbes("linux-2x-rtx3090"), catalog=NoCatalog())
    assert machine.os == "linux"
    assert machine.host_ram_bytes == 65788224 * 1024  # MemTotal, kB = KiB (proc(5))
    assert machine.host_ram_available_bytes == 58012616 * 1024  # MemAvailable
    assert machine.cpu_model == "AMD Ryzen 7 5800X 8-Core Processor"
    assert (machine.cpu_cores_physical, machine.cpu_threads) == (8, 16)  # AMD spec: 8 cores, 16 threads
    assert not machine.unified_memory
    assert machine.apple_chip is None


@settings(max_examples=40, deadline=None)
@given(sockets=st.integers(1, 4), cores=st.integers(1, 64), smt=st.integers(1, 2))
def test_cpuinfo_counts_cores_and_threads(sockets: int, cores: int, smt: int) -> None:
    blocks: list[str] = []
    for _ in range(smt):
        for socket in range(sockets):
            for core in range(cores):
                n = len(blocks)
                blocks.append(
                    f"processor\t: {n}\nmodel name\t: X\nphysical id\t: {socket}\ncore id\t\t: {core}\n"
                )
    model, physical, logical = parse_cpuinfo("\n".join(blocks))
    assert (model, physical, logical) == ("X", sockets * cores, sockets * cores * smt)


def test_cpuinfo_without_core_ids_leaves_cores_unknown() -> None:
    arm = "processor\t: 0\nBogoMIPS\t: 48.00\n\nprocessor\t: 1\nBogoMIPS\t: 48.00\n"
    assert parse_cpuinfo(arm) == (None, None, 2)


# ---------------------------------------------------------------------------------------------- NVIDIA


def test_two_rtx_3090_from_nvml() -> None:
    machine = detect(RecordedProbes("linux-2x-rtx3090"), catalog=NoCatalog())
    assert [g.name for g in machine.gpus] == ["NVIDIA GeForce RTX 3090"] * 2
    assert [g.memory_total_bytes for g in machine.gpus] == [24576 * MIB] * 2  # nvidia-smi: 24576MiB
    assert [g.memory_free_bytes for g in machine.gpus] == [(24576 - 412) * MIB, (24576 - 5) * MIB]
    assert {(g.vendor, g.backend, g.driver_version) for g in machine.gpus} == {
        ("NVIDIA", "nvml", "550.54.14")
    }
    # without catalog entries the GPUs are still reported, unmatched, with the reason
    assert all(g.catalog_id is None and "no catalog entry" in g.match_note for g in machine.gpus)
    hardware = hardware_from_local(machine)
    assert hardware.gpus == ()
    assert len([n for n in hardware.notes if n.startswith("left out")]) == 2


def test_nvml_shutdown_is_called() -> None:
    nvml = FakeNvml(json.loads((DATA / "linux-h100" / "nvml.json").read_text()))
    detect(RecordedProbes("linux-h100", nvml=nvml), catalog=NoCatalog())
    assert nvml.shutdown_calls == 1


def test_missing_nvidia_ml_py_is_a_note_not_an_error() -> None:
    machine = detect(RecordedProbes("linux-2x-rtx3090", nvml=None), catalog=NoCatalog())
    assert machine.gpus == ()
    (note,) = [n for n in machine.notes if "NVIDIA" in n]
    assert NVIDIA_EXTRA_NOTE in note
    assert "2 NVIDIA PCI device(s)" in note  # the two 10de:2204 cards in the recorded /sys


def test_nvml_without_driver_is_a_note() -> None:
    # the message real pynvml gives on a machine without the NVIDIA driver
    nvml = FakeNvml(init_error="NVML Shared Library Not Found")
    machine = detect(RecordedProbes("linux-2x-rtx3090", nvml=nvml), catalog=NoCatalog())
    assert machine.gpus == ()
    assert any("NVML Shared Library Not Found" in n for n in machine.notes)


def test_old_pynvml_bytes_names_are_decoded() -> None:
    recording = json.loads((DATA / "linux-h100" / "nvml.json").read_text())
    machine = detect(
        RecordedProbes("linux-h100", nvml=FakeNvml(recording, as_bytes=True)), catalog=NoCatalog()
    )
    assert machine.gpus[0].name == "NVIDIA H100 80GB HBM3"


def test_unknown_host_ram_is_zero_with_a_note() -> None:
    machine = detect(RecordedProbes("linux-h100"), catalog=NoCatalog())  # container recording: no /proc
    assert machine.host_ram_bytes is None
    assert machine.cpu_cores_physical is None
    hardware = hardware_from_local(machine)
    assert hardware.host_ram_bytes == 0
    assert any("host RAM size unknown" in n for n in hardware.notes)


# ---------------------------------------------------------------------------------------------- AMD


def test_mi300x_node_from_rocm_smi() -> None:
    machine = detect(RecordedProbes("linux-8x-mi300x"), catalog=NoCatalog())
    assert len(machine.gpus) == 8
    assert {g.memory_total_bytes for g in machine.gpus} == {205822885888}
    assert machine.gpus[0].memory_free_bytes == 205822885888 - 296968192
    assert {(g.vendor, g.backend, g.name) for g in machine.gpus} == {
        ("AMD", "rocm-smi", "AMD Instinct MI300X OAM")
    }


def test_rx_7900_xtx_from_sysfs_skips_the_integrated_gpu() -> None:
    machine = detect(RecordedProbes("linux-rx7900xtx"), catalog=NoCatalog())
    (gpu,) = machine.gpus  # card0 is the Ryzen 7000 iGPU, card1-DP-1 a connector, renderD129 a render node
    assert (gpu.vendor, gpu.backend) == ("AMD", "sysfs")
    assert gpu.memory_total_bytes == 25753026560
    assert gpu.memory_free_bytes == 25753026560 - 1103101952
    assert "Radeon RX 7900 XTX" in gpu.name
    assert any("Raphael" in n for n in machine.notes)


@pytest.mark.parametrize(
    ("vram_gib", "expected"),
    [
        (24, "Radeon RX 7900 XTX"),
        (20, "Radeon RX 7900 XT"),
        (16, "Radeon RX 7900 GRE"),
    ],  # AMD's product specs
)
def test_navi31_variants_told_apart_by_vram(vram_gib: int, expected: str) -> None:
    name, _ = amd_name_from_pci(0x744C, vram_gib * GIB - 200 * MIB)
    assert name == expected


def test_unknown_amd_device_id_has_no_name() -> None:
    name, note = amd_name_from_pci(0xFFFF, 8 * GIB)
    assert name is None
    assert "0xffff" in note


def test_broken_rocm_smi_output_falls_back_to_sysfs() -> None:
    class Broken(RecordedProbes):
        def rocm_smi(self) -> str | None:
            return (
                "WARNING: AMD GPU device(s) is/are in a low-power state. Check power control/runtime_status\n"
            )

    machine = detect(Broken("linux-rx7900xtx"), catalog=NoCatalog())
    assert [g.backend for g in machine.gpus] == ["sysfs"]
    assert any("rocm-smi" in n for n in machine.notes)


@pytest.mark.parametrize("os_name", ["windows", "freebsd", "darwin"])
def test_nothing_to_read_never_raises(os_name: str) -> None:
    machine = detect(RecordedProbes("no-such-machine", os_name=os_name, nvml=None), catalog=NoCatalog())
    assert machine.gpus == ()
    assert machine.os == os_name
    assert machine.notes  # says what could not be probed
    assert hardware_from_local(machine).host_ram_bytes == 0


# ---------------------------------------------------------------------------------------------- Apple


def test_m3_ultra_512gb_from_sysctl() -> None:
    machine = detect(RecordedProbes("darwin-m3-ultra-512gb", os_name="darwin"), catalog=NoCatalog())
    assert machine.os == "darwin"
    assert machine.host_ram_bytes == 512 * GIB
    assert machine.unified_memory
    assert machine.apple_chip == "M3 Ultra"
    assert machine.apple_gpu_wired_limit_bytes == 458752 * MIB  # iogpu.wired_limit_mb is MiB
    assert (machine.cpu_cores_physical, machine.cpu_threads) == (32, 32)
    (gpu,) = machine.gpus
    assert (gpu.name, gpu.vendor, gpu.memory_total_bytes, gpu.backend) == (
        "Apple M3 Ultra",
        "Apple",
        512 * GIB,
        "sysctl",
    )


def test_m2_max_default_wired_limit_is_none() -> None:
    machine = detect(RecordedProbes("darwin-m2-max-96gb", os_name="darwin"), catalog=NoCatalog())
    assert machine.host_ram_bytes == 96 * GIB
    assert machine.apple_chip == "M2 Max"
    assert machine.apple_gpu_wired_limit_bytes is None  # 0 = macOS default
    assert hardware_from_local(machine).wired_limit_bytes is None


# ---------------------------------------------------------------------------------------------- matching


class FakeCatalog:
    """Resolves exact canonical ids/names; a bare family name is ambiguous (as the real resolver can be)."""

    def __init__(self, *entries: SimpleNamespace, ambiguous: dict[str, list[str]] | None = None):
        self.entries = entries
        self.ambiguous = ambiguous or {}

    def accelerator(self, name: str) -> SimpleNamespace:
        key = name.lower().replace(" ", "")
        for entry in self.entries:
            if key in (entry.id, entry.name.lower().replace(" ", "")):
                return entry
        if key in self.ambiguous:
            raise AmbiguousNameError("accelerator", name, self.ambiguous[key])
        raise UnknownNameError("accelerator", name)


def entry(id_: str, name: str, gib: float, unified: bool = False) -> SimpleNamespace:
    return SimpleNamespace(
        id=id_, name=name, memory_gib_usable=gib, unified_memory=unified, memory_bandwidth_gb_s=1.0
    )


def test_driver_names_are_cleaned_before_lookup() -> None:
    fake = FakeCatalog(entry("rtx-4090", "RTX 4090", 23.6), entry("h100-sxm", "H100 SXM 80GB", 79.2))
    assert match_accelerator(fake, "NVIDIA GeForce RTX 4090", 24564 * MIB).catalog_id == "rtx-4090"
    assert match_accelerator(fake, "NVIDIA H100 80GB HBM3", 81559 * MIB).catalog_id == "h100-sxm"


def test_ambiguous_name_settled_by_memory() -> None:
    fake = FakeCatalog(
        entry("rtx-3080-10gb", "RTX 3080 10GB", 10),
        entry("rtx-3080-12gb", "RTX 3080 12GB", 12),
        ambiguous={"rtx3080": ["rtx-3080-10gb", "rtx-3080-12gb"]},
    )
    assert match_accelerator(fake, "NVIDIA GeForce RTX 3080", 12288 * MIB).catalog_id == "rtx-3080-12gb"
    assert match_accelerator(fake, "NVIDIA GeForce RTX 3080", 10240 * MIB).catalog_id == "rtx-3080-10gb"


def test_memory_mismatch_is_flagged() -> None:
    fake = FakeCatalog(entry("rtx-4090", "RTX 4090", 23.6))
    match = match_accelerator(fake, "NVIDIA GeForce RTX 4090", 48 * GIB)  # a modified 48 GB card
    assert match.catalog_id == "rtx-4090"
    assert "does not match" in match.note


def test_no_entry_and_no_catalog_give_none_with_a_reason() -> None:
    assert match_accelerator(NoCatalog(), "NVIDIA GeForce RTX 9999", 32 * GIB).catalog_id is None
    assert "no catalog entry" in match_accelerator(NoCatalog(), "NVIDIA GeForce RTX 9999", None).note
    assert match_accelerator(None, "NVIDIA GeForce RTX 4090", None).catalog_id is None


def test_grouping_counts_matched_gpus() -> None:
    fake = FakeCatalog(entry("rtx-3090", "RTX 3090", 23.6))
    hardware = hardware_from_local(detect(RecordedProbes("linux-2x-rtx3090"), catalog=fake))
    assert hardware.gpus == (("rtx-3090", 2),)
    assert hardware.host_ram_bytes == 65788224 * 1024
    assert not hardware.unified_memory
    assert hardware.device_memory_bytes == (("rtx-3090", 24576 * MIB),)


class IndexCatalog:
    """The real name resolver (sizer.names) over entries named as in shared/reference/accelerators.yaml."""

    def __init__(self, *entries: SimpleNamespace):
        from sizer.catalog.names import NameIndex

        self.by_id = {e.id: e for e in entries}
        self.index = NameIndex("GPU", entries)

    def accelerator(self, name: str) -> SimpleNamespace:
        return self.by_id[name] if name in self.by_id else self.by_id[self.index.resolve(name)]


def ref(id_: str, name: str, gb: float, unified: bool = False) -> SimpleNamespace:
    return SimpleNamespace(
        id=id_,
        aliases=[],
        name=name,
        memory_gb_marketed=gb,
        memory_gib_usable=gb * 1e9 / GIB if not unified else gb,
        unified_memory=unified,
        memory_bandwidth_gb_s=1.0,
    )


@pytest.mark.parametrize(
    ("driver_name", "reported_mib", "expected"),
    [
        ("NVIDIA GeForce RTX 3080", 10240, "nvidia-rtx-3080-10gb"),
        ("NVIDIA GeForce RTX 3080", 12288, "nvidia-rtx-3080-12gb"),  # not the 3080 Ti, also 12 GB
        ("NVIDIA GeForce RTX 3080 Ti", 12288, "nvidia-rtx-3080-ti-12gb"),
        ("NVIDIA GeForce RTX 4080", 16376, "nvidia-rtx-4080-16gb"),  # not the SUPER
        ("NVIDIA GeForce RTX 4080 SUPER", 16376, "nvidia-rtx-4080-super-16gb"),
        ("NVIDIA H100 80GB HBM3", 81559, "nvidia-h100-sxm-80gb"),
        ("NVIDIA H100 PCIe", 81559, "nvidia-h100-pcie-80gb"),
        ("Apple M4", 16384, "apple-m4-32gb"),  # "16" is in the M4 Max's name ("16-core CPU"): not a match
        ("Apple M4 Max", 65536, "apple-m4-max-128gb"),
        ("NVIDIA GeForce RTX 4090 D", 24564, None),  # the China-market card is not in the catalog
    ],
)
def test_matching_with_the_real_resolver(driver_name: str, reported_mib: int, expected: str | None) -> None:
    catalog = IndexCatalog(
        ref("nvidia-rtx-3080-10gb", "GeForce RTX 3080 10GB", 10),
        ref("nvidia-rtx-3080-12gb", "GeForce RTX 3080 12GB", 12),
        ref("nvidia-rtx-3080-ti-12gb", "GeForce RTX 3080 Ti", 12),
        ref("nvidia-rtx-4080-16gb", "GeForce RTX 4080 (non-SUPER)", 16),
        ref("nvidia-rtx-4080-super-16gb", "GeForce RTX 4080 SUPER", 16),
        ref("nvidia-rtx-4090-24gb", "GeForce RTX 4090", 24),
        ref("nvidia-h100-sxm-80gb", "H100 SXM5 80GB", 80),
        ref("nvidia-h100-pcie-80gb", "H100 PCIe 80GB", 80),
        ref("nvidia-h100-nvl-94gb", "H100 NVL 94GB", 94),
        ref("apple-m4-32gb", "M4 (9/10-core CPU, 8/10-core GPU, up to 32 GB)", 32, unified=True),
        ref("apple-m4-pro-64gb", "M4 Pro (14-core CPU / 20-core GPU, 64 GB)", 64, unified=True),
        ref("apple-m4-max-128gb", "M4 Max (16-core CPU / 40-core GPU, 128 GB)", 128, unified=True),
    )
    assert match_accelerator(catalog, driver_name, reported_mib * MIB).catalog_id == expected


# ---------------------------------------------------------------------------------------------- real catalog


@pytest.mark.parametrize(
    ("machine", "os_name", "expected"),
    [
        ("linux-2x-rtx3090", "linux", (("nvidia-rtx-3090-24gb", 2),)),
        ("linux-h100", "linux", (("nvidia-h100-sxm-80gb", 1),)),  # "H100 80GB HBM3" is the SXM5 board
        ("linux-8x-mi300x", "linux", (("amd-instinct-mi300x-192gb", 8),)),
        ("linux-rx7900xtx", "linux", (("amd-radeon-rx-7900-xtx-24gb", 1),)),
        ("darwin-m3-ultra-512gb", "darwin", (("apple-m3-ultra-512gb", 1),)),
        ("darwin-m2-max-96gb", "darwin", (("apple-m2-max-96gb", 1),)),
    ],
)
def test_recorded_machines_match_the_catalog(
    catalog: Any, machine: str, os_name: str, expected: tuple[tuple[str, int], ...]
) -> None:
    for accelerator_id, _ in expected:
        need(catalog, accelerator_id)
    local = detect(RecordedProbes(machine, os_name=os_name), catalog=catalog)
    assert all(g.catalog_id is not None for g in local.gpus), [g.match_note for g in local.gpus]
    hardware = hardware_from_local(local, catalog)
    assert hardware.gpus == expected
    assert hardware.unified_memory is (os_name == "darwin")


def test_unified_bandwidth_comes_from_the_chip(catalog: Any) -> None:
    need(catalog, "apple-m3-ultra-512gb")
    machine = detect(RecordedProbes("darwin-m3-ultra-512gb", os_name="darwin"), catalog=catalog)
    hardware = hardware_from_local(machine, catalog)
    assert hardware.host_ram_bandwidth_gb_s is not None
    assert hardware.host_ram_bandwidth_gb_s > 800  # Apple: 819 GB/s
    assert hardware.wired_limit_bytes == 458752 * MIB


# ---------------------------------------------------------------------------------------------- this machine


def test_real_probes_on_this_machine() -> None:
    machine = detect()  # the real /proc, /sys, sysctl, rocm-smi and pynvml, whatever is there
    assert isinstance(machine, LocalMachine)
    assert (machine.cpu_threads or 0) >= 1
    assert (machine.host_ram_bytes or 0) > 0
    if not machine.gpus:
        assert any("no GPU found" in n for n in machine.notes)
    hardware = hardware_from_local(machine)
    assert hardware.host_ram_bytes > 0
