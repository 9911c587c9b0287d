"""`sizer fit`: does MODEL fit, where does everything go, how fast is it."""

from __future__ import annotations

from typing import Any

import click

from sizer.commands._options import GPU_SPEC, MEMORY_SIZE, PARAM_COUNT, RAM_SPEC, TOKEN_COUNT, finite, format_option, get_catalog
from sizer.limits import MAX_HEAD_DIM, MAX_HEADS, MAX_LAYERS, MAX_USERS, MAX_WIDTH
from sizer.sizing.fitter import OFFLOAD_MODES
from sizer.sizing.quant_names import is_comparison

__all__ = ["fit_command", "hardware_options"]


def hardware_options(func: Any) -> Any:
    """--gpu, --nodes, --ram, --ram-bandwidth, --system, --here (shared by fit and recommend)."""
    for option in reversed([
        click.option("--gpu", "gpus", multiple=True, type=GPU_SPEC, metavar="NAME[:COUNT]",
                     help="Accelerator and count per node (repeatable for mixed cards): h100:8, 'RTX 4090'."),
        click.option("--nodes", type=click.IntRange(1, 1024), default=1, show_default=True, help="Identical nodes."),
        click.option("--ram", "ram_spec", type=RAM_SPEC,
                     help="Host RAM per node: 768, 768GB, 512GiB; add :DDR4 or :DDR5 for its type (default: the "
                          "--host's type, else DDR5)."),
        click.option("--host", help="A catalog host platform (sizer hosts list): RAM type, channels and bandwidth, "
                     "PCIe slot widths."),
        click.option("--ram-bandwidth", "ram_bandwidth_gb_s", type=finite(0.1, 1e6),
                     help="Host RAM bandwidth, GB/s (default: guessed from --ram, or the system's)."),
        click.option("--system", help="A catalog system: brings its GPUs, RAM, RAM bandwidth and links."),
        click.option("--here", is_flag=True, help="Use this machine's GPUs and RAM (sizer detect)."),
        click.option("--wired-limit", "wired_limit_bytes", type=MEMORY_SIZE,
                     help="Unified memory the GPU may use, raised by hand (macOS iogpu.wired_limit_mb)."),
    ]):
        func = option(func)
    return func


def local_hardware_args(here: bool, gpus: tuple[Any, ...], ram_bytes: int | None,
                        wired_limit_bytes: int | None = None) -> dict[str, Any]:
    """--here: the detected machine's GPUs, RAM and GPU wired limit, unless given explicitly."""
    if not here:
        return {"gpus": tuple((g.name, g.count) for g in gpus), "ram_bytes": ram_bytes,
                "wired_limit_bytes": wired_limit_bytes}
    from sizer.machine.detection import detect, hardware_from_local

    local = hardware_from_local(detect())
    for note in local.notes:
        click.echo(f"note: {note}", err=True)
    return {
        "gpus": tuple((g.name, g.count) for g in gpus) or local.gpus,
        "ram_bytes": ram_bytes or local.host_ram_bytes or None,
        "wired_limit_bytes": wired_limit_bytes or local.wired_limit_bytes,
    }


@click.command("fit")
@click.argument("model", required=False)
@click.option("-q", "--quant", "quants", multiple=True, metavar="Q",
              help="Quant format (repeatable; 'all' compares every format). Default: native (as released).")
@hardware_options
@click.option("-c", "--context", "context_tokens", type=TOKEN_COUNT, help="Tokens per sequence: 32k, 128K, 1M.")
@click.option("-u", "--users", default="1", show_default=True, metavar="N[,N...]",
              help="Concurrent sequences; a list (1,8,32,128) prints the throughput / interactivity curve and sizes "
                   "memory for the largest.")
@click.option("--kv-dtype", help="KV cache type (f16, bf16, fp8, q8_0, q4_0, ...; default: the engine's).")
@click.option("-e", "--engine", help="llama.cpp, vllm, sglang, trt-llm, ollama, mlx, ktransformers.")
@click.option("--offload", type=click.Choice(OFFLOAD_MODES), default=OFFLOAD_MODES[0],
              show_default=True, help="What may go to host RAM: auto picks the fastest placement that fits.")
@click.option("--tp", type=click.IntRange(1), help="Pin tensor parallel (vLLM / SGLang / TensorRT-LLM).")
@click.option("--pp", type=click.IntRange(1), help="Pin pipeline parallel.")
@click.option("--ep", type=click.IntRange(1), help="Pin expert parallel (MoE).")
@click.option("--dp", type=click.IntRange(1), help="Pin data parallel: replicas, or DP attention with --ep on MoE.")
@click.option("--gpu-memory-utilization", type=click.FloatRange(0, 1, min_open=True),
              help="vLLM / TensorRT-LLM fraction of each GPU (SGLang mem_fraction_static); default: the engine's.")
@click.option("--max-num-batched-tokens", "--ubatch", "batch_tokens", type=click.IntRange(1),
              help="Micro-batch tokens: vLLM max_num_batched_tokens, SGLang chunked_prefill_size, llama.cpp --ubatch.")
@click.option("--max-num-seqs", type=click.IntRange(1), help="Sequences the engine runs at once (vLLM max_num_seqs).")
@click.option("--mtp", type=click.IntRange(0), default=0, help="Speculative decoding with the model's MTP layers: "
              "tokens drafted per step (the layers are then loaded).")
@click.option("--draft", metavar="MODEL", help="Speculative decoding with a draft model (its weights and KV count).")
@click.option("--params", type=PARAM_COUNT, help="Raw mode: total parameters (1T, 70B).")
@click.option("--active", type=PARAM_COUNT, help="Raw mode: active parameters per token (MoE).")
@click.option("--layers", type=click.IntRange(1, MAX_LAYERS), help="Raw mode: layers.")
@click.option("--hidden", type=click.IntRange(1, MAX_WIDTH), help="Raw mode: hidden size.")
@click.option("--kv-heads", type=click.IntRange(1, MAX_HEADS), help="Raw mode: KV heads.")
@click.option("--head-dim", type=click.IntRange(1, MAX_HEAD_DIM), help="Raw mode: head dimension.")
@format_option()
def fit_command(model: str | None, quants: tuple[str, ...], gpus: tuple[Any, ...], nodes: int,
                ram_spec: tuple[int, str | None] | None, host: str | None, ram_bandwidth_gb_s: float | None,
                system: str | None, here: bool,
                wired_limit_bytes: int | None, context_tokens: int | None, users: str, kv_dtype: str | None,
                engine: str | None, offload: str, tp: int | None, pp: int | None, ep: int | None, dp: int | None,
                gpu_memory_utilization: float | None, batch_tokens: int | None, max_num_seqs: int | None,
                mtp: int, draft: str | None,
                params: int | None, active: int | None, layers: int | None, hidden: int | None,
                kv_heads: int | None, head_dim: int | None, fmt: str) -> None:
    """Memory breakdown, placement, verdict and speed of MODEL.

    MODEL is a catalog id, a Hugging Face repo (deepseek-ai/DeepSeek-V3), a config.json or model
    folder, a .gguf or .safetensors file; or give --params (and --active) for a model known only by
    its counts.
    """
    from sizer.model.reference import RawCounts
    from sizer.render.fit_report import render_fit, render_quant_rows
    from sizer.sizing.fitter import compare_quants, fit

    catalog = get_catalog()
    if model is None and params is None:
        raise click.UsageError("give a MODEL or --params")
    ref: Any = model if model is not None else RawCounts(params or 0, active, layers, hidden, kv_heads, head_dim)
    ram_bytes, ram_type = ram_spec if ram_spec is not None else (None, None)
    hw = local_hardware_args(here, gpus, ram_bytes, wired_limit_bytes)
    curve = _users_list(users)
    common: dict[str, Any] = dict(nodes=nodes, ram_bandwidth_gb_s=ram_bandwidth_gb_s, system=system, host=host,
                                  ram_type=ram_type,
                                  context_tokens=context_tokens, users=max(curve), engine=engine, catalog=catalog, **hw)
    if is_comparison(quants):
        skipped: list[str] = []
        rows = compare_quants(ref, list(quants), skipped=skipped, **common)
        for note in skipped:
            click.echo(f"note: {note}", err=True)
        click.echo(render_quant_rows(rows, fmt), nl=False)
        return
    result = fit(ref, quant=quants[0] if quants else "native", kv_dtype=kv_dtype, offload=offload,
                 curve_users=tuple(curve) if len(curve) > 1 else (), tp=tp, pp=pp, ep=ep, dp=dp,
                 gpu_memory_utilization=gpu_memory_utilization, batch_tokens=batch_tokens, max_num_seqs=max_num_seqs,
                 mtp=mtp, draft=draft, **common)
    if fmt == "table":
        for w in result.warnings:
            click.echo(f"warning: {w}", err=True)
    if fmt == "html":
        from sizer.render.html_report import render_fit_html, sources_of_fit
        from sizer.sizing.context_sweep import decode_by_context

        points = decode_by_context(ref, result, kv_dtype=kv_dtype, **common) if result.performance else []
        click.echo(render_fit_html(result, points, sources_of_fit(result, catalog)), nl=False)
        return
    click.echo(render_fit(result, fmt), nl=False)


def _users_list(text: str) -> list[int]:
    """'8' -> [8]; '1,8,32' -> [1, 8, 32] (sorted, unique); anything else is a usage error."""
    try:
        values = sorted({int(x) for x in text.split(",") if x.strip()})
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a number or a comma-separated list of numbers",
                                 param_hint="--users") from None
    if not values or values[0] < 1 or values[-1] > MAX_USERS:
        raise click.BadParameter(f"{text!r}: give at least one count of users, each from 1 to {MAX_USERS:,}",
                                 param_hint="--users")
    return values
