"""Pydantic models of catalog entries (strict, frozen, units in field names)."""

from sizer.schema.accelerator import Accelerator, MemoryType, Throughput
from sizer.schema.calibration import CalibrationEntry
from sizer.schema.common import CatalogId, Entry, SourceUrl, StrictModel, canonicalize_name
from sizer.schema.engine import Engine, EngineDeviceTier, EngineLimit, KvCacheDtype
from sizer.schema.host import CloudPrice, GpuSlotLayout, Host
from sizer.schema.model import Architecture, Conversion, ModelEntry, OfficialCount
from sizer.schema.quant import QualityFigure, QuantFormat
from sizer.schema.system import System, SystemAccelerator

__all__ = [
    "Accelerator", "Architecture", "CalibrationEntry", "CatalogId", "CloudPrice", "Conversion", "GpuSlotLayout", "Host",
    "Engine", "EngineDeviceTier", "EngineLimit",
    "Entry", "KvCacheDtype", "MemoryType",
    "ModelEntry", "OfficialCount", "QualityFigure", "QuantFormat", "SourceUrl", "StrictModel", "System",
    "SystemAccelerator", "Throughput", "canonicalize_name",
]
