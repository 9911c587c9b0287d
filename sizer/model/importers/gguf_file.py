"""Read the header of a GGUF file (or of every shard of a split GGUF): tensor types, shapes and bytes.

Why not ``gguf.GGUFReader``: it is the right tool for whole files, but not for sizing. It builds one
numpy view per array element, so a real tokenizer (150k tokens + 150k merges) takes ~14 s to parse;
and on hostile headers it loops: an array that claims 2**60 elements past the end of the file is
read as 2**60 empty views, without end. This module is a small bounded parser instead, driven by
gguf's own tables (``GGML_QUANT_SIZES``, the type enums, the key names) loaded from
``gguf/constants.py`` alone, without the ~0.5 s numpy import that ``import gguf`` costs.

Every count and length read from the file is checked against the bytes that are left before it is
used, so nothing is allocated or looped over in proportion to an untrusted number; every failure is a
``ModelFileError("<path>: ...")``. A 100 GB file is memory-mapped, and only its header pages are read.
"""

from __future__ import annotations

import importlib.util
import mmap
import os
import re
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from itertools import pairwise
from pathlib import Path
from types import MappingProxyType, ModuleType
from typing import Any

from sizer.errors import ModelFileError
from sizer.limits import open_regular

__all__ = [
    "GgufArray",
    "GgufFile",
    "GgufTensor",
    "gguf_constants",
    "join_shards",
    "parse_gguf_header",
    "read_gguf",
    "split_paths",
]

MAX_TENSORS = 1 << 20  # DeepSeek-V3 with stacked experts has ~1.2k; per-expert layouts ~100k
MAX_KV = 1 << 16
MAX_ARRAY = 1 << 24  # largest real arrays are tokenizer vocabularies and merges (< 1M)
MAX_KEY_BYTES = 1 << 16
MAX_NAME_BYTES = 1 << 12  # llama.cpp itself stops at GGML_MAX_NAME = 64
MAX_KEPT_STRING = 1 << 20  # longer string values (chat templates...) are skipped, kept as None
MAX_KEPT_ARRAY = 1 << 12  # longer arrays keep only their length
MAX_DIMS = 4  # GGML_MAX_DIMS
MAX_FETCHED_HEADER = 256 << 20  # a header read by ranged requests (remote files) stops past this
_MIN_KV_BYTES = 8 + 4 + 1  # empty key, type, smallest value
_MIN_TENSOR_INFO_BYTES = 8 + 4 + 4 + 8  # empty name, n_dims = 0, type, offset
_SCALARS = {
    "UINT8": "B",
    "INT8": "b",
    "UINT16": "H",
    "INT16": "h",
    "UINT32": "I",
    "INT32": "i",
    "FLOAT32": "f",
    "BOOL": "?",
    "UINT64": "Q",
    "INT64": "q",
    "FLOAT64": "d",
}
_SPLIT_RE = re.compile(r"^(?P<prefix>.+)-(?P<no>\d{5})-of-(?P<count>\d{5})\.gguf$")


@cache
def gguf_constants() -> ModuleType:
    """``gguf.constants``, executed on its own (it imports only ``enum``): ~30 ms instead of ~500 ms."""
    spec = importlib.util.find_spec("gguf")
    if spec is None or spec.origin is None:
        raise ModelFileError("reading GGUF files needs the gguf package: pip install gguf")
    path = Path(spec.origin).with_name("constants.py")
    file_spec = importlib.util.spec_from_file_location("sizer._gguf_constants", path)
    if file_spec is None or file_spec.loader is None:  # pragma: no cover - broken install
        raise ModelFileError(f"cannot load {path}")
    module = importlib.util.module_from_spec(file_spec)
    file_spec.loader.exec_module(module)
    return module


@dataclass(frozen=True, slots=True)
class GgufArray:
    """A metadata array: its item type and length; the values only when short and numeric."""

    item_type: str  # GGUFValueType name, e.g. "STRING", "INT32"
    length: int
    values: tuple[Any, ...] | None


@dataclass(frozen=True, slots=True)
class GgufTensor:
    """One tensor as the file stores it."""

    name: str
    ggml_type: str  # GGMLQuantizationType name: "Q4_K", "MXFP4", "F16", ...
    shape: tuple[int, ...]  # ggml order: ne0 (row length) first
    nbytes: int  # exact: elements / block size x bytes per block
    offset: int  # absolute byte offset of the data in its file


@dataclass(frozen=True, slots=True)
class GgufFile:
    """A GGUF model: all shards of a split file read and joined."""

    paths: tuple[str, ...]
    metadata: MappingProxyType[str, Any]  # of the first shard; arrays as GgufArray
    tensors: tuple[GgufTensor, ...]
    file_bytes: int  # sum of the shard sizes on disk


Fetch = Callable[[int, int], bytes]  # (start, end) -> the file's bytes [start, end)


class _Cursor:
    """Bounds-checked reads from a file's bytes: a memory map of the whole file, or a prefix that
    ``fetch`` extends on demand (ranged reads of a remote file), never past ``MAX_FETCHED_HEADER``."""

    __slots__ = ("buf", "fetch", "order", "path", "pos", "size")

    def __init__(self, buf: mmap.mmap | bytes, size: int, path: str, fetch: Fetch | None = None) -> None:
        self.buf, self.pos, self.size, self.path, self.order = buf, 0, size, path, "<"
        self.fetch = fetch

    def error(self, message: str) -> ModelFileError:
        return ModelFileError(f"{self.path}: {message}")

    def need(self, nbytes: int, what: str) -> None:
        if nbytes > self.size - self.pos:
            raise self.error(
                f"truncated or corrupt header: {what} needs {nbytes} bytes at offset {self.pos}, "
                f"the file has {self.size - self.pos} left"
            )
        if self.fetch is not None and self.pos + nbytes > len(self.buf):
            self.grow(self.pos + nbytes)

    def grow(self, end: int) -> None:
        """Fetch the bytes up to ``end`` at least (doubling what is held, to keep requests few)."""
        assert self.fetch is not None
        held = len(self.buf)
        end = min(self.size, max(end, 2 * held))
        if end > MAX_FETCHED_HEADER:
            raise self.error(f"header runs past {MAX_FETCHED_HEADER} bytes: not a plausible model header")
        more = self.fetch(held, end)
        if len(more) != end - held:
            raise self.error(f"asked for bytes [{held}, {end}), got {len(more)} bytes")
        self.buf = bytes(self.buf) + more

    def scalar(self, code: str, what: str) -> Any:
        width = struct.calcsize(code)
        self.need(width, what)
        (value,) = struct.unpack_from(self.order + code, self.buf, self.pos)
        self.pos += width
        return value

    def string(self, what: str, limit: int) -> str | None:
        """A length-prefixed UTF-8 string; None (skipped, not read) when longer than ``limit``."""
        length = self.scalar("Q", f"length of {what}")
        self.need(length, what)
        start = self.pos
        self.pos += length
        if length > limit:
            return None
        try:
            return bytes(self.buf[start : self.pos]).decode("utf-8")
        except UnicodeDecodeError:
            raise self.error(f"{what} at offset {start} is not valid UTF-8") from None

    def name(self, what: str, limit: int) -> str:
        start = self.pos
        text = self.string(what, limit)
        if text is None:
            raise self.error(f"{what} at offset {start} is longer than {limit} bytes")
        return text

    def skip_strings(self, count: int, what: str) -> None:
        self.need(8 * count, what)  # every string is at least its 8-byte length
        unpack, pos, left = struct.Struct(self.order + "Q").unpack_from, self.pos, count
        while left:
            try:
                while left:
                    pos += 8 + unpack(self.buf, pos)[0]
                    left -= 1
            except (struct.error, OverflowError):  # a length ran the offset past the bytes held (or 2**63)
                if self.fetch is None or pos + 8 > self.size or len(self.buf) >= self.size:
                    pos, left = self.size + 1, 0
                else:
                    self.grow(pos + 8)
        if pos > self.size:
            raise self.error(f"truncated or corrupt header: {what} runs past the end of the file")
        self.pos = pos


def _value(cur: _Cursor, vtype: int, key: str, names: dict[int, str]) -> Any:
    kind = names.get(vtype)
    if kind is None:
        raise cur.error(f"metadata {key!r} has unknown value type {vtype}")
    if kind in _SCALARS:
        return cur.scalar(_SCALARS[kind], f"value of {key!r}")
    if kind == "STRING":
        return cur.string(f"value of {key!r}", MAX_KEPT_STRING)
    # ARRAY
    item_code = cur.scalar("I", f"item type of {key!r}")
    item = names.get(item_code)
    length = cur.scalar("Q", f"length of {key!r}")
    if item is None or item == "ARRAY":
        raise cur.error(f"metadata {key!r} is an array of unsupported type {item or item_code}")
    if length > MAX_ARRAY:
        raise cur.error(f"metadata {key!r} claims {length} elements (limit {MAX_ARRAY})")
    if item == "STRING":
        cur.skip_strings(length, f"array {key!r}")
        return GgufArray(item, length, None)
    code = _SCALARS[item]
    nbytes = length * struct.calcsize(code)
    cur.need(nbytes, f"array {key!r}")
    values = None
    if length <= MAX_KEPT_ARRAY:
        values = struct.unpack_from(f"{cur.order}{length}{code}", cur.buf, cur.pos)
    cur.pos += nbytes
    return GgufArray(item, length, values)


def _parse(cur: _Cursor) -> tuple[dict[str, Any], list[GgufTensor]]:
    c = gguf_constants()
    value_names = {int(v): v.name for v in c.GGUFValueType}
    if cur.size >= 4:
        cur.need(4, "magic")
    if cur.size < 4 or bytes(cur.buf[0:4]) != b"GGUF":
        raise cur.error(f"not a GGUF file (magic {bytes(cur.buf[0:4])!r}, expected b'GGUF')")
    cur.pos = 4
    version = cur.scalar("I", "version")
    if version & 0xFFFF == 0:  # written on a big-endian machine
        cur.order, version = ">", int.from_bytes(version.to_bytes(4, "little"), "big")
    if version not in (2, 3):
        raise cur.error(f"unsupported GGUF version {version} (2 and 3 are supported)")
    n_tensors = cur.scalar("Q", "tensor count")
    n_kv = cur.scalar("Q", "metadata count")
    if n_tensors > MAX_TENSORS or n_kv > MAX_KV:
        raise cur.error(
            f"header claims {n_tensors} tensors and {n_kv} metadata entries: not a plausible model"
        )
    if n_tensors * _MIN_TENSOR_INFO_BYTES + n_kv * _MIN_KV_BYTES > cur.size - cur.pos:
        raise cur.error(
            f"header claims {n_tensors} tensors and {n_kv} metadata entries, more than the "
            f"{cur.size - cur.pos} bytes left in the file can hold"
        )
    metadata: dict[str, Any] = {}
    for _ in range(n_kv):
        key = cur.name("metadata key", MAX_KEY_BYTES)
        if key in metadata:
            raise cur.error(f"duplicate metadata key {key!r}")
        metadata[key] = _value(cur, cur.scalar("I", f"type of {key!r}"), key, value_names)
    infos: list[tuple[str, tuple[int, ...], int, int]] = []
    seen: set[str] = set()
    for _ in range(n_tensors):
        name = cur.name("tensor name", MAX_NAME_BYTES)
        if name in seen:
            raise cur.error(f"duplicate tensor name {name!r}")
        seen.add(name)
        n_dims = cur.scalar("I", f"dimension count of {name!r}")
        if n_dims > MAX_DIMS:
            raise cur.error(f"tensor {name!r} has {n_dims} dimensions (ggml allows {MAX_DIMS})")
        cur.need(8 * n_dims, f"shape of {name!r}")
        shape = struct.unpack_from(f"{cur.order}{n_dims}Q", cur.buf, cur.pos)
        cur.pos += 8 * n_dims
        infos.append(
            (name, shape, cur.scalar("I", f"type of {name!r}"), cur.scalar("Q", f"offset of {name!r}"))
        )
    alignment = metadata.get("general.alignment", c.GGUF_DEFAULT_ALIGNMENT)
    if not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1):
        raise cur.error(f"general.alignment {alignment!r} is not a power of two")
    data_start = -(-cur.pos // alignment) * alignment
    return metadata, _tensors(cur, infos, data_start, alignment)


def _tensors(
    cur: _Cursor, infos: list[tuple[str, tuple[int, ...], int, int]], data_start: int, alignment: int
) -> list[GgufTensor]:
    c = gguf_constants()
    types = {int(t): t for t in c.GGMLQuantizationType}
    tensors = []
    for name, shape, raw_type, offset in infos:
        qtype = types.get(raw_type)
        if qtype is None or qtype not in c.GGML_QUANT_SIZES:
            raise cur.error(f"tensor {name!r} has unknown ggml type {raw_type}")
        if any(d >= 1 << 63 for d in shape):
            raise cur.error(f"tensor {name!r} has a negative dimension: {shape}")
        block, type_bytes = c.GGML_QUANT_SIZES[qtype]
        if shape and shape[0] % block:
            raise cur.error(
                f"tensor {name!r} ({qtype.name}): row length {shape[0]} is not a multiple of {block}"
            )
        elements = 1
        for d in shape:
            elements *= d
        nbytes = elements // block * type_bytes
        if offset % alignment:
            raise cur.error(f"tensor {name!r}: data offset {offset} is not aligned to {alignment}")
        start = data_start + offset
        if start + nbytes > cur.size:
            raise cur.error(
                f"tensor {name!r}: data [{start}, {start + nbytes}) runs past the end of the file ({cur.size} bytes)"
            )
        tensors.append(GgufTensor(name, qtype.name, tuple(shape), nbytes, start))
    ordered = sorted(tensors, key=lambda t: t.offset)
    for before, after in pairwise(ordered):
        if before.offset + before.nbytes > after.offset:
            raise cur.error(f"tensors {before.name!r} and {after.name!r} overlap")
    return tensors


def _read_one(path: str) -> tuple[dict[str, Any], list[GgufTensor], int]:
    try:
        with os.fdopen(open_regular(path), "rb") as fh:  # a FIFO or device is refused, never waited on
            size = os.fstat(fh.fileno()).st_size
            if size < 24:
                raise ModelFileError(f"{path}: {size} bytes is too small for a GGUF file")
            with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
                metadata, tensors = _parse(_Cursor(buf, size, path))
    except OSError as exc:
        raise ModelFileError(f"{path}: {exc.strerror or exc}") from None
    return metadata, tensors, size


def split_paths(path: str) -> tuple[str, ...]:
    """All shards of ``name-0000i-of-0000n.gguf`` (checked to exist), or just ``path``."""
    match = _SPLIT_RE.match(os.path.basename(path))
    if match is None:
        return (path,)
    count = int(match["count"])
    if not 1 <= int(match["no"]) <= count:
        raise ModelFileError(f"{path}: shard number {match['no']} is outside 1..{count}")
    folder = os.path.dirname(path)
    paths = tuple(
        os.path.join(folder, f"{match['prefix']}-{i:05d}-of-{count:05d}.gguf") for i in range(1, count + 1)
    )
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        raise ModelFileError(
            f"{path}: split GGUF is missing {len(missing)} of {count} shards: {', '.join(missing[:3])}"
        )
    return paths


def parse_gguf_header(name: str, size: int, fetch: Fetch, first: bytes = b"") -> tuple[dict[str, Any], list[GgufTensor]]:
    """The header of a file of ``size`` bytes known only by ranged reads: ``first`` holds its first
    bytes (possibly none), ``fetch(start, end)`` returns more on demand. Same bounded parser and
    checks as a local file; nothing past the header is read."""
    if size < 24:
        raise ModelFileError(f"{name}: {size} bytes is too small for a GGUF file")
    return _parse(_Cursor(first[:size], size, name, fetch))


def join_shards(shards: Sequence[tuple[str, dict[str, Any], list[GgufTensor], int]]) -> GgufFile:
    """Join the headers of a split GGUF (name, metadata, tensors, size per shard, in order), checking
    split.no / split.count / split.tensors.count and that no tensor appears twice."""
    metadata: dict[str, Any] = {}
    tensors: list[GgufTensor] = []
    names: set[str] = set()
    file_bytes = 0
    for i, (shard, shard_meta, shard_tensors, size) in enumerate(shards):
        file_bytes += size
        if len(shards) > 1:
            declared = (shard_meta.get("split.no"), shard_meta.get("split.count"))
            if declared != (i, len(shards)):
                raise ModelFileError(
                    f"{shard}: split.no/split.count are {declared}, the file name says {(i, len(shards))}"
                )
        if i == 0:
            metadata = shard_meta
        for tensor in shard_tensors:
            if tensor.name in names:
                raise ModelFileError(f"{shard}: tensor {tensor.name!r} is also in an earlier shard")
            names.add(tensor.name)
        tensors.extend(shard_tensors)
    expected = metadata.get("split.tensors.count")
    paths = tuple(s[0] for s in shards)
    if len(paths) > 1 and expected is not None and expected != len(tensors):
        raise ModelFileError(f"{paths[0]}: split.tensors.count is {expected}, the shards hold {len(tensors)}")
    return GgufFile(paths, MappingProxyType(metadata), tuple(tensors), file_bytes)


def read_gguf(path: str | os.PathLike[str]) -> GgufFile:
    """Read a GGUF file's header; a split GGUF (any of its shards) is read whole and joined."""
    return join_shards([(shard, *_read_one(shard)) for shard in split_paths(os.fspath(path))])
