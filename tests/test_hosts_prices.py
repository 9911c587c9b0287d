"""Host platforms, dated prices, availability (--as-of), renting vs buying, laptop GPUs (issue 13, items 3-5)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sizer.catalog.loading import load_catalog
from sizer.errors import BadValueError
from sizer.placement.hardware import build_hardware
from sizer.recommendation.cost import Build, CostOptions, capex, cheapest_rate, platforms, rental
from sizer.recommendation.pipeline import Constraints, recommend
from sizer.schema.host import pcie_gb_s_per_direction
from sizer.sizing.fitter import fit

CATALOG = load_catalog()
PRICED = [
    *((a.id, "price_usd") for a in CATALOG.accelerators.values() if a.price_usd is not None),
    *((s.id, "system_price_usd") for s in CATALOG.systems.values() if s.system_price_usd is not None),
    *((h.id, "price_usd") for h in CATALOG.hosts.values() if h.price_usd is not None),
]


def _entry(entry_id: str):
    for table in (CATALOG.accelerators, CATALOG.systems, CATALOG.hosts):
        if entry_id in table:
            return table[entry_id]
    raise KeyError(entry_id)


# ------------------------------------------------------------------------------------ per-entry data
@pytest.mark.parametrize(("entry_id", "field"), PRICED, ids=[f"{i}.{f}" for i, f in PRICED])
def test_every_price_has_a_date_and_a_source(entry_id: str, field: str) -> None:
    entry = _entry(entry_id)
    assert entry.price_date is not None
    assert entry.figure_sources.get(field) or entry.sources


@pytest.mark.parametrize("host", list(CATALOG.hosts.values()), ids=lambda h: h.id)
def test_host_slots_fit_its_lanes_and_its_ram_price_is_dated(host) -> None:
    for layout in host.gpu_slots:
        assert len(layout.lanes) == layout.gpus
        assert layout.pcie_gen is not None or sum(layout.lanes) <= host.cpu_pcie_lanes
    if host.ram_usd_per_gb is not None:
        assert host.ram_price_date and host.figure_sources["ram_usd_per_gb"].startswith("https://")
    assert host.included_ram_gb <= host.max_ram_gb


@pytest.mark.parametrize("price", list(CATALOG.cloud_prices.values()), ids=lambda c: c.id)
def test_cloud_prices_name_a_catalog_gpu_with_a_dated_source(price) -> None:
    assert price.accelerator in CATALOG.accelerators
    assert price.price_source.startswith("https://") and len(price.price_date) >= 7
    assert 0.05 < price.usd_per_gpu_hour < 20  # a GPU-hour, not a node-hour or a month


def test_pcie_rate_is_transfer_rate_times_lanes_after_128b130b() -> None:
    # PCIe 4.0: 16 GT/s per lane; 128b/130b encoding; 8 bits per byte
    assert pcie_gb_s_per_direction(4, 8) == pytest.approx(16 * 8 * 128 / 130 / 8)  # 15.75 GB/s
    assert pcie_gb_s_per_direction(4, 16) == pytest.approx(31.51, abs=0.01)
    assert pcie_gb_s_per_direction(5, 16) == pytest.approx(63.02, abs=0.01)
    assert pcie_gb_s_per_direction(3, 16) == pytest.approx(15.75, abs=0.01)


@pytest.mark.parametrize(
    ("host_id", "gb_s"),
    [  # channels x (MT/s x 8 bytes), per-channel figures from the hosts reference sheet
        ("desktop-am5", 2 * 44.8),  # DDR5-5600
        ("desktop-lga1700-ddr4", 2 * 25.6),  # DDR4-3200
        ("workstation-wrx90", 8 * 41.6),  # DDR5-5200
        ("server-epyc-9004-1s", 12 * 38.4),  # DDR5-4800
        ("hgx-8gpu-2s", 16 * 38.4),  # 2 sockets x 8 channels DDR5-4800
    ],
)
def test_host_ram_bandwidth_is_channels_times_the_dimm_rate(host_id: str, gb_s: float) -> None:
    assert CATALOG.hosts[host_id].ram_bandwidth_gb_s == pytest.approx(gb_s)


def test_dram_prices_follow_the_cited_figures() -> None:
    # Counterpoint (as reported): a 64 GB DDR5 RDIMM over US$900 in Q1 2026 (US$450 in Q4 2025)
    ram_usd_per_gb = CATALOG.hosts["workstation-wrx90"].ram_usd_per_gb
    assert ram_usd_per_gb == pytest.approx(900 / 64, abs=0.01)
    assert ram_usd_per_gb is not None and ram_usd_per_gb > 2 * 5.0  # the pre-shortage ~US$5/GB


def test_issue_13_price_fixes() -> None:
    h200, b200 = CATALOG.accelerators["nvidia-h200-sxm-141gb"], CATALOG.accelerators["nvidia-b200-hgx-180gb"]
    assert h200.price_usd != b200.price_usd and b200.price_usd > h200.price_usd  # type: ignore[operator]
    assert CATALOG.systems["dgx-b200"].system_price_usd == 515_000
    mac = CATALOG.systems["mac-studio-m3-ultra-512gb"]
    assert mac.availability == "discontinued" and mac.discontinued_date == "2026-03"


# ------------------------------------------------------------------------------------- availability
def test_purchasable_follows_launch_and_discontinuation() -> None:
    mac = CATALOG.systems["mac-studio-m3-ultra-512gb"]
    assert mac.purchasable("2025-06-01") and mac.purchasable("2026-02-28")
    assert not mac.purchasable("2026-03-01") and not mac.purchasable("2024-12-31")
    b200 = CATALOG.accelerators["nvidia-b200-hgx-180gb"]  # launch year 2024, no available_from
    assert not b200.purchasable("2023-12-31") and b200.purchasable("2024-01-01")


def _hardware_ids(as_of: str) -> set[str]:
    res = recommend("deepseek-v3", Constraints(context_tokens=32768, vendors=("apple",), as_of=as_of, top=10))
    return {s for r in res.recommendations for s in (r.fit_inputs.system, *(g for g, _ in r.fit_inputs.gpus)) if s}


def test_as_of_offers_only_what_was_on_sale_that_day() -> None:
    before, after = _hardware_ids("2025-06-01"), _hardware_ids("2026-06-01")
    mac_512 = {"mac-studio-m3-ultra-512gb", "apple-m3-ultra-512gb"}
    assert before & mac_512  # on sale from March 2025: the cheapest way to hold DeepSeek-V3 at 4 bits
    assert not after & mac_512  # discontinued March 2026


def test_as_of_must_be_a_date() -> None:
    with pytest.raises(BadValueError):
        recommend("llama-3.1-8b", Constraints(as_of="June 2026"))


# --------------------------------------------------------------------------------------------- hosts
def test_two_3090_reference_system_runs_its_cards_at_pcie4_x8() -> None:
    hw = build_hardware(CATALOG, system="workstation-2x-rtx3090")
    rtx3090 = CATALOG.accelerators["nvidia-rtx-3090-24gb"]
    assert hw.host is not None and hw.host.id == "desktop-am5"
    assert hw.host_link_gb_s(rtx3090) == pytest.approx(16 * 8 * 128 / 130 / 8)  # Gen4 card in an x8 slot
    alone = build_hardware(CATALOG, (("RTX 3090", 1),), host="desktop-am5")
    assert alone.host_link_gb_s(rtx3090) == pytest.approx(16 * 16 * 128 / 130 / 8)  # one card: x16


def test_four_gpu_hedt_rig_runs_two_cards_at_x8() -> None:
    assert sorted(CATALOG.hosts["hedt-trx50"].slot_layout(4).lanes) == [8, 8, 16, 16]  # type: ignore[union-attr]


def test_prefill_streaming_host_weights_is_slower_on_x8_slots() -> None:
    kw = dict(quant="q4_k_m", gpus=(("RTX 3090", 2),), ram_bytes=128 * 10**9, context_tokens=32768,
              engine="llama.cpp", catalog=CATALOG)
    x16 = fit("qwen3-235b-a22b", ram_bandwidth_gb_s=89.6, **kw)  # type: ignore[arg-type]
    x8 = fit("qwen3-235b-a22b", host="desktop-am5", **kw)  # type: ignore[arg-type]
    assert x16.performance is not None and x8.performance is not None
    assert x8.performance.decode_tokens_per_s == pytest.approx(x16.performance.decode_tokens_per_s)  # same RAM
    assert x8.performance.prefill_tokens_per_s < x16.performance.prefill_tokens_per_s
    assert any("15.8 GB/s" in a for a in x8.assumptions)


def test_ram_type_picks_the_bandwidth_and_must_match_the_host() -> None:
    ddr4 = build_hardware(CATALOG, (("RTX 3090", 2),), ram_bytes=128 * 10**9, ram_type="DDR4")
    ddr5 = build_hardware(CATALOG, (("RTX 3090", 2),), ram_bytes=128 * 10**9)
    assert ddr4.host_ram_bandwidth_gb_s == pytest.approx(2 * 3200 * 8 / 1000)  # 51.2 GB/s
    assert ddr5.host_ram_bandwidth_gb_s == pytest.approx(2 * 5600 * 8 / 1000)  # 89.6 GB/s
    with pytest.raises(BadValueError, match="takes DDR5"):
        build_hardware(CATALOG, (("RTX 3090", 2),), ram_bytes=128 * 10**9, ram_type="DDR4", host="desktop-am5")
    with pytest.raises(BadValueError, match="at most 2 GPU"):
        build_hardware(CATALOG, (("RTX 3090", 3),), host="desktop-am5")


def test_cli_ram_type_and_host(run_cli) -> None:
    ok = run_cli("fit", "llama-3.1-8b", "--gpu", "RTX 3090", "--ram", "64GB:ddr4", "-f", "json")
    assert ok.exit_code == 0, ok.output
    assert any("51.2 GB/s" in a for a in json.loads(ok.stdout)["assumptions"])
    bad = run_cli("fit", "llama-3.1-8b", "--gpu", "RTX 3090", "--ram", "64GB:ddr3")
    assert bad.exit_code == 2 and "DDR4 or DDR5" in bad.output
    clash = run_cli("fit", "llama-3.1-8b", "--gpu", "RTX 3090", "--ram", "64GB:DDR4", "--host", "desktop-am5")
    assert clash.exit_code == 2
    unknown = run_cli("fit", "llama-3.1-8b", "--gpu", "RTX 3090", "--host", "am6")
    assert unknown.exit_code == 2


# ---------------------------------------------------------------------------------------------- cost
def test_a_768_gb_build_pays_every_gb_at_the_dated_dram_price() -> None:
    ws = next(p for p in platforms(CATALOG) if p.segment == "workstation")
    rtx4090 = CATALOG.accelerators["nvidia-rtx-4090-24gb"]
    cx = capex(Build(((rtx4090, 1),), 1, 768.0, None, ws))
    assert cx.ram_usd == pytest.approx(768 * ws.ram_usd_per_gb)  # type: ignore[operator]
    assert cx.total_usd == pytest.approx(1599 + ws.price_usd + 768 * ws.ram_usd_per_gb)  # type: ignore[operator]


def _overlay_catalog(tmp_path: Path):
    """Three A10 rates (no built-in A10 rate): US$1.00 on demand (Jan), 0.60 spot (Mar), 0.80 on demand (Jun)."""
    rows = [("a10-jan", 1.00, "2026-01-10", "on_demand"), ("a10-mar", 0.60, "2026-03-01", "spot"),
            ("a10-jun", 0.80, "2026-06-01", "on_demand")]
    text = "".join(
        f"- {{kind: cloud_price, id: {i}, accelerator: nvidia-a10-24gb, provider: ACME, usd_per_gpu_hour: {u}, "
        f"price_date: {d}, pricing: {k}, price_source: https://example.com/{i}, sources: [https://example.com/{i}]}}\n"
        for i, u, d, k in rows)
    (tmp_path / "rates.yaml").write_text(text)
    return load_catalog([tmp_path / "rates.yaml"])


def test_renting_is_gpus_times_rate_times_the_hours_generating(tmp_path: Path) -> None:
    catalog = _overlay_catalog(tmp_path)
    a10 = catalog.accelerators["nvidia-a10-24gb"]
    assert cheapest_rate(catalog, a10.id, "2025-12-31") is None  # nothing observed yet
    assert cheapest_rate(catalog, a10.id, "2026-02-01").id == "a10-jan"  # type: ignore[union-attr]
    assert cheapest_rate(catalog, a10.id, "2026-07-01").id == "a10-jun"  # type: ignore[union-attr]  # on demand first
    rent = rental(Build(((a10, 4),)), catalog, CostOptions(years=2, utilization=0.25, as_of="2026-07-01"))
    # 4 GPUs x US$0.80 x (2 years x 8,760 h x 25 %) = 4 x 0.80 x 4,380 = US$14,016
    assert rent.usd_per_hour == pytest.approx(3.20)
    assert rent.hours == pytest.approx(4380)
    assert rent.total_usd == pytest.approx(14016)
    early = rental(Build(((a10, 4),)), catalog, CostOptions(years=2, utilization=0.25, as_of="2025-06-01"))
    assert early.total_usd is None and early.missing == (a10.name,)


def test_plan_shows_renting_next_to_buying(run_cli) -> None:
    result = run_cli("plan", "llama-3.1-8b", "--vendor", "nvidia", "--as-of", "2026-06-01", "--years", "1",
                     "--utilization", "0.5", "-f", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["recommendations"]
    rented = [r for r in rows if r["cost"]["rent_usd"] is not None]
    assert rented
    for r in rented:
        c = r["cost"]
        assert c["rent_usd"] == pytest.approx(c["rent_usd_per_hour"] * 8760 * 0.5)
        assert c["rent_notes"] and "US$" in c["rent_notes"][0]


# -------------------------------------------------------------------------------- models list --gpu
def test_models_list_gpu_shows_what_runs_there_above_the_quality_floor(run_cli) -> None:
    result = run_cli("models", "list", "--gpu", "RTX 4090", "--ram", "64GB", "-f", "json")
    assert result.exit_code == 0, result.output
    rows = {r["model"]: r for r in json.loads(result.stdout)}
    assert rows["llama-3.1-8b"]["quant"] == "BF16"
    assert "deepseek-v3" not in rows  # 671B at 3.4+ bits cannot fit 24 GB + 64 GB
    allowed = {"BF16", "Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "IQ4_XS", "Q3_K_M"}
    assert {r["quant"] for r in rows.values()} <= allowed  # nothing below Q3_K_M unasked


def test_models_list_on_a_laptop_gpu(run_cli) -> None:
    result = run_cli("models", "list", "--gpu", "RTX 4090 Laptop", "-f", "json")
    assert result.exit_code == 0, result.output
    rows = {r["model"]: r for r in json.loads(result.stdout)}
    assert "llama-3.1-8b" in rows and "llama-3.3-70b" not in rows  # 16 GB and no RAM given
    laptop = CATALOG.accelerator("RTX 4090 Laptop")
    assert laptop.segment == "laptop" and laptop.memory_gb_marketed == 16 and laptop.price_usd is None


def test_models_list_gpu_and_fits_here_are_exclusive(run_cli) -> None:
    assert run_cli("models", "list", "--gpu", "RTX 4090", "--fits-here").exit_code == 2
    assert run_cli("models", "list", "--ram", "64GB").exit_code == 2


def test_a_four_gpu_workstation_needs_more_than_one_wall_circuit() -> None:
    from sizer.recommendation.cost import power

    ws = next(p for p in platforms(CATALOG) if p.segment == "workstation")
    rtx4090 = CATALOG.accelerators["nvidia-rtx-4090-24gb"]
    four = power(Build(((rtx4090, 4),), 1, 256.0, None, ws))
    assert four.total_w == pytest.approx(4 * 450 + ws.host_power_w)  # 2,250 W > 1,440 W on one circuit
    assert any("wall circuit" in n for n in four.notes)
    one = power(Build(((rtx4090, 1),), 1, 256.0, None, ws))
    assert not any("wall circuit" in n for n in one.notes)
