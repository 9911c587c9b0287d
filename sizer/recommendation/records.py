"""Records of the recommendation search: candidates placed, candidates missed, work units, and how a
machine is named and keyed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sizer.placement import Layout, Verdict
from sizer.placement.hardware import Hardware
from sizer.recommendation.cost import Build, Capex, Power, platform_for
from sizer.schema import Accelerator, Engine, QuantFormat
from sizer.sizing.engine_support import platforms_of
from sizer.speed.estimate import Speed

if TYPE_CHECKING:
    from sizer.recommendation.search import Search
    from sizer.sizing.fitter import Fitter

__all__ = [
    "Exported", "Miss", "Placed", "SearchLimits", "Task", "describe", "format_runs_on", "generic_build",
    "machine_key", "platforms_of", "ram_bandwidth", "ram_bytes",
]


def format_runs_on(fmt: QuantFormat, acc: Accelerator) -> bool:
    """FP4 checkpoints need FP4 units (weight-only FP4 kernels are not general); everything else runs."""
    need = fmt.requires_native
    return need not in ("fp4", "nvfp4", "mxfp4") or acc.runs_natively(need)


@dataclass(frozen=True, slots=True)
class Task:
    """One unit of search work; `group` says which worker may run it (-1: the parent process)."""

    run: Callable[[Search], object]
    group: int = -1


@dataclass(frozen=True, slots=True)
class SearchLimits:
    """Constraints known before placing."""

    min_tps: float | None = None
    budget_usd: float | None = None
    max_gpus: int | None = None
    max_power_w: float | None = None
    max_nodes: int = 4
    max_ttft_s: float | None = None  # time to first token of a full-context prompt


@dataclass(slots=True)
class Placed:
    """A candidate the fit core placed, that fits and meets every constraint."""

    build: Build
    hw: Hardware
    fmt: QuantFormat
    engine: Engine
    fitter: Fitter
    layout: Layout
    verdict: Verdict
    speed: Speed
    capex: Capex
    power: Power
    kld: float | None
    order: tuple[int, int] = (0, 0)  # (task, attempt within the task): a stable order for merging workers

    @property
    def price(self) -> float | None:
        return self.capex.total_usd

    @property
    def per_user_tps(self) -> float:
        return self.speed.per_user_decode_tokens_per_s

    @property
    def owned(self) -> bool:
        return bool(self.build.owned_gpus) or self.build.owns_host


@dataclass(frozen=True, slots=True)
class Miss:
    """A candidate left out, why, and how close it came (0 = at the limit; larger = further)."""

    hardware: str
    quant: str
    engine: str
    reason: str
    closeness: float
    kind: str  # memory | speed | ttft | budget | power | price | quality
    order: tuple[int, int] = (0, 0)
    owned: bool = False  # a configuration built on what the user has
    family: str = ""  # the accelerator kinds (or system): near misses are shown once per family


_Row = tuple[tuple[int, int], Build, str, str, Hardware, Layout, Verdict, Speed, Capex, Power, "float | None"]
Exported = tuple[list[_Row], list[Miss], int, int, int]


def machine_key(build: Build) -> tuple[object, ...]:
    """What makes two builds the same machine (the format and engine aside)."""
    return (build.system.id if build.system else None, tuple((a.id, n) for a, n in build.gpus), build.nodes,
            build.ram_gb, build.owned_gpus)


def generic_build(gpus: tuple[tuple[Accelerator, int], ...], nodes: int) -> Build | None:
    accs = [a for a, _ in gpus]
    count = sum(n for _, n in gpus)
    platform = platform_for(accs, count, 0.0)
    if platform is None and not any(a.unified_memory for a in accs):
        return None
    ram = float(platform.included_ram_gb) if platform is not None else 0.0
    return Build(gpus, nodes, ram, None, platform)


def ram_bytes(build: Build) -> int | None:
    return int(build.ram_gb * 1e9) if build.ram_gb else None


def ram_bandwidth(build: Build) -> float | None:
    if build.system is not None:
        return build.system.host_ram_bandwidth_gb_s if build.ram_gb else None
    return build.platform.ram_bandwidth_gb_s if build.platform is not None and build.ram_gb else None


def describe(build: Build, *, show_ram: bool = False) -> str:
    """'8x H200 SXM 141GB', '2 nodes of 8x H100 SXM 80GB', '1x RTX 4090 + 256 GB RAM', a system's name.
    RAM is named when it is more than the host class ships with, or when `show_ram` (the layout uses it)."""
    if build.system is not None:
        return build.system.name
    parts = " + ".join(f"{n}x {a.name}" for a, n in build.gpus)
    if build.nodes > 1:
        parts = f"{build.nodes} nodes of {parts}"
    more = build.platform is not None and build.ram_gb > build.platform.included_ram_gb
    if build.ram_gb and (more or show_ram or build.owned_ram_gb):
        parts += f" + {build.ram_gb:,.0f} GB RAM"
    return parts
