"""Read safetensors headers (one file, or an index and its shards): names, dtypes, shapes, exact bytes.

A careful bounded parse of the format (8-byte little-endian header length, JSON header, data) rather
than ``safetensors.safe_open``: the package's parser is bounded too (it rejects headers over 100 MB and
checks shapes against offsets), but its only entry points need a deep-learning framework, and
``framework="numpy"`` imports numpy (~0.2-0.3 s, the whole cold-CLI budget, and nothing else in sizer
needs numpy); it also hides ``data_offsets`` and needs a local file. For typical checkpoints this
parse takes a few ms; Rust is faster only on huge per-expert layouts (37k tensors in 118 shards:
safe_open ~55 ms + the numpy import, this parser ~170 ms). It applies the package's own rules (same
100 MB header limit, same dtype list, offsets contiguous and covering the data exactly, bytes =
elements x dtype bits / 8), and the tests check it against ``safe_open`` on every file they write.

Scale and index tensors are grouped with the weight they belong to, so a record's ``nbytes`` is what
the weight really costs: FP8 ``weight_scale_inv``/``weight_scale``/``input_scale``, GPTQ/AWQ
``qzeros``/``scales``/``g_idx``, compressed-tensors ``weight_zero_point``/``weight_g_idx``/
``weight_shape``, NVFP4 ``weight_scale_2``, gpt-oss MXFP4 ``*_scales`` beside ``*_blocks``, MLX
``scales``/``biases``, bitsandbytes ``SCB``/``weight.absmax``/``weight.quant_*``.
"""

from __future__ import annotations

import json
import os
import re
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from sizer.errors import ModelFileError
from sizer.limits import no_garbage_collection, open_regular, read_regular_file

__all__ = [
    "MAX_HEADER_BYTES",
    "StoredTensor",
    "WeightRecord",
    "group_scales",
    "header_length",
    "parse_file_header",
    "read_index",
    "read_safetensors",
]

MAX_HEADER_BYTES = 100_000_000  # safetensors' own MAX_HEADER_SIZE
MAX_INDEX_BYTES = 64 << 20
DTYPE_BITS = {
    "BOOL": 8,
    "F4": 4,
    "F6_E2M3": 6,
    "F6_E3M2": 6,
    "U8": 8,
    "I8": 8,
    "F8_E5M2": 8,
    "F8_E4M3": 8,
    "F8_E8M0": 8,
    "F8_E4M3FNUZ": 8,
    "F8_E5M2FNUZ": 8,
    "I16": 16,
    "U16": 16,
    "F16": 16,
    "BF16": 16,
    "I32": 32,
    "U32": 32,
    "F32": 32,
    "C64": 64,
    "F64": 64,
    "I64": 64,
    "U64": 64,
}


@dataclass(frozen=True, slots=True)
class StoredTensor:
    """One tensor as a safetensors header describes it (Hugging Face order: shape[-1] is in_features)."""

    name: str
    dtype: str  # safetensors dtype code: "BF16", "F8_E4M3", "U8", "I32", ...
    shape: tuple[int, ...]
    nbytes: int  # data_offsets[1] - data_offsets[0]


@dataclass(frozen=True, slots=True)
class WeightRecord:
    """A weight with the scale / zero-point / index tensors stored beside it."""

    name: str
    dtype: str
    shape: tuple[int, ...]  # storage shape of the main tensor
    nbytes: int  # main tensor + companions
    companions: tuple[StoredTensor, ...] = ()


def _error(path: str, message: str) -> ModelFileError:
    return ModelFileError(f"{path}: {message}")


def _entry(path: str, name: Any, info: Any, data_bytes: int = 1 << 64) -> tuple[StoredTensor, int, int]:
    if (
        type(info) is not dict
        or len(info) != 3
        or "dtype" not in info
        or "shape" not in info
        or "data_offsets" not in info
    ):
        raise _error(path, f"tensor {name!r}: expected keys dtype, shape, data_offsets")
    dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
    bits = DTYPE_BITS.get(dtype) if type(dtype) is str else None
    if bits is None:
        raise _error(path, f"tensor {name!r}: unknown dtype {dtype!r}")
    if type(shape) is not list:
        raise _error(path, f"tensor {name!r}: shape {shape!r} is not a list")
    for d in shape:
        if type(d) is not int or d < 0:
            raise _error(path, f"tensor {name!r}: shape {shape!r} is not a list of non-negative integers")
        bits *= d
        if bits > 8 * data_bytes:  # also stops the product from growing without bound
            raise _error(path, f"tensor {name!r}: shape {shape!r} needs more bytes than the file holds")
    if not (
        type(offsets) is list
        and len(offsets) == 2
        and type(offsets[0]) is int
        and type(offsets[1]) is int
        and 0 <= offsets[0] <= offsets[1]
    ):
        raise _error(path, f"tensor {name!r}: data_offsets {offsets!r} is not [begin, end] with begin <= end")
    if bits % 8 or bits // 8 != offsets[1] - offsets[0]:
        raise _error(
            path,
            f"tensor {name!r}: {dtype} {shape} needs {bits / 8:g} bytes, "
            f"data_offsets {offsets} hold {offsets[1] - offsets[0]}",
        )
    return StoredTensor(name, dtype, tuple(shape), bits // 8), offsets[0], offsets[1]


def parse_header(path: str, raw: bytes, data_bytes: int) -> tuple[StoredTensor, ...]:
    """Validate a JSON header whose data section holds ``data_bytes`` bytes."""
    try:
        with no_garbage_collection():
            header = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError, a 5000-digit integer
        raise _error(path, f"header is not valid JSON ({exc})") from None
    if not isinstance(header, dict):
        raise _error(path, f"header is a JSON {type(header).__name__}, not an object")
    metadata = header.pop("__metadata__", {})
    if type(metadata) is not dict or not all(type(v) is str for v in metadata.values()):
        raise _error(path, "__metadata__ is not an object of strings")
    spans = sorted(
        (_entry(path, name, info, data_bytes) for name, info in header.items()), key=itemgetter(1, 2)
    )
    end = 0
    for tensor, begin, stop in spans:
        if begin != end:
            raise _error(
                path,
                f"tensor {tensor.name!r} starts at data byte {begin}, expected {end} "
                "(tensors must be contiguous without overlap)",
            )
        end = stop
    if end != data_bytes:
        raise _error(path, f"tensors cover {end} data bytes, the file holds {data_bytes}")
    return tuple(t for t, _, _ in spans)


def read_safetensors(path: str | os.PathLike[str]) -> tuple[StoredTensor, ...]:
    """The tensors of one .safetensors file, in data order, from its header alone."""
    path = os.fspath(path)
    try:
        with os.fdopen(open_regular(path), "rb") as fh:  # a FIFO or device is refused, never waited on
            size = os.fstat(fh.fileno()).st_size
            if size < 8:
                raise _error(path, f"{size} bytes is too small for a safetensors file")
            length = header_length(path, fh.read(8), size)
            raw = fh.read(length)
    except OSError as exc:
        raise _error(path, exc.strerror or str(exc)) from None
    return parse_file_header(path, raw, size)


def header_length(path: str, first8: bytes, size: int) -> int:
    """The header length a file of ``size`` bytes declares in its first 8 bytes, checked."""
    if size < 8 or len(first8) < 8:
        raise _error(path, f"{size} bytes is too small for a safetensors file")
    (length,) = struct.unpack("<Q", first8[:8])
    if length > MAX_HEADER_BYTES:
        raise _error(path, f"header length {length} exceeds the {MAX_HEADER_BYTES}-byte limit")
    if length > size - 8:
        raise _error(path, f"header length {length} runs past the end of the file ({size} bytes)")
    return int(length)


def parse_file_header(path: str, raw: bytes, size: int) -> tuple[StoredTensor, ...]:
    """The tensors of a file of ``size`` bytes whose JSON header is ``raw`` (local or read by range)."""
    if not raw.startswith(b"{"):
        raise _error(path, "header does not start with '{'")
    return parse_header(path, raw, size - 8 - len(raw))


def read_index(path: str | os.PathLike[str]) -> tuple[tuple[StoredTensor, ...], tuple[str, ...]]:
    """Tensors of every shard a ``model.safetensors.index.json`` lists; returns (tensors, shard paths)."""
    path = os.fspath(path)
    index = read_json(path, MAX_INDEX_BYTES)
    weight_map = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(weight_map, dict) or not all(isinstance(v, str) for v in weight_map.values()):
        raise _error(path, "not a safetensors index: no weight_map object of tensor name -> shard file")
    folder = os.path.dirname(path)
    shards = sorted(set(weight_map.values()))
    bad = [s for s in shards if os.path.basename(s) != s or not s.endswith(".safetensors")]
    if bad:
        raise _error(
            path, f"weight_map names shard {bad[0]!r}, which is not a .safetensors file in this folder"
        )
    paths = tuple(os.path.join(folder, s) for s in shards)
    missing = [s for s, p in zip(shards, paths, strict=True) if not os.path.isfile(p)]
    if missing:
        raise _error(
            path, f"{len(missing)} shard(s) listed in the index are missing: {', '.join(missing[:3])}"
        )
    tensors: list[StoredTensor] = []
    held: dict[str, str] = {}
    for shard, shard_path in zip(shards, paths, strict=True):
        for tensor in read_safetensors(shard_path):
            if tensor.name in held:
                raise _error(shard_path, f"tensor {tensor.name!r} is also in {held[tensor.name]}")
            held[tensor.name] = shard
            tensors.append(tensor)
    for name, shard in weight_map.items():
        if held.get(name) != shard:
            raise _error(path, f"the index puts {name!r} in {shard}, but that shard does not hold it")
    return tuple(tensors), paths


def read_json(path: str, limit: int) -> Any:
    """A JSON file of at most ``limit`` bytes; errors as ``path:line:col: message``."""
    try:
        raw = read_regular_file(path, limit)
    except OSError as exc:
        raise _error(path, exc.strerror or str(exc)) from None
    try:
        with no_garbage_collection():
            return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"{path}:{exc.lineno}:{exc.colno}: {exc.msg}") from None
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError, a 5000-digit integer
        raise _error(path, f"not valid JSON ({exc})") from None


# companion suffix -> suffixes of the weight it belongs to, tried in order
_COMPANIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (".weight_scale_inv", (".weight",)),
    (".weight_scale_2", (".weight",)),
    (".weight_global_scale", (".weight", ".weight_packed")),
    (".weight_scale", (".weight", ".weight_packed")),
    (".weight_zero_point", (".weight_packed", ".weight")),
    (".weight_g_idx", (".weight_packed", ".weight")),
    (".weight_shape", (".weight_packed", ".weight")),
    (".input_scale", (".weight", ".weight_packed", ".qweight")),
    (".input_global_scale", (".weight", ".weight_packed")),
    (".qzeros", (".qweight",)),
    (".g_idx", (".qweight",)),
    (".scales", (".qweight", ".weight")),
    (".biases", (".weight",)),  # MLX affine quantization
    (".SCB", (".weight",)),
    ("_scales", ("_blocks",)),  # gpt-oss MXFP4
)
_BNB_STATE = re.compile(
    r"^(?P<base>.+\.weight)\.(absmax|quant_map|nested_absmax|nested_quant_map|quant_state\..+)$"
)
_SUFFIXES = tuple(s for s, _ in _COMPANIONS)


def _owner(name: str, names: set[str]) -> str | None:
    if name.endswith(_SUFFIXES):
        for suffix, owners in _COMPANIONS:
            if name.endswith(suffix):
                base = name[: -len(suffix)]
                return next((base + o for o in owners if base + o in names), None)
    if ".weight." in name:
        bnb = _BNB_STATE.match(name)
        if bnb is not None and bnb["base"] in names:
            return bnb["base"]
    return None


def group_scales(tensors: Iterable[StoredTensor]) -> tuple[WeightRecord, ...]:
    """Attach every scale / zero-point / index tensor to its weight; order of first appearance kept."""
    tensors = tuple(tensors)
    names = {t.name for t in tensors}
    companions: dict[str, list[StoredTensor]] = {}
    attached: set[str] = set()
    for t in tensors:
        if t.name.endswith(_SUFFIXES) or ".weight." in t.name:
            owner = _owner(t.name, names)
            if owner is not None:
                companions.setdefault(owner, []).append(t)
                attached.add(t.name)
    records = []
    for t in tensors:
        if t.name in attached:
            continue
        extra = companions.get(t.name)
        if extra is None:
            records.append(WeightRecord(t.name, t.dtype, t.shape, t.nbytes))
        else:
            records.append(
                WeightRecord(t.name, t.dtype, t.shape, t.nbytes + sum(c.nbytes for c in extra), tuple(extra))
            )
    return tuple(records)
