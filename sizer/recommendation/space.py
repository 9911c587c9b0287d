"""The candidate space of `recommend`: which accelerators, engines and owned hardware to try, as tasks.

Prunes that are sound (they cannot drop a configuration from the Pareto front):
- an accelerator no better than a same-vendor, same-segment part that costs no more (memory,
  bandwidth, compute, links, PCIe, native formats; power too under --max-power) is skipped;
- for GPU + RAM offload only the cards no cheaper card of the same vendor and segment matches in
  memory and bandwidth (and compute with several users) are tried: RAM bandwidth sets most of the
  speed there, and the card's memory decides how much stays in RAM.

Policies (stated in the result's assumptions; `--engine` lifts them):
- engines: vLLM for checkpoint formats, llama.cpp for GGUF, MLX on Apple; SGLang / TensorRT-LLM /
  Ollama only for formats the preferred ones do not load; llama.cpp not on data-center parts;
- more than four consumer cards (an 8-GPU server chassis) are not tried.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

from sizer.catalog.loading import Catalog
from sizer.errors import UnknownNameError
from sizer.recommendation.cost import Build, HostPlatform, platform_for
from sizer.recommendation.expert import offload_engines
from sizer.recommendation.records import Task, format_runs_on
from sizer.recommendation.search import Search
from sizer.schema import Accelerator, Engine, QuantFormat, System
from sizer.sizing.engine_support import engine_limit

__all__ = ["Space", "build_tasks", "engines_for", "resolve_have"]

# Engines tried for a format unless --engine says otherwise: the first of these that loads it (Ollama
# runs llama.cpp's placement without expert offload, SGLang / TensorRT-LLM place as vLLM does; their
# launch commands are still printed).
_PREFERRED_ENGINES = ("vllm", "llama.cpp", "mlx")
_FALLBACK_ENGINES = ("sglang", "tensorrt-llm", "ollama")
_fmt_ok = format_runs_on
_CONSUMER_MAX = 4  # as the search: more consumer cards need an 8-GPU server chassis


@dataclass(frozen=True)
class Space:
    """What the search may use."""

    catalog: Catalog
    accelerators: tuple[Accelerator, ...]  # after --vendor
    engines: tuple[Engine, ...]
    engines_chosen: bool  # --engine given: no default policies
    owned: tuple[tuple[Accelerator, int], ...]
    owned_systems: tuple[System, ...]
    owned_ram_gb: float | None
    users: int
    check_power: bool
    include_systems: bool
    vendors: frozenset[str]
    offload_front: frozenset[str] = frozenset()  # set by build_tasks


def engines_for(fmt: QuantFormat, acc: Accelerator, pool: Sequence[Engine], chosen: bool) -> list[Engine]:
    """Engines that load `fmt` on `acc`'s platform: the user's, or the preferred ones."""
    fits = [e for e in pool if fmt.id in e.supported_quants and engine_limit(e, acc, fmt.id) is None]
    if chosen:
        return fits
    order = {eid: i for i, eid in enumerate(_PREFERRED_ENGINES)}
    preferred = sorted((e for e in fits if e.id in order), key=lambda e: order[e.id])
    if preferred and _datacenter(acc):
        preferred = [e for e in preferred if not e.layer_split] or preferred  # vLLM / SGLang run data-center parts
    return preferred or [e for e in fits if e.id in _FALLBACK_ENGINES][:1]


def _datacenter(acc: Accelerator) -> bool:
    return acc.segment in ("datacenter", "cloud")


def _offload_front(accs: Sequence[Accelerator], users: int) -> set[str]:
    """Cards worth trying for GPU + RAM offload: per vendor and segment, those no cheaper card matches in
    memory and bandwidth (and compute when several users batch). RAM bandwidth sets most of the speed."""
    inf = float("inf")
    keep: set[str] = set()
    for b in accs:
        pb = inf if b.price_usd is None else b.price_usd
        beaten = False
        for a in accs:
            pa = inf if a.price_usd is None else a.price_usd
            if a is b or (a.vendor, a.segment) != (b.vendor, b.segment) or pa > pb:
                continue
            if a.memory_gib_usable < b.memory_gib_usable or a.memory_bandwidth_gb_s < b.memory_bandwidth_gb_s:
                continue
            if users > 1 and any(a.dense.figures().get(k, 0) < v for k, v in b.dense.figures().items()):
                continue
            same = (pa == pb and a.memory_gib_usable == b.memory_gib_usable
                    and a.memory_bandwidth_gb_s == b.memory_bandwidth_gb_s)
            if same and a.id > b.id:
                continue
            beaten = True
            break
        if not beaten:
            keep.add(b.id)
    return keep


def _dominated(accs: Sequence[Accelerator], check_power: bool) -> set[str]:
    """Accelerators no better than a same-class part that costs no more (their builds cannot be on the
    front; an unknown price counts as the highest, as in the Pareto front)."""
    out: set[str] = set()
    inf = float("inf")
    for b in accs:
        pb = inf if b.price_usd is None else b.price_usd
        for a in accs:
            pa = inf if a.price_usd is None else a.price_usd
            if a is b or pa > pb or not _at_least(a, b, check_power):
                continue
            if pa == pb and _at_least(b, a, check_power) and a.id > b.id:
                continue  # identical twins: keep the first id
            out.add(b.id)
            break
    return out


def _at_least(a: Accelerator, b: Accelerator, check_power: bool) -> bool:
    if (a.vendor, a.segment, a.unified_memory, a.devices_per_package) != (b.vendor, b.segment, b.unified_memory,
                                                                         b.devices_per_package):
        return False
    pa, pb = platform_for([a], 1), platform_for([b], 1)
    if (pa and pa.id) != (pb and pb.id) or (a.max_per_node or 8) < (b.max_per_node or 8):
        return False
    if a.memory_gib_usable < b.memory_gib_usable or a.memory_bandwidth_gb_s < b.memory_bandwidth_gb_s:
        return False
    if (a.interconnect_gb_s or 0) < (b.interconnect_gb_s or 0) or (a.pcie_gen or 0) * a.pcie_lanes < (
            b.pcie_gen or 0) * b.pcie_lanes:
        return False
    if not set(b.native_formats) <= set(a.native_formats):
        return False
    fa = a.dense.figures()
    if any(fa.get(k, 0) < v for k, v in b.dense.figures().items()):
        return False
    return not check_power or (a.tdp_w is not None and b.tdp_w is not None and a.tdp_w <= b.tdp_w)


def _common_engines(fmt: QuantFormat, accs: Sequence[Accelerator], space: Space) -> list[Engine]:
    first = engines_for(fmt, accs[0], space.engines, space.engines_chosen)
    return [e for e in first if all(e in engines_for(fmt, a, space.engines, space.engines_chosen) for a in accs[1:])]


def resolve_have(catalog: Catalog, have: Sequence[tuple[str, int]]) -> tuple[tuple[tuple[Accelerator, int], ...],
                                                                              tuple[System, ...]]:
    """--have names: accelerators (counts add up) or catalog systems."""
    accs: dict[str, tuple[Accelerator, int]] = {}
    systems: list[System] = []
    for name, count in have:
        try:
            acc = catalog.accelerator(name)
        except UnknownNameError as exc:
            try:
                systems.append(catalog.system(name))
                continue
            except UnknownNameError:
                raise exc from None
        accs[acc.id] = (acc, accs.get(acc.id, (acc, 0))[1] + count)
    return tuple(accs.values()), tuple(systems)


def _search_owned(search: Search, fmt: QuantFormat, space: Space) -> None:
    """Configurations that use what the user has first: as it is, with more RAM, with more GPUs."""
    for sys_ in space.owned_systems:
        sys_accs = [space.catalog.accelerators[s.accelerator] for s in sys_.accelerators]
        if all(_fmt_ok(fmt, a) for a in sys_accs):
            for eng in _common_engines(fmt, sys_accs, space):
                search.system(sys_, fmt, eng, owned=True)
    owned = space.owned
    if not owned:
        return
    kinds = [a for a, _ in owned]
    if not all(_fmt_ok(fmt, a) for a in kinds):
        return
    ids = tuple((a.id, n) for a, n in owned)
    platform = platform_for(kinds, sum(n for _, n in owned), space.owned_ram_gb or 0.0, catalog=space.catalog)
    ram_gb = space.owned_ram_gb or (float(platform.included_ram_gb) if platform else 0.0)
    for eng in _common_engines(fmt, kinds, space):
        base = Build(owned, 1, ram_gb, None, platform, ids, ram_gb, True)
        if search.attempt(base, fmt, eng) == "ok":
            continue
        offloads = not kinds[0].unified_memory and (eng.layer_split or eng.expert_offload)
        if offloads and search.offload(owned, fmt, eng, owned=ids, owned_ram_gb=ram_gb) == "ok":
            continue
        _add_gpus(search, fmt, eng, ids, ram_gb, platform, space)


def _owned_build(gpus: tuple[tuple[Accelerator, int], ...], ids: tuple[tuple[str, int], ...], ram_gb: float,
                 home: HostPlatform | None) -> Build:
    """Owned GPUs plus added ones: in the owned machine while it takes them (its RAM kept), else moved into a
    new host of the class the count needs (priced, with the RAM it ships with)."""
    count = sum(n for _, n in gpus)
    if home is None or count <= home.max_gpus:
        return Build(gpus, 1, ram_gb, None, home, ids, ram_gb, True)
    platform = platform_for([a for a, _ in gpus], count, 0.0)
    return Build(gpus, 1, float(platform.included_ram_gb) if platform else 0.0, None, platform, ids)


def _add_gpus(search: Search, fmt: QuantFormat, eng: Engine, ids: tuple[tuple[str, int], ...], ram_gb: float,
              home: HostPlatform | None, space: Space) -> bool:
    """Owned GPUs plus more of the same kind, then plus one or two cards of the same vendor and segment."""
    owned = space.owned
    count = sum(n for _, n in owned)
    most = _CONSUMER_MAX if any(a.segment == "consumer" for a, _ in owned) else 8
    for acc, _ in owned:
        for extra in range(1, most - count + 1):
            gpus = tuple((a, n + extra if a.id == acc.id else n) for a, n in owned)
            outcome = search.attempt(_owned_build(gpus, ids, ram_gb, home), fmt, eng)
            if outcome == "ok":
                return True
            if outcome in ("over", "capped"):
                break
    first = owned[0][0]
    found = False
    for other in space.accelerators:
        if (other.vendor, other.segment) != (first.vendor, first.segment) or other.id not in space.offload_front:
            continue
        if any(other.id == a.id for a, _ in owned) or not _fmt_ok(fmt, other):
            continue
        if eng not in engines_for(fmt, other, space.engines, space.engines_chosen):
            continue
        for extra in (1, 2):
            if count + extra > most:
                break
            outcome = search.attempt(_owned_build((*owned, (other, extra)), ids, ram_gb, home), fmt, eng)
            if outcome in ("ok", "over", "capped"):
                found = found or outcome == "ok"
                break
    return found


def _owned_task(fmt: QuantFormat, space: Space, search: Search) -> None:
    _search_owned(search, fmt, space)


def _grow_task(acc: Accelerator, fmt: QuantFormat, eng: Engine, gpu_only: bool, offload: bool, search: Search) -> None:
    search.grow(acc, fmt, eng, gpu_only=gpu_only, offload=offload)


def _system_task(sys_: System, fmt: QuantFormat, eng: Engine, search: Search) -> None:
    search.system(sys_, fmt, eng)


def build_tasks(formats: Sequence[QuantFormat], space: Space, search: Search) -> tuple[list[Task], int]:
    """The search as a list of tasks, formats most accurate first; and how many accelerators were pruned.
    The (format, engine) pairs the tasks use get their fitters prepared here, before any worker forks.

    Each accelerator's ladders form one group (they share machines, so one process runs them all);
    owned hardware and reference systems run in the parent."""
    accs = space.accelerators
    dominated = _dominated(accs, space.check_power) - {a.id for a, _ in space.owned}
    offload_ok = _offload_front([a for a in accs if not a.unified_memory], space.users)
    object.__setattr__(space, "offload_front", frozenset(offload_ok))
    search.covered_by_system = {
        (s.accelerators[0].accelerator, s.accelerators[0].count, s.nodes) for s in space.catalog.systems.values()
        if space.include_systems and len(s.accelerators) == 1}
    tasks: list[Task] = []
    for fmt in formats:
        if space.owned or space.owned_systems:
            tasks.append(Task(partial(_owned_task, fmt, space)))
        for group, acc in enumerate(accs):
            if acc.id in dominated or not _fmt_ok(fmt, acc):
                continue
            moe = bool(search.model.arch.n_routed_experts)
            extra = [] if space.engines_chosen or not moe or acc.id not in offload_ok else [
                e for e in offload_engines(fmt, acc, space.engines) if engine_limit(e, acc, fmt.id) is None]
            for eng in extra:  # expert offload beside llama.cpp's (routed experts in RAM)
                search.fitter(fmt, eng)
                tasks.append(Task(partial(_grow_task, acc, fmt, eng, False, True), group))
            for eng in engines_for(fmt, acc, space.engines, space.engines_chosen):
                search.fitter(fmt, eng)
                # by default llama.cpp does not run data-center parts: vLLM / SGLang do (--engine to force)
                llama_dc = eng.layer_split and _datacenter(acc) and not space.engines_chosen
                tasks.append(Task(partial(_grow_task, acc, fmt, eng, not llama_dc,
                                          acc.id in offload_ok and not llama_dc), group))
        for sys_ in space.catalog.systems.values() if space.include_systems else ():
            sys_accs = [space.catalog.accelerators[x.accelerator] for x in sys_.accelerators]
            if space.vendors and not all(a.vendor.lower() in space.vendors for a in sys_accs):
                continue
            if not all(_fmt_ok(fmt, a) for a in sys_accs):
                continue
            for eng in _common_engines(fmt, sys_accs, space):
                if eng.layer_split and all(_datacenter(a) for a in sys_accs) and not space.engines_chosen:
                    continue
                search.fitter(fmt, eng)
                tasks.append(Task(partial(_system_task, sys_, fmt, eng)))
    return tasks, len(dominated)
