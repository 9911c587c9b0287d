"""`sizer fit` against published deployment configurations (tests/data/deployments.yaml).

Every entry is a configuration whose verdict (fits / does not fit) a vendor, an engine's docs, a model card
or a public benchmark states, with its source URL. The test runs `fit` on each and requires at least 90%
agreement (issue 4); disagreements are printed with the tool's binding constraint, so a drop in agreement
shows which rule moved.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from sizer.catalog.loading import load_catalog
from sizer.sizing.fitter import fit
from sizer.sizing.results import FitResult

DATA = Path(__file__).parent / "data" / "deployments.yaml"
TARGET_AGREEMENT = 0.90
FIELDS = {"id", "model", "quant", "gpus", "nodes", "ram_gb", "system", "engine", "context", "users", "offload",
          "verdict", "source", "claim", "confidence", "note"}


@dataclass(frozen=True)
class Outcome:
    entry: dict[str, Any]
    result: FitResult

    @property
    def published_fits(self) -> bool:
        return bool(self.entry["verdict"] == "fits")

    @property
    def agrees(self) -> bool:
        return bool(self.result.fits) == self.published_fits


def _entries() -> list[dict[str, Any]]:
    with DATA.open(encoding="utf-8") as f:
        return yaml.load(f, Loader=yaml.CSafeLoader)  # type: ignore[no-any-return]


def _run(entry: dict[str, Any]) -> FitResult:
    return fit(
        entry["model"],
        quant=entry.get("quant", "native"),
        gpus=tuple((name, int(count)) for name, count in entry.get("gpus", ())),
        nodes=int(entry.get("nodes", 1)),
        ram_bytes=int(entry["ram_gb"] * 10**9) if "ram_gb" in entry else None,
        system=entry.get("system"),
        engine=entry.get("engine"),
        context_tokens=entry.get("context"),
        users=int(entry.get("users", 1)),
        offload=entry.get("offload", "auto"),
        catalog=load_catalog(),
    )


@pytest.fixture(scope="module")
def outcomes() -> list[Outcome]:
    return [Outcome(e, _run(e)) for e in _entries()]


def test_the_data_file_is_well_formed() -> None:
    entries = _entries()
    assert len(entries) >= 30
    ids = [e["id"] for e in entries]
    assert len(ids) == len(set(ids)), "duplicate ids"
    for e in entries:
        assert set(e) <= FIELDS, (e["id"], set(e) - FIELDS)
        assert e["verdict"] in ("fits", "does_not_fit"), e["id"]
        assert e["source"].startswith("https://"), e["id"]
        assert e["claim"] and e["confidence"] in ("high", "medium"), e["id"]
        assert e.get("gpus") or e.get("system"), e["id"]
    # both verdicts are represented, so agreement cannot come from always answering the same way
    assert sum(e["verdict"] == "does_not_fit" for e in entries) >= 10
    assert sum(e["verdict"] == "fits" for e in entries) >= 10


def test_every_configuration_runs_on_the_engine_it_names(outcomes: list[Outcome]) -> None:
    for o in outcomes:
        if "engine" in o.entry:
            assert o.result.engine == load_catalog().engine(o.entry["engine"]).id, o.entry["id"]
        assert o.result.fits is not None, o.entry["id"]


def test_agreement_with_published_deployments(outcomes: list[Outcome], capsys: pytest.CaptureFixture[str]) -> None:
    agree = [o for o in outcomes if o.agrees]
    rate = len(agree) / len(outcomes)
    lines = [f"agreement with published deployments: {len(agree)}/{len(outcomes)} = {rate:.1%}"]
    for o in outcomes:
        if not o.agrees:
            published = "fits" if o.published_fits else "does not fit"
            lines.append(f"  DISAGREE {o.entry['id']}: published {published}, sizer says "
                         f"{'fits' if o.result.fits else 'does not fit'} ({o.result.binding_constraint}); "
                         f"{o.entry['source']}")
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    assert rate >= TARGET_AGREEMENT, "\n".join(lines)


def test_negative_verdicts_name_the_short_device(outcomes: list[Outcome]) -> None:
    """A 'does not fit' verdict says which device is short and by how much (issue 4's binding constraint)."""
    for o in outcomes:
        if o.result.fits is False:
            assert o.result.binding_constraint and "GiB short" in o.result.binding_constraint, o.entry["id"]
            assert any(d.free_bytes < 0 for d in o.result.placement), o.entry["id"]
