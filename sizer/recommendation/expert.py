"""What an expert would not sign, as rules `recommend` applies by default (each stated in the assumptions).

- Time to first token: a prompt of the requested context must be processed within `default_max_ttft_s`
  (the context at 50 tokens/s, at least 60 s: a 32k prompt within ~11 minutes; --max-ttft to change, 0 for
  any). Without it a card holding 1 of 61 layers "wins" with a 32k prompt taking ~27 minutes.
- A GPU that holds almost nothing (whole layers offloaded, fewer than a tenth of them on the GPUs) is not
  a GPU build: decode and prefill run at the CPU's speed, so it is left out as no better than CPU-only.
  Routed-expert offload (attention, shared experts and KV on the GPU) is the usual large-MoE build and is kept.
- KTransformers joins the default search for MoE models where it runs the format (CUDA desk and workstation
  cards, routed experts in host RAM), beside llama.cpp's expert offload.
"""

from __future__ import annotations

from sizer.placement.layout import Layout
from sizer.schema import Accelerator, Engine, QuantFormat

__all__ = ["MIN_GPU_LAYER_SHARE", "MIN_PREFILL_TOKENS_PER_S", "almost_nothing_on_gpu", "default_max_ttft_s",
           "offload_engines", "ttft_assumption"]

MIN_PREFILL_TOKENS_PER_S = 50.0
_MIN_TTFT_S = 60.0
MIN_GPU_LAYER_SHARE = 0.1
_OFFLOAD_ENGINES = ("ktransformers",)


def default_max_ttft_s(context_tokens: int) -> float:
    """The default bound on time to first token for a prompt of `context_tokens`."""
    return max(_MIN_TTFT_S, context_tokens / MIN_PREFILL_TOKENS_PER_S)


def ttft_assumption(context_tokens: int, max_ttft_s: float | None, given: bool) -> str:
    if not max_ttft_s:
        return "time to first token not bounded (--max-ttft 0)"
    if given:
        return f"time to first token of a {context_tokens:,}-token prompt at most {max_ttft_s:,.0f} s (--max-ttft)"
    return (f"time to first token of a {context_tokens:,}-token prompt at most {max_ttft_s:,.0f} s (default: the "
            f"context prefilled at {MIN_PREFILL_TOKENS_PER_S:g} tokens/s, at least {_MIN_TTFT_S:g} s; --max-ttft "
            "SECONDS to change, 0 for any)")


def almost_nothing_on_gpu(layout: Layout) -> str | None:
    """Why a layer-offload layout is no better than CPU-only (None when the GPUs hold a real share)."""
    if layout.offload != "layers" or layout.gpu_layers is None or not layout.slots:
        return None
    n_layers = len(layout.slots[0].kv_share)
    if n_layers and layout.gpu_layers < MIN_GPU_LAYER_SHARE * n_layers:
        return (f"the GPUs hold {layout.gpu_layers} of {n_layers} layers: no better than CPU-only (decode and prefill "
                "run at the CPU's speed)")
    return None


def offload_engines(fmt: QuantFormat, acc: Accelerator, pool: tuple[Engine, ...] | list[Engine]) -> list[Engine]:
    """Expert-offload engines added to the default search for `fmt` on `acc` (CUDA desk/workstation cards)."""
    if acc.vendor.lower() != "nvidia" or acc.segment in ("datacenter", "cloud") or acc.unified_memory:
        return []
    return [e for e in pool if e.id in _OFFLOAD_ENGINES and fmt.id in e.supported_quants and e.expert_offload]
