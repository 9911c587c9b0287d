"""Quality loss of a format for a model: its published mean KL divergence, 16-bit and native as reference."""

from __future__ import annotations

from sizer.catalog.loading import Catalog
from sizer.model.reference import ResolvedModel
from sizer.quant.assignment import resolve_quant
from sizer.schema import QuantFormat

__all__ = ["format_rank", "is_16bit", "quality_loss"]

_SIXTEEN_BIT = {"F16", "BF16", "F32", "FP16", "FP32"}


def quality_loss(fmt: QuantFormat, model: ResolvedModel, catalog: Catalog) -> tuple[float | None, str, str | None,
                                                                                 str | None]:
    """(mean KLD or None, basis in words, measured on, source) of a format for this model."""
    if model.entry is not None:
        native = resolve_quant("native", model.entry, catalog)
        if native.id == fmt.id:
            return 0.0, "the model's native checkpoint (reference)", None, None
        if any(e.converted_formats.get(native.id) == fmt.id for e in catalog.engines.values()):
            # the native checkpoint converted as is (gpt-oss MXFP4 experts -> GGUF MXFP4_MOE): the quantized
            # experts are unchanged, the other tensors become Q8_0, so Q8_0's figure bounds the loss
            q8 = catalog.quants.get("q8_0")
            kld = next((q for q in (q8.quality if q8 else []) if q.mean_kld is not None), None)
            if kld is not None:
                return (kld.mean_kld, f"native checkpoint converted as is ({native.name} experts kept, other tensors "
                        f"Q8_0: mean KLD of Q8_0, {kld.mean_kld:g}, measured on {kld.measured_on})", kld.measured_on,
                        kld.source)
    if is_16bit(fmt):
        return 0.0, "16-bit or wider weights (reference)", None, None
    for q in fmt.quality:
        if q.mean_kld is not None:
            return q.mean_kld, f"mean KLD {q.mean_kld:g} measured on {q.measured_on}", q.measured_on, q.source
    return None, "no published mean KLD for this format in the catalog", None, None


def format_rank(fmt: QuantFormat, loss: float | None, catalog: Catalog) -> tuple[int, float, float]:
    """Formats are tried most accurate first: known losses ascending (fewer bits first on a tie), then
    formats without a figure, more bits first."""
    bits = fmt.weight_bits or fmt.bits_per_weight
    if bits is None and fmt.base_ggml_type:
        base = catalog.quants.get(f"ggml-{fmt.base_ggml_type.lower()}")
        bits = base.bits_per_weight if base is not None else None
    bits = bits or 16.0
    return (0, loss, bits) if loss is not None else (1, 0.0, -bits)


def is_16bit(fmt: QuantFormat) -> bool:
    return fmt.format_kind == "float" or (fmt.base_ggml_type or fmt.name).upper() in _SIXTEEN_BIT
