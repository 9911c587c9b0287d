"""Host platforms (the machine GPUs go into) and cloud GPU rental prices."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from sizer.schema.common import DateText, Entry, PricedEntry, SourceUrl, StrictModel

__all__ = ["CloudPrice", "GpuSlotLayout", "Host", "pcie_gb_s_per_direction"]

# PCIe transfer rate per lane, GT/s, and line encoding (128b/130b for Gen 3-5; Gen 6 FLIT mode is
# quoted at 121 GB/s per direction for x16 after overhead). hosts reference sheet, interconnects.pcie:
# https://hpc-notes.pages.dev/reference/pcie
_PCIE_GT_S = {3: 8.0, 4: 16.0, 5: 32.0}
_PCIE_X16_GEN6_GB_S = 121.0


def pcie_gb_s_per_direction(gen: int, lanes: int) -> float:
    """Peak PCIe bandwidth per direction, GB/s: GT/s x lanes x 128/130 / 8 (Gen 3-5)."""
    if gen >= 6:
        return _PCIE_X16_GEN6_GB_S * lanes / 16
    rate = _PCIE_GT_S.get(gen, 2.5 * 2.0 ** max(gen - 1, 0))  # Gen 1: 2.5 GT/s, Gen 2: 5 (8b/10b ignored)
    return float(rate * lanes * 128 / 130 / 8)


class GpuSlotLayout(StrictModel):
    """How a host wires its GPU slots when it holds this many GPUs (electrical widths, not slot sizes)."""

    gpus: int = Field(ge=1, description="GPUs installed.")
    lanes: list[int] = Field(description="Electrical PCIe lanes each of those GPUs gets (x16, x8, x4), one per GPU.")
    pcie_gen: int | None = Field(default=None, ge=3, le=6, description="Generation of these slots, when not the host's.")

    @model_validator(mode="after")
    def _one_width_per_gpu(self) -> GpuSlotLayout:
        if len(self.lanes) != self.gpus:
            raise ValueError(f"lanes lists {len(self.lanes)} widths for {self.gpus} GPU(s)")
        if any(w not in (1, 2, 4, 8, 16) for w in self.lanes):
            raise ValueError("a PCIe link is x1, x2, x4, x8 or x16")
        return self


class Host(PricedEntry):
    """A host platform: CPU socket(s), memory channels and type, PCIe lanes and slots, power, price.

    RAM bandwidth is derived (sockets x channels x MT/s x 8 bytes), never typed in. `price_usd` is the
    host without GPUs and without RAM; RAM is priced per GB (`ram_usd_per_gb`, dated by
    `ram_price_date`), so a change in DRAM prices moves every build that carries RAM.
    """

    kind: Literal["host"] = Field(default="host", description="Entry kind marker.")
    name: str = Field(description="Display name.")
    segment: Literal["desktop", "workstation", "server", "hgx"] = Field(
        description="desktop (consumer socket), workstation (HEDT / Threadripper / Xeon W), server (GPU server "
        "with PCIe cards), hgx (baseboard of SXM / OAM modules)."
    )
    cpu: str = Field(description="Example CPU(s) the figures assume.")
    cpu_sockets: int = Field(default=1, ge=1, le=8, description="CPU sockets.")
    memory_type: Literal["DDR4", "DDR5"] = Field(description="DIMM generation the platform takes.")
    memory_speed_mt_s: int = Field(gt=0, description="Official DIMM speed at 1 DIMM per channel, MT/s.")
    memory_channels: int = Field(ge=1, description="64-bit memory channels per socket.")
    max_ram_gb: float = Field(gt=0, description="Most RAM the platform takes (all sockets), GB.")
    included_ram_gb: float = Field(ge=0, description="Smallest RAM a build of this host is priced with, GB.")
    ram_sizes_gb: list[float] = Field(
        default_factory=list, description="RAM sizes (every channel populated) the recommend search offers."
    )
    pcie_gen: int = Field(ge=3, le=6, description="PCIe generation of the CPU's lanes.")
    cpu_pcie_lanes: int = Field(ge=1, description="PCIe lanes from the CPU(s) (all sockets).")
    gpu_slots: list[GpuSlotLayout] = Field(
        min_length=1, description="Electrical width each GPU gets, per number of GPUs installed."
    )
    psu_w: float = Field(gt=0, description="Power supply capacity (sum of PSUs), W.")
    circuit_w: float | None = Field(
        default=None,
        gt=0,
        description="Continuous power one wall circuit of the intended site carries, W (a US 15 A / 120 V circuit: "
        "1,440 W at the 80 % continuous rule); null for data-center PDUs.",
    )
    host_power_w: float = Field(gt=0, description="Host draw under load without GPUs (CPU, board, drives, fans), W.")
    pue: float = Field(ge=1.0, description="Power usage effectiveness where such a host usually runs (desk: 1.0).")
    in_search: bool = Field(default=False, description="`recommend` builds new machines on this host class.")
    price_usd: float | None = Field(
        default=None, gt=0, description="Host without GPUs and without RAM (chassis, CPU, board, PSU, storage), USD."
    )
    price_is_estimate: bool = Field(
        default=False, description="price_usd is sizer's estimate from component prices, not a quoted price."
    )
    ram_usd_per_gb: float | None = Field(default=None, gt=0, description="RAM of this platform's type, USD per GB.")
    ram_price_date: DateText | None = Field(default=None, description="When ram_usd_per_gb was observed.")

    _price_fields: ClassVar[tuple[str, ...]] = ("price_usd",)

    @model_validator(mode="after")
    def _consistent(self) -> Host:
        if self.ram_usd_per_gb is not None and self.ram_price_date is None:
            raise ValueError("ram_usd_per_gb needs a ram_price_date (every price carries its date)")
        if self.ram_usd_per_gb is not None and "ram_usd_per_gb" not in self.figure_sources:
            raise ValueError("ram_usd_per_gb needs its source in figure_sources.ram_usd_per_gb")
        counts = [s.gpus for s in self.gpu_slots]
        if counts != sorted(set(counts)):
            raise ValueError("gpu_slots must be listed by growing GPU count, each count once")
        for layout in self.gpu_slots:
            if layout.pcie_gen is None and sum(layout.lanes) > self.cpu_pcie_lanes:
                raise ValueError(f"{layout.gpus} GPU(s) at x{'/x'.join(map(str, layout.lanes))} need "
                                 f"{sum(layout.lanes)} lanes; the CPU(s) have {self.cpu_pcie_lanes}")
        if self.included_ram_gb > self.max_ram_gb or any(r > self.max_ram_gb for r in self.ram_sizes_gb):
            raise ValueError(f"a RAM size is above max_ram_gb {self.max_ram_gb:g}")
        return self

    @property
    def ram_bandwidth_gb_s(self) -> float:
        """Peak RAM bandwidth, GB/s: sockets x channels x MT/s x 8 bytes."""
        return self.cpu_sockets * self.memory_channels * self.memory_speed_mt_s * 8 / 1000

    @property
    def max_gpus(self) -> int:
        return self.gpu_slots[-1].gpus

    @property
    def base_price_usd(self) -> float | None:
        return self.price_usd

    def slot_layout(self, gpus: int) -> GpuSlotLayout | None:
        """The wiring for `gpus` GPUs: the smallest layout that takes them (None: more than the host holds)."""
        return next((s for s in self.gpu_slots if s.gpus >= gpus), None)

    def link_gb_s_per_direction(self, gpus: int, index: int = 0, device_gen: int | None = None,
                                device_lanes: int = 16) -> float | None:
        """Per-direction PCIe bandwidth of GPU `index` when `gpus` GPUs are installed (narrowest of slot and card)."""
        layout = self.slot_layout(gpus)
        if layout is None:
            return None
        lanes = sorted(layout.lanes, reverse=True)[min(index, len(layout.lanes) - 1)]
        gen = min(layout.pcie_gen or self.pcie_gen, device_gen or 4)
        return pcie_gb_s_per_direction(gen, min(lanes, device_lanes))


class CloudPrice(Entry):
    """One provider's on-demand price for one GPU, per GPU-hour, with its date and source."""

    kind: Literal["cloud_price"] = Field(default="cloud_price", description="Entry kind marker.")
    accelerator: str = Field(description="Accelerator id the price is for.")
    provider: str = Field(description="Cloud provider.")
    usd_per_gpu_hour: float = Field(gt=0, description="Price per GPU per hour, USD.")
    price_date: DateText = Field(description="When the price was observed (YYYY-MM-DD or YYYY-MM).")
    price_source: SourceUrl = Field(description="Where the price is published or reported.")
    pricing: Literal["on_demand", "spot", "reserved"] = Field(
        default="on_demand", description="on_demand (no commitment), spot (preemptible) or reserved."
    )
