"""`recommend`: what to buy (or use) to run a model at a context, for a number of users, at a speed.

    recommend("deepseek-v3", Constraints(context_tokens=32768, min_tps=10, budget_usd=400_000))

enumerate (catalog accelerators x counts x nodes, host RAM for offload, reference systems, what the
user owns) x quant formats x engines -> place each with the fit core (`Fitter`, see
`sizer.recommendation.search`) -> keep what fits and meets the constraints -> Pareto front over price,
per-user decode speed and quality loss -> one row per machine (its lowest-loss format) -> rank.
Quality loss is the format's published mean KL divergence (`QuantFormat.quality`; the model it was
measured on is stated); 16-bit formats and the model's native checkpoint count as 0, formats
without a figure as unknown (comparable only with other unknowns, rejected by --max-quality-loss).
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date

from sizer.catalog.loading import Catalog, load_catalog
from sizer.errors import BadValueError, UnknownNameError, suggest
from sizer.memory.breakdown import Workload
from sizer.model.reference import RawCounts, ResolvedModel, resolve_model
from sizer.quant.assignment import resolve_quant
from sizer.recommendation.cost import DEFAULT_USD_PER_KWH, ELECTRICITY_SOURCE, PUE_SOURCE, CostOptions
from sizer.recommendation.expert import default_max_ttft_s, ttft_assumption
from sizer.recommendation.front import machine_front
from sizer.recommendation.quality import format_rank, is_16bit, quality_loss
from sizer.recommendation.ranking import build_results, pareto_front, select
from sizer.recommendation.records import Miss, SearchLimits
from sizer.recommendation.results import RecommendResult, SearchStats
from sizer.recommendation.search import Search
from sizer.recommendation.space import Space, build_tasks, resolve_have
from sizer.recommendation.workers import default_workers, run_tasks
from sizer.schema import Engine, QuantFormat
from sizer.sizing.fitter import DEFAULT_CONTEXT_TOKENS
from sizer.sizing.quant_names import expand_quant_names

__all__ = ["DEFAULT_MIN_TPS", "DEFAULT_QUANTS", "SORTS", "Constraints", "recommend"]

# spread: what the user owns, the cheapest, the fastest, the most accurate and a spread over the price range,
# shown cheapest first; the others sort the whole front by one key.
SORTS = ("spread", "price", "speed", "quality", "cost-per-token")

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")  # --as-of
# Formats tried unless --quant says otherwise (plain names follow `resolves_to`; `native` is the model's
# own checkpoint). 2-bit and lower GGUF types lose a lot (mean KLD > 0.3 on Llama-3-8B): ask for them.
DEFAULT_QUANTS = ("native", "bf16", "fp8", "q8_0", "q6_k", "q5_k_m", "q4_k_m", "iq4_xs", "q3_k_m", "int4", "fp4",
                  "mxfp4", "mlx-8bit", "mlx-4bit")
# Below this a chat is unusable (people read ~5 words, ~6-7 tokens, a second); None or 0 drops the floor.
DEFAULT_MIN_TPS = 2.0


@dataclass(frozen=True)
class Constraints:
    context_tokens: int | None = None  # tokens per sequence; None: fit's default (8192)
    users: int = 1  # concurrent sequences
    min_tps: float | None = DEFAULT_MIN_TPS  # per-user decode tokens/s
    max_ttft_s: float | None = None  # time to first token of a full-context prompt; None: the default, 0: any
    budget_usd: float | None = None
    vendors: tuple[str, ...] = ()
    max_gpus: int | None = None
    max_power_w: float | None = None
    quants: tuple[str, ...] = ()  # () = DEFAULT_QUANTS; ("all",): see sizer.sizing.quant_names
    engines: tuple[str, ...] = ()
    max_quality_loss: float | None = None  # mean KLD
    have: tuple[tuple[str, int], ...] = ()  # accelerators or systems owned, NAME -> count
    have_ram_bytes: int | None = None
    top: int = 10
    sort: str = "spread"  # see SORTS
    max_nodes: int = 4
    include_systems: bool = True
    workers: int | None = None  # processes for the search; None: 2 for large models on a multi-core machine
    as_of: str | None = None  # YYYY-MM-DD: only what could be bought new then; None: today
    host: str | None = None  # build new machines on this catalog host platform only


def _formats(names: Sequence[str], model: ResolvedModel, catalog: Catalog) -> list[QuantFormat]:
    names = expand_quant_names(names, catalog)
    out: dict[str, QuantFormat] = {}
    native = resolve_quant("native", model.entry, catalog) if model.entry is not None else None
    for name in names or DEFAULT_QUANTS:
        try:
            fmt = resolve_quant(name, model.entry, catalog)
        except (UnknownNameError, BadValueError):
            if names:
                raise
            continue  # a default the catalog lacks (or a model without a native format)
        if fmt.format_kind == "native" and (model.entry is None or model.entry.native_quant != fmt.id):
            continue  # another model's mixed checkpoint
        if not names and native is not None and is_16bit(fmt) and not is_16bit(native):
            continue  # by default no upcast of an 8- or 4-bit release: same quality, twice the memory
        out.setdefault(fmt.id, fmt)
    if not names and native is not None:  # the native checkpoint converted as is for GGUF engines (MXFP4_MOE)
        for engine in catalog.engines.values():
            target = engine.converted_formats.get(native.id)
            if target is not None and target in catalog.quants:
                out.setdefault(target, catalog.quants[target])
    return list(out.values())


def _engines(catalog: Catalog, names: Sequence[str]) -> list[Engine]:
    return [catalog.engine(n) for n in names] if names else list(catalog.engines.values())


def recommend(
    model: str | RawCounts,
    constraints: Constraints | None = None,
    cost_options: CostOptions | None = None,
    *,
    catalog: Catalog | None = None,
) -> RecommendResult:
    """Search the catalog for hardware that runs `model` under `constraints`; see the module docstring."""
    start = time.perf_counter()
    catalog = catalog or load_catalog()
    c = constraints or Constraints()
    cost_options = cost_options or CostOptions()
    if c.users < 1 or c.top < 1 or c.max_nodes < 1:
        raise BadValueError("--users, --top and the node limit must be at least 1")
    if c.sort not in SORTS:
        raise BadValueError(f"--sort must be one of {', '.join(SORTS)}, not {c.sort!r}")
    as_of = c.as_of or date.today().isoformat()
    if not _DATE.match(as_of):
        raise BadValueError(f"--as-of {as_of!r}: give a date as YYYY-MM-DD")
    cost_options = replace(cost_options, as_of=cost_options.as_of or as_of)
    if c.host is not None:
        only = catalog.host(c.host)
        hosts = {i: h.model_copy(update={"in_search": i == only.id}) for i, h in catalog.hosts.items()}
        catalog = replace(catalog, hosts=hosts, _indexes={})
    resolved = resolve_model(model, catalog)
    context = c.context_tokens or min(DEFAULT_CONTEXT_TOKENS, resolved.arch.max_position_embeddings)
    workload = Workload(context, c.users)
    max_ttft = default_max_ttft_s(context) if c.max_ttft_s is None else (c.max_ttft_s or None)
    formats = _formats(c.quants, resolved, catalog)
    quality = {f.id: quality_loss(f, resolved, catalog)[0] for f in formats}
    search = Search(resolved, catalog, workload,
                    SearchLimits(c.min_tps or None, c.budget_usd, c.max_gpus, c.max_power_w, c.max_nodes,
                                 max_ttft),
                    cost_options, quality)
    kept = []
    for f in formats:
        q = quality[f.id]
        if c.max_quality_loss is not None and (q is None or q > c.max_quality_loss):
            search.misses.append(_quality_miss(f, c.max_quality_loss, q))
            continue
        kept.append(f)
    kept.sort(key=lambda f: format_rank(f, quality[f.id], catalog))
    pool = _engines(catalog, c.engines)
    vendors = frozenset(v.lower() for v in c.vendors)
    known_vendors = {a.vendor.lower() for a in catalog.accelerators.values()}
    for v in sorted(vendors - known_vendors):
        raise UnknownNameError("vendor", v, suggest(v, sorted(known_vendors)) or sorted(known_vendors))
    owned, owned_systems = resolve_have(catalog, c.have)
    on_sale = replace(catalog, systems={i: s for i, s in catalog.systems.items() if s.purchasable(as_of)}, _indexes={})
    space = Space(on_sale, tuple(a for a in catalog.accelerators.values()
                                 if (not vendors or a.vendor.lower() in vendors) and a.purchasable(as_of)
                                 and a.segment != "laptop"),  # a laptop GPU is not bought alone
                  tuple(pool), bool(c.engines), owned, owned_systems,
                  c.have_ram_bytes / 1e9 if c.have_ram_bytes else None, c.users, c.max_power_w is not None,
                  c.include_systems, vendors)
    tasks, n_dominated = build_tasks(kept, space, search)
    search.n_pruned += n_dominated * len(kept)
    workers = c.workers if c.workers is not None else default_workers(resolved.total_params)
    run_tasks(search, tasks, workers, {f.id: f for f in kept}, {e.id: e for e in pool})
    front = [search.placed[i] for i in pareto_front([(p.price, p.per_user_tps, p.kld) for p in search.placed])]
    chosen = select(front, c.sort, c.top, cost_options)
    stats = SearchStats(candidates=search.n_candidates + n_dominated * len(kept),
                        placed=search.n_placed, pruned=search.n_pruned, fitting=len(search.placed),
                        pareto=len(front), seconds=0.0)
    assumptions = _assumptions(c, context, kept, pool, cost_options, bool(c.engines))
    left_out = sorted({a.name for a in catalog.accelerators.values() if not a.purchasable(as_of)}
                      | {s.name for s in catalog.systems.values() if not s.purchasable(as_of)})
    assumptions.append(f"as of {as_of}: only hardware on sale then (--as-of; prices are the catalog's latest, each "
                       "with its own date); not offered: "
                       + (", ".join(left_out) if left_out else "none"))
    assumptions.insert(1, ttft_assumption(context, max_ttft, c.max_ttft_s is not None))
    result = build_results(model if isinstance(model, str) else resolved.id, resolved, search, chosen, c, context,
                         cost_options, stats, start, assumptions)
    recs = [r.model_copy(update={"faster_formats": machine_front(p, kept, search)})
            for r, p in zip(result.recommendations, chosen, strict=True)]
    return result.model_copy(update={"recommendations": recs})


def _quality_miss(fmt: QuantFormat, limit: float, q: float | None) -> Miss:
    if q is None:
        return Miss("any hardware", fmt.name, "any", f"no published mean KLD, so --max-quality-loss {limit:g} cannot "
                    "be checked", 1.0, "quality")
    return Miss("any hardware", fmt.name, "any", f"mean KLD {q:g} > --max-quality-loss {limit:g}",
                q / max(limit, 1e-9) - 1, "quality")


def _assumptions(c: Constraints, context: int, formats: Sequence[QuantFormat], pool: Sequence[Engine],
                 cost: CostOptions, engines_chosen: bool) -> list[str]:
    out = []
    if c.context_tokens is None:
        out.append(f"context {context:,} tokens per sequence (default; set --context)")
    if c.min_tps == DEFAULT_MIN_TPS:
        out.append(f"at least {DEFAULT_MIN_TPS:g} tokens/s per user (default floor; --min-tps 0 for any speed)")
    out.append("each machine is shown with the most accurate format that fits it at the required speed; machines "
               "are ranked on the Pareto front of price, per-user speed and quality loss")
    out.append("formats tried: " + ", ".join(f.name for f in formats)
               + ("" if c.quants else " (defaults; --quant NAME or --quant all for more)"))
    if not engines_chosen:
        out.append("engines: vLLM for checkpoint formats, llama.cpp for GGUF (GPU + RAM offload), MLX on Macs, "
                   "KTransformers (routed experts in RAM) on NVIDIA desk cards where it loads the format; SGLang / "
                   "TensorRT-LLM / Ollama only for formats those do not load (--engine to choose); a build whose GPUs "
                   "hold under a tenth of the layers counts as CPU-only and is left out")
    else:
        out.append("engines: " + ", ".join(e.name for e in pool))
    out.append("GPU counts grow 1, 2, 4, 8 per node (llama.cpp also 3 and 6; consumer cards up to 4), then whole "
               f"nodes (data-center parts and Mac Studio / DGX Spark class machines, up to {c.max_nodes}), and stop at "
               "the first count that fits at the required speed; GPU + RAM offload tries, per vendor, the cards no "
               "cheaper card matches in memory and bandwidth, with the smallest RAM of each host class that holds "
               "the rest")
    if not c.quants:
        out.append("models released in 8 or 4 bits are not upcast to 16 bits by default")
    out.append("quality loss: published mean KL divergence of the format vs 16-bit, measured on the model named "
               "(often Llama-3-8B; larger and MoE models usually lose less); unknown formats are not ranked against "
               "known ones")
    pue = "1.0 for desks and workstations, 1.56 in data centers" if cost.pue is None else f"{cost.pue:g}"
    out.append(f"power: accelerator TDP x count + host; PUE {pue} ({PUE_SOURCE}); electricity "
               f"US${cost.usd_per_kwh:g}/kWh"
               + (f" (US commercial average, {ELECTRICITY_SOURCE})" if cost.usd_per_kwh == DEFAULT_USD_PER_KWH else "")
               + f"; {cost.utilization:.0%} utilisation; idle power not counted")
    out.append("host prices are sizer estimates from component street prices, without RAM; RAM is priced per GB "
               "from the dated DRAM price of the host's memory type (see each row's cost notes); override with "
               "--host-price / --ram-price or a price-list overlay (--catalog)")
    return out
