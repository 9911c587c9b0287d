"""`sizer recommend` and `sizer plan`: what to buy (or use) for MODEL, and what it costs to own."""

from __future__ import annotations

from typing import Any

import click

from sizer.commands._options import GPU_SPEC, MEMORY_SIZE, TOKEN_COUNT, finite, format_option, get_catalog
from sizer.limits import MAX_DEVICES, MAX_USERS

__all__ = ["plan_command", "recommend_command"]

_SORTS = ["spread", "price", "speed", "quality", "cost-per-token"]


def _search_options(func: Any) -> Any:
    """The constraints and cost options shared by recommend and plan."""
    options = [
        click.option("-c", "--context", "context_tokens", type=TOKEN_COUNT,
                     help="Tokens per sequence: 32k, 128K, 1M (default 8k)."),
        click.option("-u", "--users", type=click.IntRange(1, MAX_USERS), default=1, show_default=True,
                     help="Concurrent sequences."),
        click.option("--min-tps", type=finite(0, 1e7), default=2.0, show_default=True,
                     help="Minimum decode tokens/s per user (0: any speed)."),
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
        click.option("--top", type=click.IntRange(1, 100_000), default=10, show_default=True, help="Configurations shown."),
        click.option("--sort", type=click.Choice(_SORTS), default="spread", show_default=True,
                     help="spread: cheapest, fastest, most accurate and a spread of prices, cheapest first."),
        click.option("--max-nodes", type=click.IntRange(1, 64), default=4, show_default=True,
                     help="Most machines in one configuration."),
        click.option("--years", type=finite(0.1, 100), default=3.0, show_default=True,
                     help="Years of ownership for the TCO."),
        click.option("--pue", type=finite(1.0, 10.0), help="Power usage effectiveness (default 1.56 in a "
                     "data center, 1.0 at a desk)."),
        click.option("--kwh-price", "usd_per_kwh", type=finite(0, 1e3), default=0.13, show_default=True,
                     help="Electricity, USD per kWh."),
        click.option("--utilization", type=finite(0.01, 1.0), default=1.0, show_default=True,
                     help="Fraction of the year spent generating."),
        click.option("--host-price", "host_price_usd", type=finite(0, 1e13),
                     help="Price of one host machine without GPUs, USD (replaces sizer's estimate)."),
        click.option("--ram-price", "ram_usd_per_gb", type=finite(0, 1e9), help="RAM, USD per GB."),
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
    constraints = Constraints(have=have, have_ram_bytes=have_ram, **kw)
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

    click.echo(render_plan(_run(model, kw), fmt), nl=False)
