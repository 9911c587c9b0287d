"""--fits-here picks, for each model, the best-quality format that fits; the one above it does not."""

from __future__ import annotations

from typing import Any

import pytest

from sizer.catalog.loading import load_catalog
from sizer.sizing.fits_here import QUALITY_ORDER, best_fits
from sizer.sizing.fitter import fit

HARDWARE: dict[str, Any] = {"gpus": (("RTX 4090", 1),), "ram_bytes": 64 * 10**9}


@pytest.fixture(scope="module")
def rows():
    return best_fits(load_catalog(), context_tokens=8192, **HARDWARE)


def test_small_models_run_at_16_bit(rows) -> None:
    by_id = {r.model_id: r for r in rows}
    assert by_id["llama-3.1-8b"].quant == "BF16"
    assert "deepseek-v3" not in by_id  # 671B does not fit 24 GB + 64 GB at any format


@pytest.mark.parametrize("model_id", ["qwen3-30b-a3b", "llama-3.1-70b", "gemma-3-27b", "mixtral-8x7b"])
def test_chosen_format_fits_and_the_better_one_does_not(rows, model_id: str) -> None:
    row = next(r for r in rows if r.model_id == model_id)
    catalog = load_catalog()
    chosen = next(q for q in QUALITY_ORDER if catalog.quants[q].name == row.quant)
    kw = dict(context_tokens=8192, engine="llama.cpp", catalog=catalog, **HARDWARE)
    assert fit(model_id, quant=chosen, **kw).fits
    better = QUALITY_ORDER[QUALITY_ORDER.index(chosen) - 1] if chosen != QUALITY_ORDER[0] else None
    if better is not None:
        assert not fit(model_id, quant=better, **kw).fits
