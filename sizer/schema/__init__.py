"""Pydantic models of catalog entries (strict, frozen, units in field names)."""

from .accelerator import Accelerator, MemoryType, Throughput
from .calibration import CalibrationEntry
from .common import CatalogId, Entry, SourceUrl, StrictModel, canonicalize_name
from .engine import Engine, EngineDeviceTier, EngineLimit, KvCacheDtype
from .model import Architecture, ModelEntry, OfficialCount
from .quant import QualityFigure, QuantFormat
from .system import System, SystemAccelerator

__all__ = [
    "Accelerator", "Architecture", "CalibrationEntry", "CatalogId", "Engine", "EngineDeviceTier", "EngineLimit",
    "Entry", "KvCacheDtype", "MemoryType",
    "ModelEntry", "OfficialCount", "QualityFigure", "QuantFormat", "SourceUrl", "StrictModel", "System",
    "SystemAccelerator", "Throughput", "canonicalize_name",
]
