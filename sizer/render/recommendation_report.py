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

__all__ = ["cost_notes", "plan_table", "recommendation_table", "render_plan", "render_recommendations", "title"]

_GIB = 2**30


def _usd(value: float | None) -> str:
    return "unknown" if value is None else f"${value:,.0f}"


def _loss(r: Recommendation) -> str:
    q = r.quality.mean_kld
    return "?" if q is None else ("0" if q == 0 else f"{q:.3f}")


def _row(r: Recommendation) -> dict[str, Any]:
    return {
        "rank": r.rank, "quant": r.quant_name, "hardware": r.hardware, "engine": r.engine, "placement": r.placement,
        "tps": f"{r.per_user_decode_tokens_per_s:,.1f}", "ctx": format_tokens(r.max_context),
        "conc": f"{r.max_concurrency:,.1f}", "headroom": f"{r.headroom_bytes / _GIB:,.1f}",
        "capex": _usd(r.cost.capex_usd), "power": "?" if r.cost.power_w is None else f"{r.cost.power_w:,.0f}",
        "loss": _loss(r), "tags": ", ".join(r.tags),
    }


_HEADERS = {"rank": "#", "quant": "format", "hardware": "hardware", "engine": "engine", "placement": "placement",
            "tps": "tok/s/user", "ctx": "max ctx", "conc": "concurrency", "headroom": "free GiB",
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


_PLAN_HEADERS = {"rank": "#", "summary": "configuration", "gpus": "GPUs", "host": "host", "ram": "extra RAM",
                 "capex": "capex", "power": "power W", "pue": "PUE", "energy": "energy/yr", "tco": "TCO",
                 "tps": "tok/s total", "per_m": "$/M tokens"}


def _plan_row(r: Recommendation) -> dict[str, Any]:
    c = r.cost
    return {
        "rank": r.rank, "summary": r.summary, "gpus": _usd(c.gpus_usd) if c.gpus_usd is not None else "",
        "host": _usd(c.host_usd) if c.host_usd is not None else "", "ram": _usd(c.ram_usd) if c.ram_usd else "",
        "capex": _usd(c.capex_usd), "power": "?" if c.power_w is None else f"{c.power_w:,.0f}",
        "pue": f"{c.pue:g}", "energy": _usd(c.energy_usd_per_year), "tco": _usd(c.tco_usd),
        "tps": f"{r.aggregate_decode_tokens_per_s:,.1f}",
        "per_m": "unknown" if c.usd_per_million_tokens is None else f"${c.usd_per_million_tokens:,.2f}",
    }


def _plan_flat(r: Recommendation) -> dict[str, Any]:
    c = r.cost
    return {"rank": r.rank, "configuration": r.summary, "hardware": r.hardware, "quant": r.quant,
            "engine": r.engine, "gpus_usd": c.gpus_usd, "host_usd": c.host_usd, "ram_usd": c.ram_usd,
            "capex_usd": c.capex_usd, "power_w": c.power_w, "pue": c.pue, "energy_usd_per_year": c.energy_usd_per_year,
            "years": c.years, "tco_usd": c.tco_usd, "aggregate_decode_tokens_per_s": r.aggregate_decode_tokens_per_s,
            "per_user_decode_tokens_per_s": r.per_user_decode_tokens_per_s,
            "usd_per_million_tokens": c.usd_per_million_tokens, "missing_prices": c.missing_prices,
            "cost_notes": c.notes}


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
    return "\n".join([head, "", table.rstrip("\n"), *notes, *_tail(res, fmt, False)]) + "\n"
