"""Efficiency factors (measured speed / roofline) from the catalog's calibration entries.

BOOTSTRAP VERSION: looks factors up by (phase, backend, device_class, quant_kernel), most specific
first; `any` matches everything. Factors are clamped to (0, 1] so no estimate exceeds the roofline.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from .catalog import Catalog
from .perf import Efficiency

__all__ = ["efficiency_for"]

_FALLBACK = {"decode": 0.6, "prefill": 0.4}


def efficiency_for(catalog: Catalog) -> Efficiency:
    rows: list[dict[str, Any]] = list(catalog.calibration)

    @lru_cache(maxsize=512)
    def eff(phase: str, backend: str, device_class: str, quant_kernel: str) -> tuple[float, str]:
        best: tuple[int, dict[str, Any]] | None = None
        for r in rows:
            if r.get("phase") != phase:
                continue
            score = 0
            ok = True
            for key, want in (("backend", backend), ("device_class", device_class), ("quant_kernel", quant_kernel)):
                have = r.get(key, "any")
                if have == want:
                    score += 1
                elif have != "any":
                    ok = False
                    break
            if ok and (best is None or score > best[0]):
                best = (score, r)
        if best is None:
            f = _FALLBACK[phase]
            return f, f"{phase} efficiency {f:.2f}: uncalibrated default for {device_class}/{backend}"
        r = best[1]
        f = min(1.0, max(1e-3, float(r["efficiency"])))
        return f, f"{phase} efficiency {f:.2f} ({r.get('id', 'calibration')}: {backend}/{device_class}/{quant_kernel})"

    return eff
