"""`sizer gpus|models|quants|engines|systems list|show`: browse the catalog.

`list` prints the key columns (units in the headers; JSON/YAML/CSV use the catalog's field names),
`show NAME` prints every field of one entry. `--sources` adds the source URLs.
"""

from __future__ import annotations

from typing import Any

import click

from sizer.catalog.listing import (
    Listing,
    entry_record,
    list_accelerators,
    list_engines,
    list_models,
    list_quants,
    list_systems,
)
from sizer.commands._options import (
    MEMORY_SIZE,
    PARAM_COUNT,
    TOKEN_COUNT,
    format_option,
    get_catalog,
    schema_choices,
    sources_option,
)
from sizer.render.formats import render
from sizer.schema import Accelerator, QuantFormat

__all__ = ["engines", "gpus", "models", "quants", "systems"]

_SEGMENTS = schema_choices(Accelerator, "segment")
_QUANT_KINDS = schema_choices(QuantFormat, "format_kind")


def _print_listing(listing: Listing, fmt: str) -> None:
    text = render(
        listing.rows, fmt, columns=list(listing.headers), headers=listing.headers, human=listing.human
    )
    click.echo(text, nl=False)


def _show_command(group: click.Group, kind: str, what: str) -> None:
    """Add `show NAME` to a browse group."""

    @group.command("show", help=f"Every field of one {what}.")
    @click.argument("name")
    @format_option()
    @sources_option
    def show(name: str, fmt: str, show_sources: bool) -> None:
        entry: Any = getattr(get_catalog(), kind)(name)
        click.echo(render(entry_record(entry, sources=show_sources), fmt), nl=False)


@click.group("gpus")
def gpus() -> None:
    """Accelerators in the catalog: GPUs, NPUs, unified-memory chips."""


@gpus.command("list")
@click.option("--vendor", multiple=True, help="Only this vendor (repeatable; case-insensitive).")
@click.option(
    "--min-memory", type=MEMORY_SIZE, help="At least this much marketed memory (768 = GB, 512GiB, 1.5TB)."
)
@click.option(
    "--segment", type=click.Choice(_SEGMENTS), multiple=True, help="Only this market segment (repeatable)."
)
@click.option("--unified/--discrete", default=None, help="Only unified-memory chips, or only discrete GPUs.")
@format_option()
@sources_option
def gpus_list(vendor: tuple[str, ...], min_memory: int | None, segment: tuple[str, ...], unified: bool | None,
              fmt: str, show_sources: bool) -> None:  # fmt: skip
    """List accelerators, by vendor then memory."""
    listing = list_accelerators(get_catalog(), vendors=vendor, min_memory_bytes=min_memory, segments=segment,
                                unified=unified, sources=show_sources)  # fmt: skip
    _print_listing(listing, fmt)


_show_command(gpus, "accelerator", 'accelerator (NAME: id, alias or name, e.g. "H100 SXM", rtx4090)')


@click.group("models")
def models() -> None:
    """Open-weight models in the catalog."""


@models.command("list")
@click.option(
    "--family", multiple=True, help="Only this architecture family (repeatable), e.g. deepseek_v3, qwen3."
)
@click.option("--vendor", multiple=True, help="Only this vendor (repeatable; case-insensitive).")
@click.option("--min-params", type=PARAM_COUNT, help="At least this many total parameters (e.g. 30B).")
@click.option("--max-params", type=PARAM_COUNT, help="At most this many total parameters (e.g. 1T).")
@click.option("--fits-here", is_flag=True, help="Only models that run on this machine, with the best quant for each.")
@click.option("-c", "--context", "context_tokens", type=TOKEN_COUNT,
              help="Context for --fits-here (default: sizer fit's default context).")
@format_option()
@sources_option
def models_list(family: tuple[str, ...], vendor: tuple[str, ...], min_params: int | None,
                max_params: int | None, fits_here: bool, context_tokens: int | None, fmt: str,
                show_sources: bool) -> None:  # fmt: skip
    """List models, by vendor then size."""
    if fits_here:
        _print_fits_here(context_tokens, fmt)
        return
    listing = list_models(get_catalog(), families=family, vendors=vendor, min_params=min_params,
                          max_params=max_params, sources=show_sources)  # fmt: skip
    _print_listing(listing, fmt)


def _print_fits_here(context_tokens: int | None, fmt: str) -> None:
    from sizer.machine.detection import detect, hardware_from_local
    from sizer.sizing.fits_here import best_fits
    from sizer.units import format_gib, format_params

    local = hardware_from_local(detect())
    rows = best_fits(get_catalog(), gpus=local.gpus, ram_bytes=local.host_ram_bytes or None,
                     context_tokens=context_tokens)
    table = [{"model": r.model_id, "params": format_params(r.total_params), "best quant": r.quant,
              "weights": format_gib(r.weights_bytes),
              "decode tok/s": f"{r.decode_tokens_per_s:.1f}" if r.decode_tokens_per_s else "",
              "max context": r.max_context, "offload": r.offload} for r in rows]
    click.echo(render(table, fmt) if table else "No catalog model fits this machine.\n", nl=False)


_show_command(
    models, "model", "model (NAME: id, alias, name or Hugging Face repo, e.g. deepseek-ai/DeepSeek-V3)"
)


@click.group("quants")
def quants() -> None:
    """Quantization formats: ggml types, llama.cpp file types, checkpoint formats."""


@quants.command("list")
@click.option(
    "--kind", type=click.Choice(_QUANT_KINDS), multiple=True, help="Only this kind of format (repeatable)."
)
@format_option()
@sources_option
def quants_list(kind: tuple[str, ...], fmt: str, show_sources: bool) -> None:
    """List quantization formats in catalog order."""
    _print_listing(list_quants(get_catalog(), kinds=kind, sources=show_sources), fmt)


_show_command(quants, "quant", "quantization format (NAME: id, alias or name, e.g. Q4_K_M, fp8-block128)")


@click.group("engines")
def engines() -> None:
    """Inference engines and how they account for memory."""


@engines.command("list")
@format_option()
@sources_option
def engines_list(fmt: str, show_sources: bool) -> None:
    """List inference engines."""
    _print_listing(list_engines(get_catalog(), sources=show_sources), fmt)


_show_command(engines, "engine", "inference engine (NAME: id or alias, e.g. vllm, llamacpp)")


@click.group("systems")
def systems() -> None:
    """Reference machines: accelerators, host RAM, links."""


@systems.command("list")
@format_option()
@sources_option
def systems_list(fmt: str, show_sources: bool) -> None:
    """List reference systems."""
    _print_listing(list_systems(get_catalog(), sources=show_sources), fmt)


_show_command(systems, "system", "reference system (NAME: id, alias or name, e.g. dgx-h100)")
