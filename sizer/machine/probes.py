"""The real I/O behind `sizer detect` (private helper of `sizer.detect`).

Every method returns what a tool or file said, unparsed, or None when the source is absent or failed.
Tests replace this object with one that replays recorded outputs of the same tools, so parsing and
matching are tested without the hardware; nothing here interprets what it reads.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = ["DRM_FILES", "ROCM_SMI_ARGS", "SYSCTL_KEYS", "Probes"]

SYSCTL_KEYS = (
    "hw.memsize",
    "machdep.cpu.brand_string",
    "hw.physicalcpu",
    "hw.logicalcpu",
    "iogpu.wired_limit_mb",
)
ROCM_SMI_ARGS = ("--showmeminfo", "vram", "--showproductname", "--showid", "--json")
# Read under /sys/class/drm/cardN/device/ (amdgpu has mem_info_vram_*; product_name only with FRU data).
DRM_FILES = ("vendor", "device", "revision", "mem_info_vram_total", "mem_info_vram_used", "product_name")
_CARD = re.compile(r"^card(\d+)$")


class Probes:
    """Reads /proc and /sys, runs sysctl and rocm-smi, imports pynvml. Roots are parameters for tests."""

    def __init__(
        self, proc_root: str | Path = "/proc", sys_root: str | Path = "/sys", timeout_s: float = 10.0
    ):
        self.proc_root = Path(proc_root)
        self.sys_root = Path(sys_root)
        self.timeout_s = timeout_s

    def os_name(self) -> str:
        """'linux', 'darwin', 'windows', ... (sys.platform, with win32 spelled 'windows')."""
        return "windows" if sys.platform == "win32" else sys.platform.rstrip("0123456789")

    def proc(self, name: str) -> str | None:
        """Text of /proc/<name> (meminfo, cpuinfo)."""
        return _read(self.proc_root / name)

    def cgroup_memory_max(self) -> str | None:
        """The cgroup v2 memory limit of this process's container, if any ('max' means none)."""
        return _read(self.sys_root / "fs" / "cgroup" / "memory.max")

    def sysconf(self, name: str) -> int | None:
        try:
            value = os.sysconf(name)
        except (AttributeError, ValueError, OSError):
            return None
        return value if value > 0 else None

    def cpu_count(self) -> int | None:
        return os.cpu_count()

    def sysctl(self) -> str | None:
        """Output of `sysctl KEY...` ("key: value" lines; a key this macOS lacks is simply missing)."""
        return self._run("sysctl", *SYSCTL_KEYS, accept_failure=True)

    def drm_cards(self) -> list[dict[str, str]]:
        """For each /sys/class/drm/cardN: {'card': 'cardN', file: text} for the DRM_FILES that exist."""
        drm = self.sys_root / "class" / "drm"
        try:
            names = sorted((p.name for p in drm.iterdir() if _CARD.match(p.name)), key=lambda n: int(n[4:]))
        except OSError:
            return []
        cards = []
        for card in names:
            record = {"card": card}
            for file in DRM_FILES:
                text = _read(drm / card / "device" / file)
                if text is not None and text.strip():
                    record[file] = text.strip()
            cards.append(record)
        return cards

    def rocm_smi(self) -> str | None:
        """JSON of `rocm-smi --showmeminfo vram --showproductname --showid --json`, if rocm-smi runs."""
        return self._run("rocm-smi", *ROCM_SMI_ARGS)

    def nvml(self) -> Any | None:
        """The pynvml module (package nvidia-ml-py, extra `sizer[detect]`), or None if it is not installed."""
        try:
            import pynvml  # type: ignore[import-not-found,unused-ignore]
        except ImportError:
            return None
        return pynvml

    def _run(self, tool: str, *args: str, accept_failure: bool = False) -> str | None:
        path = shutil.which(tool)
        if path is None:
            return None
        try:
            done = subprocess.run(
                [path, *args], capture_output=True, text=True, timeout=self.timeout_s, check=False
            )
        except (OSError, subprocess.SubprocessError):
            return None
        if done.returncode != 0 and not (accept_failure and done.stdout.strip()):
            return None
        return done.stdout


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
