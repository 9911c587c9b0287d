"""Capital cost, power and total cost of ownership (sizer.cost)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sizer.catalog.loading import load_catalog
from sizer.recommendation.cost import (
    DATACENTER_PUE,
    Build,
    CostOptions,
    capex,
    default_pue,
    platform_for,
    platforms,
    power,
    tco,
)

CATALOG = load_catalog()
H100 = CATALOG.accelerators["nvidia-h100-sxm-80gb"]
RTX4090 = CATALOG.accelerators["nvidia-rtx-4090-24gb"]
assert RTX4090.price_usd is not None
RTX4090_USD: float = RTX4090.price_usd
RTX3090 = CATALOG.accelerators["nvidia-rtx-3090-24gb"]
L40S = CATALOG.accelerators["nvidia-l40s-48gb"]
M3_ULTRA = CATALOG.accelerators["apple-m3-ultra-512gb"]
BY_ID = {p.segment: p for p in platforms(CATALOG)}  # the host classes recommend builds on


@pytest.mark.parametrize(
    ("acc", "count", "ram_gb", "expected"),
    [
        (RTX4090, 1, 0, "desktop"),
        (RTX4090, 2, 256, "desktop"),
        (RTX4090, 3, 0, "workstation"),
        (RTX4090, 1, 512, "workstation"),
        (RTX4090, 8, 0, "server"),
        (L40S, 1, 0, "server"),  # data-center PCIe cards go in servers
        (H100, 8, 0, "hgx"),  # SXM modules on a baseboard
    ],
)
def test_platform_for_picks_the_smallest_host_that_takes_the_gpus(acc, count, ram_gb, expected) -> None:
    p = platform_for([acc], count, ram_gb)
    assert p is not None and p.segment == expected
    assert count <= p.max_gpus and ram_gb <= p.max_ram_gb


def test_unified_memory_machines_have_no_separate_host() -> None:
    assert platform_for([M3_ULTRA], 1) is None
    build = Build(((M3_ULTRA, 1),))
    assert capex(build).total_usd == M3_ULTRA.price_usd  # the chip's price is the machine's


def test_capex_is_gpus_plus_host_plus_all_its_ram() -> None:
    """The host is priced without RAM; every GB of RAM is priced at the host type's dated DRAM price."""
    desktop = BY_ID["desktop"]
    assert desktop.price_usd is not None and desktop.ram_usd_per_gb is not None
    build = Build(((RTX4090, 2),), 1, 192.0, None, desktop)
    cx = capex(build)
    assert cx.gpus_usd == 2 * RTX4090_USD
    assert cx.host_usd == desktop.price_usd
    assert cx.ram_usd == pytest.approx(192 * desktop.ram_usd_per_gb)
    assert cx.total_usd == pytest.approx(2 * RTX4090_USD + desktop.price_usd + 192 * desktop.ram_usd_per_gb)
    small = capex(Build(((RTX4090, 1),), 1, 16.0, None, desktop))  # below the smallest build: that is bought
    assert small.ram_usd == pytest.approx(desktop.included_ram_gb * desktop.ram_usd_per_gb)


def test_options_replace_the_host_and_ram_estimates() -> None:
    build = Build(((RTX4090, 1),), 1, 256.0, None, BY_ID["desktop"])
    cx = capex(build, CostOptions(host_price_usd=1000, ram_usd_per_gb=2))
    assert cx.total_usd == pytest.approx(RTX4090_USD + 1000 + 256 * 2)


def test_owned_parts_cost_nothing() -> None:
    ws = BY_ID["workstation"]
    assert ws.ram_usd_per_gb is not None
    build = Build(((RTX3090, 3),), 1, 128.0, None, ws, owned_gpus=((RTX3090.id, 2),), owned_ram_gb=128.0,
                  owns_host=True)
    cx = capex(build)
    assert cx.total_usd == RTX3090.price_usd  # one more card, nothing else
    grown = Build(((RTX3090, 2),), 1, 512.0, None, ws, owned_gpus=((RTX3090.id, 2),), owned_ram_gb=128.0,
                  owns_host=True)
    assert capex(grown).total_usd == pytest.approx((512 - 128) * ws.ram_usd_per_gb)  # only the added RAM


def test_reference_system_price_covers_the_whole_system() -> None:
    sys_ = next(s for s in CATALOG.systems.values() if s.system_price_usd is not None)
    gpus = tuple((CATALOG.accelerators[a.accelerator], a.count) for a in sys_.accelerators)
    build = Build(gpus, sys_.nodes, sys_.host_ram_gb, sys_, platform_for([a for a, _ in gpus], gpus[0][1]))
    assert capex(build).total_usd == sys_.system_price_usd


def test_missing_price_makes_the_total_unknown() -> None:
    unpriced = next(a for a in CATALOG.accelerators.values() if a.price_usd is None and not a.unified_memory)
    cx = capex(Build(((unpriced, 1),), 1, 0.0, None, platform_for([unpriced], 1)))
    assert cx.total_usd is None and unpriced.name in cx.missing


def test_power_is_tdp_times_count_plus_host() -> None:
    hgx = BY_ID["hgx"]
    pw = power(Build(((H100, 8),), 2, 2048.0, None, hgx))
    assert H100.tdp_w is not None
    assert pw.total_w == pytest.approx(2 * (8 * H100.tdp_w + hgx.host_power_w))


def test_system_power_from_the_catalog() -> None:
    sys_ = CATALOG.systems["dgx-spark-2x-128gb"]
    acc = CATALOG.accelerators[sys_.accelerators[0].accelerator]
    pw = power(Build(((acc, 1),), 2, 0.0, sys_, None))
    assert pw.total_w == sys_.max_power_w


def test_tco_and_cost_per_million_tokens() -> None:
    options = CostOptions(years=3, pue=1.5, usd_per_kwh=0.2, utilization=0.5)
    t = tco(100_000.0, 2_000.0, 1_000.0, pue=1.0, options=options)
    hours = 8760 * 0.5
    energy = 2.0 * 1.5 * hours * 0.2  # kW x PUE x hours x $/kWh
    assert t.energy_usd_per_year == pytest.approx(energy)
    assert t.tco_usd == pytest.approx(100_000 + 3 * energy)
    tokens = 1_000 * 3600 * hours
    assert t.usd_per_million_tokens == pytest.approx((100_000 / 3 + energy) / (tokens / 1e6))


def test_tco_is_unknown_without_a_price_or_power() -> None:
    assert tco(None, 500.0, 10.0, 1.0).tco_usd is None
    assert tco(1000.0, None, 10.0, 1.0).usd_per_million_tokens is None


def test_default_pue_is_one_at_a_desk_and_the_survey_average_in_a_data_center() -> None:
    assert default_pue(Build(((RTX4090, 1),), 1, 64.0, None, BY_ID["desktop"])) == 1.0
    assert default_pue(Build(((H100, 8),), 1, 2048.0, None, BY_ID["hgx"])) == DATACENTER_PUE


@given(count=st.integers(1, 8), extra=st.integers(0, 8), owned=st.integers(0, 8))
def test_more_gpus_never_cost_less_and_owning_never_costs_more(count: int, extra: int, owned: int) -> None:
    p = BY_ID["server"]
    small = capex(Build(((RTX4090, count),), 1, 256.0, None, p)).total_usd
    big = capex(Build(((RTX4090, min(count + extra, 8)),), 1, 256.0, None, p)).total_usd
    assert small is not None and big is not None and big >= small
    with_owned = capex(Build(((RTX4090, count),), 1, 256.0, None, p, owned_gpus=((RTX4090.id, owned),))).total_usd
    assert with_owned is not None and with_owned <= small


def test_price_list_overlay_takes_precedence(tmp_path: Path) -> None:
    overlay = tmp_path / "prices.yaml"
    overlay.write_text(
        "- id: nvidia-h100-sxm-80gb\n  price_usd: 24500\n  price_date: 2026-11\n  sources: [https://intranet.example.com/prices]\n",
        encoding="utf-8",
    )
    catalog = load_catalog([overlay])
    h100 = catalog.accelerators["nvidia-h100-sxm-80gb"]
    assert h100.price_usd == 24500
    cx = capex(Build(((h100, 8),), 1, 2048.0, None, BY_ID["hgx"]))
    assert cx.gpus_usd == 8 * 24500
