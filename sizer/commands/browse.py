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
    list_cloud_prices,
    list_engines,
    list_hosts,
    list_models,
    list_quants,
    list_systems,
)
from sizer.commands._options import (
    GPU_SPEC,
    MEMORY_SIZE,
    PARAM_COUNT,
    RAM_SPEC,
    TOKEN_COUNT,
    format_option,
    get_catalog,
    schema_choices,
    sources_option,
)
from sizer.render.formats import render
from sizer.schema import Accelerator, QuantFormat
from sizer.sizing.fits_here import DEFAULT_FLOOR

__all__ = ["clouds", "engines", "gpus", "hosts", "models", "quants", "systems"]

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
@click.option("--gpu", "gpus", multiple=True, type=GPU_SPEC, metavar="NAME[:COUNT]",
              help="Only models that run on this hardware you are considering (repeatable), best quant for each.")
@click.option("--ram", "ram_spec", type=RAM_SPEC, help="Host RAM of that hardware: 64GB, 128GB:DDR4.")
@click.option("--host", help="Host platform of that hardware (sizer hosts list).")
@click.option("--min-quant", default=DEFAULT_FLOOR, show_default=True, metavar="Q",
              help="Lowest format tried with --gpu / --fits-here (iq1_m to allow 1-bit).")
@click.option("-c", "--context", "context_tokens", type=TOKEN_COUNT,
              help="Context for --fits-here / --gpu (default: sizer fit's default context).")
@format_option()
@sources_option
def models_list(family: tuple[str, ...], vendor: tuple[str, ...], min_params: int | None,
                max_params: int | None, fits_here: bool, gpus: tuple[Any, ...],
                ram_spec: tuple[int, str | None] | None, host: str | None, min_quant: str, context_tokens: int | None,
                fmt: str, show_sources: bool) -> None:  # fmt: skip
    """List models, by vendor then size; with --gpu (or --fits-here), what runs on that hardware."""
    if fits_here and gpus:
        raise click.UsageError("give --fits-here or --gpu, not both")
    if ram_spec and not gpus:
        raise click.UsageError("--ram describes the hardware given with --gpu")
    if fits_here or gpus:
        _print_fits(context_tokens, fmt, min_quant.lower(), gpus, ram_spec, host)
        return
    listing = list_models(get_catalog(), families=family, vendors=vendor, min_params=min_params,
                          max_params=max_params, sources=show_sources)  # fmt: skip
    _print_listing(listing, fmt)


def _print_fits(context_tokens: int | None, fmt: str, floor: str, gpus: tuple[Any, ...],
                ram_spec: tuple[int, str | None] | None, host: str | None) -> None:
    from sizer.sizing.fits_here import best_fits
    from sizer.units import format_gib, format_params

    ram_type: str | None = None
    if gpus:
        hw_gpus = tuple((g.name, g.count) for g in gpus)
        ram_bytes, ram_type = ram_spec if ram_spec is not None else (None, None)
        where = "this hardware"
    else:
        from sizer.machine.detection import detect, hardware_from_local

        local = hardware_from_local(detect())
        hw_gpus, ram_bytes, where = local.gpus, local.host_ram_bytes or None, "this machine"
    rows = best_fits(get_catalog(), gpus=hw_gpus, ram_bytes=ram_bytes, context_tokens=context_tokens, floor=floor,
                     ram_type=ram_type, host=host)
    listing = Listing(
        rows=[{"model": r.model_id, "total_params": r.total_params, "quant": r.quant, "weights_bytes": r.weights_bytes,
               "decode_tokens_per_s": round(r.decode_tokens_per_s, 1) if r.decode_tokens_per_s else None,
               "max_context": r.max_context, "offload": r.offload} for r in rows],
        headers={"model": "model", "total_params": "params", "quant": "best quant", "weights_bytes": "weights",
                 "decode_tokens_per_s": "decode tok/s", "max_context": "max context", "offload": "offload"},
        human={"total_params": format_params, "weights_bytes": format_gib, "decode_tokens_per_s": lambda v: f"{v:.1f}"},
    )
    if listing.rows:
        _print_listing(listing, fmt)
    else:
        click.echo(f"No catalog model fits {where} at {floor.upper()} or better.\n", nl=False)


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


@click.group("hosts")
def hosts() -> None:
    """Host platforms GPUs go into: RAM type, channels and bandwidth, PCIe slot widths, power, price."""


@hosts.command("list")
@format_option()
@sources_option
def hosts_list(fmt: str, show_sources: bool) -> None:
    """List host platforms."""
    _print_listing(list_hosts(get_catalog(), sources=show_sources), fmt)


_show_command(hosts, "host", "host platform (NAME: id or alias, e.g. desktop-am5)")


@click.group("clouds")
def clouds() -> None:
    """Cloud GPU rental prices (USD per GPU-hour, dated and sourced)."""


@clouds.command("list")
@click.option("--gpu", "gpu_names", multiple=True, help="Only rates for this accelerator (repeatable).")
@format_option()
def clouds_list(gpu_names: tuple[str, ...], fmt: str) -> None:
    """List cloud GPU rates, cheapest first per accelerator."""
    catalog = get_catalog()
    ids = [catalog.resolve("accelerator", name) for name in gpu_names]
    _print_listing(list_cloud_prices(catalog, accelerators=ids), fmt)
