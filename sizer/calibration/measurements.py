"""Published speed measurements (sizer/calibration/measurements.yaml) and the estimate inputs for each.

Each row names a device, a model and a quant the way its source printed them; `resolve_cases` maps
them onto catalog entries and builds the same layout, verdict and `SpeedInputs` that `sizer fit`
would, so the calibration is fitted on exactly the arithmetic the estimates use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from sizer.catalog.loading import Catalog
from sizer.errors import SizerError
from sizer.memory.breakdown import Workload
from sizer.model.reference import resolve_model
from sizer.placement import Layout, Verdict
from sizer.placement.hardware import Hardware, build_hardware
from sizer.quant.assignment import resolve_quant
from sizer.speed.estimate import SpeedInputs

__all__ = ["Case", "Measurement", "load_measurements", "measurements_text", "resolve_cases"]

USES = ("fit", "holdout", "exclude")


@dataclass(frozen=True, slots=True)
class Measurement:
    id: str
    device: str
    device_id: str | None
    n_devices: int
    model: str
    quant: str
    engine: str
    system: str | None
    host_ram_gb: float | None
    host_ram_bandwidth_gb_s: float | None
    decode_tokens_per_s: float | None
    decode_context_tokens: int
    decode_use: str
    prefill_tokens_per_s: float | None
    prefill_tokens: int
    prefill_use: str
    source: str
    url: str
    recalled: bool
    note: str


@dataclass(frozen=True)
class Case:
    """A measurement resolved against the catalog: what `fit` would lay out and estimate."""

    measurement: Measurement
    layout: Layout
    verdict: Verdict
    decode_inputs: SpeedInputs
    prefill_inputs: SpeedInputs


def measurements_text() -> str:
    return resources.files("sizer.calibration").joinpath("measurements.yaml").read_text(encoding="utf-8")


def _context_of(test: str, default: int) -> int:
    m = re.fullmatch(r"tg(\d+)", test or "")
    if m:
        return max(int(m.group(1)) // 2, 1)  # the context fills from 0 to N while generating
    m = re.search(r"-n (\d+)", test or "")
    if m:
        return max(int(m.group(1)) // 2, 1)
    return default


def _prompt_of(test: str, default: int) -> int:
    m = re.fullmatch(r"pp(\d+)", test or "")
    return int(m.group(1)) if m else default


def _use(value: Any, row_id: str, field: str) -> str:
    use = "fit" if value is None else str(value)
    if use not in USES:
        raise SizerError(
            f"measurements.yaml: row {row_id}: {field} must be one of {', '.join(USES)}, not {use!r}"
        )
    return use


def _row(raw: dict[str, Any]) -> Measurement:
    rid = str(raw["id"])
    tg, pp = raw.get("tg_tps"), raw.get("pp_tps")
    return Measurement(
        id=rid,
        device=str(raw["device"]),
        device_id=raw.get("device_id"),
        n_devices=int(raw.get("n_devices", 1)),
        model=str(raw["model"]),
        quant=str(raw["quant"]),
        engine=str(raw.get("engine", "llama.cpp")),
        system=raw.get("system"),
        host_ram_gb=raw.get("host_ram_gb"),
        host_ram_bandwidth_gb_s=raw.get("host_ram_bandwidth_gb_s"),
        decode_tokens_per_s=None if tg is None else float(tg),
        decode_context_tokens=int(
            raw.get("decode_context_tokens") or _context_of(raw.get("tg_test", ""), 512)
        ),
        decode_use=_use(raw.get("decode"), rid, "decode") if tg is not None else "exclude",
        prefill_tokens_per_s=None if pp is None else float(pp),
        prefill_tokens=int(raw.get("prefill_tokens") or _prompt_of(raw.get("pp_test", ""), 512)),
        prefill_use=_use(raw.get("prefill"), rid, "prefill") if pp is not None else "exclude",
        source=" ".join(str(raw.get("source", "")).split()),
        url=str(raw["url"]),
        recalled=bool(raw.get("recalled", False)),
        note=" ".join(str(raw.get("note", "")).split()),
    )


@cache
def load_measurements() -> tuple[Measurement, ...]:
    import yaml

    data = yaml.load(measurements_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    rows = tuple(_row(r) for r in data["rows"])
    ids = [r.id for r in rows]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise SizerError(f"measurements.yaml: duplicate row ids {', '.join(dupes)}")
    return rows


def _hardware(m: Measurement, catalog: Catalog) -> Hardware:
    ram = int(m.host_ram_gb * 1e9) if m.host_ram_gb else None
    gpus = ((m.device_id, m.n_devices),) if m.device_id and not m.system else ()
    return build_hardware(
        catalog, gpus, ram_bytes=ram, ram_bandwidth_gb_s=m.host_ram_bandwidth_gb_s, system=m.system
    )


def resolve_case(m: Measurement, catalog: Catalog) -> Case:
    """The layout `fit` would choose for this measurement's setup and the inputs of its estimate."""
    from sizer.sizing.fitter import Fitter, quant_kernel  # fit imports calibration, which this module's users import

    if m.device_id is None and m.system is None:
        raise SizerError(f"{m.id}: no catalog device")
    resolved = resolve_model(m.model, catalog)
    fmt = resolve_quant(m.quant.lower(), resolved.entry, catalog)
    engine = catalog.engine(m.engine)
    hw = _hardware(m, catalog)
    fitter = Fitter(resolved, fmt, engine, Workload(m.decode_context_tokens, 1, None), catalog)
    placed = fitter.place(hw, "auto", efficiency=_ROOFLINE)
    if placed is None:
        raise SizerError(f"{m.id}: nothing to place on")
    layout, verdict, _ = placed
    decode = SpeedInputs(
        resolved.arch, resolved.active_params, fmt, engine, hw, m.decode_context_tokens, 1, quant_kernel(fmt)
    )
    prefill = SpeedInputs(
        resolved.arch, resolved.active_params, fmt, engine, hw, m.prefill_tokens, 1, quant_kernel(fmt)
    )
    return Case(m, layout, verdict, decode, prefill)


def _roofline(phase: str, backend: str, device_class: str, quant_kernel: str) -> tuple[float, str]:
    return 1.0, "efficiency 1 (roofline)"


_ROOFLINE = _roofline


def resolve_cases(
    catalog: Catalog, rows: tuple[Measurement, ...] | None = None
) -> tuple[list[Case], list[tuple[Measurement, str]]]:
    """(resolved cases, [(row, why it could not be resolved)]) for every row that is not excluded."""
    cases: list[Case] = []
    skipped: list[tuple[Measurement, str]] = []
    for m in rows if rows is not None else load_measurements():
        if m.decode_use == "exclude" and m.prefill_use == "exclude":
            skipped.append((m, m.note or "excluded"))
            continue
        try:
            cases.append(resolve_case(m, catalog))
        except SizerError as exc:
            skipped.append((m, str(exc)))
    return cases, skipped
