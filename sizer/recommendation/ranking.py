"""Pareto front, ranking and the result records of `recommend`.

Dominance: row a dominates row b when a costs no more (an unknown price counts as the highest),
decodes at least as fast per user, and loses no more quality, and is strictly better on one of
them. Quality losses compare only when both are known, or both unknown: a format without a
published figure is never ranked against one with a figure.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

from sizer.catalog.loading import Catalog
from sizer.model.reference import ResolvedModel
from sizer.recommendation.cost import Build, CostOptions, default_pue, rental, tco
from sizer.recommendation.launch import LaunchSpec, commands_for, yarn_setting
from sizer.recommendation.quality import quality_loss
from sizer.recommendation.records import Miss, Placed, describe, machine_key, platforms_of
from sizer.recommendation.results import (
    ConfigurationPoint,
    CostResult,
    FitInputs,
    GpuLine,
    LaunchCommand,
    QualityLoss,
    Recommendation,
    RecommendResult,
    Rejection,
    SearchStats,
)
from sizer.recommendation.search import Search
from sizer.sizing.results import ModelResult

__all__ = ["Point", "build_results", "dominates", "fit_command", "pareto_front", "select"]

Point = tuple[float | None, float, float | None]  # (price, per-user speed, quality loss)
_N_REJECTED = 5


def dominates(a: Point, b: Point) -> bool:
    pa = math.inf if a[0] is None else a[0]
    pb = math.inf if b[0] is None else b[0]
    qa, qb = a[2], b[2]
    if pa > pb or a[1] < b[1] or (qa is None) != (qb is None):
        return False
    if qa is not None and qb is not None and qa > qb:
        return False
    return pa < pb or a[1] > b[1] or (qa is not None and qb is not None and qa < qb)


def _order(p: Point) -> tuple[float, float, float]:
    return (math.inf if p[0] is None else p[0], -p[1], math.inf if p[2] is None else p[2])


def pareto_front(points: Sequence[Point]) -> list[int]:
    """Indices of the points no other point dominates, cheapest first.

    One pass in (price, -speed, loss) order: a later point can never dominate an earlier one, so each
    point is only checked against the front found so far."""
    front: list[int] = []
    for i in sorted(range(len(points)), key=lambda i: _order(points[i])):
        if not any(dominates(points[j], points[i]) for j in front):
            front.append(i)
    return front


def _machine(p: Placed) -> tuple[object, ...]:
    return machine_key(p.build)


def select(front: Sequence[Placed], sort: str, top: int, cost: CostOptions) -> list[Placed]:
    """One row per machine (its lowest-loss format, then the fastest), ranked; what the user owns first."""
    best: dict[tuple[object, ...], Placed] = {}
    for p in front:
        machine = _machine(p)
        cur = best.get(machine)
        if cur is None or _better_on_machine(p, cur):
            best[machine] = p
    rows = list(best.values())
    if sort == "spread":
        return sorted(_spread(rows, top), key=lambda p: (not p.owned, math.inf if p.price is None else p.price,
                                                          -p.per_user_tps, describe(p.build)))

    def key(p: Placed) -> tuple[Any, ...]:
        price = math.inf if p.price is None else p.price
        loss = math.inf if p.kld is None else p.kld
        if sort == "speed":
            main: tuple[float, ...] = (-p.per_user_tps, price)
        elif sort == "quality":
            main = (loss, price, -p.per_user_tps)
        elif sort == "cost-per-token":
            per_m = tco(p.price, p.power.total_w, p.speed.aggregate_decode_tokens_per_s, default_pue(p.build),
                        cost).usd_per_million_tokens
            main = (math.inf if per_m is None else per_m, price)
        else:
            main = (price, -p.per_user_tps, loss)
        return (not p.owned, *main, describe(p.build), p.fmt.id, p.engine.id)

    return sorted(rows, key=key)[:top]


def _spread(rows: Sequence[Placed], top: int) -> list[Placed]:
    """What the user owns, the cheapest, the fastest and the most accurate, then rows spread evenly over the
    price range (log scale), then the fastest rows without a price."""
    picked: list[Placed] = []
    ids: set[int] = set()

    def add(p: Placed) -> None:
        if id(p) not in ids and len(picked) < top:
            ids.add(id(p))
            picked.append(p)

    by_price = sorted(rows, key=lambda p: (math.inf if p.price is None else p.price, -p.per_user_tps,
                                           describe(p.build)))
    for p in by_price:
        if p.owned:
            add(p)
    priced = [p for p in by_price if p.price is not None]
    if priced:
        add(priced[0])
    if rows:
        add(max(by_price, key=lambda p: p.per_user_tps))
    known = [p for p in by_price if p.kld is not None]
    if known:
        add(min(known, key=lambda p: p.kld or 0.0))
    if priced and len(picked) < top:
        lo, hi = math.log(max(priced[0].price or 1.0, 1.0)), math.log(max(priced[-1].price or 1.0, 1.0))
        slots = top - len(picked)
        for i in range(slots):
            target = lo + (hi - lo) * (i + 0.5) / slots
            left = [p for p in priced if id(p) not in ids]
            if not left:
                break
            add(min(left, key=lambda p: (abs(math.log(max(p.price or 1.0, 1.0)) - target), -p.per_user_tps)))
    for p in sorted((p for p in by_price if p.price is None), key=lambda p: -p.per_user_tps):
        add(p)
    for p in priced:
        add(p)
    return picked


def _better_on_machine(a: Placed, b: Placed) -> bool:
    la = math.inf if a.kld is None else a.kld
    lb = math.inf if b.kld is None else b.kld
    return (la, -a.per_user_tps) < (lb, -b.per_user_tps)


def _placement_words(p: Placed) -> str:
    lay, hw = p.layout, p.hw
    n_layers = len(lay.slots[0].kv_share) if lay.slots else 0
    if lay.strategy == "tensor_parallel":
        text = f"tensor parallel {lay.tp}"
        if lay.pp > 1:
            text += f" x pipeline parallel {lay.pp}" + (f" across {hw.nodes} nodes" if hw.nodes > 1 else "")
    elif lay.strategy == "layer_split":
        text = f"layers split across {sum(1 for s in lay.slots if s.kind != 'host_ram')} GPUs"
    elif lay.strategy == "unified":
        text = "unified memory" + (f" across {hw.nodes} machines" if hw.nodes > 1 else "")
    else:
        text = "one GPU"
    if lay.offload == "experts":
        flag = "KTransformers CPU experts" if p.engine.id == "ktransformers" else "--n-cpu-moe"
        text += f"; routed experts of {lay.cpu_moe_layers} of {n_layers} layers in RAM ({flag})"
    elif lay.offload == "layers" and lay.gpu_layers is not None:
        text += f"; {n_layers - lay.gpu_layers} of {n_layers} layers in RAM (-ngl {lay.gpu_layers})"
    return text


def _fit_inputs(model_ref: str, p: Placed, search: Search) -> FitInputs:
    b = p.build
    w = search.workload
    if b.system is not None and not b.owned_gpus:
        return FitInputs(model=model_ref, quant=p.fmt.id, engine=p.engine.id, system=b.system.id,
                         nodes=b.system.nodes, context_tokens=w.context_tokens, users=w.users)
    ram = p.hw.host_ram_bytes
    return FitInputs(model=model_ref, quant=p.fmt.id, engine=p.engine.id, gpus=[(a.id, n) for a, n in b.gpus],
                     nodes=b.nodes, ram_bytes=ram, ram_bandwidth_gb_s=p.hw.host_ram_bandwidth_gb_s if ram else None,
                     host=p.hw.host.id if p.hw.host is not None else None,
                     context_tokens=w.context_tokens, users=w.users)


def fit_command(inputs: FitInputs) -> str:
    """`sizer fit ...` with the same inputs (what the test suite checks every recommendation against)."""
    import shlex

    args = ["sizer", "fit", inputs.model, "-q", inputs.quant, "-e", inputs.engine]
    if inputs.system:
        args += ["--system", inputs.system]
    for gpu, count in inputs.gpus:
        args += ["--gpu", f"{gpu}:{count}"]
    if inputs.nodes > 1 and not inputs.system:
        args += ["--nodes", str(inputs.nodes)]
    if inputs.ram_bytes:
        gb = inputs.ram_bytes / 1e9
        args += ["--ram", f"{gb:g}GB" if gb == int(gb) else f"{inputs.ram_bytes}B"]
    if inputs.host and not inputs.system:
        args += ["--host", inputs.host]
    if inputs.ram_bandwidth_gb_s and not inputs.system:
        args += ["--ram-bandwidth", f"{inputs.ram_bandwidth_gb_s:g}"]
    args += ["-c", str(inputs.context_tokens), "-u", str(inputs.users)]
    return " ".join(shlex.quote(a) for a in args)


def _launch(p: Placed, model: ResolvedModel, search: Search) -> list[LaunchCommand]:
    entry = model.entry
    given = (model.repo or "").split(":", 1)[0] or None  # a Hugging Face repo the user gave
    is_gguf_repo = bool(model.repo and ":" in model.repo)
    repo = entry.hf_repos[0] if entry is not None and entry.hf_repos else (given or model.id)
    first = p.hw.accelerators[0][0]
    mem = p.fitter.memory
    assert mem is not None
    native = entry.native_quant if entry else (model.quant_hint if given and not is_gguf_repo else None)
    spec = LaunchSpec(repo=repo, model_name=model.id, fmt=p.fmt, native_id=native,
                      conversions=tuple(entry.conversions) if entry else (),
                      gguf_repo=given if is_gguf_repo else None,
                      layout=p.layout, nodes=p.hw.nodes, gpus_per_node=p.hw.gpus_per_node,
                      context_tokens=search.workload.context_tokens, users=search.workload.users,
                      kv_dtype=mem.kv_dtype.name, device_gib=first.memory_gib_usable,
                      unified_apple=first.vendor.lower() == "apple", rope=_rope(model, search))
    platforms = frozenset().union(*(platforms_of(a) for a, _ in p.hw.accelerators))
    return [LaunchCommand(engine=e, command=cmd, notes=notes)
            for e, cmd, notes in commands_for(spec, p.engine, search.catalog.engines, platforms)]


def _rope(model: ResolvedModel, search: Search) -> tuple[float, int] | None:
    rs = model.entry.rope_scaling if model.entry is not None else None
    return yarn_setting(search.workload.context_tokens, model.arch.max_position_embeddings,
                        rs.factor if rs else None, rs.original_max_position_embeddings if rs else None)


def _cost(p: Placed, cost: CostOptions, catalog: Catalog) -> CostResult:
    t = tco(p.price, p.power.total_w, p.speed.aggregate_decode_tokens_per_s, default_pue(p.build), cost)
    cx = p.capex
    rent = rental(p.build, catalog, cost)
    rent_notes = [f"{o.accelerator}: US${o.usd_per_gpu_hour:g}/GPU-hour at {o.provider} ({o.pricing}, {o.price_date}, "
                  f"{o.price_source})" for o in rent.offers]
    rent_notes += [f"{name}: no cloud rate in the catalog" for name in rent.missing]
    if rent.total_usd is not None and p.build.ram_gb > 256 and p.build.system is None:
        rent_notes.append(f"cloud GPU instances come with the provider's host RAM; the {p.build.ram_gb:,.0f} GB this "
                          "build offloads to may not be offered")
    return CostResult(capex_usd=cx.total_usd, gpus_usd=cx.gpus_usd, host_usd=cx.host_usd, ram_usd=cx.ram_usd,
                      power_w=p.power.total_w, pue=t.pue, energy_usd_per_year=t.energy_usd_per_year, years=t.years,
                      tco_usd=t.tco_usd, usd_per_million_tokens=t.usd_per_million_tokens,
                      missing_prices=list(cx.missing), notes=[*cx.notes, *p.power.notes],
                      rent_usd_per_hour=rent.usd_per_hour, rent_usd=rent.total_usd, rent_notes=rent_notes)


def _gpu_lines(b: Build) -> list[GpuLine]:
    owned = dict(b.owned_gpus)
    return [GpuLine(id=a.id, name=a.name, count=n, owned=owned.get(a.id, 0)) for a, n in b.gpus]


def _recommendation(rank: int, p: Placed, model_ref: str, model: ResolvedModel, search: Search,
                    cost: CostOptions, quality: tuple[float | None, str, str | None, str | None]) -> Recommendation:
    f, lay, v, s = p.fitter, p.layout, p.verdict, p.speed
    w = search.workload
    hardware = describe(p.build, show_ram=lay.offload in ("experts", "layers") or lay.engram_on_host)
    inputs = _fit_inputs(model_ref, p, search)
    return Recommendation(
        rank=rank, summary=f"{p.fmt.name} on {hardware} ({p.engine.name})", hardware=hardware,
        system=p.build.system.id if p.build.system else None, gpus=_gpu_lines(p.build), nodes=p.hw.nodes,
        ram_bytes=p.hw.host_ram_bytes, quant=p.fmt.id, quant_name=p.fmt.name, engine=p.engine.id,
        placement=_placement_words(p), offload=lay.offload if lay.strategy != "unified" else "unified",
        tensor_parallel=lay.tp, pipeline_parallel=lay.pp, fits=v.fits,
        headroom_bytes=min(u.free_bytes for u in v.usages), binding_constraint=v.binding_constraint,
        max_context=f.max_context(lay, w.users), max_concurrency=round(f.max_concurrency(lay, w.context_tokens), 2),
        decode_tokens_per_s=round(s.decode_tokens_per_s, 3),
        per_user_decode_tokens_per_s=round(s.per_user_decode_tokens_per_s, 3),
        aggregate_decode_tokens_per_s=round(s.aggregate_decode_tokens_per_s, 3),
        prefill_tokens_per_s=round(s.prefill_tokens_per_s, 3), ttft_s=round(s.ttft_s, 4),
        quality=QualityLoss(mean_kld=quality[0], basis=quality[1], measured_on=quality[2], source=quality[3]),
        cost=_cost(p, cost, search.catalog), uses_owned=p.owned, launch=_launch(p, model, search),
        fit_inputs=inputs, fit_command=fit_command(inputs), warnings=list(lay.warnings),
        assumptions=[*lay.assumptions, *p.hw.capacity_notes()],
    )


def _tags(recs: list[Recommendation]) -> list[list[str]]:
    tags: list[list[str]] = [[] for _ in recs]
    if not recs:
        return tags
    priced = [i for i, r in enumerate(recs) if r.cost.capex_usd is not None]
    if priced:
        tags[min(priced, key=lambda i: recs[i].cost.capex_usd or 0.0)].append("cheapest")
    tags[max(range(len(recs)), key=lambda i: recs[i].per_user_decode_tokens_per_s)].append("fastest")
    known = [i for i, r in enumerate(recs) if r.quality.mean_kld is not None]
    if known:
        tags[min(known, key=lambda i: recs[i].quality.mean_kld or 0.0)].append("lowest loss")
    for i, r in enumerate(recs):
        if r.uses_owned:
            tags[i].append("uses owned hardware")
    return tags


_KIND_ORDER = {"speed": 0, "ttft": 1, "budget": 2, "power": 3, "quality": 4, "memory": 5, "price": 6}


def _rejections(misses: Sequence[Miss], shown: set[tuple[str, str]]) -> list[Rejection]:
    """The closest misses, one per kind of machine: first why what the user owns is not enough, then at most two
    per reason, reasons in order of interest (too slow, over budget, over power, too lossy, too small,
    unpriced)."""
    out: list[Miss] = []
    seen: set[str] = set()
    per_kind: dict[str, int] = {}
    for m in sorted(misses, key=lambda m: (not m.owned, m.closeness > 0.25, _KIND_ORDER.get(m.kind, 9), m.closeness,
                                           m.hardware, m.quant)):
        family = m.family or m.hardware
        if (m.hardware, m.quant) in shown or family in seen or (per_kind.get(m.kind, 0) >= 2 and not m.owned):
            continue
        seen.add(family)
        per_kind[m.kind] = per_kind.get(m.kind, 0) + 1
        out.append(m)
        if len(out) == _N_REJECTED:
            break
    return [Rejection(hardware=m.hardware, quant=m.quant, engine=m.engine, reason=m.reason, kind=m.kind)
            for m in out]


def build_results(model_ref: str, model: ResolvedModel, search: Search, chosen: Sequence[Placed], c: object,
                  context: int, cost: CostOptions, stats: SearchStats, start: float,
                  assumptions: list[str]) -> RecommendResult:

    recs = [_recommendation(i + 1, p, model_ref, model, search, cost, quality_loss(p.fmt, model, search.catalog))
            for i, p in enumerate(chosen)]
    recs = [r.model_copy(update={"tags": t}) for r, t in zip(recs, _tags(recs), strict=True)]
    shown = {(r.hardware, r.quant_name) for r in recs}
    m = model
    warnings = [] if recs else ["nothing in the catalog meets every constraint; see `rejected` for the closest"]
    constraints = {k: v for k, v in vars(c).items() if v not in (None, (), False) and k != "workers"}
    stats = stats.model_copy(update={"seconds": round(time.perf_counter() - start, 3)})
    return RecommendResult(
        model=ModelResult(id=m.id, name=m.name, source=m.source, total_params=m.total_params,  # type: ignore[arg-type]
                          active_params=m.active_params, family=m.arch.family, repo=m.repo,
                          official_total_params=m.entry.total_params.value if m.entry else None),
        context_tokens=context, users=search.workload.users, constraints=constraints, recommendations=recs,
        rejected=_rejections(search.misses, shown), search=stats, configurations=_configurations(search, chosen),
        warnings=warnings, assumptions=assumptions)


def _configurations(search: Search, chosen: Sequence[Placed]) -> list[ConfigurationPoint]:
    """Every placed configuration that meets the constraints, with its place on the front, cheapest first."""
    placed = search.placed
    points = [(p.price, p.per_user_tps, p.kld) for p in placed]
    front = set(pareto_front(points))
    ranks = {id(p): i + 1 for i, p in enumerate(chosen)}
    out = []
    for i in sorted(range(len(placed)), key=lambda i: (_order(points[i]), placed[i].order)):
        p = placed[i]
        hardware = describe(p.build, show_ram=p.layout.offload in ("experts", "layers") or p.layout.engram_on_host)
        out.append(ConfigurationPoint(
            summary=f"{p.fmt.name} on {hardware} ({p.engine.name})", hardware=hardware, quant=p.fmt.id,
            engine=p.engine.id, capex_usd=p.price, per_user_decode_tokens_per_s=round(p.per_user_tps, 3),
            mean_kld=p.kld, pareto=i in front, rank=ranks.get(id(p))))
    return out
