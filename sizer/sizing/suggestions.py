"""The way to a fit: when an answer does not fit, the nearest changes that make it fit.

Each change is tried with the same core (`fit`, without suggestions of its own), so its verdict and
speed are the ones `sizer fit` prints for the changed command. Changes, smallest first:
- a KV cache of about one byte per value (FP8 / Q8_0), then a shorter context (the longest that fits);
- another format: the most accurate one below the current size that fits (GGUF file types down to
  Q3_K_M for llama.cpp / Ollama, FP8 / INT4 / FP4 checkpoints for vLLM-like engines; nothing below the
  quality floor);
- an engine that keeps routed experts (or layers) in host RAM, with the smallest RAM size that fits;
- more GPUs of the same kind; other GPUs (the cheapest catalog cards that fit, one kind).

`args` are CLI options that replace the same options of the original command (`apply_args` does
exactly that on `fit`'s keyword arguments; the tests apply them and re-fit).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sizer.catalog.loading import Catalog
from sizer.errors import BadValueError, SizerError
from sizer.placement.hardware import Hardware
from sizer.sizing.engine_choice import engine_runs
from sizer.sizing.quant_names import quality_ladder
from sizer.sizing.results import FitResult, Suggestion
from sizer.units import parse_memory_bytes, parse_token_count

__all__ = ["GGUF_LADDER", "CHECKPOINT_LADDER", "RAM_LADDER_GB", "apply_args", "suggest_changes"]

# most accurate first, 8-bit down to the quality floor (2-bit and lower: ask for them by name)
GGUF_LADDER = tuple(q for q in quality_ladder() if q != "bf16")
CHECKPOINT_LADDER = ("fp8", "int4", "fp4", "mxfp4")
RAM_LADDER_GB = (32, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048)
_OTHER_GPU_TRIES = 8
_CONSUMER_MAX = 4  # more consumer cards need a server chassis (as recommend)
_MAX_NODES = 4
_OPTION_KEYS = {"--quant": "quant", "-q": "quant", "--engine": "engine", "-e": "engine", "--ram": "ram_bytes",
                "--gpu": "gpus", "--nodes": "nodes", "-c": "context_tokens", "--context": "context_tokens",
                "--kv-dtype": "kv_dtype"}

Refit = Callable[..., FitResult]


def apply_args(request: Mapping[str, Any], args: Sequence[str]) -> dict[str, Any]:
    """`fit` keyword arguments with a suggestion's options applied (each replaces the same option)."""
    out = dict(request)
    gpus: list[tuple[str, int]] = []
    it = iter(args)
    for opt in it:
        key = _OPTION_KEYS.get(opt)
        if key is None:
            raise BadValueError(f"unknown option in a suggestion: {opt}")
        value = next(it)
        if key == "ram_bytes":
            out[key] = parse_memory_bytes(value)
            out["ram_bandwidth_gb_s"] = None  # guessed from the new size, as the CLI would
        elif key == "gpus":
            name, _, count = value.rpartition(":")
            gpus.append((name, int(count)))
        elif key == "context_tokens":
            out[key] = parse_token_count(value)
        elif key == "nodes":
            out[key] = int(value)
        else:
            out[key] = value
    if gpus:
        out["gpus"] = tuple(gpus)
    return out


def _speed(r: FitResult) -> tuple[float | None, float | None]:
    return (r.performance.decode_tokens_per_s, r.performance.ttft_s) if r.performance else (None, None)


class _Trier:
    def __init__(self, model: Any, request: Mapping[str, Any], refit: Refit, catalog: Catalog) -> None:
        self.model, self.request, self.refit, self.catalog = model, request, refit, catalog

    def run(self, args: list[str]) -> FitResult | None:
        """The changed fit, or None when it fails or its engine does not load its format (not a way to a fit)."""
        try:
            r = self.refit(self.model, **apply_args(self.request, args), catalog=self.catalog, suggest=False)
        except SizerError:
            return None
        eng, fmt = self.catalog.engines.get(r.engine), self.catalog.quants.get(r.quant)
        if eng is not None and fmt is not None and fmt.id not in eng.supported_quants:
            return None
        return r

    def make(self, change: str, args: list[str], note: str = "") -> Suggestion | None:
        r = self.run(args)
        if r is None or not r.fits:
            return None
        decode, ttft = _speed(r)
        if r.engine != self.request.get("engine") and "--engine" not in args and r.engine:
            note = (note + "; " if note else "") + f"runs on {r.engine}"
        return Suggestion(change=change, args=args, fits=True, decode_tokens_per_s=decode, ttft_s=ttft, note=note)


def suggest_changes(model: Any, request: Mapping[str, Any], result: FitResult, hw: Hardware, catalog: Catalog,
                    refit: Refit) -> list[Suggestion]:
    """The nearest changes that make `result` (which does not fit) fit; see the module docstring."""
    t = _Trier(model, request, refit, catalog)
    out: list[Suggestion | None] = []
    engine = catalog.engines.get(result.engine)
    eng_args = ["--engine", result.engine]
    # 1. a one-byte KV cache
    if engine is not None and result.memory.kv_cache_bytes > 0:
        default_bytes = engine.kv_cache_dtypes[0].bytes_per_element
        small = [d for d in engine.kv_cache_dtypes if d.bytes_per_element <= 1.07 < default_bytes]
        if small and not request.get("kv_dtype"):
            out.append(t.make(f"{small[0].name} KV cache on {engine.name} (about half the KV memory)",
                              ["--kv-dtype", small[0].name, *eng_args]))
    # 2. a shorter context: the longest that fits on this layout
    context = result.context_tokens
    if result.max_context and 0 < result.max_context < context:
        shorter = max(1024, result.max_context // 1024 * 1024)
        out.append(t.make(f"context {shorter:,} tokens instead of {context:,}", ["-c", str(shorter), *eng_args]))
    # 3. another format
    out.append(_other_format(t, result, engine))
    # 4. an engine with offload, and the RAM it needs
    if request.get("hardware") is None and not hw.is_unified:
        out.append(_offload(t, result, hw, catalog))
    # 5. more GPUs of the same kind (more machines for unified-memory ones), 6. other GPUs
    if request.get("hardware") is None and len(hw.accelerators) == 1:
        out.append(_more_gpus(t, hw))
        if not hw.is_unified:
            out.append(_other_gpus(t, result, hw, catalog))
    return [s for s in out if s is not None]


def _other_format(t: _Trier, result: FitResult, engine: Any) -> Suggestion | None:
    if engine is None:
        return None
    gguf = any(q in engine.supported_quants for q in GGUF_LADDER)
    ladder = GGUF_LADDER if gguf else CHECKPOINT_LADDER
    shorter_ok: list[FitResult] = []
    for name in ladder:
        r = t.run(["--quant", name, "--engine", engine.id])
        if r is None or r.quant == result.quant or r.memory.weights_bytes >= result.memory.weights_bytes:
            continue
        if r.fits:
            decode, ttft = _speed(r)
            return Suggestion(change=f"{r.quant_name} instead of {result.quant_name} on {engine.name}",
                              args=["--quant", r.quant, "--engine", engine.id], fits=True,
                              decode_tokens_per_s=decode, ttft_s=ttft,
                              note=f"weights {r.memory.weights_bytes / 2**30:,.1f} GiB")
        if r.max_context and r.max_context >= 1024:
            shorter_ok.append(r)  # the weights fit, the KV cache of the whole context does not
    # the most accurate format that keeps a useful context (a quarter of the asked one, at least 8k), else the
    # format that keeps the longest context
    useful = min(result.context_tokens, max(8192, result.context_tokens // 4))
    with_shorter = next((r for r in shorter_ok if (r.max_context or 0) >= useful), None) or max(
        shorter_ok, key=lambda r: r.max_context or 0, default=None)
    if with_shorter is not None:
        shorter = with_shorter.max_context // 1024 * 1024  # type: ignore[operator]
        return t.make(f"{with_shorter.quant_name} on {engine.name} with context {shorter:,} tokens",
                      ["--quant", with_shorter.quant, "--engine", engine.id, "-c", str(shorter)],
                      note=f"weights {with_shorter.memory.weights_bytes / 2**30:,.1f} GiB")
    return None


def _offload(t: _Trier, result: FitResult, hw: Hardware, catalog: Catalog) -> Suggestion | None:
    offloaders = [e for e in ("llama.cpp", "ktransformers") if e in catalog.engines]
    if not offloaders:
        return None
    eng = catalog.engines[offloaders[0]]
    have_gb = (hw.host_ram_bytes or 0) / 1e9
    need_gb = (result.memory.total_bytes - sum(
        p.capacity_bytes for p in result.placement if p.kind != "host_ram")) / 1e9
    sizes = [g for g in RAM_LADDER_GB if g >= max(have_gb, need_gb * 0.5)]
    current = catalog.quants.get(result.quant)
    runs = current is not None and engine_runs(eng, current, None, catalog)
    formats: list[str | None] = ([None] if runs else []) + [q for q in ("q8_0", "q4_k_m") if q != result.quant]
    for fmt in formats:
        for gb in sizes:
            args = ["--engine", eng.id] + (["--quant", fmt] if fmt else []) + (
                ["--ram", f"{gb}GB"] if gb > have_gb else [])
            r = t.run(args)
            if r is None:
                break  # the engine does not run this format
            if r.fits and r.offload in ("experts", "layers"):
                decode, ttft = _speed(r)
                what = "routed experts" if r.offload == "experts" else "layers"
                ram = f" and {gb} GB of RAM" if gb > have_gb else " and the RAM you have"
                return Suggestion(change=f"{eng.name} ({r.quant_name}) with {what} in host RAM{ram}", args=args,
                                  fits=True, decode_tokens_per_s=decode, ttft_s=ttft,
                                  note="decode bound by host RAM bandwidth (guessed from the RAM size; set "
                                  "--ram-bandwidth)")
    return None


def _more_gpus(t: _Trier, hw: Hardware) -> Suggestion | None:
    """More cards of the same kind in the machine (consumer cards up to four), then more such machines."""
    acc, count = hw.accelerators[0]
    if acc.unified_memory:  # Macs, DGX Spark: more machines (llama.cpp RPC, MLX distributed, vLLM over Ray)
        tries = [(["--gpu", f"{acc.id}:{count}", "--nodes", str(k)], f"{k} machines of {acc.name}")
                 for k in range(max(2, hw.nodes + 1), _MAX_NODES + 1)]
        return _first_fit(t, tries)
    most = _CONSUMER_MAX if acc.segment == "consumer" else (acc.max_per_node or 8)
    tries = [(["--gpu", f"{acc.id}:{n}"], f"{n}x {acc.name} instead of {count}") for n in range(count + 1, most + 1)]
    if acc.segment in ("datacenter", "cloud"):
        tries += [(["--gpu", f"{acc.id}:{most}", "--nodes", str(k)], f"{k} nodes of {most}x {acc.name}")
                  for k in range(max(2, hw.nodes + 1), _MAX_NODES + 1)]
    return _first_fit(t, tries)


def _first_fit(t: _Trier, tries: list[tuple[list[str], str]]) -> Suggestion | None:
    for args, change in tries:
        r = t.run(args)
        if r is not None and r.fits:
            decode, ttft = _speed(r)
            return Suggestion(change=change, args=args, fits=True, decode_tokens_per_s=decode, ttft_s=ttft,
                              note=f"on {r.engine}")
    return None


def _other_gpus(t: _Trier, result: FitResult, hw: Hardware, catalog: Catalog) -> Suggestion | None:
    current = hw.accelerators[0][0]
    need = result.memory.total_bytes
    options = []
    for acc in catalog.accelerators.values():
        if acc.id == current.id or acc.unified_memory or acc.price_usd is None:
            continue
        n = max(1, math.ceil(need / (acc.memory_gib_usable * 2**30)))
        n = 1 << (n - 1).bit_length()  # 1, 2, 4, 8: the counts every engine splits evenly
        if n > (_CONSUMER_MAX if acc.segment == "consumer" else (acc.max_per_node or 8)):
            continue
        options.append((acc.price_usd * n, acc, n))
    options.sort(key=lambda o: (o[0], o[1].id))
    for price, acc, n in options[:_OTHER_GPU_TRIES]:
        r = t.run(["--gpu", f"{acc.id}:{n}"])
        if r is not None and r.fits:
            decode, ttft = _speed(r)
            return Suggestion(change=f"{n}x {acc.name} instead", args=["--gpu", f"{acc.id}:{n}"], fits=True,
                              decode_tokens_per_s=decode, ttft_s=ttft,
                              note=f"about US${price:,.0f} for the cards; on {r.engine}")
    return None
