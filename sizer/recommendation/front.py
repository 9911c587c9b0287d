"""Per machine, a small quality/speed front instead of one pick.

Each recommended row shows its machine with the most accurate format that meets the constraints. An
expert would also say what the same machine does with a smaller format: this module places the next
formats of the search (same engine, same hardware, with the fit core) and keeps those that are clearly
faster (at least 15 % more decode speed per user than the last point kept) and still meet the TTFT bound,
at most two. Formats below the search's list (the quality floor) are never offered.
"""

from __future__ import annotations

from collections.abc import Sequence

from sizer.recommendation.records import Placed
from sizer.recommendation.results import FrontPoint
from sizer.recommendation.search import Search
from sizer.schema import QuantFormat
from sizer.sizing.engine_support import engine_limit

__all__ = ["MIN_SPEEDUP", "machine_front"]

MIN_SPEEDUP = 1.15
_MAX_POINTS = 2


def machine_front(p: Placed, formats: Sequence[QuantFormat], search: Search) -> list[FrontPoint]:
    """Faster, less accurate formats on `p`'s machine and engine (most accurate first)."""
    out: list[FrontPoint] = []
    ids = [f.id for f in formats]
    if p.fmt.id not in ids:
        return out
    best = p.speed.per_user_decode_tokens_per_s
    lim = search.limits
    for fmt in formats[ids.index(p.fmt.id) + 1:]:
        if fmt.id not in p.engine.supported_quants:
            continue
        if any(engine_limit(p.engine, acc, fmt.id) is not None for acc, _ in p.hw.accelerators):
            continue
        placed = search.fitter(fmt, p.engine).place(p.hw)
        if placed is None:
            continue
        layout, verdict, speed = placed
        tps = speed.per_user_decode_tokens_per_s
        if not verdict.fits or tps < best * MIN_SPEEDUP or (lim.max_ttft_s and speed.ttft_s > lim.max_ttft_s):
            continue
        f = search.fitter(fmt, p.engine)
        out.append(FrontPoint(quant=fmt.id, quant_name=fmt.name, per_user_decode_tokens_per_s=round(tps, 3),
                              ttft_s=round(speed.ttft_s, 4), mean_kld=search.quality.get(fmt.id),
                              max_context=f.max_context(layout, search.workload.users), offload=layout.offload))
        best = tps
        if len(out) == _MAX_POINTS:
            break
    return out
