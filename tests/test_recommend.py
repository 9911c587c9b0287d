"""`recommend` / `plan`: every recommendation is what `sizer fit` says, the front is a Pareto front, and the
constraints hold (sizer.recommendation, sizer.commands.recommend)."""

from __future__ import annotations

import csv
import io
import json
import math
from functools import cache

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sizer.catalog.loading import load_catalog
from sizer.model.reference import resolve_model
from sizer.quant.assignment import resolve_quant
from sizer.recommendation.pipeline import Constraints, recommend
from sizer.recommendation.quality import quality_loss
from sizer.recommendation.ranking import Point, dominates, pareto_front
from sizer.recommendation.results import Recommendation, RecommendResult
from sizer.sizing.fitter import fit

CATALOG = load_catalog()
TOP = 5
CASES: dict[str, tuple[str, Constraints]] = {
    "dense-8b": ("llama-3.1-8b", Constraints(top=TOP)),
    "dense-70b-32k": ("llama-3.3-70b", Constraints(context_tokens=32768, top=TOP)),
    "moe-235b-32k": ("qwen3-235b-a22b", Constraints(context_tokens=32768, top=TOP)),
    "deepseek-v3-32k": ("deepseek-v3", Constraints(context_tokens=32768, top=TOP)),
    "70b-have-2x3090": ("llama-3.3-70b", Constraints(context_tokens=16384, have=(("rtx 3090", 2),),
                                                     have_ram_bytes=128 * 10**9, top=TOP)),
    "235b-budget": ("qwen3-235b-a22b", Constraints(context_tokens=32768, budget_usd=20_000, top=TOP)),
    "deepseek-budget-users": ("deepseek-v3", Constraints(context_tokens=32768, budget_usd=400_000, users=8,
                                                         min_tps=20, top=TOP)),
}


@cache
def result(case: str) -> RecommendResult:
    model, constraints = CASES[case]
    return recommend(model, constraints, catalog=CATALOG)


@pytest.mark.parametrize("case", list(CASES))
def test_every_recommendation_passes_sizer_fit(case: str) -> None:
    recs = result(case).recommendations
    assert recs, f"{case}: nothing recommended"
    for rec in recs:
        _check_refits(rec)


def _check_refits(rec: Recommendation) -> None:
    i = rec.fit_inputs
    r = fit(i.model, quant=i.quant, gpus=tuple((g, n) for g, n in i.gpus), nodes=i.nodes, ram_bytes=i.ram_bytes,
            ram_bandwidth_gb_s=i.ram_bandwidth_gb_s, system=i.system, host=i.host, context_tokens=i.context_tokens,
            users=i.users, engine=i.engine, catalog=CATALOG)
    assert r.fits is True
    assert r.performance is not None
    assert r.performance.per_user_decode_tokens_per_s == pytest.approx(rec.per_user_decode_tokens_per_s, abs=1e-3)
    assert r.performance.decode_tokens_per_s == pytest.approx(rec.decode_tokens_per_s, abs=1e-3)
    assert r.max_context == rec.max_context
    assert r.quant == rec.quant and r.engine == rec.engine
    assert min(p.free_bytes for p in r.placement) == rec.headroom_bytes


def _point(r: Recommendation) -> Point:
    return (r.cost.capex_usd, r.per_user_decode_tokens_per_s, r.quality.mean_kld)


@pytest.mark.parametrize("case", list(CASES))
def test_no_recommendation_dominates_another(case: str) -> None:
    recs = result(case).recommendations
    assert recs, f"{case}: nothing recommended"
    for a in recs:
        for b in recs:
            assert not dominates(_point(a), _point(b)), f"{a.summary} dominates {b.summary}"


@pytest.mark.parametrize("case", list(CASES))
def test_constraints_hold(case: str) -> None:
    _, c = CASES[case]
    res = result(case)
    assert res.context_tokens == (c.context_tokens or 8192) and res.users == c.users
    for r in res.recommendations:
        assert r.fits and r.fit_inputs.context_tokens == res.context_tokens and r.fit_inputs.users == c.users
        assert c.min_tps is None or r.per_user_decode_tokens_per_s >= c.min_tps
        if c.budget_usd is not None:
            assert r.cost.capex_usd is not None and r.cost.capex_usd <= c.budget_usd


@pytest.mark.parametrize(("points", "expected"), [
    # 0 (1 $, 10 tok/s, 0.1)   kept: the cheapest
    # 1 (2 $, 20 tok/s, 0.1)   kept: faster than 0
    # 2 (2 $,  5 tok/s, 0.1)   out: 0 is cheaper and faster at the same loss
    # 3 (no price, 30, 0.0)    kept: an unknown price ranks last, but it is the fastest and most accurate
    # 4 (3 $, 20 tok/s, ?)     kept: an unknown loss is compared only with other unknowns
    # 5 (4 $, 10 tok/s, ?)     out: 4 is cheaper and faster, both losses unknown
    ([(1.0, 10.0, 0.1), (2.0, 20.0, 0.1), (2.0, 5.0, 0.1), (None, 30.0, 0.0), (3.0, 20.0, None), (4.0, 10.0, None)],
     {0, 1, 3, 4}),
    ([(5.0, 5.0, 0.0), (5.0, 5.0, 0.0)], {0, 1}),  # ties are kept: neither dominates
    ([(1.0, 10.0, 0.3), (1.0, 10.0, 0.03)], {1}),  # same price and speed: the lower loss wins
    ([(None, 10.0, 0.0), (9e9, 10.0, 0.0)], {1}),  # any price beats an unknown one
])
def test_pareto_front_examples(points: list[Point], expected: set[int]) -> None:
    assert set(pareto_front(points)) == expected


def _dominates_by_the_rule(a: Point, b: Point) -> bool:
    """The rule as the docs state it, written apart from the code: no worse on every axis and better on one;
    lower price (unknown = worst), higher speed, lower loss (unknown comparable only with unknown)."""
    price_a = float("inf") if a[0] is None else a[0]
    price_b = float("inf") if b[0] is None else b[0]
    no_worse = [price_a <= price_b, a[1] >= b[1]]
    better = [price_a < price_b, a[1] > b[1]]
    if a[2] is None or b[2] is None:
        if (a[2] is None) != (b[2] is None):
            return False
    else:
        no_worse.append(a[2] <= b[2])
        better.append(a[2] < b[2])
    return all(no_worse) and any(better)


_price = st.one_of(st.none(), st.floats(0, 1e6, allow_nan=False))
_loss = st.one_of(st.none(), st.sampled_from([0.0, 0.001, 0.03, 0.1, 0.3]))
_points = st.lists(st.tuples(_price, st.floats(0, 500, allow_nan=False), _loss), max_size=40)


@given(_points)
def test_pareto_front_is_exactly_the_undominated_points(points: list[Point]) -> None:
    front = pareto_front(points)
    assert len(front) == len(set(front))
    kept = set(front)
    for i, p in enumerate(points):
        dominated = any(_dominates_by_the_rule(q, p) for q in points)
        assert (i in kept) == (not dominated)
        assert all(dominates(q, p) == _dominates_by_the_rule(q, p) for q in points)


@given(_points)
def test_dominance_is_a_strict_order(points: list[Point]) -> None:
    for a in points:
        assert not dominates(a, a)
        for b in points:
            assert not (dominates(a, b) and dominates(b, a))
            for c in points:
                if dominates(a, b) and dominates(b, c):
                    assert dominates(a, c)


def test_unknown_price_ranks_last_and_unknown_loss_is_incomparable() -> None:
    assert dominates((1.0, 10.0, 0.1), (None, 10.0, 0.1))
    assert not dominates((1.0, 100.0, 0.0), (2.0, 1.0, None))
    assert not dominates((2.0, 1.0, None), (1.0, 100.0, 0.0))


def test_quality_loss_figures() -> None:
    m = resolve_model("deepseek-v3", CATALOG)
    assert quality_loss(resolve_quant("native", m.entry, CATALOG), m, CATALOG)[0] == 0.0
    q4 = CATALOG.quants["q4_k_m"]
    first = next(q for q in q4.quality if q.mean_kld is not None)
    loss, basis, measured_on, source = quality_loss(q4, m, CATALOG)
    assert loss == first.mean_kld and measured_on == first.measured_on and source == first.source
    assert first.measured_on in basis
    dense = resolve_model("llama-3.1-8b", CATALOG)
    assert quality_loss(CATALOG.quants["bf16"], dense, CATALOG)[0] == 0.0
    assert quality_loss(resolve_quant("fp8", dense.entry, CATALOG), dense, CATALOG)[0] is None  # unknown, not 0


def test_owned_hardware_comes_first_at_no_cost() -> None:
    res = result("70b-have-2x3090")
    first = res.recommendations[0]
    assert first.uses_owned and "uses owned hardware" in first.tags
    gpu = next(g for g in first.gpus if g.id == "nvidia-rtx-3090-24gb")
    assert gpu.owned == 2
    price = CATALOG.accelerators["nvidia-rtx-3090-24gb"].price_usd or 0
    assert first.cost.capex_usd is not None and first.cost.capex_usd <= (gpu.count - 2) * price + 1e-6


def test_limits_on_gpus_vendor_power_and_quality() -> None:
    c = Constraints(context_tokens=8192, max_gpus=2, vendors=("AMD",), max_power_w=1500, max_quality_loss=0.02, top=20)
    res = recommend("llama-3.3-70b", c, catalog=CATALOG)
    assert res.recommendations
    for r in res.recommendations:
        assert sum(g.count for g in r.gpus) * r.nodes <= 2
        assert all(CATALOG.accelerators[g.id].vendor == "AMD" for g in r.gpus)
        assert r.cost.power_w is not None and r.cost.power_w <= 1500
        assert r.quality.mean_kld is not None and r.quality.mean_kld <= 0.02


def test_rejections_say_why() -> None:
    res = recommend("llama-3.3-70b", Constraints(context_tokens=8192, min_tps=40, top=3), catalog=CATALOG)
    shown = {(r.hardware, r.quant_name) for r in res.recommendations}
    assert res.rejected
    for x in res.rejected:
        assert (x.hardware, x.quant) not in shown and x.reason
    assert any(x.kind == "speed" and "--min-tps 40" in x.reason for x in res.rejected)


def test_one_and_two_workers_agree() -> None:
    model, c = CASES["deepseek-v3-32k"]
    one = recommend(model, Constraints(**{**vars(c), "workers": 1}), catalog=CATALOG)
    two = recommend(model, Constraints(**{**vars(c), "workers": 2}), catalog=CATALOG)
    strip = {"search": {"seconds"}}
    assert one.model_dump(exclude=strip) == two.model_dump(exclude=strip)


# ----------------------------------------------------------------------------------------------- CLI


def test_cli_json(run_cli) -> None:
    out = run_cli("recommend", "llama-3.1-8b", "--top", "3", "--vendor", "nvidia", "-f", "json")
    assert out.exit_code == 0, out.stderr
    data = json.loads(out.stdout)
    assert set(data) >= {"model", "context_tokens", "users", "recommendations", "rejected", "search", "assumptions"}
    rec = data["recommendations"][0]
    assert set(rec) >= {"hardware", "quant", "engine", "placement", "headroom_bytes", "max_context",
                        "max_concurrency", "per_user_decode_tokens_per_s", "cost", "quality", "launch", "fit_inputs"}
    assert isinstance(rec["cost"]["capex_usd"], float | int) and rec["launch"][0]["command"]


def test_cli_table_explains_and_launches(run_cli) -> None:
    out = run_cli("recommend", "llama-3.3-70b", "-c", "8k", "--min-tps", "30", "--vendor", "nvidia")
    assert out.exit_code == 0
    assert "Rejected" in out.stdout and "Launch #1" in out.stdout and "check: sizer fit" in out.stdout
    assert "Assumptions:" in out.stdout


def test_cli_plan_csv_for_a_purchase_request(run_cli) -> None:
    out = run_cli("plan", "llama-3.1-8b", "--top", "3", "--vendor", "amd", "--years", "5", "-f", "csv")
    assert out.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert rows and {"capex_usd", "power_w", "tco_usd", "usd_per_million_tokens", "years"} <= set(rows[0])
    assert all(float(r["years"]) == 5 for r in rows)
    for r in rows:
        if r["tco_usd"]:
            assert float(r["tco_usd"]) >= float(r["capex_usd"])


def test_cli_plan_markdown(run_cli) -> None:
    out = run_cli("recommend", "llama-3.1-8b", "--plan", "--top", "2", "--vendor", "intel", "-f", "markdown")
    assert out.exit_code == 0 and out.stdout.startswith("# Procurement plan") and "| configuration" in out.stdout


def test_cli_unknown_owned_gpu_is_a_usage_error(run_cli) -> None:
    out = run_cli("recommend", "llama-3.1-8b", "--have", "rtx 9999:2")
    assert out.exit_code == 2 and "did you mean" in out.stderr


def test_plan_costs_follow_the_options() -> None:
    from sizer.recommendation.cost import CostOptions

    base = recommend("llama-3.1-8b", Constraints(top=3, vendors=("nvidia",)), CostOptions(), catalog=CATALOG)
    dear = recommend("llama-3.1-8b", Constraints(top=3, vendors=("nvidia",)), CostOptions(usd_per_kwh=0.26),
                     catalog=CATALOG)
    for a, b in zip(base.recommendations, dear.recommendations, strict=True):
        assert a.summary == b.summary
        if a.cost.energy_usd_per_year:
            assert b.cost.energy_usd_per_year == pytest.approx(2 * a.cost.energy_usd_per_year)
            assert not math.isclose(a.cost.tco_usd or 0, b.cost.tco_usd or 0)


def test_ram_speed_bound_never_prunes_what_the_core_would_accept() -> None:
    """The pre-placement bound (weights that cannot fit the GPUs, read from RAM at its calibrated speed) is
    at least the speed the fit core gives every placed GPU + RAM configuration."""
    from sizer.memory.breakdown import Workload
    from sizer.placement.hardware import device_capacity_bytes
    from sizer.recommendation.cost import Build, platforms
    from sizer.recommendation.cost import CostOptions as Options
    from sizer.recommendation.records import SearchLimits
    from sizer.recommendation.search import Search

    checked = 0
    for model, quants, users in (("deepseek-v3", ("q4_k_m", "q8_0"), 1), ("qwen3-235b-a22b", ("q4_k_m",), 4),
                                 ("llama-3.3-70b", ("q8_0", "bf16"), 1)):
        resolved = resolve_model(model, CATALOG)
        search = Search(resolved, CATALOG, Workload(8192, users), SearchLimits(), Options(), {})
        for q in quants:
            fmt = resolve_quant(q, resolved.entry, CATALOG)
            eng = CATALOG.engine("llama.cpp")
            f = search.fitter(fmt, eng)
            for gpu in ("nvidia-rtx-3060-12gb", "nvidia-rtx-4090-24gb", "amd-radeon-pro-w7900-48gb"):
                acc = CATALOG.accelerators[gpu]
                for platform in [p for p in platforms(CATALOG) if p.segment != "hgx"]:
                    for ram in platform.ram_sizes_gb:
                        build = Build(((acc, 1),), 1, float(ram), None, platform)
                        before = len(search.placed)
                        if search.attempt(build, fmt, eng) != "ok" or len(search.placed) == before:
                            continue
                        p = search.placed[-1]
                        cap = device_capacity_bytes(acc)[0]
                        bound, _ = search.ram_bound(f, f.memory.weights_bytes - cap, platform.ram_bandwidth_gb_s)  # type: ignore[union-attr]
                        assert p.per_user_tps <= bound * (1 + 1e-9), (model, q, gpu, ram)
                        checked += 1
    assert checked > 20


def test_an_unknown_vendor_is_a_usage_error_with_suggestions() -> None:
    from sizer.errors import UnknownNameError
    from sizer.recommendation.pipeline import Constraints, recommend

    with pytest.raises(UnknownNameError, match="nvidia"):
        recommend("llama-3.1-8b", Constraints(vendors=("nvdia",)))
