"""Cross-entry data invariants of the built-in catalog: prices, quality figures, conflicting sources."""

from __future__ import annotations

import pytest

from sizer.catalog.loading import load_catalog
from sizer.recommendation.cost import Build, capex, platform_for
from sizer.schema import Accelerator, QuantFormat, System

CATALOG = load_catalog()
SYSTEMS = list(CATALOG.systems.values())
# the KL-divergence scoreboards and llama-quantize's ppl figures are measured on GGUF files only
LLAMA_CPP = "https://github.com/ggml-org/llama.cpp/"
GGUF_KINDS = {"ggml_type", "gguf_file_type"}


def _gpus_usd(sys_: System) -> float | None:
    total = 0.0
    for a in sys_.accelerators:
        price = CATALOG.accelerators[a.accelerator].price_usd
        if price is None:
            return None
        total += price * a.count * sys_.nodes
    return total


# each per-entry test runs on the entries its rule concerns (a test that asserts nothing is not run)
PRICED_SYSTEMS = [s for s in SYSTEMS if s.system_price_usd is not None and _gpus_usd(s) is not None]
SYSTEMS_WITH_GPU_PRICES = [s for s in SYSTEMS if _gpus_usd(s) is not None]
FORMATS_WITH_QUALITY = [q for q in CATALOG.quants.values() if q.quality]
CONFLICTING = [a for a in CATALOG.accelerators.values() if "CONFLICTING SOURCES" in (a.notes or "")]


def test_the_filtered_entry_lists_are_not_empty() -> None:
    # an empty parameter list would skip its test silently
    assert PRICED_SYSTEMS and SYSTEMS_WITH_GPU_PRICES and FORMATS_WITH_QUALITY and CONFLICTING


@pytest.mark.parametrize("sys_", PRICED_SYSTEMS, ids=lambda s: s.id)
def test_a_system_price_is_not_below_its_accelerators(sys_: System) -> None:
    # a whole machine contains its accelerators: a list price under their sum is a wrong figure
    gpus = _gpus_usd(sys_)
    assert sys_.system_price_usd is not None and gpus is not None
    assert sys_.system_price_usd >= gpus


@pytest.mark.parametrize("sys_", SYSTEMS_WITH_GPU_PRICES, ids=lambda s: s.id)
def test_a_reference_system_never_costs_less_than_its_accelerators(sys_: System) -> None:
    gpus = tuple((CATALOG.accelerators[a.accelerator], a.count) for a in sys_.accelerators)
    platform = platform_for([a for a, _ in gpus], sum(n for _, n in gpus), sys_.host_ram_gb)
    total = capex(Build(gpus, sys_.nodes, sys_.host_ram_gb, sys_, platform)).total_usd
    parts = _gpus_usd(sys_)
    assert total is not None and parts is not None
    assert total >= parts


@pytest.mark.parametrize("fmt", FORMATS_WITH_QUALITY, ids=lambda q: q.id)
def test_quality_figures_stay_with_their_format_family(fmt: QuantFormat) -> None:
    for figure in fmt.quality:
        if fmt.format_kind not in GGUF_KINDS:
            # an FP8 or GPTQ checkpoint is not a Q8_0 / Q4 GGUF file: llama.cpp numbers do not transfer
            assert not figure.source.startswith(LLAMA_CPP), figure
        if figure.mean_kld is not None:
            assert figure.measured_on, "a KL divergence means nothing without the model it was measured on"


def test_formats_with_a_published_claim_but_no_kld() -> None:
    # statements are attached where a source makes one; none of them is a mean KLD
    for fid in ("fp8-per-tensor", "fp8-per-channel", "fp8-block128", "nvfp4", "awq-int4-g128", "bnb-nf4"):
        figures = CATALOG.quants[fid].quality
        assert figures and all(f.statement for f in figures)
        assert all(f.mean_kld is None for f in figures)


@pytest.mark.parametrize("acc", CONFLICTING, ids=lambda a: a.id)
def test_conflicting_sources_mean_low_confidence(acc: Accelerator) -> None:
    assert acc.confidence == "low"
