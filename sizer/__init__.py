"""sizer: what hardware it takes to run an open-weight LLM, how to lay it out, and how fast it will be.

The public Python API (the CLI is a thin layer over it)::

    from sizer import fit, recommend, load_catalog
    result = fit("deepseek-v3", quant="q4_k_m", gpus=(("RTX 5090", 1),), ram_bytes=768 * 10**9)

Names are imported lazily so `import sizer` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["FitResult", "RawCounts", "detect", "fit", "load_catalog", "recommend"]

if TYPE_CHECKING:
    from .catalog import load_catalog
    from .detect import detect
    from .fit import fit
    from .modelref import RawCounts
    from .recommend import recommend
    from .results import FitResult

_WHERE = {
    "fit": "sizer.fit",
    "recommend": "sizer.recommend",
    "load_catalog": "sizer.catalog",
    "detect": "sizer.detect",
    "RawCounts": "sizer.modelref",
    "FitResult": "sizer.results",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'sizer' has no attribute {name!r}")
