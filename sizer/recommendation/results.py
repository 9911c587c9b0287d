"""The result contract of `recommend` and `plan`: field names are stable (add, never rename).

Sizes are integers in bytes, speeds tokens per second, money US dollars, power watts. Every
recommendation carries `fit_inputs`: the exact arguments of `sizer.fit()` (and of `sizer fit`)
that reproduce its placement and speed.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from sizer.sizing.results import ModelResult

__all__ = [
    "ConfigurationPoint",
    "CostResult",
    "FitInputs",
    "FrontPoint",
    "GpuLine",
    "LaunchCommand",
    "QualityLoss",
    "RecommendResult",
    "Recommendation",
    "Rejection",
    "SearchStats",
]


class _Result(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GpuLine(_Result):
    id: str = Field(description="Accelerator id.")
    name: str
    count: int = Field(description="Devices per node.")
    owned: int = Field(default=0, description="Devices of this kind the user already has (--have), all nodes.")


class FitInputs(_Result):
    """The arguments of `sizer.fit()` that reproduce this configuration."""

    model: str
    quant: str
    engine: str
    gpus: list[tuple[str, int]] = Field(default_factory=list, description="(accelerator id, count per node).")
    nodes: int = 1
    ram_bytes: int | None = None
    ram_bandwidth_gb_s: float | None = None
    system: str | None = None
    host: str | None = Field(default=None, description="Host platform id (PCIe slot widths, RAM type).")
    context_tokens: int
    users: int


class QualityLoss(_Result):
    mean_kld: float | None = Field(description="Mean KL divergence vs the 16-bit model; None when unpublished.")
    measured_on: str | None = Field(default=None, description="Model and data the figure was measured on.")
    source: str | None = None
    basis: str = Field(description="Where the figure comes from, in words.")


class CostResult(_Result):
    capex_usd: float | None = Field(description="Capital cost (owned parts at 0); None when a price is unknown.")
    gpus_usd: float | None = None
    host_usd: float | None = None
    ram_usd: float = 0.0
    power_w: float | None = Field(default=None, description="Accelerator TDP x count + host, watts.")
    pue: float = 1.0
    energy_usd_per_year: float | None = None
    years: float = 3.0
    tco_usd: float | None = Field(default=None, description="Capital cost + energy over `years`.")
    usd_per_million_tokens: float | None = Field(
        default=None, description="(TCO / years) / generated tokens a year at the aggregate decode throughput."
    )
    missing_prices: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    rent_usd_per_hour: float | None = Field(
        default=None, description="Renting the same GPUs in a cloud: USD per hour for all of them (cheapest dated "
        "rate per GPU); None when a GPU has no cloud rate in the catalog."
    )
    rent_usd: float | None = Field(
        default=None, description="Renting over the same `years` at the same utilisation (hours generating)."
    )
    rent_notes: list[str] = Field(default_factory=list, description="Which rate, provider, date and source.")


class LaunchCommand(_Result):
    engine: str
    command: str = Field(description="Shell lines to start a server with this layout.")
    notes: list[str] = Field(default_factory=list)


class FrontPoint(_Result):
    """The same machine and engine with a smaller, faster format (the per-machine quality/speed front)."""

    quant: str
    quant_name: str
    per_user_decode_tokens_per_s: float
    ttft_s: float
    mean_kld: float | None = None
    max_context: int = 0
    offload: str = "none"


class Recommendation(_Result):
    rank: int
    summary: str = Field(description="'Q4_K_M on 1x RTX 4090 + 256 GB RAM (llama.cpp)'.")
    hardware: str
    system: str | None = None
    gpus: list[GpuLine]
    nodes: int = 1
    ram_bytes: int | None = None
    quant: str
    quant_name: str
    engine: str
    placement: str = Field(description="How the model is laid out, in words.")
    offload: str = Field(description="none | experts | layers | unified")
    tensor_parallel: int = 1
    pipeline_parallel: int = 1
    fits: bool
    headroom_bytes: int = Field(description="Free bytes on the tightest device at the requested workload.")
    binding_constraint: str
    max_context: int
    max_concurrency: float
    decode_tokens_per_s: float = Field(description="One sequence alone.")
    per_user_decode_tokens_per_s: float = Field(description="Each of --users sequences decoding together.")
    aggregate_decode_tokens_per_s: float
    prefill_tokens_per_s: float
    ttft_s: float
    quality: QualityLoss
    cost: CostResult
    uses_owned: bool = False
    tags: list[str] = Field(default_factory=list, description="cheapest, fastest, lowest loss, uses owned hardware.")
    faster_formats: list[FrontPoint] = Field(
        default_factory=list,
        description="The same machine with smaller formats that decode at least 15% faster (quality/speed front).",
    )
    launch: list[LaunchCommand] = Field(default_factory=list)
    fit_inputs: FitInputs
    fit_command: str = Field(default="", description="The `sizer fit` command that reproduces this row.")
    warnings: list[str] = Field(default_factory=list)
    assumptions: list[str] = Field(default_factory=list)


class Rejection(_Result):
    hardware: str
    quant: str
    engine: str
    reason: str
    kind: str = Field(default="", description="speed | budget | power | quality | memory | price")


class ConfigurationPoint(_Result):
    """One configuration that fits and meets every constraint: where it sits on price and speed (for charts)."""

    summary: str
    hardware: str
    quant: str
    engine: str
    capex_usd: float | None = Field(description="Capital cost; None when a price is unknown.")
    per_user_decode_tokens_per_s: float
    mean_kld: float | None = Field(default=None, description="Mean KL divergence vs 16-bit; None when unpublished.")
    pareto: bool = Field(description="Not dominated on price, per-user speed and quality loss.")
    rank: int | None = Field(default=None, description="Its rank among `recommendations` when shown there.")


class SearchStats(_Result):
    candidates: int = Field(description="Hardware x quant x engine combinations considered.")
    placed: int = Field(description="Combinations placed by the fit core.")
    pruned: int = Field(description="Skipped before placement (memory, budget, power, quality, platform).")
    fitting: int = Field(description="Placed combinations that fit and meet every constraint.")
    pareto: int = Field(description="Of those, not dominated on price, per-user speed and quality loss.")
    seconds: float


class RecommendResult(_Result):
    model: ModelResult
    context_tokens: int
    users: int
    constraints: dict[str, object] = Field(default_factory=dict, description="The constraints as applied.")
    recommendations: list[Recommendation] = Field(default_factory=list)
    rejected: list[Rejection] = Field(default_factory=list, description="The closest alternatives left out, and why.")
    search: SearchStats
    configurations: list[ConfigurationPoint] = Field(
        default_factory=list, description="Every configuration that fits and meets every constraint, cheapest first "
        "(the points of the price / speed chart).")
    warnings: list[str] = Field(default_factory=list)
    assumptions: list[str] = Field(default_factory=list)
