"""Reference systems: machines with their accelerators, host RAM and links."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from sizer.schema.common import PricedEntry, StrictModel

__all__ = ["System", "SystemAccelerator"]


class SystemAccelerator(StrictModel):
    accelerator: str = Field(description="Accelerator id.")
    count: int = Field(ge=1, description="Devices per node.")


class System(PricedEntry):
    """A machine (or a cluster of identical machines) a model can run on."""

    kind: Literal["system"] = Field(default="system", description="Entry kind marker.")
    name: str = Field(description="Display name.")
    segment: Literal["datacenter", "workstation", "desktop", "laptop", "unified"] = Field(description="What it is.")
    accelerators: list[SystemAccelerator] = Field(min_length=1, description="Accelerators per node.")
    nodes: int = Field(default=1, ge=1, description="Identical nodes.")
    host_ram_gb: float = Field(ge=0, description="System RAM per node, GB (0 for unified-memory machines).")
    host_ram_bandwidth_gb_s: float = Field(gt=0, description="Peak system RAM bandwidth per node, GB/s.")
    cpu: str = Field(description="CPU(s).")
    cpu_sockets: int = Field(
        default=1,
        ge=1,
        description="CPU sockets (NUMA domains) per node; host_ram_bandwidth_gb_s sums them, which only "
        "NUMA-aware placement reaches.",
    )
    intra_node_link: Literal["nvlink", "infinity_fabric", "pcie", "unified", "hccs", "ethernet"] = Field(
        description="How the node's accelerators talk to each other."
    )
    intra_node_link_gb_s: float = Field(gt=0, description="Accelerator-to-accelerator bandwidth, bidirectional GB/s.")
    inter_node_link_gb_s: float | None = Field(
        default=None, gt=0, description="Network bandwidth per accelerator between nodes, per direction GB/s."
    )
    host_price_usd: float | None = Field(
        default=None, gt=0, description="Price of everything but the accelerators (chassis, CPUs, RAM), USD."
    )
    system_price_usd: float | None = Field(default=None, gt=0, description="List price of the whole system, USD.")
    host_power_w: float | None = Field(default=None, gt=0, description="Power of everything but the accelerators, W.")
    max_power_w: float | None = Field(default=None, gt=0, description="Maximum system power, W.")
    host: str | None = Field(
        default=None,
        description="Host platform id (hosts.yaml) the accelerators sit in: gives their PCIe link widths and the "
        "RAM type.",
    )

    _price_fields: ClassVar[tuple[str, ...]] = ("system_price_usd", "host_price_usd")
