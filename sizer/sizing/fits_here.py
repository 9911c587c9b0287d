"""`sizer models list --fits-here`: what runs on this machine, with the best quant for each model.

"Best" is the highest-quality format that fits, trying formats from 16-bit down to a quality floor
(Q3_K_M by default, the lowest GGUF type `recommend` tries unasked; `floor="iq1_m"` goes down to 1.75 bits
per weight); each try is a full `fit` (same core, same rules). The hardware is this machine's
(`--fits-here`) or one being considered (`--gpu`, `--ram`).
"""

from __future__ import annotations

from dataclasses import dataclass

from sizer.catalog.loading import Catalog
from sizer.errors import BadValueError, SizerError
from sizer.sizing.fitter import fit
from sizer.sizing.quant_names import DEFAULT_FLOOR, QUALITY_ORDER, quality_ladder

__all__ = ["DEFAULT_FLOOR", "QUALITY_ORDER", "ModelFit", "best_fits"]

_MIN_BITS = 1.75  # IQ1_M: nothing smaller is tried
_BITS_AT_LEAST = {"q3_k_m": 3.4, "iq3_xxs": 3.0, "q2_k": 2.6, "iq2_xxs": 2.0, "iq1_m": _MIN_BITS}


@dataclass(frozen=True)
class ModelFit:
    model_id: str
    name: str
    total_params: int
    quant: str
    weights_bytes: int
    decode_tokens_per_s: float | None
    max_context: int | None
    offload: str


def best_fits(catalog: Catalog, *, gpus: tuple[tuple[str, int], ...], ram_bytes: int | None,
              context_tokens: int | None = None, users: int = 1, floor: str = DEFAULT_FLOOR, ram_type: str | None = None,
              host: str | None = None) -> list[ModelFit]:
    """For every catalog model, the best-quality llama.cpp format down to `floor` that fits the hardware."""
    if floor not in QUALITY_ORDER:
        raise BadValueError(f"quality floor {floor!r}: one of {', '.join(QUALITY_ORDER)}")
    order = quality_ladder(floor)
    min_bits = _BITS_AT_LEAST.get(floor, 4.0)
    capacity = (ram_bytes or 0) + sum(
        int(catalog.accelerator(name).memory_gib_usable * 2**30) * count for name, count in gpus)
    rows: list[ModelFit] = []
    for entry in catalog.models.values():
        if entry.total_params.value * min_bits / 8 > capacity:
            continue
        for quant in order:
            try:
                r = fit(entry.id, quant=quant, gpus=gpus, ram_bytes=ram_bytes, context_tokens=context_tokens,
                        users=users, engine="llama.cpp", catalog=catalog, ram_type=ram_type, host=host,
                        suggest=False)
            except SizerError:
                continue  # e.g. a format whose block size the model's rows do not divide
            if r.fits:
                rows.append(ModelFit(entry.id, entry.name, r.model.total_params, r.quant_name,
                                     r.memory.model_weights_bytes,
                                     r.performance.decode_tokens_per_s if r.performance else None,
                                     r.max_context, r.offload))
                break
    rows.sort(key=lambda m: -m.total_params)
    return rows
