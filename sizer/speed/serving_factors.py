"""The serving-model parameters of an engine on a device class, from the catalog's calibration entries.

`python -m sizer.calibrate` fits, per serving engine (vLLM, SGLang, TensorRT-LLM) and device class, on
published serving measurements (sizer/calibration/serving_measurements.yaml): the fraction of peak memory
bandwidth a decode step reaches, the fraction of dense peak compute its GEMMs and prefill reach, a fixed
cost per layer and a further fixed cost per MoE layer. Lookup: (engine, device class) -> (engine, any class)
-> (`serving`: pooled over the serving engines, device class) -> (`serving`, any) -> the single-stream
calibration of llama.cpp (marked uncalibrated for this engine).
"""

from __future__ import annotations

from dataclasses import dataclass

from sizer.catalog.loading import Catalog
from sizer.schema.calibration import CalibrationEntry
from sizer.speed.factors import Calibration, efficiency_for

__all__ = ["SERVING_ENGINES", "ServingParams", "serving_params"]

SERVING_ENGINES = frozenset({"vllm", "sglang", "tensorrt-llm"})


@dataclass(frozen=True, slots=True)
class ServingParams:
    bandwidth_efficiency: float  # (0, 1]
    compute_efficiency: float  # (0, 1] batched-decode GEMMs and attention
    layer_overhead_s: float
    moe_layer_overhead_s: float
    basis: str
    calibrated: bool  # fitted on this engine's own measurements for this device class (or its engine pool)
    moe_compute_efficiency: float = 1.0  # (0, 1] routed-expert GEMMs (few tokens per expert), x compute_efficiency
    prefill_efficiency: float = 0.0  # (0, 1] prefill; 0: compute_efficiency

    def __post_init__(self) -> None:
        assert 0 < self.bandwidth_efficiency <= 1 and 0 < self.compute_efficiency <= 1
        assert 0 < self.moe_compute_efficiency <= 1 and 0 <= self.prefill_efficiency <= 1
        assert self.layer_overhead_s >= 0 and self.moe_layer_overhead_s >= 0


def _serving_entries(catalog: Catalog) -> dict[tuple[str, str, str], CalibrationEntry]:
    table = catalog.calibration
    rows = table.values() if isinstance(table, dict) else table
    out: dict[tuple[str, str, str], CalibrationEntry] = {}
    for r in rows:
        if isinstance(r, CalibrationEntry) and r.engine is not None:
            out.setdefault((r.engine, r.phase, r.device_class), r)
    return out


def _errors(e: CalibrationEntry) -> str:
    if e.loo_median_abs_error_percent is None:
        return f"{e.fit_points} measurements"
    return (f"{e.fit_points} measurements, leave-one-out median error {e.loo_median_abs_error_percent:g}%, "
            f"p90 {e.loo_p90_abs_error_percent:g}%")


def serving_params(catalog: Catalog, engine_id: str, device_class: str, backend: str,
                   quant_kernel: str, eff: Calibration | None = None) -> ServingParams:
    """The parameters of `engine_id` on `device_class` (see the module docstring for the lookup)."""
    entries = _serving_entries(catalog)
    if engine_id in SERVING_ENGINES:
        for eng, dc in ((engine_id, device_class), (engine_id, "any"), ("serving", device_class), ("serving", "any")):
            dec = entries.get((eng, "decode", dc))
            pre = entries.get((eng, "prefill", dc))
            if dec is None or pre is None:
                continue
            versions = ", ".join(dec.engine_versions) or "version not recorded"
            who = "this engine" if eng == engine_id else "vLLM / SGLang / TensorRT-LLM pooled"
            comp = dec.compute_efficiency or pre.efficiency
            moe = dec.moe_compute_efficiency or 1.0
            basis = (f"serving calibration {dec.id} ({who}, {dc}; {versions}; {_errors(dec)}): bandwidth "
                     f"efficiency {dec.efficiency:.2f}, batched-decode compute efficiency {comp:.2f} (routed experts "
                     f"x {moe:.2f}), prefill efficiency {pre.efficiency:.2f}, {dec.layer_overhead_us:g} us per layer "
                     f"+ {dec.moe_layer_overhead_us:g} us per MoE layer")
            return ServingParams(dec.efficiency, comp, dec.layer_overhead_us * 1e-6,
                                 dec.moe_layer_overhead_us * 1e-6, basis, True, moe, pre.efficiency)
    cal = eff or efficiency_for(catalog)
    bw, bw_basis = cal("decode", backend, device_class, quant_kernel)
    comp, comp_basis = cal("prefill", backend, device_class, quant_kernel)
    over, over_basis = cal.layer_overhead_s(backend, device_class)
    basis = f"single-stream calibration: decode {bw_basis}; compute {comp_basis}" + (
        f"; {over_basis}" if over_basis else "")
    return ServingParams(bw, comp, over, 0.0, basis, engine_id not in SERVING_ENGINES)
