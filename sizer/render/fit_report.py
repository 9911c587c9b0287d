"""Human output of `fit`: breakdown, per-device placement, verdict, speed, assumptions.

JSON / YAML / CSV go through `render.render` unchanged (the contract in results.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sizer.render.formats import render
from sizer.sizing.results import FitResult, QuantRow
from sizer.units import format_gib, format_params, format_tokens

__all__ = ["FitReport", "Section", "fit_report", "render_fit", "render_quant_rows"]


def _gib(n: int | float) -> str:
    return format_gib(n)


def _section(title: str, body: str, fmt: str) -> str:
    head = f"## {title}\n\n" if fmt == "markdown" else f"{title}\n"
    return head + body + "\n"


@dataclass(frozen=True, slots=True)
class Section:
    """One table of the human report: its title, rows (already formatted for people) and display headers."""

    title: str
    rows: list[dict[str, Any]]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FitReport:
    """What the table, Markdown and HTML outputs of `fit` show, formatted once for all three."""

    title: str
    sections: list[Section]
    verdict: list[str]
    quality: str | None
    assumptions: list[str]


def fit_report(r: FitResult) -> FitReport:
    m, mem = r.model, r.memory
    title = (f"{m.name}: {format_params(m.total_params)} parameters"
             + (f", {format_params(m.active_params)} active" if m.active_params != m.total_params else "")
             + f" | {r.quant_name} | {r.engine} | context {format_tokens(r.context_tokens)} x {r.users} user(s)"
             + f" | KV {r.kv_dtype}")
    rows = [{"part": f"weights: {k.replace('_', ' ')}", "size": _gib(v)} for k, v in mem.weights_by_class.items() if v]
    if mem.weights_bytes != mem.model_weights_bytes:
        rows.append({"part": "weights: copies on several devices (tensor parallel)",
                     "size": _gib(mem.weights_bytes - mem.model_weights_bytes)})
    rows += [
        {"part": "weights (total)", "size": _gib(mem.weights_bytes)},
        {"part": f"KV cache ({mem.kv_cache_bytes_per_token:,.0f} B/token)", "size": _gib(mem.kv_cache_bytes)},
        {"part": "activations / compute buffers", "size": _gib(mem.activations_bytes)},
        {"part": "runtime overhead", "size": _gib(mem.overhead_bytes)},
        {"part": "total", "size": _gib(mem.total_bytes)},
    ]
    sections = [Section("Memory", rows, {"part": "part", "size": "GiB"})]
    verdict: list[str] = []
    if r.placement:
        dev = [{
            "device": p.device if p.kind == "host_ram" else f"{p.index}: {p.device}",
            "capacity": _gib(p.capacity_bytes), "weights": _gib(p.weights_bytes), "kv": _gib(p.kv_cache_bytes),
            "act": _gib(p.activations_bytes), "overhead": _gib(p.overhead_bytes), "free": _gib(p.free_bytes),
            "holds": p.layers or "",
        } for p in r.placement]
        sections.append(Section(f"Placement on {r.hardware}", dev, {
            "capacity": "capacity GiB", "weights": "weights", "kv": "KV", "act": "activations", "free": "free GiB"}))
        verdict.append(f"{'FITS' if r.fits else 'DOES NOT FIT'} ({r.binding_constraint}); offload: {r.offload}")
        if r.layout is not None and r.layout.description != "one GPU":
            verdict.append(f"layout: {r.layout.description}")
        if r.max_context is not None:
            verdict.append(f"max context at {r.users} user(s): {r.max_context:,} tokens")
        if r.max_concurrency is not None:
            verdict.append(f"max concurrency at {r.context_tokens:,} tokens: {r.max_concurrency:g} sequences")
    if r.performance is not None:
        p = r.performance
        perf = [
            {"metric": "decode, 1 sequence", "value": f"{p.decode_tokens_per_s:,.1f} tok/s",
             "bound by": f"{p.decode_bound_by} (roofline {p.decode_roofline_tokens_per_s:,.1f})"},
            {"metric": "prefill", "value": f"{p.prefill_tokens_per_s:,.0f} tok/s", "bound by": p.prefill_bound_by},
            {"metric": f"time to first token ({format_tokens(r.context_tokens)} prompt)", "value": f"{p.ttft_s:,.2f} s",
             "bound by": "prefill"},
        ]
        if p.users > 1:
            perf.append({"metric": f"decode per user at {p.users} users", "value":
                         f"{p.per_user_decode_tokens_per_s:,.1f} tok/s", "bound by": p.batched_bound_by})
            perf.append({"metric": "decode, all users", "value": f"{p.aggregate_decode_tokens_per_s:,.1f} tok/s",
                         "bound by": p.batched_bound_by})
        if p.users > 1 and p.decode_tokens_per_s_per_gpu:
            perf.append({"metric": "decode per GPU, all users", "value": f"{p.decode_tokens_per_s_per_gpu:,.1f} tok/s",
                         "bound by": p.batched_bound_by})
        if p.saturated_users:
            perf.append({"metric": f"saturated per GPU ({p.saturated_users:,} sequences)",
                         "value": f"{p.saturated_decode_tokens_per_s_per_gpu:,.1f} tok/s",
                         "bound by": "KV cache / max_num_seqs"})
        if p.compute_bound_batch:
            perf.append({"metric": "decode turns compute-bound at", "value": f"batch {p.compute_bound_batch}",
                         "bound by": "compute"})
        # a layout that does not fit cannot run: its speed is what it would be with the room it lacks
        title_speed = "Speed (estimates)" if r.fits is not False else "Speed if it had the room (estimates; it does not fit)"
        sections.append(Section(title_speed, perf))
    if r.engine_choice:
        verdict.append(f"engine: {r.engine_choice}")
    quality = None
    if r.quality_loss:
        q = r.quality_loss
        quality = f"Quality: mean KLD {q.get('mean_kld', '?')} ({q.get('measured_on', '')})"
    return FitReport(title, sections, verdict, quality, list(r.assumptions))


def render_fit(r: FitResult, fmt: str = "table") -> str:
    if fmt in ("json", "yaml"):
        return render(r, fmt)
    if fmt == "csv":
        return render([_flat_row(r)], fmt)
    if fmt == "html":
        raise ValueError("the html page of fit is sizer.render.html_report.render_fit_html")
    report = fit_report(r)
    out = [report.title + "\n" + ("=" * min(len(report.title), 100) if fmt == "table" else "") + "\n"]
    for i, section in enumerate(report.sections):
        out.append(_section(section.title, render(section.rows, fmt, headers=section.headers or None), fmt))
        if i == 1 and report.verdict:  # the verdict follows the placement table
            out.append("\n".join(report.verdict) + "\n")
    curve = _curve_rows(r)
    if curve:  # (the html page draws the curve and its own table from performance.curve)
        out.append(_section("Throughput / interactivity curve", render(curve, fmt), fmt))
    out += _suggestions(r, fmt)
    if report.quality:
        out.append(report.quality + "\n")
    if report.assumptions:
        out.append(_section("Assumptions", "".join(f"- {a}\n" for a in report.assumptions), fmt))
    return "\n".join(out)


def _curve_rows(r: FitResult) -> list[dict[str, object]]:
    if r.performance is None:
        return []
    return [{"users": c.users, "tok/s per user": f"{c.per_user_decode_tokens_per_s:,.1f}",
             "tok/s all users": f"{c.aggregate_decode_tokens_per_s:,.1f}",
             "tok/s per GPU": f"{c.decode_tokens_per_s_per_gpu:,.1f}", "TTFT s": f"{c.ttft_s:,.2f}",
             "fits": "yes" if c.fits else "no"} for c in r.performance.curve]
def _suggestions(r: FitResult, fmt: str) -> list[str]:
    """The way to a fit (the HTML page draws its own table from `suggestions`)."""
    if r.suggestions:
        sug = [{"change": g.change, "options": " ".join(g.args),
                "decode tok/s": "" if g.decode_tokens_per_s is None else f"{g.decode_tokens_per_s:,.1f}",
                "TTFT s": "" if g.ttft_s is None else f"{g.ttft_s:,.2f}", "note": g.note} for g in r.suggestions]
        return [_section("Ways to make it fit (each checked with the same core)", render(sug, fmt), fmt)]
    if r.fits is False:
        return ["No single change tried (KV type, context, format, offload, GPUs) makes it fit.\n"]
    return []


def _flat_row(r: FitResult) -> dict[str, object]:
    row: dict[str, object] = {
        "model": r.model.id, "quant": r.quant, "engine": r.engine, "context_tokens": r.context_tokens,
        "users": r.users, "hardware": r.hardware, "fits": r.fits,
        "weights_bytes": r.memory.weights_bytes, "kv_cache_bytes": r.memory.kv_cache_bytes,
        "activations_bytes": r.memory.activations_bytes, "overhead_bytes": r.memory.overhead_bytes,
        "total_bytes": r.memory.total_bytes, "max_context": r.max_context, "max_concurrency": r.max_concurrency,
    }
    if r.performance:
        row.update(decode_tokens_per_s=r.performance.decode_tokens_per_s,
                   prefill_tokens_per_s=r.performance.prefill_tokens_per_s, ttft_s=r.performance.ttft_s)
    return row


def render_quant_rows(rows: list[QuantRow], fmt: str) -> str:
    if fmt in ("json", "yaml", "csv"):
        return render(rows, fmt)
    table = [{"quant": q.quant_name, "id": q.quant, "bits/weight": f"{q.bits_per_weight:.3f}",
              "weights GiB": _gib(q.weights_bytes), "total GiB": _gib(q.total_bytes),
              **({"fits": "yes" if q.fits else "no"} if q.fits is not None else {})} for q in rows]
    return render(table, fmt)
