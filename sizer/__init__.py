"""sizer: what hardware it takes to run an open-weight LLM, how to lay it out, and how fast it will be.

The public Python API (the CLI is a thin layer over it)::

    from sizer import fit, recommend, load_catalog
    result = fit("deepseek-v3", quant="q4_k_m", gpus=(("RTX 5090", 1),), ram_bytes=768 * 10**9)

Names are imported lazily so `import sizer` stays cheap. No module of the package is named like one of
these functions, so `from sizer import fit` always gives the function.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["FitResult", "RawCounts", "detect", "fit", "load_catalog", "recommend"]

if TYPE_CHECKING:
    from sizer.catalog.loading import load_catalog
    from sizer.machine.detection import detect
    from sizer.model.reference import RawCounts
    from sizer.recommendation.pipeline import recommend
    from sizer.sizing.fitter import fit
    from sizer.sizing.results import FitResult

_WHERE = {
    "fit": "sizer.sizing.fitter",
    "recommend": "sizer.recommendation.pipeline",
    "load_catalog": "sizer.catalog.loading",
    "detect": "sizer.machine.detection",
    "RawCounts": "sizer.model.reference",
    "FitResult": "sizer.sizing.results",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'sizer' has no attribute {name!r}")
