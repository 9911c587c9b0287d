"""Which engines compete when the user names none, what format each runs, and why one wins.

People pick the engine by the hardware: on consumer and workstation cards llama.cpp and Ollama (GGUF,
with routed experts or layers in host RAM when there is RAM), on data-center parts vLLM / SGLang /
TensorRT-LLM, on Macs llama.cpp or MLX. An engine runs a format when it loads it directly, or after a
conversion that keeps the quantized weights as they are (`converted_formats` in engines.yaml: gpt-oss's
MXFP4 experts become GGUF MXFP4_MOE), and when the engine's documented support matrix allows the format
on every accelerator of the machine (`engine_limit`).
"""

from __future__ import annotations

from collections.abc import Sequence

from sizer.catalog.loading import Catalog
from sizer.placement.hardware import Hardware
from sizer.schema import Engine, QuantFormat
from sizer.sizing.engine_support import engine_limit
from sizer.sizing.results import EngineCandidate, FitResult

__all__ = ["candidate_engines", "choice_text", "converted_format", "engine_runs", "preferred_order", "to_candidate"]


def converted_format(engine: Engine, fmt: QuantFormat, catalog: Catalog) -> QuantFormat | None:
    """The engine's own format for a checkpoint format it runs after a lossless conversion, else None."""
    target = engine.converted_formats.get(fmt.id)
    return catalog.quants[target] if target is not None and target in catalog.quants else None


def engine_runs(engine: Engine, fmt: QuantFormat | None, hw: Hardware | None, catalog: Catalog) -> bool:
    """The engine loads `fmt` (directly or converted) and its support matrix allows it on every accelerator."""
    if fmt is None:
        return True
    own = fmt if fmt.id in engine.supported_quants else converted_format(engine, fmt, catalog)
    if own is None:
        return False
    return hw is None or all(engine_limit(engine, acc, own.id) is None for acc, _ in hw.accelerators)


def _kind(hw: Hardware | None) -> str:
    if hw is None or not hw.accelerators:
        return "none"
    if any(a.vendor.lower() == "apple" for a, _ in hw.accelerators):
        return "apple"
    if all(a.segment in ("datacenter", "cloud") for a, _ in hw.accelerators):
        return "datacenter"
    return "desk"


def preferred_order(hw: Hardware | None) -> list[str]:
    """Engines in the order people reach for them on this hardware."""
    kind = _kind(hw)
    if kind == "apple":
        return ["llama.cpp", "mlx"]
    if kind == "datacenter":
        return ["vllm", "sglang", "tensorrt-llm", "llama.cpp"]
    return ["llama.cpp", "vllm", "sglang", "mlx"]


def candidate_engines(catalog: Catalog, hw: Hardware | None, first: Engine) -> list[Engine]:
    """`first` (the default engine) and the others worth comparing on this hardware: llama.cpp and Ollama on
    consumer and workstation cards; llama.cpp wherever host RAM can take what the GPUs cannot."""
    ids = [first.id]
    kind = _kind(hw)
    if kind == "desk":
        ids += ["llama.cpp", "ollama", "vllm"]  # vLLM: what runs a checkpoint as released
    if hw is not None and hw.host_ram_bytes and not hw.is_unified:
        ids.append("llama.cpp")  # the engine that offloads routed experts or layers to host RAM
    return [catalog.engines[e] for e in dict.fromkeys(ids) if e in catalog.engines]


def to_candidate(result: FitResult, note: str = "") -> EngineCandidate:
    perf = result.performance
    return EngineCandidate(engine=result.engine, quant=result.quant, fits=result.fits, offload=result.offload,
                           decode_tokens_per_s=perf.decode_tokens_per_s if perf else None,
                           ttft_s=perf.ttft_s if perf else None, note=note or (result.binding_constraint or ""))


def choice_text(winner: FitResult, others: Sequence[FitResult], catalog: Catalog) -> str:
    """Which engine won and why, in words."""
    name = catalog.engines[winner.engine].name if winner.engine in catalog.engines else winner.engine

    def label(r: FitResult) -> str:
        n = catalog.engines[r.engine].name if r.engine in catalog.engines else r.engine
        return f"{n} ({r.quant_name})"

    if not others:
        return ""
    if not winner.fits:
        return (f"no engine tried fits ({', '.join(label(r) for r in [winner, *others])}); {name} is the least "
                "short")
    misses = [r for r in others if not r.fits]
    fitting = [r for r in others if r.fits]
    speed = winner.performance.decode_tokens_per_s if winner.performance else 0.0
    how = f"{name} ({winner.quant_name}, offload {winner.offload}) at {speed:,.1f} tok/s"
    parts = []
    if fitting:
        parts.append("at least as fast as " + ", ".join(
            f"{label(r)} at {r.performance.decode_tokens_per_s if r.performance else 0:,.1f} tok/s" for r in fitting))
    if misses:
        parts.append("; ".join(f"{label(r)} does not fit ({r.binding_constraint})" for r in misses))
    return f"{how}: " + "; ".join(parts)
