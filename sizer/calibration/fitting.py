"""The fitted speed model and its least-squares fit (used by `sizer.calibrate`).

Every decode measurement reduces to the terms `perf` uses: roofline seconds on the GPUs (bytes read /
peak bandwidth, summed over stages that run one after another), roofline seconds on host RAM, link
seconds, and the layers a step runs. The model is

    step seconds = gpu_s / f_gpu + cpu_s / f_cpu + link_s + layers x overhead

with f_gpu per (backend, device class, quant kernel), the per-layer overhead per (backend, device
class), and f_cpu for the host RAM tier. Each group is fitted by least squares on log(step seconds):
the overhead by a grid plus golden-section search, each factor by golden-section search inside it.
Prefill factors are the geometric mean of measured / compute roofline.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["ClassFit", "DecodePoint", "PrefillPoint", "fit_class", "fit_cpu", "fit_prefill", "predict_s"]

MAX_OVERHEAD_US = 500.0
MIN_FACTOR = 0.05
MIN_KERNEL_POINTS = 2  # a kernel gets its own factor within a device class from this many measurements


@dataclass(frozen=True, slots=True)
class DecodePoint:
    id: str
    measured_s: float  # 1 / measured tokens per second
    gpu_s: float
    cpu_s: float
    link_s: float
    layers: int
    backend: str
    device_class: str
    kernel: str
    url: str


@dataclass(frozen=True, slots=True)
class PrefillPoint:
    id: str
    ratio: float  # measured / compute roofline
    backend: str
    device_class: str
    kernel: str
    url: str


@dataclass(frozen=True)
class ClassFit:
    overhead_us: float
    factors: dict[str, float]  # kernel -> factor; "any" fitted on all points of the class
    points: dict[str, tuple[DecodePoint, ...]]  # kernel -> the points each factor was fitted on


def predict_s(p: DecodePoint, f_gpu: float, overhead_us: float, f_cpu: float = 1.0) -> float:
    return p.gpu_s / f_gpu + (p.cpu_s / f_cpu if p.cpu_s else 0.0) + p.link_s + p.layers * overhead_us * 1e-6


def _golden(fn: Callable[[float], float], lo: float, hi: float, iterations: int = 36) -> float:
    g = (math.sqrt(5) - 1) / 2
    a, b = lo, hi
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = fn(c), fn(d)
    for _ in range(iterations):
        if fc <= fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = fn(c)
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = fn(d)
    return (a + b) / 2


def _sq_log_error(points: Iterable[DecodePoint], f: float, overhead_us: float) -> float:
    return sum(math.log(predict_s(p, f, overhead_us) / p.measured_s) ** 2 for p in points)


def _best_factor(points: Sequence[DecodePoint], overhead_us: float) -> tuple[float, float]:
    """(factor in [MIN_FACTOR, 1], squared log error) minimizing the error of `points`."""
    log_f = _golden(lambda x: _sq_log_error(points, math.exp(x), overhead_us), math.log(MIN_FACTOR), 0.0)
    f = math.exp(log_f)
    return f, _sq_log_error(points, f, overhead_us)


def _kernel_groups(points: Sequence[DecodePoint]) -> dict[str, tuple[DecodePoint, ...]]:
    groups: dict[str, list[DecodePoint]] = {}
    for p in points:
        groups.setdefault(p.kernel, []).append(p)
    own = {k: tuple(v) for k, v in groups.items() if len(v) >= MIN_KERNEL_POINTS}
    return {**dict(sorted(own.items())), "any": tuple(points)}


def _class_error(points: Sequence[DecodePoint], overhead_us: float) -> float:
    groups = _kernel_groups(points)
    err = 0.0
    loose = [p for p in points if p.kernel not in groups]
    for k, pts in groups.items():
        if k != "any":
            err += _best_factor(pts, overhead_us)[1]
    if loose:
        f_any, _ = _best_factor(groups["any"], overhead_us)
        err += _sq_log_error(loose, f_any, overhead_us)
    return err


def fit_class(points: Sequence[DecodePoint]) -> ClassFit:
    """Overhead and factors of one device class (or of all GPUs pooled) from its GPU-only points."""
    return _fit_class(tuple(points))


@lru_cache(maxsize=256)
def _fit_class(points: tuple[DecodePoint, ...]) -> ClassFit:
    grid = [MAX_OVERHEAD_US * i / 40 for i in range(41)]
    errors = [_class_error(points, c) for c in grid]
    i = min(range(len(grid)), key=errors.__getitem__)
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
    overhead = _golden(lambda c: _class_error(points, c), lo, hi, 24) if hi > lo else grid[i]
    groups = _kernel_groups(points)
    factors = {k: _best_factor(pts, overhead)[0] for k, pts in groups.items()}
    return ClassFit(overhead, factors, groups)


def fit_cpu(points: Sequence[DecodePoint], gpu: Callable[[DecodePoint], tuple[float, float]]) -> float:
    """Host-RAM factor for points with a CPU tier, the GPU side fixed by `gpu(point) -> (f, overhead_us)`."""

    def err(x: float) -> float:
        f_cpu = math.exp(x)
        return sum(math.log(predict_s(p, *gpu(p), f_cpu) / p.measured_s) ** 2 for p in points)

    return math.exp(_golden(err, math.log(MIN_FACTOR), 0.0))


def fit_prefill(points: Sequence[PrefillPoint]) -> float:
    """Geometric mean of measured / roofline (least squares in log space), at most 1."""
    return min(1.0, math.exp(sum(math.log(p.ratio) for p in points) / len(points)))
