"""Accelerators: GPUs, NPUs and unified-memory chips."""

from __future__ import annotations

from enum import Enum
from typing import ClassVar, Literal

from pydantic import Field, model_validator

from sizer.schema.common import PricedEntry, StrictModel, date_key

__all__ = ["Accelerator", "MemoryType", "Throughput"]


class MemoryType(str, Enum):
    HBM2 = "HBM2"
    HBM2E = "HBM2e"
    HBM3 = "HBM3"
    HBM3E = "HBM3e"
    GDDR5 = "GDDR5"
    GDDR5X = "GDDR5X"
    GDDR6 = "GDDR6"
    GDDR6X = "GDDR6X"
    GDDR7 = "GDDR7"
    LPDDR4X = "LPDDR4X"
    LPDDR5 = "LPDDR5"
    LPDDR5X = "LPDDR5X"
    DDR5 = "DDR5"


# Peak bandwidth one device of each memory type can plausibly reach, GB/s: (min, max).
# Used by the cross-entry check "bandwidth plausible for the memory type".
MEMORY_TYPE_BANDWIDTH_GB_S: dict[MemoryType, tuple[float, float]] = {
    MemoryType.HBM2: (200, 1700),  # A100 40GB: 1,555 GB/s on five HBM2 stacks
    MemoryType.HBM2E: (400, 4000),  # Gaudi 3: 3,700 GB/s on eight HBM2e stacks
    MemoryType.HBM3: (800, 5400),
    MemoryType.HBM3E: (1000, 16000),
    MemoryType.GDDR5: (40, 600),
    MemoryType.GDDR5X: (200, 600),
    MemoryType.GDDR6: (100, 1100),
    MemoryType.GDDR6X: (400, 1200),
    MemoryType.GDDR7: (300, 2000),
    MemoryType.LPDDR4X: (30, 300),
    MemoryType.LPDDR5: (50, 900),
    MemoryType.LPDDR5X: (60, 1300),
    MemoryType.DDR5: (40, 1800),
}


class Throughput(StrictModel):
    """Peak tensor/matrix throughput at boost clock for one precision family.

    Floats in TFLOPS, integers in TOPS. A field is absent (null) when no figure was found.
    """

    fp32_tflops: float | None = Field(default=None, gt=0, description="Vector (non-tensor) FP32, TFLOPS.")
    tf32_tflops: float | None = Field(default=None, gt=0, description="TF32 tensor cores, TFLOPS.")
    fp16_tflops: float | None = Field(
        default=None, gt=0, description="FP16 tensor/matrix units with FP32 accumulate, TFLOPS."
    )
    bf16_tflops: float | None = Field(default=None, gt=0, description="BF16 tensor/matrix units, TFLOPS.")
    fp8_tflops: float | None = Field(default=None, gt=0, description="FP8 tensor/matrix units, TFLOPS.")
    fp6_tflops: float | None = Field(
        default=None,
        gt=0,
        description="FP6 (E2M3/E3M2, MXFP6) tensor units, TFLOPS (NVIDIA: the FP8 rate; MI355X: the FP4 rate).",
    )
    fp4_tflops: float | None = Field(default=None, gt=0, description="FP4 (NVFP4/MXFP4) tensor units, TFLOPS.")
    int8_tops: float | None = Field(default=None, gt=0, description="INT8 tensor/matrix units, TOPS.")
    int4_tops: float | None = Field(default=None, gt=0, description="INT4 tensor units, TOPS.")

    def figures(self) -> dict[str, float]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


class Accelerator(PricedEntry):
    """One accelerator (GPU, NPU, unified-memory SoC) as a device a model can be placed on."""

    kind: Literal["accelerator"] = Field(default="accelerator", description="Entry kind marker.")
    vendor: str = Field(description="Vendor name as it markets the part (NVIDIA, AMD, Apple, Intel, Huawei, Google).")
    name: str = Field(description="Marketing name, e.g. 'H100 SXM 80GB'.")
    segment: Literal["datacenter", "workstation", "consumer", "edge", "cloud", "laptop"] = Field(
        description="Market segment (laptop: a mobile GPU soldered in a notebook; its price is not the card's)."
    )
    architecture: str = Field(description="Micro-architecture and die, e.g. 'Hopper (GH100)'.")
    compute_capability: str | None = Field(
        default=None, description="CUDA compute capability (e.g. '9.0') for NVIDIA parts; decides kernel support."
    )
    form_factor: str | None = Field(default=None, description="SXM, PCIe, OAM, SoC, ...")
    launch_year: int = Field(ge=2010, le=2030, description="Year the part launched.")
    memory_gb_marketed: float = Field(gt=0, le=1e6, description="Capacity as the vendor markets it, decimal GB as printed.")
    memory_gib_usable: float = Field(
        gt=0,
        le=2**20,  # 1 PiB: far above any device or unified pool
        description="Capacity a runtime can allocate, GiB (2^30 bytes): driver-reported total where observed, "
        "otherwise an estimate stated in `usable_memory_basis`. For unified-memory chips: the whole pool "
        "(the GPU's share is a placement rule).",
    )
    usable_memory_basis: Literal["observed", "estimated"] = Field(
        description="Whether memory_gib_usable was read off a real device (observed) or estimated."
    )
    memory_type: MemoryType = Field(description="Memory technology.")
    memory_bandwidth_gb_s: float = Field(gt=0, le=1e6, description="Peak memory bandwidth, GB/s (10^9 bytes/s).")
    unified_memory: bool = Field(description="CPU and accelerator share one physical memory pool.")
    dense: Throughput = Field(description="Dense peak throughput. Never a 2:4-sparsity figure.")
    sparse: Throughput = Field(
        default_factory=Throughput, description="2:4-structured-sparsity peak throughput, where the vendor prints it."
    )
    derived_fields: list[str] = Field(
        default_factory=list,
        description="Dense fields we computed (halving a sparse-only figure, scaling by the vendor's ratios).",
    )
    native_formats: list[Literal["fp16", "bf16", "tf32", "fp8", "fp6", "fp4", "mxfp4", "nvfp4", "int8", "int4"]] = Field(
        description="Low-precision formats the matrix units run natively (others run weight-only, dequantized)."
    )
    tdp_w: float | None = Field(default=None, gt=0, le=1e5, description="Board power / TDP in watts.")
    tdp_w_min: float | None = Field(
        default=None, gt=0, description="Lowest configurable power (laptop GPUs: the TGP range's floor), W."
    )
    interconnect: str | None = Field(default=None, description="Scale-up link name (NVLink 4, Infinity Fabric, ...).")
    interconnect_gb_s: float | None = Field(
        default=None, gt=0, description="Scale-up bandwidth per device, bidirectional GB/s; null when PCIe only."
    )
    pcie_gen: int | None = Field(default=None, ge=1, le=7, description="PCIe generation of the host link.")
    pcie_lanes: int = Field(default=16, ge=1, le=16, description="PCIe lanes of the host link.")
    devices_per_package: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Devices the driver exposes per package (MI250X: 2 GCDs, A16: 4 GPUs, Ascend 910C: 2 dies). "
        "Memory, bandwidth and throughput figures are per package; each device gets an equal share, "
        "and a model must be sharded across them.",
    )
    max_per_node: int | None = Field(
        default=None, ge=1, le=1024, description="Devices in one vendor scale-up unit (HGX board = 8); null for PCIe cards."
    )
    price_usd: float | None = Field(default=None, gt=0, description="Price per device in USD (launch MSRP or street).")
    price_is_estimate: bool = Field(default=False, description="price_usd is a reported street/range figure, not a list price.")
    confidence: Literal["high", "medium", "low"] = Field(description="How well the figures are sourced.")

    _price_fields: ClassVar[tuple[str, ...]] = ("price_usd",)

    def purchasable(self, as_of: str) -> bool:
        """As `PricedEntry.purchasable`; without `available_from`, not before its launch year."""
        if self.available_from is None and date_key(as_of)[:4] < str(self.launch_year):
            return False
        return super().purchasable(as_of)

    def runs_natively(self, precision: str) -> bool:
        """Whether the matrix units run `precision` (a `native_formats` value) natively. FP4 is one family:
        generic FP4 units run NVFP4 and MXFP4, and a chip that lists NVFP4 or MXFP4 has FP4 units."""
        native = self.native_formats
        if precision in native:
            return True
        if precision in ("nvfp4", "mxfp4"):
            return "fp4" in native
        return precision == "fp4" and ("nvfp4" in native or "mxfp4" in native)

    @model_validator(mode="after")
    def _usable_not_above_marketed(self) -> Accelerator:
        marketed_gib = self.memory_gb_marketed * 1e9 / 2**30
        # A label of "80 GB" is often 80 GiB of physical memory, so allow the binary reading of the label.
        if self.memory_gib_usable > max(marketed_gib, self.memory_gb_marketed) * 1.0001:
            raise ValueError(
                f"memory_gib_usable {self.memory_gib_usable} exceeds the marketed {self.memory_gb_marketed} GB"
            )
        return self
