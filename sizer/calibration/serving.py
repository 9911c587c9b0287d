"""Fit the serving model (sizer.speed.serving) on published vLLM / SGLang / TensorRT-LLM measurements.

Each row of sizer/calibration/serving_measurements.yaml is laid out exactly as `sizer fit` would (its
engine, GPUs and pinned layout), its batch is the row's concurrency or, for offline max-throughput runs,
the most sequences the KV cache and the engine's max_num_seqs allow, and it is reduced to the
parameter-free terms of the serving model (`ServingTerms`). Per engine and device class (and pooled per
engine, per class over the engines, and over everything) four parameters are fitted by coordinate descent
on the mean |log(estimate / measured)|: bandwidth efficiency, compute efficiency (both <= 1), a fixed cost
per layer and one per MoE layer (>= 0). Leave-one-out errors refit without each row.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

from sizer.catalog.loading import Catalog
from sizer.errors import SizerError
from sizer.memory.breakdown import Workload
from sizer.model.reference import resolve_model
from sizer.placement.hardware import build_hardware
from sizer.placement.serving import LayoutPins
from sizer.schema.calibration import CalibrationEntry
from sizer.sizing.fitter import Fitter, _resolve_format
from sizer.speed.serving import ServingTerms
from sizer.speed.serving_factors import ServingParams
from sizer.speed.terms import device_class

__all__ = ["ServingReport", "ServingRow", "fit_params", "serving_calibration"]

MEASUREMENTS = "serving_measurements.yaml"
MIN_POINTS = 3
_BW = tuple(round(0.30 + 0.05 * i, 2) for i in range(15))  # 0.30 .. 1.00
_COMP = tuple(round(0.05 + 0.05 * i, 2) for i in range(20))  # 0.05 .. 1.00
_LAYER_US = tuple(float(x) for x in range(0, 305, 5))
_MOE_US = tuple(float(x) for x in range(0, 405, 5))
_FRACTION = tuple(round(0.05 * i, 2) for i in range(1, 21))  # 0.05 .. 1.00
_START = (0.7, 0.5, 40.0, 40.0, 1.0, 0.5)
Params = tuple[float, float, float, float, float, float]  # bw, compute, us/layer, us/MoE layer, MoE compute, prefill


@dataclass(frozen=True)
class ServingRow:
    id: str
    engine: str
    engine_version: str
    device_class: str
    metric: str
    measured: float
    terms: ServingTerms
    gpus: int
    source: str


@dataclass(frozen=True)
class ServingReport:
    entries: tuple[CalibrationEntry, ...]
    rows: tuple[tuple[ServingRow, float, float | None], ...]  # (row, fitted estimate, leave-one-out estimate)
    skipped: tuple[tuple[str, str], ...]

    def errors(self, metric_kind: str, loo: bool) -> list[float]:
        out = []
        for row, est, loo_est in self.rows:
            if _kind(row.metric) != metric_kind:
                continue
            e = loo_est if loo else est
            if e is not None:
                out.append(abs(e / row.measured - 1) * 100)
        return out

    def summary(self) -> dict[str, tuple[int, float, float]]:
        """name -> (rows, median |error| %, 90th percentile |error| %)."""
        out = {}
        for kind in ("per-user", "aggregate"):
            for loo in (False, True):
                e = self.errors(kind, loo)
                if e:
                    name = f"serving {kind} {'leave-one-out' if loo else 'fit'}"
                    out[name] = (len(e), round(statistics.median(e), 1), round(_p90(e), 1))
        return out


def _kind(metric: str) -> str:
    return "per-user" if metric == "output_tokens_per_s_per_user" else "aggregate"


def _p90(values: list[float]) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, math.ceil(0.9 * len(s)) - 1)]


def load_rows() -> list[dict[str, Any]]:
    text = resources.files("sizer.calibration").joinpath(MEASUREMENTS).read_text(encoding="utf-8")
    rows = yaml.safe_load(text)
    assert isinstance(rows, list)
    return rows


def _resolve(row: dict[str, Any], catalog: Catalog) -> ServingRow | str:
    resolved = resolve_model(row["model"], catalog)
    fmt = _resolve_format(resolved, row["quant"], catalog)
    engine = catalog.engine(row["engine"])
    inp, out = int(row["input_tokens"]), int(row["output_tokens"])
    conc = row.get("concurrency")
    pins = LayoutPins(**row.get("layout", {}))
    f = Fitter(resolved, fmt, engine, Workload(inp + out, 1, row.get("kv_dtype")), catalog, pins=pins,
               max_num_seqs=row.get("max_num_seqs"))
    hw = build_hardware(catalog, ((row["gpu"], int(row["count"])),))
    placed = f.place(hw, "none")
    if placed is None:
        return "no layout"
    layout, verdict, _ = placed
    if not verdict.fits:
        return f"does not fit: {verdict.binding_constraint}"
    serving = f.serving(layout, verdict, hw)
    cap = max(int(f.max_concurrency(layout, inp + out)), 1)
    if serving.seq_cap is not None:
        cap = min(cap, serving.seq_cap)
    users = cap if conc is None else min(int(conc), cap)
    terms = serving.model.terms(users, inp, out, filled_tokens=inp + out / 2)
    acc = hw.accelerators[0][0]
    return ServingRow(row["id"], engine.id, row["engine_version"], device_class(acc), row["metric"],
                      float(row["measured"]), terms, serving.gpus, row["source"])


def predict(row: ServingRow, p: ServingParams) -> float:
    point = row.terms.evaluate(p)
    if row.metric == "output_tokens_per_s_per_user":
        return point.per_user_decode_tokens_per_s
    return point.throughput_tokens_per_s * _throughput_factor(row)


def _params(x: Params) -> ServingParams:
    return ServingParams(x[0], x[1], x[2] * 1e-6, x[3] * 1e-6, "", True, x[4], x[5])


class _Loss:
    """mean |log(estimate / measured)| over rows, vectorised (the same arithmetic as ServingTerms.evaluate;
    a test checks both agree)."""

    def __init__(self, rows: list[ServingRow]) -> None:
        import numpy as np

        self.np = np
        t = [r.terms for r in rows]

        def col(f: Any) -> Any:
            return np.array([float(f(x)) for x in t])

        self.mem, self.comp, self.moe = col(lambda x: x.memory_s), col(lambda x: x.compute_s), col(lambda x: x.moe_compute_s)
        self.link, self.layers, self.moe_layers = col(lambda x: x.link_s), col(lambda x: x.layers), col(lambda x: x.moe_layers)
        self.pre, self.wread = col(lambda x: x.prefill_compute_s), col(lambda x: x.weights_read_s)
        self.link0, self.chunk = col(lambda x: x.link0_s), col(lambda x: x.chunk)
        self.ratio = col(lambda x: x.prompt_tokens / max(x.output_tokens, 1))
        self.b, self.users = col(lambda x: x.batch), col(lambda x: x.users)
        self.per_user = np.array([r.metric == "output_tokens_per_s_per_user" for r in rows])
        self.factor = np.array([_throughput_factor(r) for r in rows])
        self.log_measured = np.log(np.array([r.measured for r in rows]))

    def __call__(self, x: Params) -> float:
        np = self.np
        bw, ce, c_us, cm_us, mc, pe = x
        fixed = self.layers * c_us * 1e-6 + self.moe_layers * cm_us * 1e-6
        step = np.maximum(self.mem / bw, (self.comp + self.moe) / ce / np.where(self.moe_layers > 0, mc, 1.0)) \
            + self.link + fixed
        prefill = np.maximum(self.pre / pe, (self.wread / bw + fixed + self.link0) / self.chunk)
        per_user = 1.0 / (step + (self.b - 1) * self.ratio * prefill)
        thr = self.users / (step + self.b * self.ratio * prefill) * self.factor
        est = np.where(self.per_user, per_user, thr)
        return float(np.mean(np.abs(np.log(est) - self.log_measured)))


def _throughput_factor(row: ServingRow) -> float:
    t = row.terms
    if row.metric in ("output_tokens_per_s_per_user", "output_tokens_per_s_total"):
        return 1.0
    if row.metric == "output_tokens_per_s_per_gpu":
        return 1.0 / row.gpus
    return (t.prompt_tokens + t.output_tokens) / t.output_tokens / row.gpus


def fit_params(rows: list[ServingRow], start: Params = _START, rounds: int = 6,
               free: frozenset[int] = frozenset(range(6))) -> Params:
    """Coordinate descent over the parameters in `free` (indices into Params), the others kept at `start`.
    The MoE parameters are only free when a row has MoE layers."""
    x = list(start)
    moe = any(r.terms.moe_layers for r in rows)
    grids: list[tuple[float, ...]] = [_BW, _COMP, _LAYER_US, _MOE_US, _FRACTION, _FRACTION]
    if not moe:
        free = free - {3, 4}
    loss_of = _Loss(rows)
    best = loss_of(tuple(x))  # type: ignore[arg-type]
    for _ in range(rounds):
        moved = False
        for i, grid in enumerate(grids):
            if i not in free:
                continue
            for v in grid:
                if v == x[i]:
                    continue
                trial = list(x)
                trial[i] = v
                loss = loss_of(tuple(trial))  # type: ignore[arg-type]
                if loss < best - 1e-12:
                    best, x, moved = loss, trial, True
        if not moved:
            break
    return (x[0], x[1], x[2], x[3], x[4], x[5])


# Groups with fewer points than this fit only the efficiencies (bandwidth, compute, prefill); their fixed
# costs come from the pooled fit of their device class (or of everything): four points cannot pin six numbers.
FULL_FIT_POINTS = 8
_EFFICIENCIES = frozenset({0, 1, 5})


_STARTS = tuple((bw, ce, 20.0, 100.0, mc, pe) for bw in (0.5, 0.8) for ce in (0.1, 0.3, 0.6) for mc in (0.2, 0.5, 1.0)
                for pe in (0.3, 0.7))


def _best_start(rows: list[ServingRow], start: Params, free: frozenset[int]) -> Params:
    """Coordinate descent from several starting points (the loss has local minima); the best fit wins."""
    loss_of = _Loss(rows)
    starts = [start] + ([tuple(v if i in free else start[i] for i, v in enumerate(s)) for s in _STARTS]
                        if len(free) > 3 else [])
    fits = [fit_params(rows, s, free=free) for s in starts]  # type: ignore[arg-type]
    return min(fits, key=loss_of)


def _groups(rows: list[ServingRow]) -> list[tuple[str, str, list[ServingRow]]]:
    """(engine, device class, rows) from the most specific to the most pooled, with enough points."""
    out = []
    keys = sorted({(r.engine, r.device_class) for r in rows})
    for eng, dc in keys:
        out.append((eng, dc, [r for r in rows if (r.engine, r.device_class) == (eng, dc)]))
    for eng in sorted({r.engine for r in rows}):
        out.append((eng, "any", [r for r in rows if r.engine == eng]))
    for dc in sorted({r.device_class for r in rows}):
        out.append(("serving", dc, [r for r in rows if r.device_class == dc]))
    out.append(("serving", "any", list(rows)))
    return [g for g in out if len(g[2]) >= MIN_POINTS]


def _backend(dc: str) -> str:
    return {"nvidia-datacenter": "cuda", "nvidia-consumer": "cuda", "amd": "rocm"}.get(dc, "any")


def _entries(eng: str, dc: str, rows: list[ServingRow], x: Params,
             loo: list[float]) -> list[CalibrationEntry]:
    p = _params(x)
    errs = [abs(predict(r, p) / r.measured - 1) * 100 for r in rows]
    versions = sorted({r.engine_version for r in rows})
    sources = sorted({r.source for r in rows})
    common: dict[str, Any] = dict(
        kind="calibration", backend=_backend(dc), device_class=dc, quant_kernel="any", engine=eng,
        engine_versions=versions, sources=sources, fit_points=len(rows),
        median_abs_error_percent=round(statistics.median(errs), 1), max_abs_error_percent=round(max(errs), 1),
        loo_median_abs_error_percent=round(statistics.median(loo), 1) if loo else None,
        loo_p90_abs_error_percent=round(_p90(loo), 1) if loo else None,
        notes=("Generated by `python -m sizer.calibrate` from sizer/calibration/serving_measurements.yaml. Serving "
               "step = max(bytes / (bandwidth x efficiency), FLOPs / (compute x compute efficiency)) + links + layers "
               "x layer_overhead_us + MoE layers x moe_layer_overhead_us, chunked prefill stealing step time "
               "(sizer.speed.serving). Fitted on: " + ", ".join(r.id for r in rows) + "."),
    )
    return [
        CalibrationEntry.model_validate({**common, "id": f"calibration-serving-decode-{eng}-{dc}", "phase": "decode",
                                         "efficiency": x[0], "layer_overhead_us": x[2],
                                         "moe_layer_overhead_us": x[3], "compute_efficiency": x[1],
                                         "moe_compute_efficiency": x[4]}),
        CalibrationEntry.model_validate({**common, "id": f"calibration-serving-prefill-{eng}-{dc}", "phase": "prefill",
                                         "efficiency": x[5]}),
    ]


def serving_calibration(catalog: Catalog, *, loo: bool = True) -> ServingReport:
    rows: list[ServingRow] = []
    skipped: list[tuple[str, str]] = []
    for raw in load_rows():
        try:
            r = _resolve(raw, catalog)
        except SizerError as exc:
            r = str(exc)
        if isinstance(r, str):
            skipped.append((raw["id"], r))
        else:
            rows.append(r)
    entries: list[CalibrationEntry] = []
    fitted: dict[tuple[str, str], Params] = {}
    loo_by_group: dict[tuple[str, str], dict[str, float]] = {}
    groups = _groups(rows)
    for eng, dc, group in sorted(groups, key=lambda g: (g[0] != "serving", g[1] != "any")):  # pooled first
        parent = fitted.get(("serving", dc)) if eng != "serving" else None
        parent = parent if parent is not None and len(
            next(g for g in groups if g[:2] == ("serving", dc))[2]) >= FULL_FIT_POINTS else fitted.get(("serving", "any"))
        start = parent or _START
        free = frozenset(range(6)) if len(group) >= FULL_FIT_POINTS else _EFFICIENCIES
        if parent is not None and not any(r.terms.moe_layers for r in group):
            free = free - {3, 4}  # no MoE row: the MoE costs of the pooled fit
        fitted[(eng, dc)] = _best_start(group, start, free)
    free_of = {(eng, dc): (frozenset(range(6)) if len(g) >= FULL_FIT_POINTS else _EFFICIENCIES) for eng, dc, g in groups}
    used: dict[str, tuple[str, str]] = {}
    for r in rows:
        # the entry `fit` would use for this row (the lookup order of sizer.speed.serving_factors)
        used[r.id] = next(k for k in ((r.engine, r.device_class), (r.engine, "any"), ("serving", r.device_class),
                                      ("serving", "any")) if k in fitted)
    for eng, dc, group in groups:
        x = fitted[(eng, dc)]
        loo_est: dict[str, float] = {}
        if loo:
            for r in group:
                others = [o for o in group if o is not r]
                if used[r.id] == (eng, dc) and len(others) >= MIN_POINTS - 1:
                    loo_est[r.id] = predict(r, _params(fit_params(others, start=x, rounds=3, free=free_of[(eng, dc)])))
        loo_by_group[(eng, dc)] = loo_est
        errs = [abs(loo_est[r.id] / r.measured - 1) * 100 for r in group if r.id in loo_est]
        entries += _entries(eng, dc, group, x, errs)
    out = [(r, predict(r, _params(fitted[used[r.id]])), loo_by_group[used[r.id]].get(r.id)) for r in rows]
    return ServingReport(tuple(entries), tuple(out), tuple(skipped))


def format_serving(report: ServingReport) -> str:
    lines = ["{:34} {:13} {:17} {:>10} {:>10} {:>7} {:>7}".format(
        "serving row", "engine", "device class", "measured", "estimate", "error", "LOO")]
    for r, est, loo_est in report.rows:
        loo = "" if loo_est is None else f"{(loo_est / r.measured - 1) * 100:+6.1f}%"
        lines.append(f"{r.id[:34]:34} {r.engine:13} {r.device_class:17} {r.measured:10.1f} {est:10.1f} "
                     f"{(est / r.measured - 1) * 100:+6.1f}% {loo:>7}")
    lines.append("")
    lines.append("{:52} {:>6} {:>6} {:>8} {:>8} {:>6} {:>7} {:>7}".format(
        "serving entry", "bw", "comp", "us/layer", "us/MoE", "points", "median", "LOO p90"))
    for e in report.entries:
        if e.phase != "decode":
            continue
        comp = e.compute_efficiency or 0.0
        lines.append(f"{e.id:52} {e.efficiency:6.2f} {comp:6.2f} {e.layer_overhead_us:8.0f} "
                     f"{e.moe_layer_overhead_us:8.0f} {e.fit_points:6d} {e.median_abs_error_percent:6g}% "
                     + ("" if e.loo_p90_abs_error_percent is None else f"{e.loo_p90_abs_error_percent:6g}%"))
    lines += [f"skipped {rid}: {why}" for rid, why in report.skipped]
    lines.append("")
    lines += [f"{name}: {n} rows, median |error| {med:g}%, p90 {p90:g}%"
              for name, (n, med, p90) in report.summary().items()]
    return "\n".join(lines)
