"""Render `recommend` / `plan` results: tables for people, flat rows for CSV, the full record for JSON/YAML.

Table and Markdown print the ranked configurations, then the closest rejected alternatives and why,
the launch commands, and the assumptions. CSV prints one row per configuration (the plan's cost
columns for `plan`), for a spreadsheet or a purchase request.
"""

from __future__ import annotations

from typing import Any

from sizer.recommendation.results import Recommendation, RecommendResult
from sizer.render.formats import render
from sizer.units import format_tokens

__all__ = ["cost_notes", "plan_table", "recommendation_table", "render_plan", "render_recommendations", "rent_notes",
           "title"]

_GIB = 2**30


def _usd(value: float | None) -> str:
    return "unknown" if value is None else f"${value:,.0f}"


def _loss(r: Recommendation) -> str:
    q = r.quality.mean_kld
    return "?" if q is None else ("0" if q == 0 else f"{q:.3f}")


def _row(r: Recommendation) -> dict[str, Any]:
    return {
        "rank": r.rank, "quant": r.quant_name, "hardware": r.hardware, "engine": r.engine, "placement": r.placement,
        "tps": f"{r.per_user_decode_tokens_per_s:,.1f}", "ttft": f"{r.ttft_s:,.1f}" if r.ttft_s < 100 else
        f"{r.ttft_s:,.0f}", "ctx": format_tokens(r.max_context),
        "conc": f"{r.max_concurrency:,.1f}", "headroom": f"{r.headroom_bytes / _GIB:,.1f}",
        "capex": _usd(r.cost.capex_usd), "power": "?" if r.cost.power_w is None else f"{r.cost.power_w:,.0f}",
        "loss": _loss(r), "tags": ", ".join(r.tags),
    }


_HEADERS = {"rank": "#", "quant": "format", "hardware": "hardware", "engine": "engine", "placement": "placement",
            "tps": "tok/s/user", "ttft": "TTFT s", "ctx": "max ctx", "conc": "concurrency", "headroom": "free GiB",
            "capex": "capex", "power": "power W", "loss": "KLD", "tags": "notes"}


def _flat(r: Recommendation) -> dict[str, Any]:
    return {
        "rank": r.rank, "summary": r.summary, "hardware": r.hardware, "quant": r.quant, "engine": r.engine,
        "placement": r.placement, "per_user_decode_tokens_per_s": r.per_user_decode_tokens_per_s,
        "aggregate_decode_tokens_per_s": r.aggregate_decode_tokens_per_s, "ttft_s": r.ttft_s,
        "max_context": r.max_context, "max_concurrency": r.max_concurrency, "headroom_bytes": r.headroom_bytes,
        "mean_kld": r.quality.mean_kld, "capex_usd": r.cost.capex_usd, "power_w": r.cost.power_w,
        "tco_usd": r.cost.tco_usd, "usd_per_million_tokens": r.cost.usd_per_million_tokens,
        "fit_command": r.fit_command, "tags": r.tags,
    }


def title(res: RecommendResult, what: str) -> str:
    m = res.model
    users = f"{res.users} user" + ("s" if res.users > 1 else "")
    return f"{what} for {m.name}: {format_tokens(res.context_tokens)} context, {users}"


def _tail(res: RecommendResult, fmt: str, show_launch: bool) -> list[str]:
    md = fmt == "markdown"
    out: list[str] = []
    faster = [r for r in res.recommendations if r.faster_formats]
    if faster:
        out += ["", "## Faster formats on the same machine" if md else "Faster formats on the same machine:"]
        for r in faster:
            points = "; ".join(
                f"{f.quant_name} {f.per_user_decode_tokens_per_s:,.1f} tok/s, TTFT {f.ttft_s:,.1f} s, KLD "
                f"{'?' if f.mean_kld is None else f'{f.mean_kld:.3f}'}" for f in r.faster_formats)
            out.append(f"- #{r.rank} ({r.quant_name}, {r.per_user_decode_tokens_per_s:,.1f} tok/s): {points}")
    if res.rejected:
        out += ["", "## Rejected alternatives" if md else "Rejected (closest first):"]
        out += [f"- {x.hardware}, {x.quant} ({x.engine}): {x.reason}" for x in res.rejected]
    recs = res.recommendations if show_launch else res.recommendations[:1]
    for r in recs:
        out += ["", f"## Launch #{r.rank}: {r.summary}" if md else f"Launch #{r.rank} ({r.summary}):"]
        for cmd in r.launch:
            lines = cmd.command.splitlines()
            if md:
                out += [f"{cmd.engine}:", "```sh", *lines, "```"]
                out += [f"- {n}" for n in cmd.notes]
            else:
                out += [f"  [{cmd.engine}]", *(f"  {line}" for line in lines)]
                out += [f"    - {n}" for n in cmd.notes]
        out += [f"check: `{r.fit_command}`" if md else f"  check: {r.fit_command}"]
    out += ["", "## Assumptions" if md else "Assumptions:"]
    out += [f"- {a}" for a in res.assumptions]
    s = res.search
    out.append(f"- searched {s.candidates:,} combinations, placed {s.placed:,}, {s.fitting:,} fit every constraint, "
               f"{s.pareto:,} on the price / speed / quality front ({s.seconds:.2f} s)")
    return out


def recommendation_table(res: RecommendResult) -> dict[str, Any]:
    """The ranked rows as the table output shows them: {"title", "columns", "rows"} (for the HTML page)."""
    return {"title": "Ranked configurations", "columns": list(_HEADERS.values()), "empty": "(nothing fits)",
            "rows": [[_row(r)[k] for k in _HEADERS] for r in res.recommendations]}


def faster_formats_table(res: RecommendResult) -> dict[str, Any] | None:
    """Per machine, the faster and smaller formats (for the HTML page; the table output lists the same)."""
    rows = [[f"#{r.rank}", f"{r.quant_name}, {r.per_user_decode_tokens_per_s:,.1f} tok/s", f.quant_name,
             f"{f.per_user_decode_tokens_per_s:,.1f}", f"{f.ttft_s:,.1f}",
             "?" if f.mean_kld is None else f"{f.mean_kld:.3f}"]
            for r in res.recommendations for f in r.faster_formats]
    if not rows:
        return None
    return {"title": "Faster formats on the same machine", "columns": ["#", "as ranked", "format", "tok/s/user",
                                                                       "TTFT s", "KLD"], "rows": rows}


def plan_table(res: RecommendResult) -> dict[str, Any]:
    """The plan's rows as the table output shows them (for the HTML page)."""
    return {"title": "Cost per configuration", "columns": list(_PLAN_HEADERS.values()), "empty": "(nothing fits)",
            "rows": [[_plan_row(r)[k] for k in _PLAN_HEADERS] for r in res.recommendations]}


def cost_notes(res: RecommendResult) -> list[str]:
    """Each cost note once, with the ranks it applies to."""
    ranks: dict[str, list[str]] = {}
    for r in res.recommendations:
        for n in r.cost.notes:
            ranks.setdefault(n, []).append(f"#{r.rank}")
    return [f"{', '.join(where)}: {n}" for n, where in ranks.items()]


def rent_notes(res: RecommendResult) -> list[str]:
    """Each renting note (rate, provider, date, source) once, with the ranks it applies to."""
    ranks: dict[str, list[str]] = {}
    for r in res.recommendations:
        for n in r.cost.rent_notes:
            ranks.setdefault(n, []).append(f"#{r.rank}")
    return [f"{', '.join(where)}: {n}" for n, where in ranks.items()]


def render_recommendations(res: RecommendResult, fmt: str, *, show_launch: bool = False) -> str:
    if fmt in ("json", "yaml"):
        return render(res, fmt)
    if fmt == "html":
        raise ValueError("the html page of recommend is sizer.render.html_report.render_recommend_html")
    if fmt == "csv":
        return render([_flat(r) for r in res.recommendations], "csv", columns=list(_flat_keys()))
    head = ("# " if fmt == "markdown" else "") + title(res, "Recommendations")
    rows = [_row(r) for r in res.recommendations]
    table = render(rows, fmt, columns=list(_HEADERS), headers=_HEADERS) if rows else "(nothing fits)\n"
    return "\n".join([head, "", table.rstrip("\n"), *_tail(res, fmt, show_launch)]) + "\n"


def _flat_keys() -> list[str]:
    return ["rank", "summary", "hardware", "quant", "engine", "placement", "per_user_decode_tokens_per_s",
            "aggregate_decode_tokens_per_s", "ttft_s", "max_context", "max_concurrency", "headroom_bytes",
            "mean_kld", "capex_usd", "power_w", "tco_usd", "usd_per_million_tokens", "fit_command", "tags"]


_PLAN_HEADERS = {"rank": "#", "summary": "configuration", "gpus": "GPUs", "host": "host", "ram": "RAM",
                 "capex": "capex", "power": "power W", "pue": "PUE", "energy": "energy/yr", "tco": "TCO",
                 "tps": "tok/s total", "per_m": "$/M tokens", "rent_hour": "rent $/h", "rent": "rent total"}


def _plan_row(r: Recommendation) -> dict[str, Any]:
    c = r.cost
    return {
        "rank": r.rank, "summary": r.summary, "gpus": _usd(c.gpus_usd) if c.gpus_usd is not None else "",
        "host": _usd(c.host_usd) if c.host_usd is not None else "", "ram": _usd(c.ram_usd) if c.ram_usd else "",
        "capex": _usd(c.capex_usd), "power": "?" if c.power_w is None else f"{c.power_w:,.0f}",
        "pue": f"{c.pue:g}", "energy": _usd(c.energy_usd_per_year), "tco": _usd(c.tco_usd),
        "tps": f"{r.aggregate_decode_tokens_per_s:,.1f}",
        "per_m": "unknown" if c.usd_per_million_tokens is None else f"${c.usd_per_million_tokens:,.2f}",
        "rent_hour": "" if c.rent_usd_per_hour is None else f"${c.rent_usd_per_hour:,.2f}",
        "rent": "" if c.rent_usd is None else _usd(c.rent_usd),
    }


def _plan_flat(r: Recommendation) -> dict[str, Any]:
    c = r.cost
    return {"rank": r.rank, "configuration": r.summary, "hardware": r.hardware, "quant": r.quant,
            "engine": r.engine, "gpus_usd": c.gpus_usd, "host_usd": c.host_usd, "ram_usd": c.ram_usd,
            "capex_usd": c.capex_usd, "power_w": c.power_w, "pue": c.pue, "energy_usd_per_year": c.energy_usd_per_year,
            "years": c.years, "tco_usd": c.tco_usd, "aggregate_decode_tokens_per_s": r.aggregate_decode_tokens_per_s,
            "per_user_decode_tokens_per_s": r.per_user_decode_tokens_per_s,
            "usd_per_million_tokens": c.usd_per_million_tokens, "missing_prices": c.missing_prices,
            "cost_notes": c.notes, "rent_usd_per_hour": c.rent_usd_per_hour, "rent_usd": c.rent_usd,
            "rent_notes": c.rent_notes}


def render_plan(res: RecommendResult, fmt: str) -> str:
    if fmt in ("json", "yaml"):
        return render(res, fmt)
    if fmt == "html":
        raise ValueError("the html page of plan is sizer.render.html_report.render_plan_html")
    flat = [_plan_flat(r) for r in res.recommendations]
    if fmt == "csv":
        keys = list(_plan_flat(res.recommendations[0])) if res.recommendations else [
            "rank", "configuration", "capex_usd", "tco_usd", "usd_per_million_tokens"]
        return render(flat, "csv", columns=keys)
    years = res.recommendations[0].cost.years if res.recommendations else 3
    head = ("# " if fmt == "markdown" else "") + title(res, f"Procurement plan ({years:g}-year TCO)")
    rows = [_plan_row(r) for r in res.recommendations]
    table = render(rows, fmt, columns=list(_PLAN_HEADERS), headers=_PLAN_HEADERS) if rows else "(nothing fits)\n"
    notes: list[str] = ["", "## Cost notes" if fmt == "markdown" else "Cost notes:"]
    notes += [f"- {n}" for n in cost_notes(res)]
    rents = rent_notes(res)
    if rents:
        notes += ["", "## Renting instead" if fmt == "markdown" else "Renting instead:",
                  f"- rent total = GPUs x cheapest dated cloud rate x {years:g} years x 8,760 h x utilisation "
                  "(billed only while generating; energy included in the rate; storage and egress not counted); "
                  "compare with TCO"]
        notes += [f"- {n}" for n in rents]
    return "\n".join([head, "", table.rstrip("\n"), *notes, *_tail(res, fmt, False)]) + "\n"
