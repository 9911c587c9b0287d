"""Price, power and total cost of ownership of one machine (or cluster) a model runs on.

Capital cost = accelerators (catalog `price_usd` x count; parts the user owns cost 0) + the host:
a catalog system's `system_price_usd` / `host_price_usd` where the machine is a reference system,
otherwise a host platform estimate (chassis, CPUs, board, power supplies, storage and the RAM it
ships with) plus any extra RAM at a price per GB. Power = accelerator `tdp_w` x count + the host's
draw (a system's `host_power_w` / `max_power_w`, else the platform's). Yearly energy = power x PUE x
hours busy x $/kWh; cost per million tokens = (capital cost / years + yearly energy) / tokens a year
at the aggregate decode throughput.

Overlay price lists (`--catalog prices.yaml` overriding `price_usd`, `host_price_usd`,
`system_price_usd`) take precedence because they change the catalog this module reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sizer.schema import Accelerator, System

__all__ = [
    "DEFAULT_USD_PER_KWH",
    "DEFAULT_YEARS",
    "ELECTRICITY_SOURCE",
    "PLATFORMS",
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


@dataclass(frozen=True, slots=True)
class HostPlatform:
    """A class of host machine the GPUs go into, priced without its GPUs.

    Prices are sizer's own estimates from 2025 component street prices (no single page states them):
    override them with --host-price / --ram-price, or describe the machine as a catalog system
    with `host_price_usd` in an overlay. RAM bandwidth is the platform's peak from the hosts
    reference sheet (channels x DDR5 rate).
    """

    id: str
    name: str
    max_gpus: int  # accelerators one such host takes
    included_ram_gb: int  # RAM in the base price
    max_ram_gb: int
    ram_sizes_gb: tuple[int, ...]  # configurations offered for expert / layer offload
    ram_bandwidth_gb_s: float
    base_price_usd: float
    ram_usd_per_gb: float
    power_w: float  # host draw under load, GPUs excluded
    pue: float
    basis: str


PLATFORMS: tuple[HostPlatform, ...] = (
    HostPlatform(
        "desktop", "AM5 desktop (Ryzen 9000, 2x DDR5-5600)", 2, 64, 256, (64, 96, 128, 192, 256), 89.6,
        1800.0, 3.5, 250.0, 1.0,
        "estimate: Ryzen 9 9950X, X870 board, 1600 W PSU, case, 2 TB NVMe, 64 GB DDR5 ~US$1,800; DDR5 "
        "UDIMM ~US$3.5/GB; 250 W host draw (170 W CPU TDP + board, drives, fans)",
    ),
    HostPlatform(
        "workstation", "Threadripper PRO workstation (WRX90, 8x DDR5-5200)", 4, 128, 1024,
        (128, 256, 384, 512, 768, 1024), 332.8, 7000.0, 5.0, 450.0, 1.0,
        "estimate: Threadripper PRO 7965WX (US$2,649 launch MSRP), WRX90 board, two PSUs, case, 128 GB "
        "RDIMM ~US$7,000; DDR5 RDIMM ~US$5/GB; 450 W host draw (350 W CPU TDP + rest)",
    ),
    HostPlatform(
        "server", "1-socket EPYC 9004 GPU server (12x DDR5-4800)", 8, 256, 3072,
        (256, 512, 768, 1024, 1536, 2304, 3072), 460.8, 15000.0, 5.0, 600.0, DATACENTER_PUE,
        "estimate: EPYC 9354, SP5 board, 4U 8-GPU chassis with redundant PSUs, 256 GB RDIMM, NIC, storage "
        "~US$15,000; DDR5 RDIMM ~US$5/GB; 600 W host draw",
    ),
    HostPlatform(
        "hgx", "8-GPU HGX/OAM server (2 sockets, 16x DDR5-4800)", 8, 2048, 4096, (2048, 4096), 614.4,
        80000.0, 5.0, 4600.0, DATACENTER_PUE,
        "estimate: 2 CPUs, 2 TB DDR5, 8x 400G NICs, baseboard share, 10U chassis with 6 PSUs ~US$80,000 "
        "without GPUs; 4,600 W host draw as the catalog's DGX H100 (10.2 kW max - 8 x 700 W)",
    ),
)
_BY_ID = {p.id: p for p in PLATFORMS}


def platform_for(accelerators: Sequence[Accelerator], gpus_per_node: int, ram_gb: float = 0.0) -> HostPlatform | None:
    """The smallest host class that takes these GPUs and this much RAM; None for unified-memory chips
    (their catalog price is the whole machine's)."""
    if any(a.unified_memory for a in accelerators):
        return None
    if any(a.max_per_node and a.max_per_node >= 4 and a.interconnect_gb_s and a.segment in ("datacenter", "cloud")
           and not (a.form_factor or "").lower().startswith("pcie") for a in accelerators):
        return _BY_ID["hgx"]  # SXM / OAM modules on a baseboard
    datacenter = any(a.segment in ("datacenter", "cloud") for a in accelerators)
    for p in PLATFORMS[:3]:
        if datacenter and p.id != "server":
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
    host_price_usd: float | None = None  # per node, replaces the platform estimate
    ram_usd_per_gb: float | None = None


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
    elif p is not None:
        host_usd = p.base_price_usd * build.nodes
        notes.append(f"host: {p.name} with {p.included_ram_gb} GB RAM, US${p.base_price_usd:,.0f} per node "
                     f"({p.basis})")
    elif sys_ is not None:
        host_usd = None
        missing.append(f"{sys_.name} (host)")
    ram_usd = 0.0
    estimated_host = sys_ is None or (sys_.host_price_usd is None and not build.owns_host)
    if p is not None and estimated_host and build.ram_gb:
        per_gb = options.ram_usd_per_gb if options.ram_usd_per_gb is not None else p.ram_usd_per_gb
        base = build.owned_ram_gb if build.owns_host else max(build.owned_ram_gb, p.included_ram_gb)
        extra_gb = max(build.ram_gb - base, 0.0) * build.nodes
        if extra_gb:
            ram_usd = extra_gb * per_gb
            notes.append(f"{extra_gb:,.0f} GB RAM beyond the host's {base:,.0f} GB at US${per_gb:g}/GB")
    total = None if missing else gpus_usd + (host_usd or 0.0) + ram_usd
    gpus = None if any(m for m in missing if not m.endswith("(host)")) else gpus_usd
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
        host_w = build.platform.power_w * build.nodes
    elif sys_ is not None and sys_.segment != "unified":
        host_w = None
    else:
        host_w = 0.0  # unified-memory machine: the package TDP covers CPU and GPU
    total_w = None if gpus_w is None or host_w is None else gpus_w + host_w
    notes = () if total_w is not None else ("power unknown: no TDP or system power in the catalog",)
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
