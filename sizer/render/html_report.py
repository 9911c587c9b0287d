"""`--format html`: one self-contained page per result (inline CSS and SVG; no script, font or style
fetched from anywhere), built from the Jinja2 templates in `sizer/render/templates/`.

The page carries the facts of the table output (the same row builders: `fit_report`, the recommendation
and plan rows), the charts of `charts.py`, the warnings, the assumptions and the sources. Needs the
`sizer[html]` extra (Jinja2 and matplotlib); without it, a clear error names the extra (exit 1).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sizer.errors import SizerError
from sizer.recommendation.results import RecommendResult
from sizer.render import charts
from sizer.render.fit_report import Section, fit_report
from sizer.render.html_page import page
from sizer.sizing.results import FitResult

__all__ = ["render_fit_html", "render_plan_html", "render_recommend_html", "sources_of_fit", "sources_of_recommend"]

Source = tuple[str, str]  # (what the figure is, URL)


def _table(section: Section) -> dict[str, Any]:
    keys: dict[str, None] = {}
    for row in section.rows:
        keys.update(dict.fromkeys(row))
    return {"title": section.title, "columns": [section.headers.get(k, k) for k in keys],
            "rows": [[row.get(k) for k in keys] for row in section.rows]}


def render_fit_html(r: FitResult, context_points: Sequence[Any] = (), sources: Sequence[Source] = ()) -> str:
    """The fit report: memory chart, decode speed as the context fills (when `context_points` are given),
    the serving curve and the suggestions when the result carries them, and the table output's facts."""
    report = fit_report(r)
    data = r.model_dump(mode="json")
    figures = [{"id": "memory", "title": "Where the memory goes", "svg": charts.memory_chart(data),
                "caption": "Weights by tensor class for the whole model, and each device's memory up to its "
                           "capacity (the black line); host RAM is its own, hatched bar."}]
    if context_points:
        points = [{"context_tokens": p.context_tokens, "decode_tokens_per_s": p.decode_tokens_per_s,
                   "per_user_decode_tokens_per_s": p.per_user_decode_tokens_per_s, "fits": p.fits}
                  for p in context_points]
        figures.append({"id": "context", "title": "Decode speed as the context fills",
                        "svg": charts.context_chart(points, r.context_tokens, r.users),
                        "caption": "Each point is sizer fit re-run at that context on the same deployment (same "
                                   "format, engine and offload mode); hollow markers: that context no longer fits."})
    curve = _plain_list(getattr(r.performance, "curve", None))  # the serving curve (--users lists), when present
    if curve:
        figures.append({"id": "curve", "title": "Serving curve: per user and all users",
                        "svg": charts.curve_chart(curve),
                        "caption": "Decode tokens/s per user and for all users together as users are added."})
    suggestions = _plain_list(getattr(r, "suggestions", None))  # what to change when it does not fit, when present
    suggestion_table = None
    if suggestions:
        keys = ["change", "args", "fits", "decode_tokens_per_s", "ttft_s", "note"]
        suggestion_table = {"title": "Suggestions", "columns": ["change", "arguments", "fits", "decode tok/s",
                                                                "TTFT s", "note"],
                            "rows": [[_suggestion_cell(k, s.get(k)) for k in keys] for s in suggestions]}
    tables = [_table(s) for s in report.sections]
    if curve:
        tables.append({"title": "Serving curve", "columns": ["users", "tok/s per user", "tok/s all users",
                                                              "tok/s per GPU", "TTFT s", "fits"],
                       "rows": [[p["users"], f"{p['per_user_decode_tokens_per_s']:,.1f}",
                                 f"{p['aggregate_decode_tokens_per_s']:,.1f}", f"{p['decode_tokens_per_s_per_gpu']:,.1f}",
                                 f"{p['ttft_s']:,.2f}", p["fits"]] for p in curve]})
    return page("fit.html.j2", title=report.title, heading=f"{r.model.name} on {r.hardware or 'no hardware'}",
                 subtitle=report.title, charts=figures, tables=tables, verdict=report.verdict,
                 fits=r.fits, quality=report.quality, suggestions=suggestion_table, warnings=r.warnings,
                 assumptions=report.assumptions, sources=_sources(sources, data))


def _plain_list(items: Any) -> list[dict[str, Any]]:
    """A list of pydantic models or mappings as plain dicts (the optional fields of newer results)."""
    out = []
    for item in items or []:
        dump = getattr(item, "model_dump", None)
        out.append(dict(dump(mode="json")) if callable(dump) else dict(item))
    return out


def _suggestion_cell(key: str, value: Any) -> Any:
    if key == "args" and isinstance(value, (list, tuple)):
        return " ".join(str(v) for v in value)
    if key == "args" and isinstance(value, Mapping):
        return " ".join(f"{k} {v}" for k, v in value.items())
    if key == "decode_tokens_per_s" and isinstance(value, (int, float)):
        return f"{value:,.1f}"
    if key == "ttft_s" and isinstance(value, (int, float)):
        return f"{value:,.2f}"
    return value


def _sources(given: Sequence[Source], data: Any) -> list[Source]:
    """The catalog sources passed in, then every source URL the result itself carries, each once."""
    out: dict[str, str] = {url: what for what, url in given}

    def walk(node: Any, where: str) -> None:
        if isinstance(node, Mapping):
            for k, v in node.items():
                if k == "source" and isinstance(v, str) and v.startswith("http") and v not in out:
                    out[v] = node.get("measured_on") or where
                else:
                    walk(v, str(node.get("summary") or node.get("name") or where))
        elif isinstance(node, list):
            for v in node:
                walk(v, where)

    walk(data, "result")
    return [(what, url) for url, what in out.items()]


def _rejected(res: RecommendResult) -> list[str]:
    return [f"{x.hardware}, {x.quant} ({x.engine}): {x.reason}" for x in res.rejected]


def _search_line(res: RecommendResult) -> str:
    s = res.search
    return (f"searched {s.candidates:,} combinations, placed {s.placed:,}, {s.fitting:,} fit every constraint, "
            f"{s.pareto:,} on the price / speed / quality front ({s.seconds:.2f} s)")


def _launches(res: RecommendResult, every: bool) -> list[dict[str, Any]]:
    """The launch commands of the first configuration (of every one with `every`), as the table output shows."""
    return [{"title": f"#{r.rank}: {r.summary}", "commands": r.launch, "check": r.fit_command}
            for r in (res.recommendations if every else res.recommendations[:1])]


def render_recommend_html(res: RecommendResult, sources: Sequence[Source] = (), *, show_launch: bool = False) -> str:
    from sizer.render.recommendation_report import faster_formats_table, recommendation_table, title

    data = res.model_dump(mode="json")
    priced = [p for p in data["configurations"] if p["capex_usd"] is not None]
    unpriced = len(data["configurations"]) - len(priced)
    figures = []
    if res.recommendations:
        figures.append({"id": "price", "title": "Price against per-user speed", "svg": charts.price_speed_chart(data),
                        "caption": f"Every configuration that fits and meets the constraints ({len(priced):,} with a "
                                   "known price" + (f"; {unpriced:,} without one are not drawn" if unpriced else "")
                                   + "). The front is over price, per-user speed and quality loss, so a front point "
                                   "may sit below another here because it loses less quality. #n: the ranked rows."})
    return page("recommend.html.j2", title=title(res, "Recommendations"), heading=title(res, "Recommendations"),
                 charts=figures, tables=[recommendation_table(res), *filter(None, [faster_formats_table(res)])],
                 rejected=_rejected(res),
                 launches=_launches(res, show_launch),
                 warnings=res.warnings, assumptions=[*res.assumptions, _search_line(res)],
                 sources=_sources(sources, data))


def render_plan_html(res: RecommendResult, sources: Sequence[Source] = ()) -> str:
    from sizer.render.recommendation_report import cost_notes, faster_formats_table, plan_table, title

    data = res.model_dump(mode="json")
    years = res.recommendations[0].cost.years if res.recommendations else 3
    figures = []
    if any(r.cost.capex_usd is not None for r in res.recommendations):
        figures.append({"id": "plan", "title": f"Cost of ownership over {years:g} years", "svg": charts.plan_chart(data),
                        "caption": "Capital cost (GPUs, host, extra RAM) and energy over the period per ranked "
                                   "configuration; right, USD per million generated tokens at the aggregate decode "
                                   "throughput. Configurations with an unknown price are left out of the chart."})
    heading = title(res, f"Procurement plan ({years:g}-year TCO)")
    return page("recommend.html.j2", title=heading, heading=heading, charts=figures,
                 tables=[plan_table(res), *filter(None, [faster_formats_table(res)])],
                 rejected=_rejected(res), launches=_launches(res, False), cost_notes=cost_notes(res), warnings=res.warnings,
                 assumptions=[*res.assumptions, _search_line(res)], sources=_sources(sources, data))


def _entry_sources(catalog: Any, kind: str, name: str) -> list[Source]:
    """The source URLs of one catalog entry, labelled with the entry and, per figure, the field."""
    try:
        entry = getattr(catalog, kind)(name)
    except (SizerError, KeyError):
        return []  # not a catalog entry (a local file, a raw count): nothing to cite
    label = getattr(entry, "name", None) or entry.id
    out = [(f"{label}", url) for url in entry.sources]
    out += [(f"{label}: {field}", url) for field, url in entry.figure_sources.items()]
    return out


def sources_of_fit(r: FitResult, catalog: Any) -> list[Source]:
    """Where the figures behind a fit come from: the model, the format, the engine and each accelerator."""
    out = _entry_sources(catalog, "model", r.model.id) + _entry_sources(catalog, "quant", r.quant)
    out += _entry_sources(catalog, "engine", r.engine)
    for name in dict.fromkeys(p.device for p in r.placement if p.kind != "host_ram"):
        out += _entry_sources(catalog, "accelerator", name)
    return out


def sources_of_recommend(res: RecommendResult, catalog: Any) -> list[Source]:
    """The model's sources, then those of each shown configuration's accelerators, systems, formats and engines."""
    out = _entry_sources(catalog, "model", res.model.id)
    for r in res.recommendations:
        out += _entry_sources(catalog, "quant", r.quant) + _entry_sources(catalog, "engine", r.engine)
        out += [s for g in r.gpus for s in _entry_sources(catalog, "accelerator", g.id)]
        if r.system:
            out += _entry_sources(catalog, "system", r.system)
    return out
