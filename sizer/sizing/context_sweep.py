"""Decode speed as the context fills: `fit` re-run at a ladder of context lengths (for the HTML report's chart).

The engine, format, KV type and offload mode stay those of the result being charted, so each point is the
same deployment with more tokens already in the cache; each point is a full `fit`, never an interpolation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sizer.model.reference import RawCounts
from sizer.sizing.fitter import fit
from sizer.sizing.results import FitResult

__all__ = ["ContextPoint", "context_ladder", "decode_by_context"]

_SMALLEST_CONTEXT = 512


@dataclass(frozen=True, slots=True)
class ContextPoint:
    context_tokens: int
    decode_tokens_per_s: float
    per_user_decode_tokens_per_s: float
    fits: bool


def context_ladder(requested_tokens: int, max_context_tokens: int | None, points: int = 9) -> list[int]:
    """About `points` context lengths, evenly spaced on a log scale from 512 tokens to the larger of the
    requested context and the longest that fits, with the requested context itself among them."""
    top = max(requested_tokens, max_context_tokens or 0)
    low = min(_SMALLEST_CONTEXT, requested_tokens)
    if top <= low:
        return [requested_tokens]
    ratio = (top / low) ** (1 / (points - 1))
    ladder = {round(low * ratio**i) for i in range(points)} | {requested_tokens, top}
    return sorted(ladder)


def decode_by_context(model: str | RawCounts, result: FitResult, *, kv_dtype: str | None = None,
                      **fit_args: Any) -> list[ContextPoint]:
    """`result`'s deployment re-fitted along `context_ladder`: `fit_args` and `kv_dtype` are what `result` was
    fitted with (hardware, users, catalog); its format, engine and offload mode are kept."""
    args = {k: v for k, v in fit_args.items() if k not in ("context_tokens", "quant", "engine", "offload")}
    offload = result.offload if result.offload in ("none", "experts", "layers") else "auto"
    out = []
    for tokens in context_ladder(result.context_tokens, result.max_context):
        r = fit(model, quant=result.quant, engine=result.engine, kv_dtype=kv_dtype, offload=offload,
                context_tokens=tokens, **args)
        if r.performance is None:
            continue
        p = r.performance
        out.append(ContextPoint(tokens, p.decode_tokens_per_s, p.per_user_decode_tokens_per_s or p.decode_tokens_per_s,
                                bool(r.fits)))
    return out
