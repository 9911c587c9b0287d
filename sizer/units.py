"""Parse and format the quantities users type: token counts, parameter counts, memory sizes.

Pure functions. Parsers raise `BadValueError` (a `ValueError`) with a message that says what was
expected. Conventions:

- token counts are binary (`32k` = 32768, `1M` = 1048576), as context lengths are quoted;
- parameter counts are decimal (`37B` = 37e9, `1T` = 1e12), as vendors count them;
- memory sizes: `GB`/`TB`/`MB` are decimal, `GiB`/`TiB`/`MiB` binary, a bare number means GB.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from sizer.errors import BadValueError
from sizer.limits import MAX_CONTEXT_TOKENS, MAX_GPUS_PER_NODE, MAX_PARAMS

__all__ = [
    "GIB",
    "GpuSpec",
    "format_gib",
    "format_params",
    "format_tokens",
    "parse_gpu_spec",
    "parse_memory_bytes",
    "parse_param_count",
    "parse_token_count",
]

GIB = 2**30
MAX_MEMORY_BYTES = 2**60  # 1 EiB: far above any machine

_NUMBER = r"(\d+(?:\.\d*)?|\.\d+)(?:[eE]([+-]?\d+))?"
_QUANTITY = re.compile(rf"^\s*{_NUMBER}\s*([A-Za-z]*)\s*$")

_TOKEN_SUFFIX = {"": 1, "k": 2**10, "m": 2**20}
_PARAM_SUFFIX = {"": 1, "k": 10**3, "m": 10**6, "b": 10**9, "g": 10**9, "t": 10**12}
_MEMORY_SUFFIX = {
    "": 10**9,  # a bare number is GB
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
    "k": 10**3,
    "m": 10**6,
    "g": 10**9,
    "t": 10**12,
}


def _parse(text: str, suffixes: dict[str, int], what: str, example: str, maximum: int) -> int:
    if len(str(text)) > 100:
        raise BadValueError(f"{what} is {len(str(text))} characters long: not a number (examples: {example})")
    match = _QUANTITY.match(str(text))
    if not match:
        raise BadValueError(f"{what} {text!r} is not a number (examples: {example})")
    mantissa, exponent, suffix = match.groups()
    scale = suffixes.get(suffix.lower())
    if scale is None:
        allowed = ", ".join(s for s in suffixes if s)
        raise BadValueError(f"{what} {text!r} has an unknown unit {suffix!r} (allowed: {allowed})")
    try:
        value = float(f"{mantissa}e{exponent or 0}") * scale
    except OverflowError:
        value = math.inf
    if not math.isfinite(value) or value > maximum:
        raise BadValueError(f"{what} {text!r} is too large (at most {maximum:.3g})")
    if value <= 0:
        raise BadValueError(f"{what} {text!r} must be positive")
    rounded = round(value)
    if abs(value - rounded) > 1e-6 * max(1.0, value) or rounded < 1:
        raise BadValueError(f"{what} {text!r} is not a whole number ({value:g})")
    return int(rounded)


def parse_token_count(text: str) -> int:
    """`32k` -> 32768, `128K` -> 131072, `1M` -> 1048576, `32768` -> 32768."""
    return _parse(text, _TOKEN_SUFFIX, "token count", "32k, 128K, 1M, 32768", MAX_CONTEXT_TOKENS)


def parse_param_count(text: str) -> int:
    """`1T` -> 10**12, `37B` -> 37 * 10**9, `7.6e9` -> 7_600_000_000."""
    return _parse(text, _PARAM_SUFFIX, "parameter count", "1T, 37B, 7.6e9", MAX_PARAMS)


def parse_memory_bytes(text: str) -> int:
    """`768` (GB) / `768GB` -> 768 * 10**9, `512GiB` -> 512 * 2**30, `1.5TB` -> 1.5 * 10**12 bytes."""
    return _parse(text, _MEMORY_SUFFIX, "memory size", "768, 768GB, 512GiB, 1.5TB", MAX_MEMORY_BYTES)


def parse_ram_spec(text: str) -> tuple[int, str | None]:
    """`128GB` -> (bytes, None); `128GB:DDR4` / `128GB:ddr5` -> (bytes, "DDR4" / "DDR5")."""
    size, sep, kind = text.partition(":")
    if sep and kind.strip().upper() not in ("DDR4", "DDR5"):
        raise BadValueError(f"RAM type {kind.strip()!r}: give DDR4 or DDR5 (e.g. 128GB:DDR4)")
    return parse_memory_bytes(size), (kind.strip().upper() if sep else None)


def format_gib(size_bytes: float) -> str:
    """Bytes as GiB with one decimal: `85899345920` -> `80.0 GiB`."""
    return f"{size_bytes / GIB:.1f} GiB"


def format_tokens(tokens: int) -> str:
    """Exact binary multiples get a suffix (`32768` -> `32k`, `1048576` -> `1M`); anything else stays."""
    if tokens >= 2**20 and tokens % 2**20 == 0:
        return f"{tokens // 2**20}M"
    if tokens >= 2**10 and tokens % 2**10 == 0:
        return f"{tokens // 2**10}k"
    return str(tokens)


def format_params(params: int) -> str:
    """Parameter counts the way vendors print them: `671000000000` -> `671B`, `1.04e12` -> `1.04T`."""
    for scale, suffix in ((10**12, "T"), (10**9, "B"), (10**6, "M"), (10**3, "K")):
        if params >= scale * 0.9995:  # 999.9M prints as 1B, not 1e+03M
            return f"{params / scale:.3g}{suffix}" if params % scale else f"{params // scale}{suffix}"
    return str(params)


@dataclass(frozen=True, slots=True)
class GpuSpec:
    """`NAME[:COUNT]` as typed on the command line (the name is resolved against the catalog later)."""

    name: str
    count: int = 1


def parse_gpu_spec(text: str) -> GpuSpec:
    """`H100 SXM:8` -> GpuSpec("H100 SXM", 8); `rtx4090` -> GpuSpec("rtx4090", 1)."""
    name, sep, count_text = str(text).rpartition(":")
    if not sep:
        name, count_text = count_text, "1"
    name = name.strip()
    if not name:
        raise BadValueError(f"GPU {text!r} has no name (expected NAME[:COUNT], e.g. h100:8)")
    count_text = count_text.strip()
    if not count_text.isdigit() or len(count_text) > 9 or not 1 <= int(count_text) <= MAX_GPUS_PER_NODE:
        raise BadValueError(
            f"GPU count in {text[:80]!r} must be a whole number from 1 to {MAX_GPUS_PER_NODE} per node "
            "(expected NAME[:COUNT], e.g. h100:8; --nodes for more nodes)"
        )
    return GpuSpec(name, int(count_text))
