"""Host RAM and CPU from what the probes read (private helper of `sizer.detect`).

Each function turns raw tool output into a plain dict with the keys `ram`, `ram_available`, `cpu_model`,
`cores`, `threads` (and on Apple silicon `apple_chip`, `brand`, `wired_limit`); a value is None where the
source does not say, and the reason goes to `notes`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sizer.machine.probes import Probes

__all__ = [
    "darwin_host",
    "generic_host",
    "linux_host",
    "parse_colon_lines",
    "parse_cpuinfo",
    "to_hex",
    "to_int",
]

GIB = 2**30


def linux_host(probes: Probes, notes: list[str]) -> dict[str, Any]:
    host = generic_host(probes, notes, "linux", quiet=True)
    meminfo = parse_colon_lines(probes.proc("meminfo") or "")
    if "MemTotal" in meminfo:  # proc(5): the "kB" of /proc/meminfo is KiB
        host["ram"] = _kib(meminfo["MemTotal"])
        host["ram_available"] = _kib(meminfo.get("MemAvailable", ""))
    elif host.get("ram") is None:
        notes.append("host RAM unknown: /proc/meminfo unreadable and os.sysconf failed")
    limit = (probes.cgroup_memory_max() or "").strip()
    if limit.isdigit() and host.get("ram") and int(limit) < host["ram"]:
        notes.append(f"this process is limited to {int(limit) / GIB:.1f} GiB by its cgroup (container)")
    cpuinfo = probes.proc("cpuinfo")
    if not cpuinfo:
        notes.append("CPU model and physical cores unknown: /proc/cpuinfo unreadable")
        return host
    model, cores, threads = parse_cpuinfo(cpuinfo)
    host["cpu_model"] = model
    host["threads"] = threads or host.get("threads")
    host["cores"] = cores
    if cores is None:
        notes.append("physical CPU cores unknown (no core ids in /proc/cpuinfo)")
    return host


def generic_host(probes: Probes, notes: list[str], os_name: str, quiet: bool = False) -> dict[str, Any]:
    """What any OS offers: os.sysconf for RAM (POSIX only) and os.cpu_count for logical CPUs."""
    pages, page_size = probes.sysconf("SC_PHYS_PAGES"), probes.sysconf("SC_PAGE_SIZE")
    ram = pages * page_size if pages and page_size else None
    if not quiet:
        notes.append(f"CPU model and physical cores are not probed on {os_name}")
        if ram is None:
            notes.append(f"host RAM is not probed on {os_name}")
    return {
        "ram": ram,
        "ram_available": None,
        "cpu_model": None,
        "threads": probes.cpu_count(),
        "cores": None,
    }


def darwin_host(probes: Probes, notes: list[str]) -> dict[str, Any]:
    text = probes.sysctl()
    if text is None:
        notes.append("sysctl did not run: host RAM, CPU and the Apple GPU are unknown")
        return generic_host(probes, notes, "darwin")
    values = parse_colon_lines(text)
    brand = values.get("machdep.cpu.brand_string")
    host: dict[str, Any] = {
        "ram": to_int(values.get("hw.memsize")),
        "ram_available": None,
        "cpu_model": brand,
        "cores": to_int(values.get("hw.physicalcpu")),
        "threads": to_int(values.get("hw.logicalcpu")) or probes.cpu_count(),
    }
    notes.append("available RAM is not probed on macOS")
    if not brand or not brand.startswith("Apple "):
        notes.append("not Apple silicon: the Mac's GPU is not probed")
        return host
    host["brand"] = brand
    host["apple_chip"] = brand.removeprefix("Apple ").strip()
    limit_mib = to_int(values.get("iogpu.wired_limit_mb"))  # 0 = macOS default
    host["wired_limit"] = limit_mib * 2**20 if limit_mib else None
    return host


def parse_cpuinfo(text: str) -> tuple[str | None, int | None, int]:
    """(model name, physical cores, logical CPUs) from /proc/cpuinfo.

    Physical cores are distinct (physical id, core id) pairs: SMT siblings share both. Without core ids
    (many ARM kernels) the count is None rather than a guess.
    """
    model: str | None = None
    threads = 0
    cores: set[tuple[str, str]] = set()
    package = core = None
    for line in [*text.splitlines(), ""]:
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if key == "processor":
            threads += 1
        elif key in ("model name", "Model", "Hardware") and model is None and value:
            model = value
        elif key == "physical id":
            package = value
        elif key == "core id":
            core = value
        elif not key:  # a blank line ends one logical CPU
            if core is not None:
                cores.add((package or "0", core))
            package = core = None
    return model, (len(cores) or None), threads


def parse_colon_lines(text: str) -> Mapping[str, str]:
    """`key: value` lines (sysctl, /proc/meminfo) -> dict; the first occurrence of a key wins."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() and key.strip() not in out:
            out[key.strip()] = value.strip()
    return out


def _kib(value: str) -> int | None:
    words = value.split()
    number = to_int(words[0]) if words else None
    return number * 1024 if number is not None else None


def to_int(value: str | None) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def to_hex(value: str | None) -> int | None:
    try:
        return int(str(value).strip(), 16)
    except (TypeError, ValueError):
        return None
