"""The candidate search behind `recommend`: enumerate hardware x quant x engine, prune, place.

Every candidate that survives the cheap checks is placed by the fit core (`Fitter.place`, the same
code `sizer fit` runs); nothing here computes memory or speed on its own. The checks before placing
only ever skip what cannot work:

- the engine does not run on the accelerator's platform, or does not load the format; FP4 formats
  need FP4 units;
- all device memory (plus host RAM for engines that offload) is below weights + KV cache +
  per-device runtime overhead (a lower bound of what placement needs);
- the price, power or GPU count is over the user's limit (known before placing);
- what cannot fit the GPUs must be read from RAM: if even the least-read tensors (the core's read
  fractions), read at the RAM's full bandwidth, give fewer tokens/s than --min-tps, it is too slow;
- an accelerator is dominated by another of the same vendor and segment (no more memory,
  bandwidth, compute, links or formats, and no lower price): its configurations cannot beat the
  same configurations on the better part.

Counts grow 1, 2, (3,) 4, (6,) 8 per node, then nodes, and stop at the first count that fits at the
required speed; offload configurations (llama.cpp: GPU + experts or layers in RAM) grow RAM through
the host platforms' sizes the same way.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from itertools import accumulate

from sizer.catalog.loading import Catalog
from sizer.memory.activations import runtime_overhead_bytes
from sizer.memory.breakdown import Workload
from sizer.model.reference import ResolvedModel
from sizer.model.tensors import Role
from sizer.placement.hardware import Hardware, build_hardware, device_capacity_bytes
from sizer.placement.traffic import read_fraction
from sizer.recommendation.cost import Build, CostOptions, capex, platform_for, platforms, power
from sizer.recommendation.expert import almost_nothing_on_gpu
from sizer.recommendation.records import (
    Exported,
    Miss,
    Placed,
    SearchLimits,
    Task,
    describe,
    generic_build,
    machine_key,
    ram_bandwidth,
    ram_bytes,
)
from sizer.schema import Accelerator, Engine, QuantFormat, System
from sizer.sizing.fitter import Fitter, quant_kernel
from sizer.speed.factors import efficiency_for

__all__ = ["Search"]

GIB = 2**30
_TP_COUNTS = (1, 2, 4, 8)
_SPLIT_COUNTS = (1, 2, 3, 4, 6, 8)
_OFFLOAD_COUNTS = (1, 2)
_CONSUMER_MAX = 4  # more GeForce / Radeon / Arc cards need an 8-GPU server chassis: not tried
_MULTI_NODE_SEGMENTS = ("datacenter", "cloud")


@dataclass
class Search:
    """The search state: prepared fitters, what was placed, what was missed and why."""

    model: ResolvedModel
    catalog: Catalog
    workload: Workload
    limits: SearchLimits
    cost_options: CostOptions
    quality: dict[str, float | None]  # format id -> mean KLD (None unknown)
    placed: list[Placed] = field(default_factory=list)
    misses: list[Miss] = field(default_factory=list)
    n_candidates: int = 0
    n_placed: int = 0
    n_pruned: int = 0
    _fitters: dict[tuple[str, str, str | None], Fitter] = field(default_factory=dict)
    _hardware: dict[tuple[object, ...], Hardware] = field(default_factory=dict)
    _covered: set[tuple[object, ...]] = field(default_factory=set)
    _task: int = 0
    _step: int = 0
    _densities: dict[int, tuple[tuple[int, ...], tuple[float, ...], tuple[float, ...]]] = field(default_factory=dict)
    _cpu_eff: dict[str, float] = field(default_factory=dict)
    covered_by_system: set[tuple[str, int, int]] = field(default_factory=set)  # (accelerator, count, nodes) of systems

    def __post_init__(self) -> None:
        tensors = self.model.tensors or ()
        self.has_engram = any(t.role is Role.ENGRAM for t in tensors)

    # ------------------------------------------------------------------------------ building blocks

    def fitter(self, fmt: QuantFormat, engine: Engine, kv_dtype: str | None = None) -> Fitter:
        key = (fmt.id, engine.id, kv_dtype)
        f = self._fitters.get(key)
        if f is None:
            workload = self.workload if kv_dtype is None else replace(self.workload, kv_dtype=kv_dtype)
            f = self._fitters[key] = Fitter(self.model, fmt, engine, workload, self.catalog)
        return f

    def _kv_bytes(self, fmt: QuantFormat, engine: Engine, kv_dtype: str) -> int:
        mem = self.fitter(fmt, engine, kv_dtype).memory
        assert mem is not None
        return mem.kv_cache_bytes

    def hardware(self, build: Build) -> Hardware:
        if build.system is not None and not build.owned_gpus:
            key: tuple[object, ...] = ("system", build.system.id)
        else:
            key = (tuple((a.id, n) for a, n in build.gpus), build.nodes, build.ram_gb, ram_bandwidth(build))
        hw = self._hardware.get(key)
        if hw is None:
            if key[0] == "system":
                hw = build_hardware(self.catalog, (), system=build.system.id)  # type: ignore[union-attr]
            else:
                hw = build_hardware(self.catalog, tuple((a.id, n) for a, n in build.gpus), nodes=build.nodes,
                                    ram_bytes=ram_bytes(build), ram_bandwidth_gb_s=ram_bandwidth(build),
                                    host=build.platform.id if build.platform is not None else None)
            self._hardware[key] = hw
        return hw

    def ram_bound(self, f: Fitter, in_ram_bytes: int, ram_gb_s: float | None) -> tuple[float, float]:
        """(upper bound of per-user decode tokens/s, bytes read from RAM per step) when at least
        `in_ram_bytes` of the weights cannot fit the GPUs: even the least-read tensors (by the core's read
        fractions for a step of --users sequences) must then be read from RAM every step, at no more than
        the RAM bandwidth times the calibrated CPU decode efficiency (what the speed model applies to
        host RAM; tests/test_recommend.py checks the bound against placed configurations)."""
        if in_ram_bytes <= 0 or not ram_gb_s:
            return float("inf"), 0.0
        key = id(f)
        table = self._densities.get(key)
        if table is None:
            arch = self.model.arch
            batch = self.workload.users  # one decode step serves every user: routed experts read then
            pairs = sorted((read_fraction(qt.tensor, arch, batch), qt.weights_bytes) for qt in f.tensors
                           if not qt.tensor.is_mtp)
            table = self._densities[key] = (tuple(accumulate(b for _, b in pairs)),
                                            tuple(accumulate(d * b for d, b in pairs)), tuple(d for d, _ in pairs))
        sizes, reads, density = table
        i = bisect_left(sizes, in_ram_bytes)
        if i >= len(sizes):
            read = reads[-1]
        else:
            before = sizes[i - 1] if i else 0
            read = (reads[i - 1] if i else 0.0) + density[i] * (in_ram_bytes - before)
        kernel = quant_kernel(f.quant) if f.quant is not None else "k_quant"
        eff = self._cpu_eff.get(kernel)
        if eff is None:
            eff = self._cpu_eff[kernel] = efficiency_for(self.catalog)("decode", "cpu", "cpu", kernel)[0]
        return (ram_gb_s * 1e9 * eff / read if read > 0 else float("inf")), read

    def _order(self) -> tuple[int, int]:
        self._step += 1
        return (self._task, self._step)

    def _miss(self, build: Build, fmt: QuantFormat, engine: Engine, reason: str, closeness: float, kind: str,
              *, ram: bool = False) -> None:
        owned = bool(build.owned_gpus) or build.owns_host
        family = build.system.id if build.system else "+".join(a.id for a, _ in build.gpus)
        self.misses.append(Miss(describe(build, show_ram=owned or ram), fmt.name, engine.name, reason, closeness, kind,
                                self._order(), owned, family))

    def run(self, tasks: Sequence[Task], indices: Iterable[int] | None = None) -> None:
        """Run tasks (all, or those at `indices`), numbering what they record by task position."""
        for i in range(len(tasks)) if indices is None else indices:
            self._task, self._step = i, 0
            tasks[i].run(self)

    def export(self) -> Exported:
        """What a worker process hands back (its fitters stay behind: the parent has the same ones)."""
        rows = [(p.order, p.build, p.fmt.id, p.engine.id, p.hw, p.layout, p.verdict, p.speed, p.capex, p.power,
                 p.kld) for p in self.placed]
        return rows, list(self.misses), self.n_candidates, self.n_placed, self.n_pruned

    def merge(self, exported: Exported, formats: dict[str, QuantFormat], engines: dict[str, Engine]) -> None:
        rows, misses, n_candidates, n_placed, n_pruned = exported
        for order, build, fmt_id, eng_id, hw, layout, verdict, speed, cx, pw, kld in rows:
            fmt, eng = formats[fmt_id], engines[eng_id]
            self.placed.append(Placed(build, hw, fmt, eng, self.fitter(fmt, eng), layout, verdict, speed, cx, pw,
                                      kld, order))
        self.misses += misses
        self.n_candidates += n_candidates
        self.n_placed += n_placed
        self.n_pruned += n_pruned
        self.placed.sort(key=lambda p: p.order)
        self.misses.sort(key=lambda m: m.order)

    # ------------------------------------------------------------------------------------- one try

    def attempt(self, build: Build, fmt: QuantFormat, engine: Engine) -> str:
        """Check, place and record one candidate: 'ok', 'slow', 'capped' (slow with every layer on one
        device after another: more of them will not help), 'short' (memory) or 'over' (a limit)."""
        self.n_candidates += 1
        lim = self.limits
        if lim.max_gpus is not None and build.gpu_count > lim.max_gpus:
            self.n_pruned += 1
            return "over"
        machine = machine_key(build)
        if machine in self._covered:
            self.n_pruned += 1  # a more accurate format already fits this machine at the required speed
            return "ok"
        f = self.fitter(fmt, engine)
        mem = f.memory
        assert mem is not None
        devices = [(a, n * build.nodes) for a, n in build.gpus]
        gpu_cap = sum(device_capacity_bytes(a)[0] * n for a, n in devices)
        n_dev = sum(n for _, n in devices)
        host = ram_bytes(build) or 0
        uses_host = engine.layer_split or engine.expert_offload or self.has_engram
        fp8 = fp8_kv_name(engine) if self.workload.kv_dtype is None else None
        kv_least = mem.kv_cache_bytes if fp8 is None else min(mem.kv_cache_bytes,
                                                              self._kv_bytes(fmt, engine, fp8))
        need = mem.weights_bytes + kv_least + n_dev * runtime_overhead_bytes(engine)
        have = gpu_cap + (host if uses_host else 0)
        if need > have:
            self.n_pruned += 1
            self._miss(build, fmt, engine, f"needs at least {need / GIB:,.1f} GiB, has {have / GIB:,.1f} GiB",
                       (need - have) / need, "memory", ram=uses_host)
            return "short"
        if lim.min_tps is not None and uses_host and host and not self.has_engram:
            bound, read = self.ram_bound(f, mem.weights_bytes - gpu_cap, ram_bandwidth(build))
            if bound < lim.min_tps:
                self.n_pruned += 1
                self._miss(build, fmt, engine, f"at most {bound:.3g} tok/s per user: {read / 1e9:,.1f} GB must be "
                           f"read from RAM per token < --min-tps {lim.min_tps:g}", 1 - bound / lim.min_tps, "speed",
                           ram=True)
                return "slow"
        cx = capex(build, self.cost_options)
        pw = power(build)
        if lim.budget_usd is not None:
            if cx.total_usd is None:
                self.n_pruned += 1
                self._miss(build, fmt, engine, f"no price for {', '.join(cx.missing)} (cannot check --budget)", 1.0,
                           "price")
                return "over"
            if cx.total_usd > lim.budget_usd:
                self.n_pruned += 1
                self._miss(build, fmt, engine, f"US${cx.total_usd:,.0f} > --budget US${lim.budget_usd:,.0f}",
                           cx.total_usd / lim.budget_usd - 1 if lim.budget_usd > 0 else 1.0, "budget")
                return "over"
        if lim.max_power_w is not None and (pw.total_w is None or pw.total_w > lim.max_power_w):
            self.n_pruned += 1
            text = "unknown" if pw.total_w is None else f"{pw.total_w:,.0f} W"
            self._miss(build, fmt, engine, f"power {text} > --max-power {lim.max_power_w:,.0f} W",
                       1.0 if pw.total_w is None or lim.max_power_w <= 0 else pw.total_w / lim.max_power_w - 1,
                       "power")
            return "over"
        hw = self.hardware(build)
        self.n_placed += 1
        result = f.place(hw)
        if result is None:
            return "short"
        layout, verdict, speed = result
        if fp8 is not None and (not verdict.fits or (lim.min_tps is not None and
                                                    speed.per_user_decode_tokens_per_s < lim.min_tps)):
            # an FP8 KV cache holds twice the sequences (and halves their KV reads): --kv-dtype searched
            f8 = self.fitter(fmt, engine, fp8)
            alt = f8.place(hw)
            if alt is not None and alt[1].fits and (not verdict.fits or alt[2].per_user_decode_tokens_per_s
                                                    > speed.per_user_decode_tokens_per_s):
                f, (layout, verdict, speed) = f8, alt
        if not verdict.fits:
            short = -min(u.free_bytes for u in verdict.usages)
            self._miss(build, fmt, engine, f"does not fit: {verdict.binding_constraint}",
                       short / max(mem.total_bytes, 1), "memory")
            return "short"
        nothing = almost_nothing_on_gpu(layout)
        if nothing is not None:
            self._miss(build, fmt, engine, nothing, 0.5, "speed", ram=True)
            return "slow"
        if lim.max_ttft_s and speed.ttft_s > lim.max_ttft_s:
            self._miss(build, fmt, engine, f"fits, but the first token of a {self.workload.context_tokens:,}-token "
                       f"prompt takes {speed.ttft_s:,.0f} s > --max-ttft {lim.max_ttft_s:,.0f} s",
                       speed.ttft_s / lim.max_ttft_s - 1, "ttft", ram=layout.offload != "none")
            return "slow"
        tps = speed.per_user_decode_tokens_per_s
        if lim.min_tps is not None and tps < lim.min_tps:
            self._miss(build, fmt, engine, f"fits, but {tps:.3g} tok/s per user < --min-tps {lim.min_tps:g}",
                       1 - tps / lim.min_tps, "speed")
            # whole layers one device after another, nothing in RAM: more of the same devices add memory,
            # not speed (every token still reads every layer at one device's bandwidth)
            sequential = layout.strategy in ("single", "layer_split", "unified") and layout.offload == "none"
            return "capped" if sequential and hw.is_homogeneous else "slow"
        self.placed.append(Placed(build, hw, fmt, engine, f, layout, verdict, speed, cx, pw,
                                  self.quality.get(fmt.id), self._order()))
        self._covered.add(machine)
        return "ok"

    # ----------------------------------------------------------------------------------- ladders

    def grow(self, acc: Accelerator, fmt: QuantFormat, engine: Engine, *, gpu_only: bool = True,
             offload: bool = True) -> None:
        """GPU-only counts (then nodes), and for offloading engines GPU + RAM, for one accelerator."""
        gpu_only_count = None
        outcome = ""
        for count, nodes in self._counts(acc, engine) if gpu_only else ():
            if (acc.id, count, nodes) in self.covered_by_system:
                continue  # a catalog system (DGX B200, Mac Studio) is that machine, with its own figures
            build = generic_build(((acc, count),), nodes)
            if build is None:
                continue
            outcome = self.attempt(build, fmt, engine)
            if outcome == "ok":
                gpu_only_count = count * nodes
                break
            if outcome in ("over", "capped"):
                break  # more GPUs only cost and draw more, or add no speed
        if outcome == "capped" or not offload or acc.unified_memory or not (engine.layer_split or engine.expert_offload):
            return  # (capped: offloading to RAM is slower still than a slow all-GPU layout)
        for count in _OFFLOAD_COUNTS:
            if gpu_only_count is not None and count >= gpu_only_count:
                break
            if self.offload(((acc, count),), fmt, engine) != "slow":
                break  # a second GPU only helps a configuration that fits but is too slow

    def offload(self, gpus: tuple[tuple[Accelerator, int], ...], fmt: QuantFormat, engine: Engine, *,
                owned: tuple[tuple[str, int], ...] = (), owned_ram_gb: float = 0.0) -> str:
        """GPUs + more host RAM: per host platform, the smallest RAM size that can hold the rest (a bigger
        size of the same platform has the same bandwidth). An owned machine keeps its platform."""
        count = sum(n for _, n in gpus)
        base = platform_for([a for a, _ in gpus], count, 0.0, catalog=self.catalog)
        if base is None:
            return "short"
        hosts = platforms(self.catalog)
        start = hosts.index(base)
        larger = [p for p in hosts[start:] if p.segment != "hgx" and count <= p.max_gpus]
        platforms_tried = [base] if owned else larger
        floor = owned_ram_gb if owned else float(base.included_ram_gb)
        outcome = "short"
        for platform in platforms_tried:
            for ram_gb in platform.ram_sizes_gb:
                if ram_gb <= floor:
                    continue
                build = Build(gpus, 1, float(ram_gb), None, platform, owned, owned_ram_gb, bool(owned))
                if not self._could_fit(build, fmt, engine):
                    continue
                outcome = self.attempt(build, fmt, engine)
                if outcome in ("ok", "over"):
                    return outcome  # a bigger platform only costs more
                break
        return outcome

    def _could_fit(self, build: Build, fmt: QuantFormat, engine: Engine) -> bool:
        mem = self.fitter(fmt, engine).memory
        assert mem is not None
        cap = sum(device_capacity_bytes(a)[0] * n for a, n in build.gpus) + (ram_bytes(build) or 0)
        return mem.weights_bytes + mem.kv_cache_bytes <= cap

    def _counts(self, acc: Accelerator, engine: Engine) -> Iterator[tuple[int, int]]:
        if acc.unified_memory:
            per_node = [1]
        else:
            per_node = list(_SPLIT_COUNTS if engine.layer_split else _TP_COUNTS)
            if acc.segment == "consumer":
                per_node = [c for c in per_node if c <= _CONSUMER_MAX]
        for c in per_node:
            yield c, 1
        multi = engine.multi_node and (acc.segment in _MULTI_NODE_SEGMENTS or (
            acc.unified_memory and acc.segment == "workstation"))  # Mac Studios, DGX Spark: not laptops
        if multi:
            for nodes in range(2, self.limits.max_nodes + 1):
                yield per_node[-1], nodes

    def system(self, sys_: System, fmt: QuantFormat, engine: Engine, *, owned: bool = False) -> str:
        gpus = tuple((self.catalog.accelerators[s.accelerator], s.count) for s in sys_.accelerators)
        accs = [a for a, _ in gpus]
        platform = platform_for(accs, sum(n for _, n in gpus), sys_.host_ram_gb, catalog=self.catalog)
        owned_gpus = tuple((a.id, n * sys_.nodes) for a, n in gpus) if owned else ()
        build = Build(gpus, sys_.nodes, sys_.host_ram_gb, sys_, platform, owned_gpus, sys_.host_ram_gb if owned else 0.0,
                      owned)
        return self.attempt(build, fmt, engine)


# Engines whose FP8 KV cache `recommend` tries when the default one does not fit or is too slow (the engine's own
# spelling, from engines.yaml kv_cache_dtypes).
_FP8_KV = ("fp8", "fp8_e4m3")


def fp8_kv_name(engine: Engine) -> str | None:
    names = {d.name for d in engine.kv_cache_dtypes}
    if not engine.tensor_parallel or engine.layer_split:
        return None  # llama.cpp's q8_0 KV is a different trade (dequantised attention): not searched here
    return next((n for n in _FP8_KV if n in names), None)
