"""The speed calibration: fresh, accurate on the published measurements, consistent with perf.

The measurements (sizer/calibration/measurements.yaml) are the independent truth here: published tokens/s
on real hardware. The committed gpu_catalog/calibration.yaml must be exactly what
`python -m sizer.calibrate --write` produces from them.
"""

from __future__ import annotations

import math
import statistics
from functools import cache
from typing import Any

import pytest

from sizer.calibration.command import Report, calibrate, calibration_path, main, yaml_text
from sizer.calibration.fitting import DecodePoint, fit_class, predict_s
from sizer.calibration.measurements import load_measurements
from sizer.catalog.loading import load_catalog
from sizer.schema.calibration import CalibrationEntry
from sizer.speed.factors import Calibration, efficiency_for

# Bounds on |estimate - measured| / measured, percent. The target for data the fit has not seen
# is a median decode error of at most 20%.
DECODE_FIT_MEDIAN = 10.0
DECODE_LOO_MEDIAN = 15.0
DECODE_HELD_OUT_MEDIAN = 20.0
PREFILL_FIT_MEDIAN = 20.0


@cache
def report() -> Report:
    return calibrate(load_catalog())


def test_committed_calibration_is_what_the_generator_writes() -> None:
    committed = calibration_path().read_text(encoding="utf-8")
    assert committed == yaml_text(report()), "stale: run `python -m sizer.calibrate --write`"


def test_check_mode_passes_on_the_committed_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--check"]) == 0
    out = capsys.readouterr().out
    assert "decode leave-one-out" in out and "is up to date" in out


def test_the_catalog_serves_the_committed_entries() -> None:
    catalog = load_catalog()
    assert set(catalog.calibration) == {e.id for e in report().entries}
    assert all(
        isinstance(e, CalibrationEntry) and 0 < e.efficiency <= 1 for e in catalog.calibration.values()
    )


def test_decode_fit_error_is_small() -> None:
    errors = report().errors("decode", "fit")
    assert len(errors) >= 30
    assert statistics.median(errors) <= DECODE_FIT_MEDIAN


def test_leave_one_out_error_is_reported_and_bounded() -> None:
    rows = [r for r in report().rows if r.use == "fit"]
    assert rows and all(r.loo_error_percent is not None for r in rows)
    loo = report().errors("decode", "fit", loo=True)
    assert statistics.median(loo) <= DECODE_LOO_MEDIAN


def test_held_out_rows_are_never_fitted_and_predicted_within_target() -> None:
    held = {m.id for m in load_measurements() if m.decode_use == "holdout"}
    fitted = {
        pid.strip().rstrip(".")
        for e in report().entries
        for pid in (e.notes or "").split("Fitted on:")[-1].split(",")
    }
    assert held and not held & fitted
    assert statistics.median(report().errors("decode", "holdout")) <= DECODE_HELD_OUT_MEDIAN


def test_prefill_fit_error_is_bounded() -> None:
    assert statistics.median(report().errors("prefill", "fit")) <= PREFILL_FIT_MEDIAN


def test_no_calibrated_estimate_exceeds_its_roofline() -> None:
    for r in report().rows:
        assert r.estimate_tokens_per_s <= r.roofline_tokens_per_s * (1 + 1e-9), r.id


def test_fitted_model_is_the_estimate() -> None:
    """The formula the fit minimizes equals what perf.estimate computes for each decode row."""
    from sizer.calibration.command import _decode_point
    from sizer.calibration.measurements import resolve_case
    from sizer.speed.estimate import estimate

    catalog = load_catalog()
    cal = efficiency_for(catalog)
    for m in load_measurements():
        if m.decode_use == "exclude":
            continue
        case = resolve_case(m, catalog)
        p = _decode_point(case)
        assert isinstance(p, DecodePoint)
        f_gpu = cal("decode", p.backend, p.device_class, p.kernel)[0]
        f_cpu = cal("decode", "cpu", "cpu", p.kernel)[0]
        overhead_us = cal.layer_overhead_s(p.backend, p.device_class)[0] * 1e6
        speed = estimate(case.layout, case.verdict, case.decode_inputs, cal)
        assert 1 / predict_s(p, f_gpu, overhead_us, f_cpu) == pytest.approx(
            speed.decode_tokens_per_s, rel=1e-9
        ), m.id


def test_every_entry_names_its_sources_and_fit() -> None:
    for e in report().entries:
        assert e.sources and e.fit_points >= 1
        assert e.median_abs_error_percent is not None and e.max_abs_error_percent is not None
        assert e.median_abs_error_percent <= e.max_abs_error_percent
        if e.phase == "prefill":
            assert e.layer_overhead_us == 0


def test_measurements_are_well_formed() -> None:
    rows = load_measurements()
    assert len({r.id for r in rows}) == len(rows)
    for r in rows:
        assert r.url.startswith("https://"), r.id
        if "exclude" in (r.decode_use, r.prefill_use) and (r.decode_tokens_per_s and r.prefill_tokens_per_s):
            assert r.note, f"{r.id}: an excluded measurement says why"
        if r.recalled and r.decode_use == "fit":
            assert r.note, f"{r.id}: a recalled row fitted anyway says why"


def test_lookup_falls_back_from_kernel_to_proxy_to_class_to_any() -> None:
    def entry(backend: Any, dclass: Any, kernel: Any, f: float, overhead: float = 0.0) -> CalibrationEntry:
        return CalibrationEntry(
            id=f"c-{backend}-{dclass}-{kernel}".replace("_", "-"),
            phase="decode",
            backend=backend,
            device_class=dclass,
            quant_kernel=kernel,
            efficiency=f,
            layer_overhead_us=overhead,
            fit_points=1,
            sources=["https://example.org/m"],
        )

    cal = Calibration(
        (
            entry("cuda", "nvidia-consumer", "legacy", 0.7, 20),
            entry("cuda", "nvidia-consumer", "any", 0.6, 20),
            entry("any", "any", "any", 0.5, 50),
            entry("any", "any", "float", 0.8, 50),
        )
    )
    assert cal("decode", "cuda", "nvidia-consumer", "legacy")[0] == 0.7
    assert (
        cal("decode", "cuda", "nvidia-consumer", "k_quant")[0] == 0.7
    )  # K-quants decode like the legacy quants
    assert cal("decode", "cuda", "nvidia-consumer", "float")[0] == 0.6  # the class before the pooled kernel
    assert cal("decode", "rocm", "amd", "float")[0] == 0.8
    assert cal("decode", "rocm", "amd", "legacy")[0] == 0.5
    assert cal.layer_overhead_s("cuda", "nvidia-consumer")[0] == pytest.approx(20e-6)
    assert cal.layer_overhead_s("rocm", "amd")[0] == pytest.approx(50e-6)
    assert cal("prefill", "cuda", "nvidia-consumer", "legacy")[1].startswith("efficiency 0.40 (uncalibrated")


def test_fit_recovers_known_parameters() -> None:
    """Synthetic measurements made with efficiency 0.8 and 40 us per layer are fitted back."""
    points = []
    for i, (gpu_s, layers) in enumerate([(0.004, 32), (0.05, 80), (0.002, 32), (0.02, 40), (0.1, 80)]):
        measured = gpu_s / 0.8 + layers * 40e-6
        points.append(
            DecodePoint(
                f"p{i}",
                measured,
                gpu_s,
                0.0,
                0.0,
                layers,
                "cuda",
                "nvidia-consumer",
                "legacy",
                "https://example.org",
            )
        )
    fit = fit_class(points)
    assert fit.overhead_us == pytest.approx(40, abs=0.5)
    assert fit.factors["legacy"] == pytest.approx(0.8, abs=0.005)
    assert all(
        math.isclose(predict_s(p, fit.factors["legacy"], fit.overhead_us), p.measured_s, rel_tol=0.01)
        for p in points
    )
