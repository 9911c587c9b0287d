"""The `FitResult` of a fit: the placement, speed, curve, warnings and assumptions of a `Fitter`, in the
field names of the JSON contract (DESIGN.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sizer.errors import BadValueError
from sizer.placement import Layout, Verdict, evaluate
from sizer.placement.hardware import Hardware
from sizer.placement.serving import layout_words
from sizer.quant.assignment import assign
from sizer.sizing.engine_support import engine_limit
from sizer.sizing.results import (
    MEMORY_SUMMED_OVER_DEVICES,
    MEMORY_WITHOUT_HARDWARE,
    CurvePoint,
    DeviceUsage,
    FitResult,
    LayoutResult,
    ModelResult,
    PerformanceResult,
    memory_result,
)
from sizer.sizing.serving_curve import Serving, uses_serving_model
from sizer.speed.estimate import Speed

if TYPE_CHECKING:
    from sizer.sizing.fitter import Fitter

__all__ = ["build_result"]

# engines whose kernels the calibration measurements (sizer/calibration/measurements.yaml) were taken with
_CALIBRATED_ENGINES = frozenset({"llama.cpp", "ollama"})


def build_result(f: Fitter, hw: Hardware | None, offload: str, *, context_given: bool) -> FitResult:
    m, mem, arch = f.model, f.memory, f.model.arch
    assert mem is not None
    warnings = list(f.warnings) + list(m.warnings)
    assumptions = list(m.assumptions) + list(f.notes) + list(mem.assumptions)
    if not context_given:
        assumptions.append(f"context {f.workload.context_tokens:,} tokens (default; set --context)")
    rope = m.entry.rope_scaling if m.entry is not None else None
    if f.workload.context_tokens > arch.max_position_embeddings:
        if rope is not None and f.workload.context_tokens <= m.entry.context_length:  # type: ignore[union-attr]
            assumptions.append(f"context {f.workload.context_tokens:,} is beyond the configured "
                               f"{arch.max_position_embeddings:,} positions: the engine needs the card's YaRN rope "
                               f"scaling (factor up to {rope.factor:g} over {rope.original_max_position_embeddings:,}; "
                               "`sizer recommend` prints the flags)")
        else:
            warnings.append(f"context {f.workload.context_tokens:,} is beyond the model's trained length "
                            f"{arch.max_position_embeddings:,}")
    qid = f.quant.id if f.quant else (m.file_quant or "file")
    qname = f.quant.name if f.quant else (m.file_quant or "as stored in the file")
    if f.quant is not None and f.quant.id not in f.engine.supported_quants:
        warnings.append(f"{f.engine.name} does not list {f.quant.name} among the formats it loads")
    placement: list[DeviceUsage] = []
    fits = binding = perf = max_ctx = max_conc = layout_result = None
    offload_mode = "none"
    if hw is not None:
        placed = f.place(hw, offload)
        if placed is None and offload not in ("auto", "none"):
            why = "unified memory has no separate host RAM" if hw.is_unified else (
                "no host RAM given (--ram)" if not hw.host_ram_bytes else f"{f.engine.name} cannot offload {offload}")
            warnings.append(f"--offload {offload} does not apply here ({why}); placed without it")
            placed = f.place(hw, "auto")
        if placed is None:
            raise BadValueError("no GPU given to place the model on (give --gpu, --system, --ram or --here)")
        layout, verdict, speed = placed
        warnings += list(layout.warnings) + _hardware_warnings(f, hw, layout)
        # the serving engines' decode comes from the serving model (its own notes below), not the single-stream one
        single_stream = [a for a in speed.assumptions
                         if not (uses_serving_model(f.engine) and a.startswith("decode:"))]
        assumptions += list(layout.assumptions) + list(hw.capacity_notes()) + single_stream
        placement = [_usage(u) for u in verdict.usages]
        layout_result = LayoutResult(description=layout_words(layout), tensor_parallel=layout.tp,
                                     pipeline_parallel=layout.pp, expert_parallel=layout.ep,
                                     attention_data_parallel=layout.attention_dp, replicas=layout.replicas)
        fits, binding, offload_mode = verdict.fits, verdict.binding_constraint, layout.offload
        max_ctx = f.max_context(layout, f.workload.users)
        max_conc = round(f.max_concurrency(layout, f.workload.context_tokens), 2)
        serving = f.serving(layout, verdict, hw)
        if f.engine.id not in _CALIBRATED_ENGINES and not serving.params.calibrated:
            warnings.append(f"speed factors are fitted on llama.cpp measurements; {f.engine.name} speeds are "
                            "not calibrated on its own published figures (treat them as an upper estimate)")
        loaded = _load_fields(f, layout, verdict, hw, serving, speed, max_conc)
        if uses_serving_model(f.engine):
            assumptions += serving.notes
        perf = PerformanceResult(
            prefill_tokens_per_s=round(speed.prefill_tokens_per_s, 3), ttft_s=round(speed.ttft_s, 4),
            decode_bound_by=speed.decode_bound_by, prefill_bound_by=speed.prefill_bound_by,
            decode_roofline_tokens_per_s=round(speed.decode_roofline_tokens_per_s, 3), users=f.workload.users,
            compute_bound_batch=speed.compute_bound_batch,
            prefill_roofline_tokens_per_s=round(speed.prefill_roofline_tokens_per_s, 3), **loaded)
        if hw.host_ram_bytes and hw.host_ram_bandwidth_gb_s is None and any(
                s.kind == "host_ram" and s.weights_bytes for s in layout.slots):
            warnings.append("host RAM bandwidth unknown: give --system or --ram-bandwidth for the offload speed")
    assumptions.append(MEMORY_SUMMED_OVER_DEVICES if placement else MEMORY_WITHOUT_HARDWARE)
    quality = None
    if f.quant is not None and f.quant.quality:
        q = f.quant.quality[0]
        quality = {k: v for k, v in (("mean_kld", q.mean_kld), ("ppl_increase_percent", q.ppl_increase_percent),
                                     ("measured_on", q.measured_on), ("source", q.source)) if v is not None}
    return FitResult(
        model=ModelResult(id=m.id, name=m.name, source=m.source, total_params=m.total_params,  # type: ignore[arg-type]
                          active_params=m.active_params, family=arch.family, repo=m.repo,
                          official_total_params=m.entry.total_params.value if m.entry else None),
        quant=qid, quant_name=qname, engine=f.engine.id, context_tokens=f.workload.context_tokens,
        users=f.workload.users, kv_dtype=mem.kv_dtype.name, hardware=hw.describe() if hw else "",
        memory=memory_result(mem, placement, mtp_weights_bytes=_mtp_bytes(f)),
        placement=placement, fits=fits, binding_constraint=binding, offload=offload_mode, performance=perf,
        layout=layout_result,
        max_context=max_ctx, max_concurrency=max_conc, quality_loss=quality,
        warnings=list(dict.fromkeys(warnings)), assumptions=list(dict.fromkeys(assumptions)),
    )


def _load_fields(f: Fitter, layout: Layout, verdict: Verdict, hw: Hardware, serving: Serving, speed: Speed,
                 max_conc: float) -> dict[str, Any]:
    """The speed-under-load fields of `performance`: the serving model for vLLM / SGLang / TensorRT-LLM, the
    single-stream model's batched estimate otherwise; the curve and saturation from the serving model."""
    gpus = serving.gpus
    out: dict[str, Any] = {}
    out.update(decode_tokens_per_s=round(speed.decode_tokens_per_s, 3),
               per_user_decode_tokens_per_s=round(speed.per_user_decode_tokens_per_s, 3),
               aggregate_decode_tokens_per_s=round(speed.aggregate_decode_tokens_per_s, 3),
               batched_bound_by=speed.batched_bound_by,
               decode_tokens_per_s_per_gpu=round(speed.aggregate_decode_tokens_per_s / gpus, 3))
    sat_users, sat = serving.saturated(max_conc) if max_conc >= 1 else (0, None)
    if sat is not None:
        out.update(saturated_users=sat_users,
                   saturated_decode_tokens_per_s_per_gpu=round(sat.aggregate_decode_tokens_per_s / gpus, 3))
    curve = []
    for u in f.curve_users:
        p = serving.point(u)
        fits_u = evaluate(layout, f.kv_layers(f.workload.context_tokens, u)).fits and (
            serving.seq_cap is None or u <= serving.seq_cap)
        curve.append(CurvePoint(users=u, per_user_decode_tokens_per_s=round(p.per_user_decode_tokens_per_s, 3),
                                aggregate_decode_tokens_per_s=round(p.aggregate_decode_tokens_per_s, 3),
                                decode_tokens_per_s_per_gpu=round(p.aggregate_decode_tokens_per_s / gpus, 3),
                                ttft_s=round(p.ttft_s, 4), fits=fits_u))
    out["curve"] = curve
    return out


def _mtp_bytes(f: Fitter) -> int:
    """Bytes of the MTP layers in this format (the inventory flags them; quantization leaves them out)."""
    m = f.model
    if f.quant is None and m.file_tensors is not None:  # a checkpoint's own MTP tensors, as stored
        return sum(qt.weights_bytes for qt in m.file_tensors if qt.tensor.is_mtp)
    if f.quant is None or m.tensors is None or not any(t.is_mtp for t in m.tensors):
        return 0
    with_mtp = assign(m.tensors, f.quant, f.catalog, arch=m.arch, include_mtp=True)
    return sum(qt.weights_bytes for qt in with_mtp if qt.tensor.is_mtp)


def _usage(u) -> DeviceUsage:  # type: ignore[no-untyped-def]
    s = u.slot
    return DeviceUsage(device=s.name, index=s.index, kind=s.kind, node=s.node, capacity_bytes=s.capacity_bytes,
                       used_bytes=u.used_bytes, weights_bytes=s.weights_bytes, kv_cache_bytes=u.kv_cache_bytes,
                       activations_bytes=s.activations_bytes, overhead_bytes=s.overhead_bytes,
                       free_bytes=u.free_bytes, layers=s.layers or None)


def _hardware_warnings(f: Fitter, hw: Hardware, layout: Layout) -> list[str]:
    out = []
    q = f.quant
    for acc, _ in hw.accelerators:
        why = engine_limit(f.engine, acc, q.id if q is not None else "")
        if why is not None and q is not None:
            out.append(why)
        if q is not None and q.requires_native and not acc.runs_natively(q.requires_native):
            out.append(f"{q.name} on {acc.name}: no native {q.requires_native.upper()} units, so it runs "
                       f"weight-only (dequantized to 16-bit): same memory, slower prefill")
    if layout.tp >= 4 and (hw.intra_node_link_gb_s or 0) < 130:
        out.append(f"tensor parallel {layout.tp} without NVLink: all-reduces cross PCIe and slow decode")
    return out
