"""Command tests run on the small test catalog (tests/data/catalog/base) unless they say otherwise."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

BASE = Path(__file__).parent.parent / "data" / "catalog" / "base"


@pytest.fixture
def base_catalog(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Make the commands read tests/data/catalog/base instead of the built-in catalog."""
    import sizer.catalog.loading

    for name in ("load_catalog", "validate_catalog", "build_catalog"):
        original = getattr(sizer.catalog.loading, name)
        monkeypatch.setattr(sizer.catalog.loading, name, functools.partial(original, base=BASE))
    return BASE
