"""Fit sizer's speed calibration on published measurements and write gpu_catalog/calibration.yaml.

    python -m sizer.calibrate           # per-row errors, the factors, fit / leave-one-out / held-out errors
    python -m sizer.calibrate --check   # the same, and exit 1 if gpu_catalog/calibration.yaml is stale
    python -m sizer.calibrate --write   # regenerate gpu_catalog/calibration.yaml (never edit it by hand)

Every row of sizer/calibration/measurements.yaml is resolved against the catalog and laid out exactly as
`sizer fit` would (`sizer.calibration.measurements.resolve_cases`); its decode step is reduced to the roofline terms
`perf` uses (`sizer.speed.estimate`), and `sizer.calibration.fitting` fits one factor per group: device class x
backend x quant kernel where the data has at least two points, then the class as a whole, then all
GPUs pooled (`any`). Errors are then measured with the real `perf.estimate` and the lookup that `fit`
uses, so what is printed is what users get.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from sizer.calibration.entries import decode_entries, prefill_entries
from sizer.calibration.fitting import DecodePoint, PrefillPoint
from sizer.calibration.measurements import Case, resolve_cases
from sizer.calibration.serving import ServingReport, format_serving, serving_calibration
from sizer.catalog.loading import Catalog, load_catalog
from sizer.schema.calibration import CalibrationEntry
from sizer.speed.estimate import backend_of, compute_tflops, decode_terms, device_class, estimate
from sizer.speed.factors import Calibration

__all__ = ["Report", "RowResult", "calibrate", "main", "yaml_text"]

CALIBRATION_FILE = "calibration.yaml"


@dataclass(frozen=True, slots=True)
class RowResult:
    id: str
    phase: str
    use: str  # fit | holdout
    measured_tokens_per_s: float
    estimate_tokens_per_s: float
    roofline_tokens_per_s: float
    loo_tokens_per_s: float | None = None

    @property
    def error_percent(self) -> float:
        return 100 * (self.estimate_tokens_per_s / self.measured_tokens_per_s - 1)

    @property
    def loo_error_percent(self) -> float | None:
        if self.loo_tokens_per_s is None:
            return None
        return 100 * (self.loo_tokens_per_s / self.measured_tokens_per_s - 1)


@dataclass(frozen=True)
class Report:
    entries: tuple[CalibrationEntry, ...]
    rows: tuple[RowResult, ...]
    skipped: tuple[tuple[str, str], ...]  # (row id, why)
    serving: ServingReport | None = None  # vLLM / SGLang / TensorRT-LLM under load (sizer.calibration.serving)

    def errors(self, phase: str, use: str, loo: bool = False) -> list[float]:
        out = []
        for r in self.rows:
            if r.phase == phase and r.use == use:
                e = r.loo_error_percent if loo else r.error_percent
                if e is not None:
                    out.append(abs(e))
        return out

    def summary(self) -> dict[str, tuple[int, float, float]]:
        """name -> (rows, median |error| %, worst |error| %)."""
        out = {}
        for name, phase, use, loo in (
            ("decode fit", "decode", "fit", False),
            ("decode leave-one-out", "decode", "fit", True),
            ("decode held out", "decode", "holdout", False),
            ("prefill fit", "prefill", "fit", False),
            ("prefill leave-one-out", "prefill", "fit", True),
        ):
            e = self.errors(phase, use, loo)
            if e:
                out[name] = (len(e), round(statistics.median(e), 1), round(max(e), 1))
        return out


def _roofline(phase: str, backend: str, device_class: str, quant_kernel: str) -> tuple[float, str]:
    return 1.0, "efficiency 1 (roofline)"


def _decode_point(case: Case) -> DecodePoint | str:
    m = case.measurement
    terms = decode_terms(case.layout, case.verdict, case.decode_inputs, 1)
    gpu_s = cpu_s = 0.0
    for stage in terms.stages:
        if not stage:
            continue
        if all(t.backend == "cpu" for t in stage):
            cpu_s += max(t.roofline_s for t in stage)
        else:
            if any((t.backend, t.device_class) != (terms.backend, terms.device_class) for t in stage):
                return "mixed device classes in one stage"
            gpu_s += max(t.roofline_s for t in stage)
    assert m.decode_tokens_per_s is not None
    return DecodePoint(
        m.id,
        1 / m.decode_tokens_per_s,
        gpu_s,
        cpu_s,
        terms.link_s,
        terms.layers,
        terms.backend,
        terms.device_class,
        case.decode_inputs.quant_kernel,
        m.url,
    )


def _prefill_point(case: Case) -> PrefillPoint | str:
    m, inp = case.measurement, case.prefill_inputs
    acc = next(a for a, _ in inp.hardware.accelerators)
    _, label = compute_tflops(acc, inp.quant, inp.engine, inp.quant_kernel)
    if acc.vendor.lower() != "apple" and ("placeholder" in label or label.startswith("FP32")):
        return f"prefill not fitted: the catalog has no dense FP16/INT8 figure for {acc.name}"
    roof = estimate(case.layout, case.verdict, inp, _roofline).prefill_roofline_tokens_per_s
    assert m.prefill_tokens_per_s is not None
    return PrefillPoint(
        m.id, m.prefill_tokens_per_s / roof, backend_of(acc), device_class(acc), inp.quant_kernel, m.url
    )


def _predict(case: Case, cal: Calibration, phase: str) -> float:
    inp = case.decode_inputs if phase == "decode" else case.prefill_inputs
    s = estimate(case.layout, case.verdict, inp, cal)
    return s.decode_tokens_per_s if phase == "decode" else s.prefill_tokens_per_s


def calibrate(catalog: Catalog | None = None, *, loo: bool = True) -> Report:
    """Fit the factors, then measure the errors (and leave-one-out errors) with the real estimate."""
    catalog = catalog or load_catalog()
    cases, skipped_rows = resolve_cases(catalog)
    skipped = [(m.id, why) for m, why in skipped_rows]
    decode: dict[str, tuple[Case, DecodePoint]] = {}
    prefill: dict[str, tuple[Case, PrefillPoint]] = {}
    for case in cases:
        m = case.measurement
        if m.decode_use != "exclude":
            dp = _decode_point(case)
            if isinstance(dp, str):
                skipped.append((m.id, dp))
            else:
                decode[m.id] = (case, dp)
        if m.prefill_use != "exclude":
            pp = _prefill_point(case)
            if isinstance(pp, str):
                skipped.append((m.id, pp))
            else:
                prefill[m.id] = (case, pp)
    d_fit = [p for c, p in decode.values() if c.measurement.decode_use == "fit"]
    p_fit = [p for c, p in prefill.values() if c.measurement.prefill_use == "fit"]
    entries = tuple(decode_entries(d_fit) + prefill_entries(p_fit))
    cal = Calibration(entries)
    rows: list[RowResult] = []
    for phase, table, fitted in (("decode", decode, d_fit), ("prefill", prefill, p_fit)):
        for rid, (case, _point) in table.items():
            m = case.measurement
            use = m.decode_use if phase == "decode" else m.prefill_use
            measured = m.decode_tokens_per_s if phase == "decode" else m.prefill_tokens_per_s
            assert measured is not None
            s = estimate(
                case.layout,
                case.verdict,
                case.decode_inputs if phase == "decode" else case.prefill_inputs,
                cal,
            )
            roof = s.decode_roofline_tokens_per_s if phase == "decode" else s.prefill_roofline_tokens_per_s
            est = s.decode_tokens_per_s if phase == "decode" else s.prefill_tokens_per_s
            loo_est = None
            if loo and use == "fit":
                others = [p for p in fitted if p.id != rid]
                refit = decode_entries(others) if phase == "decode" else prefill_entries(others)  # type: ignore[arg-type]
                keep = [e for e in entries if e.phase != phase]
                loo_est = _predict(case, Calibration(tuple(refit + keep)), phase)
            rows.append(RowResult(rid, phase, use, measured, est, roof, loo_est))
    serving = serving_calibration(catalog, loo=loo)
    return Report(entries + serving.entries, tuple(rows), tuple(skipped), serving)


def yaml_text(report: Report) -> str:
    import yaml

    lines = [
        "# yaml-language-server: $schema=schemas/calibration.schema.json",
        "# GENERATED by `python -m sizer.calibrate --write` from sizer/calibration/measurements.yaml:",
        "# do not edit by hand.",
        "# Speed efficiency factors (measured / roofline) by phase, backend, device class and quant kernel.",
        "# Errors are |estimate - measured| / measured over the measurements (rows, median %, worst %):",
    ]
    lines += [
        f"#   {name}: {n} rows, median {med:g}%, worst {worst:g}%"
        for name, (n, med, worst) in report.summary().items()
    ]
    if report.serving is not None:
        lines.append("# Serving engines under load, from sizer/calibration/serving_measurements.yaml (rows, median %, p90 %):")
        lines += [f"#   {name}: {n} rows, median {med:g}%, p90 {p90:g}%"
                  for name, (n, med, p90) in report.serving.summary().items()]
    data = [e.model_dump(mode="json", exclude={"aliases", "figure_sources"}) for e in report.entries]
    body = str(yaml.safe_dump(data, sort_keys=False, width=110, allow_unicode=True))
    return "\n".join(lines) + "\n" + body


def calibration_path() -> Path:
    return Path(str(resources.files("gpu_catalog").joinpath(CALIBRATION_FILE)))


def format_report(report: Report) -> str:
    head = ("row", "phase", "use", "measured", "estimate", "roofline", "error", "LOO")
    out = ["{:52} {:7} {:7} {:>9} {:>9} {:>9} {:>7} {:>7}".format(*head)]
    for r in sorted(report.rows, key=lambda r: (r.phase, r.use, r.id)):
        loo = f"{r.loo_error_percent:+6.1f}%" if r.loo_error_percent is not None else ""
        speeds = (
            f"{r.measured_tokens_per_s:9.2f} {r.estimate_tokens_per_s:9.2f} {r.roofline_tokens_per_s:9.2f}"
        )
        out.append(f"{r.id[:52]:52} {r.phase:7} {r.use:7} {speeds} {r.error_percent:+6.1f}% {loo:>7}")
    out.append("")
    columns = ("calibration entry", "efficiency", "us/layer", "points", "median", "worst")
    out.append("{:58} {:>10} {:>8} {:>6} {:>7} {:>7}".format(*columns))
    for e in report.entries:
        med = "" if e.median_abs_error_percent is None else f"{e.median_abs_error_percent:g}%"
        worst = "" if e.max_abs_error_percent is None else f"{e.max_abs_error_percent:g}%"
        out.append(
            f"{e.id:58} {e.efficiency:10.4f} {e.layer_overhead_us:8.1f} {e.fit_points:6d} {med:>7} {worst:>7}"
        )
    if report.skipped:
        out.append("")
        out += [f"skipped {rid}: {why}" for rid, why in report.skipped]
    out.append("")
    out += [
        f"{name}: {n} rows, median |error| {med:g}%, worst {worst:g}%"
        for name, (n, med, worst) in report.summary().items()
    ]
    if report.serving is not None:
        out += ["", format_serving(report.serving)]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m sizer.calibrate", description=__doc__.split("\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="regenerate gpu_catalog/calibration.yaml")
    mode.add_argument("--check", action="store_true", help="fail if gpu_catalog/calibration.yaml is stale")
    args = parser.parse_args(argv)
    report = calibrate(load_catalog())
    print(format_report(report))
    text = yaml_text(report)
    path = calibration_path()
    if args.write:
        path.write_text(text, encoding="utf-8")
        print(f"\nwrote {path}")
    elif args.check:
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current != text:
            print(f"\n{path} is stale: run `python -m sizer.calibrate --write`")
            return 1
        print(f"\n{path} is up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
