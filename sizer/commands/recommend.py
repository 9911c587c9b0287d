"""`sizer recommend` and `sizer plan`: what to buy (or use) for MODEL, and what it costs to own."""

from __future__ import annotations

from dataclasses import MISSING, fields
from typing import Any

import click

from sizer.commands._options import GPU_SPEC, MEMORY_SIZE, TOKEN_COUNT, finite, format_option, get_catalog
from sizer.limits import MAX_DEVICES, MAX_USERS
from sizer.recommendation.cost import DATACENTER_PUE, CostOptions
from sizer.recommendation.pipeline import SORTS, Constraints
from sizer.sizing.fitter import DEFAULT_CONTEXT_TOKENS
from sizer.units import format_tokens

__all__ = ["plan_command", "recommend_command"]


def _defaults(cls: type) -> dict[str, Any]:
    """The library's defaults of a dataclass (Constraints, CostOptions): the CLI shows and uses those."""
    return {f.name: f.default for f in fields(cls) if f.default is not MISSING}


_C = _defaults(Constraints)
_COST = _defaults(CostOptions)


def _search_options(func: Any) -> Any:
    """The constraints and cost options shared by recommend and plan."""
    options = [
        click.option("-c", "--context", "context_tokens", type=TOKEN_COUNT,
                     help=f"Tokens per sequence: 32k, 128K, 1M (default {format_tokens(DEFAULT_CONTEXT_TOKENS)})."),
        click.option("-u", "--users", type=click.IntRange(1, MAX_USERS), default=_C["users"], show_default=True,
                     help="Concurrent sequences."),
        click.option("--min-tps", type=finite(0, 1e7), default=_C["min_tps"], show_default=True,
                     help="Minimum decode tokens/s per user (0: any speed)."),
        click.option("--max-ttft", "max_ttft_s", type=finite(0, 1e9),
                     help="Longest time to first token for a full-context prompt, s (default: the context at 50 "
                     "tokens/s, at least 60 s; 0 for any)."),
        click.option("--budget", "budget_usd", type=finite(0, 1e13, min_open=True), help="Maximum capital cost, USD."),
        click.option("--vendor", "vendors", multiple=True, help="Only this GPU vendor (repeatable)."),
        click.option("--max-gpus", type=click.IntRange(1, MAX_DEVICES), help="At most this many accelerators in total."),
        click.option("--max-power", "max_power_w", type=finite(0, 1e10), help="Maximum power draw, W."),
        click.option("-q", "--quant", "quants", multiple=True, metavar="Q",
                     help="Formats to consider (repeatable; 'all' for every one). Default: common formats."),
        click.option("-e", "--engine", "engines", multiple=True,
                     help="Engines to consider (repeatable): vllm, llama.cpp, sglang, trt-llm, ollama, mlx."),
        click.option("--max-quality-loss", type=finite(0, 1e6),
                     help="Maximum mean KL divergence vs 16-bit (Q4_K_M ~0.03 on Llama-3-8B)."),
        click.option("--have", multiple=True, type=GPU_SPEC, metavar="NAME[:COUNT]",
                     help="Hardware you own (GPU or catalog system, repeatable): used first, at no cost."),
        click.option("--have-ram", "have_ram_bytes", type=MEMORY_SIZE, help="RAM in the machine you own: 128GB."),
        click.option("--here", is_flag=True, help="Own this machine's GPUs and RAM (sizer detect)."),
        click.option("--top", type=click.IntRange(1, 100_000), default=_C["top"], show_default=True,
                     help="Configurations shown."),
        click.option("--sort", type=click.Choice(SORTS), default=_C["sort"], show_default=True,
                     help="spread: cheapest, fastest, most accurate and a spread of prices, cheapest first."),
        click.option("--max-nodes", type=click.IntRange(1, 64), default=_C["max_nodes"], show_default=True,
                     help="Most machines in one configuration."),
        click.option("--years", type=finite(0.1, 100), default=_COST["years"], show_default=True,
                     help="Years of ownership for the TCO."),
        click.option("--pue", type=finite(1.0, 10.0), help=f"Power usage effectiveness (default {DATACENTER_PUE:g} in a "
                     "data center, 1.0 at a desk)."),
        click.option("--kwh-price", "usd_per_kwh", type=finite(0, 1e3), default=_COST["usd_per_kwh"], show_default=True,
                     help="Electricity, USD per kWh."),
        click.option("--utilization", type=finite(0.01, 1.0), default=_COST["utilization"], show_default=True,
                     help="Fraction of the year spent generating."),
        click.option("--host-price", "host_price_usd", type=finite(0, 1e13),
                     help="Price of one host machine without GPUs and RAM, USD (replaces sizer's estimate)."),
        click.option("--ram-price", "ram_usd_per_gb", type=finite(0, 1e9), help="RAM, USD per GB."),
        click.option("--as-of", "as_of", type=click.DateTime(formats=["%Y-%m-%d"]), metavar="YYYY-MM-DD",
                     help="Only hardware that could be bought new on this date, and cloud rates seen by then "
                          "(default: today)."),
        click.option("--host", help="Put new GPU builds on this catalog host platform only (sizer hosts list); "
                     "unified-memory machines and reference systems are still offered."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _run(model: str, kw: dict[str, Any]) -> Any:
    from sizer.recommendation.cost import CostOptions
    from sizer.recommendation.pipeline import Constraints, recommend

    have = tuple((g.name, g.count) for g in kw.pop("have"))
    have_ram = kw.pop("have_ram_bytes")
    if kw.pop("here"):
        from sizer.machine.detection import detect, hardware_from_local

        local = hardware_from_local(detect())
        for note in local.notes:
            click.echo(f"note: {note}", err=True)
        have += tuple(local.gpus)
        have_ram = have_ram or local.host_ram_bytes
    cost = CostOptions(years=kw.pop("years"), pue=kw.pop("pue"), usd_per_kwh=kw.pop("usd_per_kwh"),
                       utilization=kw.pop("utilization"), host_price_usd=kw.pop("host_price_usd"),
                       ram_usd_per_gb=kw.pop("ram_usd_per_gb"))
    as_of = kw.pop("as_of")
    constraints = Constraints(have=have, have_ram_bytes=have_ram, as_of=as_of.date().isoformat() if as_of else None,
                              **kw)
    result = recommend(model, constraints, cost, catalog=get_catalog())
    for w in result.warnings:
        click.echo(f"warning: {w}", err=True)
    return result


@click.command("recommend")
@click.argument("model")
@_search_options
@click.option("--plan", "as_plan", is_flag=True, help="Print the procurement plan (as `sizer plan`).")
@click.option("--launch", "show_launch", is_flag=True, help="Launch commands for every configuration (table).")
@format_option()
def recommend_command(model: str, as_plan: bool, show_launch: bool, fmt: str, **kw: Any) -> None:
    """Hardware to run MODEL at a context, for a number of users, at a speed, ranked.

    Searches the catalog (accelerators x counts x nodes, GPU + RAM offload, unified-memory machines,
    reference systems, what you --have) x formats x engines with the same core as `sizer fit`, keeps
    what fits and meets the constraints, and ranks the Pareto front over price, per-user speed and
    quality loss. Every row comes with its launch commands and the `sizer fit` command that checks it.
    """
    from sizer.render.recommendation_report import render_plan, render_recommendations

    result = _run(model, kw)
    if fmt == "html":
        from sizer.render.html_report import render_plan_html, render_recommend_html, sources_of_recommend

        sources = sources_of_recommend(result, get_catalog())
        page = render_plan_html(result, sources) if as_plan else render_recommend_html(result, sources,
                                                                                        show_launch=show_launch)
        click.echo(page, nl=False)
        return
    text = render_plan(result, fmt) if as_plan else render_recommendations(result, fmt, show_launch=show_launch)
    click.echo(text, nl=False)


@click.command("plan")
@click.argument("model")
@_search_options
@format_option()
def plan_command(model: str, fmt: str, **kw: Any) -> None:
    """Procurement plan for MODEL: capital cost, power, TCO and cost per million tokens.

    The same search as `sizer recommend`; prints the cost of each configuration (GPU prices plus a
    host estimate, power x PUE x electricity price over --years). Use --format csv or markdown for a
    purchase request; a price-list overlay (--catalog prices.yaml) takes precedence over built-in prices.
    """
    from sizer.render.recommendation_report import render_plan

    result = _run(model, kw)
    if fmt == "html":
        from sizer.render.html_report import render_plan_html, sources_of_recommend

        click.echo(render_plan_html(result, sources_of_recommend(result, get_catalog())), nl=False)
        return
    click.echo(render_plan(result, fmt), nl=False)
