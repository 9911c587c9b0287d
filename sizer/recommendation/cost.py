"""Price, power and total cost of ownership of one machine (or cluster) a model runs on.

Capital cost = accelerators (catalog `price_usd` x count; parts the user owns cost 0) + the host:
a catalog system's `system_price_usd` / `host_price_usd` where the machine is a reference system,
otherwise the host platform's price without RAM (`gpu_catalog/hosts.yaml`: chassis, CPUs, board,
power supplies, storage) plus every GB of RAM it carries (at least its smallest build) at the host
type's dated DRAM price. Power = accelerator `tdp_w` x count + the host's draw (a system's
`host_power_w` / `max_power_w`, else the platform's). Yearly energy = power x PUE x hours busy x
$/kWh; cost per million tokens = (capital cost / years + yearly energy) / tokens a year at the
aggregate decode throughput. Renting = the build's GPUs x the cheapest dated cloud rate per GPU-hour
(`gpu_catalog/clouds.yaml`) x the same hours.

Overlay price lists (`--catalog prices.yaml` overriding `price_usd`, `host_price_usd`,
`system_price_usd`) take precedence because they change the catalog this module reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from sizer.catalog.loading import Catalog, load_catalog
from sizer.schema import Accelerator, CloudPrice, Host, System
from sizer.schema.common import date_key

__all__ = [
    "DEFAULT_USD_PER_KWH",
    "DEFAULT_YEARS",
    "ELECTRICITY_SOURCE",
    "PUE_SOURCE",
    "Build",
    "Capex",
    "CostOptions",
    "HostPlatform",
    "Power",
    "Tco",
    "capex",
    "default_pue",
    "platform_for",
    "platforms",
    "Rental",
    "cheapest_rate",
    "rental",
    "power",
    "tco",
]

# US average retail electricity price to commercial customers, 2024: about 13 cents/kWh
# (EIA Electric Power Monthly, table 5.3; residential ~16.5, industrial ~8 cents).
DEFAULT_USD_PER_KWH = 0.13
ELECTRICITY_SOURCE = "https://www.eia.gov/electricity/monthly/epm_table_grapher.php?t=epmt_5_03"
# Industry-average annual PUE 1.56 (Uptime Institute global survey 2024; hyperscale sites report
# ~1.1, e.g. Google's fleet 1.10). Desks and homes have no facility overhead: PUE 1.0.
DATACENTER_PUE = 1.56
PUE_SOURCE = "https://uptimeinstitute.com/resources/research-and-reports/uptime-institute-global-data-center-survey-results-2024"
DEFAULT_YEARS = 3.0
HOURS_PER_YEAR = 8760.0


HostPlatform = Host  # a host platform entry of the catalog (gpu_catalog/hosts.yaml)
_SEARCH_ORDER = ("desktop", "workstation", "server", "hgx")


@lru_cache(maxsize=8)
def platforms(catalog: Catalog) -> tuple[Host, ...]:
    """The host classes recommend builds new machines on (`in_search`), smallest first."""
    hosts = [h for h in catalog.hosts.values() if h.in_search]
    return tuple(sorted(hosts, key=lambda h: (_SEARCH_ORDER.index(h.segment), h.max_gpus, h.max_ram_gb)))


def platform_for(accelerators: Sequence[Accelerator], gpus_per_node: int, ram_gb: float = 0.0, *,
                 catalog: Catalog | None = None) -> Host | None:
    """The smallest host class that takes these GPUs and this much RAM; None for unified-memory chips
    (their catalog price is the whole machine's)."""
    if any(a.unified_memory for a in accelerators):
        return None
    hosts = platforms(catalog if catalog is not None else load_catalog())
    if any(a.max_per_node and a.max_per_node >= 4 and a.interconnect_gb_s and a.segment in ("datacenter", "cloud")
           and not (a.form_factor or "").lower().startswith("pcie") for a in accelerators):
        return next((h for h in hosts if h.segment == "hgx"), None)  # SXM / OAM modules on a baseboard
    datacenter = any(a.segment in ("datacenter", "cloud") for a in accelerators)
    for p in hosts:
        if p.segment == "hgx" or (datacenter and p.segment != "server"):
            continue
        if gpus_per_node <= p.max_gpus and ram_gb <= p.max_ram_gb:
            return p
    return None


@dataclass(frozen=True, slots=True)
class Build:
    """One candidate machine (per node x nodes) with what the user already owns."""

    gpus: tuple[tuple[Accelerator, int], ...]  # accelerators per node
    nodes: int = 1
    ram_gb: float = 0.0  # host RAM per node (0: none modelled; unified chips)
    system: System | None = None
    platform: HostPlatform | None = None
    owned_gpus: tuple[tuple[str, int], ...] = ()  # accelerator id -> devices owned (all nodes)
    owned_ram_gb: float = 0.0
    owns_host: bool = False  # the machine the owned GPUs sit in (or the owned system)

    @property
    def gpu_count(self) -> int:
        return sum(n for _, n in self.gpus) * self.nodes


@dataclass(frozen=True, slots=True)
class CostOptions:
    years: float = DEFAULT_YEARS
    pue: float | None = None  # None: the platform's default
    usd_per_kwh: float = DEFAULT_USD_PER_KWH
    utilization: float = 1.0  # fraction of the year the machine is generating
    host_price_usd: float | None = None  # per node, replaces the platform estimate (without RAM)
    ram_usd_per_gb: float | None = None
    as_of: str | None = None  # YYYY-MM-DD: cloud rates observed by then; None: every rate


@dataclass(frozen=True, slots=True)
class Capex:
    gpus_usd: float | None  # None: a price is missing from the catalog
    host_usd: float | None
    ram_usd: float
    total_usd: float | None
    missing: tuple[str, ...]  # what has no price
    notes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Power:
    gpus_w: float | None
    host_w: float | None
    total_w: float | None
    notes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Tco:
    years: float
    pue: float
    energy_kwh_per_year: float | None
    energy_usd_per_year: float | None
    tco_usd: float | None
    tokens_per_year: float
    usd_per_million_tokens: float | None


def capex(build: Build, options: CostOptions = CostOptions()) -> Capex:
    """Capital cost of `build`; owned accelerators, RAM and host cost nothing.

    A reference system's `system_price_usd` covers the whole system (every node); its
    `host_price_usd` covers everything but the accelerators. Other machines get the host platform's
    estimate per node plus RAM beyond what the platform ships with."""
    owned = dict(build.owned_gpus)
    sys_ = build.system
    if sys_ is not None and sys_.system_price_usd is not None and not build.owns_host and not owned:
        return Capex(None, None, 0.0, sys_.system_price_usd, (),
                     (f"{sys_.name}: system price US${sys_.system_price_usd:,.0f} (catalog)",))
    missing: list[str] = []
    notes: list[str] = []
    gpus_usd = 0.0
    for acc, per_node in build.gpus:
        buy = max(per_node * build.nodes - owned.get(acc.id, 0), 0)
        if not buy:
            continue
        if acc.price_usd is None:
            missing.append(acc.name)
            continue
        gpus_usd += buy * acc.price_usd
        if acc.price_is_estimate:
            notes.append(f"{acc.name} US${acc.price_usd:,.0f} is a reported street price (estimate)")
    host_usd: float | None = 0.0
    p = build.platform
    if build.owns_host:
        notes.append("host already owned (US$0)")
    elif sys_ is not None and sys_.host_price_usd is not None:
        host_usd = sys_.host_price_usd
        notes.append(f"{sys_.name}: host US${sys_.host_price_usd:,.0f} (catalog)")
    elif options.host_price_usd is not None and p is not None:
        host_usd = options.host_price_usd * build.nodes
        notes.append(f"host US${options.host_price_usd:,.0f} per node (--host-price)")
    elif p is not None and p.price_usd is not None:
        host_usd = p.price_usd * build.nodes
        kind = "estimate" if p.price_is_estimate else "catalog"
        notes.append(f"host: {p.name} without RAM, US${p.price_usd:,.0f} per node ({kind}, {p.price_date})")
    elif p is not None:
        host_usd = None
        missing.append(f"{p.name} (host)")
    elif sys_ is not None:
        host_usd = None
        missing.append(f"{sys_.name} (host)")
    ram_usd = 0.0
    estimated_host = sys_ is None or (sys_.host_price_usd is None and not build.owns_host)
    if p is not None and estimated_host and build.ram_gb:
        per_gb = options.ram_usd_per_gb if options.ram_usd_per_gb is not None else p.ram_usd_per_gb
        base = build.owned_ram_gb
        buy_gb = (build.ram_gb if build.owns_host else max(build.ram_gb, p.included_ram_gb)) - base
        buy_gb = max(buy_gb, 0.0) * build.nodes
        if buy_gb and per_gb is None:
            missing.append(f"{p.name} (RAM)")
        elif buy_gb and per_gb is not None:
            ram_usd = buy_gb * per_gb
            dated = "--ram-price" if options.ram_usd_per_gb is not None else (
                f"{p.memory_type} price of {p.ram_price_date}, {p.figure_sources.get('ram_usd_per_gb', '')}")
            notes.append(f"{buy_gb:,.0f} GB {p.memory_type} RAM at US${per_gb:g}/GB ({dated})")
    total = None if missing else gpus_usd + (host_usd or 0.0) + ram_usd
    gpus = None if any(m for m in missing if not m.endswith(("(host)", "(RAM)"))) else gpus_usd
    return Capex(gpus, host_usd, ram_usd, total, tuple(missing), tuple(notes))


def power(build: Build) -> Power:
    """Power under load: accelerator TDP x count plus the host, or a reference system's maximum."""
    sys_ = build.system
    gpus_w: float | None = 0.0
    for acc, per_node in build.gpus:
        if acc.tdp_w is None:
            gpus_w = None
            break
        gpus_w += acc.tdp_w * per_node * build.nodes  # type: ignore[operator]
    if sys_ is not None and sys_.host_power_w is None and sys_.max_power_w is not None:
        return Power(None, None, sys_.max_power_w, (f"{sys_.name}: maximum system power {sys_.max_power_w:,.0f} W (catalog)",))
    host_w: float | None
    if sys_ is not None and sys_.host_power_w is not None:
        host_w = sys_.host_power_w
    elif build.platform is not None:
        host_w = build.platform.host_power_w * build.nodes
    elif sys_ is not None and sys_.segment != "unified":
        host_w = None
    else:
        host_w = 0.0  # unified-memory machine: the package TDP covers CPU and GPU
    total_w = None if gpus_w is None or host_w is None else gpus_w + host_w
    notes: tuple[str, ...] = () if total_w is not None else ("power unknown: no TDP or system power in the catalog",)
    p = build.platform
    if total_w is not None and p is not None and p.circuit_w is not None and total_w / build.nodes > p.circuit_w:
        notes += (f"{total_w / build.nodes:,.0f} W per machine is more than one {p.circuit_w:,.0f} W wall circuit "
                  "carries continuously (US 15 A / 120 V at 80 %): two circuits or a 240 V circuit",)
    return Power(gpus_w, host_w, total_w, notes)


def tco(capex_usd: float | None, power_w: float | None, aggregate_tokens_per_s: float, pue: float,
        options: CostOptions = CostOptions()) -> Tco:
    """Total cost of ownership over `options.years` and cost per million generated tokens."""
    pue = options.pue if options.pue is not None else pue
    busy_hours = HOURS_PER_YEAR * options.utilization
    kwh = None if power_w is None else power_w / 1000 * pue * busy_hours
    energy = None if kwh is None else kwh * options.usd_per_kwh
    total = None if capex_usd is None or energy is None else capex_usd + energy * options.years
    tokens = aggregate_tokens_per_s * 3600 * busy_hours
    per_m = None if total is None or tokens <= 0 else (total / options.years) / (tokens / 1e6)
    return Tco(options.years, pue, kwh, energy, total, tokens, per_m)


def default_pue(build: Build) -> float:
    if build.platform is not None:
        return build.platform.pue
    if build.system is not None and build.system.segment == "datacenter":
        return DATACENTER_PUE
    return 1.0


@dataclass(frozen=True, slots=True)
class Rental:
    """Renting the same GPUs in a cloud for the same period instead of buying them."""

    usd_per_hour: float | None  # every GPU of the build, per hour
    hours: float  # hours rented: years x 8760 x utilization (billed only while generating)
    total_usd: float | None
    offers: tuple[CloudPrice, ...]  # the rate used for each accelerator
    missing: tuple[str, ...]  # accelerators with no dated cloud rate


def cheapest_rate(catalog: Catalog, accelerator_id: str, as_of: str | None = None) -> CloudPrice | None:
    """The cheapest on-demand rate for an accelerator observed by `as_of` (a spot rate only when no on-demand
    rate is in the catalog)."""
    rows = [c for c in catalog.cloud_prices.values() if c.accelerator == accelerator_id
            and (as_of is None or date_key(c.price_date) <= date_key(as_of))]
    on_demand = [c for c in rows if c.pricing == "on_demand"] or rows
    return min(on_demand, key=lambda c: (c.usd_per_gpu_hour, c.id), default=None)


def rental(build: Build, catalog: Catalog, options: CostOptions = CostOptions()) -> Rental:
    """What renting every GPU of `build` costs over `options.years` at `options.utilization`.

    Per GPU-hour rates come from the catalog's dated cloud prices (gpu_catalog/clouds.yaml); the host, RAM,
    storage, egress and the provider's minimum commitments are not added (cloud rates include the host)."""
    hours = options.years * HOURS_PER_YEAR * options.utilization
    per_hour = 0.0
    offers: list[CloudPrice] = []
    missing: list[str] = []
    for acc, per_node in build.gpus:
        offer = cheapest_rate(catalog, acc.id, options.as_of)
        if offer is None or acc.unified_memory:
            missing.append(acc.name)
            continue
        per_hour += offer.usd_per_gpu_hour * per_node * build.nodes
        offers.append(offer)
    if missing or not offers:
        return Rental(None, hours, None, tuple(offers), tuple(missing))
    return Rental(per_hour, hours, per_hour * hours, tuple(offers), ())
