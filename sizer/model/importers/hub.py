"""Any model on the Hugging Face Hub, read header-only: safetensors repos and GGUF repos.

What crosses the wire: the repo listing (``HfApi.model_info`` with file sizes), ``config.json`` and
the safetensors index (``hf_hub_download``, so the Hub client's own cache keeps them), and the first
bytes of each weight file by HTTP range requests (``hf_hub_url`` + the client's HTTP session): the
8-byte length and JSON header of a safetensors shard, the header of a GGUF file, read on demand and
bounded. Never the weights. The headers are parsed by the same bounded parsers as local files
(``safetensors_file.parse_file_header``, ``gguf_file.parse_gguf_header``).

The client honours ``HF_ENDPOINT``, ``HF_TOKEN`` / ``hf auth login``, ``HF_HOME`` and
``HF_HUB_OFFLINE``. What was read is cached: the JSON files in the Hub client's cache, the listing and
the header bytes in sizer's own cache folder (``$XDG_CACHE_HOME/sizer/hub``, through
``sizer.catalog.yamlcache``: owner-checked, never through a link, each file checksummed). Header bytes are keyed by the
file's content hash (its LFS sha256), so they never go stale; the listing is keyed by repo and
revision. With the network gone or ``HF_HUB_OFFLINE=1``, a repo read once answers from there.

Every failure is a ``SizerError`` in one line: a gated repo or no network (``ModelFileError``,
exit 1), a missing repo or revision (``UnknownNameError``, exit 2), a repo without weights (exit 1),
a GGUF repo without a quant tag (exit 2, listing the quants it has with their sizes).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sizer.catalog import yamlcache
from sizer.errors import BadValueError, ModelFileError, UnknownNameError
from sizer.model.importers._imported import ImportedModel, from_gguf, from_safetensors
from sizer.model.importers._quant_hint import describe_quantization, quant_hint_from_tensors
from sizer.model.importers.gguf_file import GgufTensor, join_shards, parse_gguf_header
from sizer.model.importers.hf_config import HfConfig, architecture_from_config
from sizer.model.importers.hub_client import (
    MissingRepoError,
    NoNetworkError,
    endpoint,
    hf_home,
    hub_client,
    hub_errors,
    network_errors,
    no_network,
    offline,
)
from sizer.model.importers.safetensors_file import (
    MAX_INDEX_BYTES,
    StoredTensor,
    group_scales,
    header_length,
    parse_file_header,
    read_json,
)

__all__ = [
    "HubModel",
    "HubReference",
    "MissingRepoError",
    "NoNetworkError",
    "gguf_quant_label",
    "load_from_hub",
    "parse_hub_reference",
]

_REF = re.compile(
    r"^(?P<repo>[A-Za-z0-9][\w.\-]{0,95}/[A-Za-z0-9][\w.\-]{0,95})"
    r"(?:@(?P<rev>[\w.\-]{1,100}))?(?::(?P<tag>[\w.\-]{1,64}))?$"
)
_BLOB = re.compile(r"^[0-9a-f]{40,64}$")
_SPLIT = re.compile(r"-(?P<no>\d{5})-of-(?P<count>\d{5})\.gguf$", re.IGNORECASE)
_SHARD = re.compile(r"-\d{5}-of-\d{5}\.safetensors$")
# the quant label of a GGUF file name: the last name part that looks like a llama.cpp type / file type
_QUANT_LABEL = re.compile(
    r"(?:^|[-_.])(?P<label>(?:UD-)?(?:I?Q\d(?:_[A-Z0-9]+)*|TQ\d_\d|B?F16|F32|BF16|MXFP4(?:_MOE)?))$", re.IGNORECASE
)
FIRST_READ_BYTES = 64 << 10  # one range request covers most safetensors headers and starts a GGUF header
_CACHE_FORMAT = b"SZH1"
_MAX_LISTING_BYTES = 32 << 20
_CACHE_SUB = "hub"  # subfolder of sizer's cache folder
_THREADS = 8


@dataclass(frozen=True, slots=True)
class HubReference:
    """``org/name[@revision][:QUANT]`` as typed."""

    repo_id: str
    revision: str | None = None
    quant: str | None = None


def parse_hub_reference(text: str) -> HubReference | None:
    """A Hub repo reference, or None when ``text`` cannot be one (no ``org/name`` form)."""
    match = _REF.match(text.strip())
    if match is None or ".." in match["repo"] or "--" in match["repo"]:
        return None
    return HubReference(match["repo"], match["rev"], match["tag"])


@dataclass(frozen=True, slots=True)
class HubModel:
    """What a Hub repo's headers say, and how they were read."""

    imported: ImportedModel
    repo_id: str
    commit: str
    file_format: str  # "safetensors" | "gguf"
    files: tuple[str, ...]  # the weight files read
    checkpoint: str | None  # the quantization method in words ("compressed-tensors FP8 per-channel ...")
    notes: tuple[str, ...] = ()
    from_cache: bool = False
    url: str = ""


@dataclass(slots=True)
class _Listing:
    commit: str
    files: dict[str, tuple[int, str]]  # path -> (size, content hash)
    gated: bool = False
    from_cache: bool = False
    fetched: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------------------- the cache


def _cache_read(name: str, limit: int) -> bytes | None:
    """A file of the hub cache (sizer's own cache folder, `hub/`: link-safe, owner-checked, checksummed)."""
    data = yamlcache.read(name, sub=_CACHE_SUB)
    return data if data is not None and len(data) <= limit else None


def _cache_write(name: str, data: bytes) -> None:
    yamlcache.write(name, data, sub=_CACHE_SUB)  # a cache that cannot be written only costs a re-read


def _listing_name(repo: str, revision: str | None) -> str:
    key = f"{repo.lower()}@{revision or 'main'}"
    return "listing-" + hashlib.sha256(key.encode()).hexdigest()[:40] + ".json"


def _header_name(blob: str) -> str:
    return f"header-{blob}.bin"


# ------------------------------------------------------------------------------------------- reading


def _listing(repo: str, revision: str | None) -> _Listing:
    """The repo's files with sizes and content hashes at `revision`; from the cache when offline."""
    if not offline():
        network = network_errors()
        try:
            with hub_errors(repo, revision):
                hub = hub_client()  # a bounded wait: a network that drops packets must not hang sizer
                info = hub.HfApi().model_info(repo, revision=revision, files_metadata=True,
                                              timeout=hub.constants.HF_HUB_ETAG_TIMEOUT)
        except network:
            pass
        else:
            files: dict[str, tuple[int, str]] = {}
            for s in info.siblings or ():
                lfs = getattr(s, "lfs", None)
                blob = (lfs.sha256 if lfs is not None else None) or s.blob_id or ""
                files[s.rfilename] = (int(s.size or (lfs.size if lfs is not None else 0) or 0), str(blob))
            listing = _Listing(str(info.sha or revision or "main"), files, bool(info.gated))
            record: Any = {"repo": repo, "commit": listing.commit, "gated": listing.gated,
                      "files": {k: list(v) for k, v in files.items()}}
            _cache_write(_listing_name(repo, revision), json.dumps(record).encode())
            if revision is None or revision != listing.commit:
                _cache_write(_listing_name(repo, listing.commit), json.dumps(record).encode())
            return listing
    raw = _cache_read(_listing_name(repo, revision), _MAX_LISTING_BYTES)
    try:
        record = json.loads(raw) if raw else None
        files = {str(k): (int(v[0]), str(v[1])) for k, v in record["files"].items()}
        return _Listing(str(record["commit"]), files, bool(record.get("gated")), from_cache=True)
    except (TypeError, ValueError, KeyError, IndexError, AttributeError):
        raise no_network(repo, None) from None


def _download_json(repo: str, listing: _Listing, filename: str, limit: int) -> Any:
    """A small JSON file through hf_hub_download (the Hub cache keeps it); a copy in sizer's cache, keyed
    by the file's blob id, answers a re-read without importing the client."""
    blob = listing.files.get(filename, (0, ""))[1]
    name = f"json-{blob}.json" if _BLOB.match(blob) else None
    raw = _cache_read(name, limit) if name and listing.from_cache else None
    if raw is None:
        try:
            with hub_errors(repo, listing.commit):
                path = hub_client().hf_hub_download(repo, filename, revision=listing.commit)
        except network_errors():
            raise no_network(repo, None) from None
        value = read_json(path, limit)
        if name:
            _cache_write(name, json.dumps(value).encode())
        return value
    try:
        return json.loads(raw)
    except ValueError:
        raise ModelFileError(f"hf://{repo}/{filename}: cached copy is not valid JSON") from None


class _Ranged:
    """Ranged reads of one file, bounded, recording the bytes read (for the header cache)."""

    def __init__(self, repo: str, listing: _Listing, filename: str) -> None:
        self.repo, self.filename, self.commit = repo, filename, listing.commit
        self.size, self.blob = listing.files[filename]
        self.name = f"hf://{repo}/{filename}"
        self.held = b""

    def cached(self) -> bytes:
        if not _BLOB.match(self.blob):
            return b""
        raw = _cache_read(_header_name(self.blob), 1 << 30)
        if not raw or raw[:4] != _CACHE_FORMAT or int.from_bytes(raw[4:12], "little") != self.size:
            return b""
        self.held = raw[12:]
        return self.held

    def fetch(self, start: int, end: int) -> bytes:
        """Bytes [start, end) of the file: a stream read no further than asked."""
        if start != len(self.held):
            raise ModelFileError(f"{self.name}: non-contiguous read at {start}")
        if end <= start:
            return b""
        if offline():
            raise no_network(self.repo, None)
        hub = hub_client()
        get_session, hf_raise_for_status = hub.get_session, hub.hf_raise_for_status
        url = hub.hf_hub_url(self.repo, self.filename, revision=self.commit)
        headers = {**hub.utils.build_hf_headers(), "Range": f"bytes={start}-{end - 1}", "Accept-Encoding": "identity"}
        chunks, got = [], 0
        try:
            with hub_errors(self.repo, None), get_session().stream(
                "GET", url, headers=headers, timeout=hub.constants.HF_HUB_DOWNLOAD_TIMEOUT
            ) as response:
                if response.status_code >= 400:
                    response.read()
                    hf_raise_for_status(response)
                if response.status_code != 206 and start > 0:
                    raise ModelFileError(f"{self.name}: the server ignored the byte range (HTTP {response.status_code})")
                for chunk in response.iter_bytes():
                    chunks.append(chunk)
                    got += len(chunk)
                    if got >= end - start:
                        break
        except network_errors():
            raise no_network(self.repo, None) from None
        data = b"".join(chunks)[: end - start]
        self.held += data
        return data

    def store(self) -> None:
        if _BLOB.match(self.blob):
            _cache_write(_header_name(self.blob), _CACHE_FORMAT + self.size.to_bytes(8, "little") + self.held)


def _safetensors_header(reader: _Ranged) -> tuple[StoredTensor, ...]:
    held = reader.cached()
    from_cache = len(held) >= 8 and len(held) >= 8 + int.from_bytes(held[:8], "little")
    if len(held) < 8:
        reader.fetch(0, min(reader.size, FIRST_READ_BYTES))
    length = header_length(reader.name, reader.held[:8], reader.size)
    if len(reader.held) < 8 + length:
        reader.fetch(len(reader.held), 8 + length)
    tensors = parse_file_header(reader.name, reader.held[8 : 8 + length], reader.size)
    if not from_cache:
        reader.held = reader.held[: 8 + length]
        reader.store()
    return tensors


def _gguf_header(reader: _Ranged) -> tuple[str, dict[str, Any], list[GgufTensor], int]:
    held = reader.cached()
    first = held or reader.fetch(0, min(reader.size, FIRST_READ_BYTES))
    before = len(reader.held)
    metadata, tensors = parse_gguf_header(reader.name, reader.size, reader.fetch, first)
    if not held or len(reader.held) > before:
        reader.store()
    return reader.name, metadata, tensors, reader.size


def _parallel(func: Callable[[_Ranged], Any], readers: list[_Ranged]) -> list[Any]:
    if len(readers) == 1:
        return [func(readers[0])]
    with ThreadPoolExecutor(min(_THREADS, len(readers))) as pool:
        return list(pool.map(func, readers))


# ------------------------------------------------------------------------------------------- GGUF repos


def gguf_quant_label(path: str) -> str | None:
    """``Qwen3-8B-Q4_K_M.gguf`` -> ``Q4_K_M``; the split suffix is ignored; None when there is none."""
    stem = os.path.basename(path)
    stem = _SPLIT.sub("", stem)
    stem = stem[:-5] if stem.lower().endswith(".gguf") else stem
    match = _QUANT_LABEL.search(stem)
    return match["label"].upper() if match else None


def _gguf_groups(files: dict[str, tuple[int, str]]) -> dict[str, list[str]]:
    """Quant label -> the files of that quant (one file, or every shard of a split), mmproj left out."""
    groups: dict[str, list[str]] = {}
    for path in sorted(files):
        base = os.path.basename(path).lower()
        if not base.endswith(".gguf") or base.startswith("mmproj") or "mmproj" in base:
            continue
        label = gguf_quant_label(path) or os.path.basename(path)[:-5]
        groups.setdefault(label, []).append(path)
    return groups


def _pick_gguf(repo: str, files: dict[str, tuple[int, str]], quant: str | None) -> tuple[str, list[str]]:
    groups = _gguf_groups(files)

    def listing() -> str:
        return ", ".join(
            f"{label} ({sum(files[f][0] for f in paths) / 1e9:.1f} GB)" for label, paths in sorted(groups.items())
        )

    if quant is None:
        raise BadValueError(
            f"{repo} holds several GGUF quants; pick one as {repo}:QUANT or with --quant: {listing()}"
        )
    wanted = quant.upper()
    hits = [label for label in groups if label.upper() == wanted]
    if not hits:
        hits = [label for label in groups if label.upper().endswith(wanted) or wanted in label.upper().split("-")]
    if len(hits) != 1:
        raise UnknownNameError(f"quant in {repo}", quant, sorted(groups)) if not hits else BadValueError(
            f"{repo}: quant {quant!r} matches {', '.join(hits)}; give one of them"
        )
    paths = groups[hits[0]]
    split = [p for p in paths if _SPLIT.search(p)]
    if split:
        count = int(_SPLIT.search(split[0])["count"])  # type: ignore[index]
        if len(split) != count or len(paths) != count:
            raise ModelFileError(f"{repo}: {hits[0]} is split in {count} files but the repo lists {len(split)}")
        paths = sorted(split, key=lambda p: int(_SPLIT.search(p)["no"]))  # type: ignore[index]
    elif len(paths) > 1:
        raise ModelFileError(f"{repo}: several files hold {hits[0]}: {', '.join(paths[:4])}; give a local path")
    return hits[0], paths


# ------------------------------------------------------------------------------------------- entry point


_read: dict[tuple[str, str, bool, str, str | None, str | None], HubModel] = {}


def load_from_hub(repo_id: str, revision: str | None = None, quant: str | None = None) -> HubModel:
    """Read ``org/name`` header-only: a safetensors repo (config + shard headers) or a GGUF repo
    (``quant`` picks the file type; a split file is read whole). Within one process a repo is read
    once (``fit --quant all`` sizes it many times)."""
    key = (endpoint(), hf_home(), offline(), repo_id, revision, quant.upper() if quant else None)
    hit = _read.get(key)
    if hit is None:
        hit = _read[key] = _load(repo_id, revision, quant)
        if len(_read) > 32:
            _read.pop(next(iter(_read)))
    return hit


def _load(repo_id: str, revision: str | None, quant: str | None) -> HubModel:
    listing = _listing(repo_id, revision)
    files = listing.files
    top_st = [f for f in files if "/" not in f and f.endswith(".safetensors")]
    ggufs = _gguf_groups(files)
    if top_st and not (quant and ggufs):
        return _load_safetensors(repo_id, listing, top_st)
    if ggufs:
        if quant is None and len(ggufs) == 1:
            quant = next(iter(ggufs))
        return _load_gguf(repo_id, listing, quant)
    names = ", ".join(sorted(files)[:6]) or "no files"
    raise ModelFileError(
        f"{repo_id} has no .safetensors or .gguf weights sizer can read (it holds {names}"
        f"{'...' if len(files) > 6 else ''})"
    )


def _config(repo: str, listing: _Listing, tensors_given: bool) -> tuple[dict[str, Any] | None, HfConfig | None, list[str]]:
    if "config.json" not in listing.files:
        return None, None, [f"{repo} has no config.json: the KV cache cannot be sized from it"]
    config = _download_json(repo, listing, "config.json", 16 << 20)
    if not isinstance(config, dict):
        raise ModelFileError(f"hf://{repo}/config.json: not a JSON object")
    try:
        return config, architecture_from_config(config, f"hf://{repo}/config.json"), []
    except ModelFileError as exc:
        if not tensors_given:
            raise
        return config, None, [f"{exc} (tensor bytes are exact; the KV cache cannot be sized)"]


def _shards(repo: str, listing: _Listing, top: list[str]) -> tuple[list[str], dict[str, str] | None]:
    indexes = sorted(f for f in listing.files if "/" not in f and f.endswith(".safetensors.index.json"))
    if indexes:
        index_file = "model.safetensors.index.json" if "model.safetensors.index.json" in indexes else indexes[0]
        index = _download_json(repo, listing, index_file, MAX_INDEX_BYTES)
        weight_map = index.get("weight_map") if isinstance(index, dict) else None
        if not isinstance(weight_map, dict) or not all(isinstance(v, str) for v in weight_map.values()):
            raise ModelFileError(f"hf://{repo}/{index_file}: no weight_map of tensor name -> shard file")
        shards = sorted(set(weight_map.values()))
        missing = [s for s in shards if s not in listing.files]
        if missing:
            raise ModelFileError(f"hf://{repo}/{index_file}: the index lists shards the repo lacks: {', '.join(missing[:3])}")
        return shards, weight_map
    shards = [f for f in top if _SHARD.search(f)]
    named = [f for f in top if f.startswith("model")]  # Mistral repos also ship consolidated.safetensors
    return sorted(shards or named or top), None


def _load_safetensors(repo: str, listing: _Listing, top: list[str]) -> HubModel:
    shards, weight_map = _shards(repo, listing, top)
    readers = [_Ranged(repo, listing, s) for s in shards]
    with hub_errors(repo, listing.commit):
        headers = _parallel(_safetensors_header, readers)
    stored: list[StoredTensor] = []
    held: dict[str, str] = {}
    for shard, tensors in zip(shards, headers, strict=True):
        for t in tensors:
            if t.name in held:
                raise ModelFileError(f"hf://{repo}/{shard}: tensor {t.name!r} is also in {held[t.name]}")
            held[t.name] = shard
            stored.append(t)
    if weight_map is not None:
        for name, shard in weight_map.items():
            if held.get(name) != shard:
                raise ModelFileError(f"hf://{repo}: the index puts {name!r} in {shard}, but that shard does not hold it")
    config, hf, warnings = _config(repo, listing, tensors_given=True)
    records = group_scales(stored)
    arch = hf.architecture if hf else None
    if hf is not None:
        warnings.extend(hf.warnings)
    hint = (hf.quant_hint if hf else None) or quant_hint_from_tensors(records)
    tensors = from_safetensors(records, arch, config)
    notes = _set_apart(tensors)
    checkpoint = describe_quantization(config or {}, records)
    if checkpoint:
        notes.insert(0, f"checkpoint format: {checkpoint}")
    file_bytes = sum(listing.files[s][0] for s in shards)
    source = f"hf://{repo}"
    imported = ImportedModel(source, arch, tensors, hint, file_bytes, tuple(warnings))
    return HubModel(imported, repo, listing.commit, "safetensors", tuple(shards), checkpoint, tuple(notes),
                    listing.from_cache, f"{endpoint()}/{repo}")


def _load_gguf(repo: str, listing: _Listing, quant: str | None) -> HubModel:
    from sizer.model.importers._gguf_arch import architecture_from_gguf, file_type_quant_id

    label, paths = _pick_gguf(repo, listing.files, quant)
    readers = [_Ranged(repo, listing, p) for p in paths]
    with hub_errors(repo, listing.commit):
        shards = _parallel(_gguf_header, readers)
    gguf = join_shards(shards)
    source = f"hf://{repo}/{paths[0]}"
    arch, warnings = architecture_from_gguf(gguf.metadata, gguf.tensors, source)
    tensors = from_gguf(gguf, arch)
    imported = ImportedModel(source, arch, tensors, file_type_quant_id(gguf.metadata), gguf.file_bytes,
                             tuple(warnings))
    notes = [f"GGUF {label}: {len(paths)} file{'s' if len(paths) > 1 else ''} ({', '.join(paths[:3])}"
             f"{'...' if len(paths) > 3 else ''})"]
    notes += _set_apart(tensors)
    return HubModel(imported, repo, listing.commit, "gguf", tuple(paths), f"GGUF {label}", tuple(notes),
                    listing.from_cache, f"{endpoint()}/{repo}")


def _set_apart(tensors: tuple[Any, ...]) -> list[str]:
    """What the checkpoint stores besides the text model: MTP layers, vision tower, in words."""
    notes = []
    mtp = sum(qt.weights_bytes for qt in tensors if qt.tensor.is_mtp)
    if mtp:
        notes.append(f"MTP layers stored in the checkpoint: {mtp:,} bytes, not loaded by default (memory.mtp_weights_bytes)")
    vision = sum(qt.weights_bytes for qt in tensors if qt.tensor.kind == "vision")
    if vision:
        notes.append(f"vision tower / projector stored in the checkpoint: {vision:,} bytes, counted in the weights "
                     "(engines load it unless started text-only)")
    return notes
