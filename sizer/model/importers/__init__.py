"""Model files, read offline and header-only: ``load_model_file(path) -> ImportedModel``.

Accepted paths: a model folder (config.json plus safetensors, or GGUF files), a ``config.json``, a
``.safetensors`` file (a shard ``-0000i-of-0000n`` brings its siblings), a
``.safetensors.index.json``, or a ``.gguf`` file (a split shard brings its siblings). Only headers are
read, so a 100 GB checkpoint is sized in milliseconds; every problem is a ``ModelFileError`` that
names the file. ``load_from_hub`` (optional, needs huggingface_hub and the network) reads the same
facts from a Hugging Face repository.
"""

from __future__ import annotations

import glob
import os
import re
from pathlib import Path
from typing import Any

from sizer.errors import ModelFileError
from sizer.model.importers._imported import ImportedModel, from_gguf, from_safetensors
from sizer.model.importers._quant_hint import quant_hint_from_tensors
from sizer.model.importers.hf_config import HfConfig, architecture_from_config, read_config

__all__ = ["ImportedModel", "load_from_hub", "load_model_file"]

_SHARD_RE = re.compile(r"^(?P<prefix>.+)-(?P<no>\d{5})-of-(?P<count>\d{5})\.safetensors$")


def load_model_file(path: str | os.PathLike[str]) -> ImportedModel:
    """Read a model folder or file header-only; raise ModelFileError if it is missing or malformed."""
    p = Path(path)
    source = os.fspath(path)
    if not p.exists():
        raise ModelFileError(f"{source}: no such file or folder")
    if p.is_dir():
        return _load_folder(p, source)
    name = p.name.lower()
    if name.endswith(".gguf"):
        return _load_gguf(str(p), source)
    if name.endswith(".safetensors.index.json"):
        return _load_safetensors(source, index=str(p), files=(), config_path=_sibling_config(p))
    if name.endswith(".safetensors"):
        return _load_safetensors(source, index=None, files=_shard_set(p), config_path=_sibling_config(p))
    if name.endswith(".json"):
        config = read_config(p)
        if "weight_map" in config:
            return _load_safetensors(source, index=str(p), files=(), config_path=_sibling_config(p))
        hf = architecture_from_config(config, source)
        return ImportedModel(source, hf.architecture, None, hf.quant_hint, 0, hf.warnings)
    raise ModelFileError(
        f"{source}: not a model file sizer reads (a folder, config.json, .safetensors, .safetensors.index.json or .gguf)"
    )


def load_from_hub(repo_id: str, revision: str | None = None) -> ImportedModel:
    """config.json and safetensors headers of a Hugging Face repo (optional: needs huggingface_hub)."""
    from sizer.model.importers.hub import load_from_hub as _load

    return _load(repo_id, revision).imported


def _sibling_config(p: Path) -> Path | None:
    config = p.with_name("config.json")
    return config if config.is_file() else None


def _shard_set(p: Path) -> tuple[str, ...]:
    """A shard ``x-00002-of-00004.safetensors`` -> all four (all must exist); any other file -> itself."""
    match = _SHARD_RE.match(p.name)
    if match is None:
        return (str(p),)
    count = int(match["count"])
    paths = tuple(
        str(p.with_name(f"{match['prefix']}-{i:05d}-of-{count:05d}.safetensors")) for i in range(1, count + 1)
    )
    missing = [x for x in paths if not os.path.isfile(x)]
    if missing:
        raise ModelFileError(f"{p}: {len(missing)} of {count} shards are missing: {', '.join(missing[:3])}")
    return paths


def _config(
    config_path: Path | None, tensors_given: bool
) -> tuple[dict[str, Any] | None, HfConfig | None, list[str]]:
    """Read a config beside weight files; when weights are there, a config we cannot map is a warning."""
    if config_path is None:
        return None, None, []
    config = read_config(config_path)
    try:
        return config, architecture_from_config(config, str(config_path)), []
    except ModelFileError as exc:
        if not tensors_given:
            raise
        return config, None, [f"{exc} (tensor bytes are exact; the KV cache cannot be sized)"]


def _load_safetensors(
    source: str, index: str | None, files: tuple[str, ...], config_path: Path | None
) -> ImportedModel:
    from sizer.model.importers.safetensors_file import group_scales, read_index, read_safetensors

    if index is not None:
        stored, paths = read_index(index)
    else:
        seen: dict[str, str] = {}
        stored_list = []
        for f in files:
            for t in read_safetensors(f):
                if t.name in seen:
                    raise ModelFileError(f"{f}: tensor {t.name!r} is also in {seen[t.name]}")
                seen[t.name] = f
                stored_list.append(t)
        stored, paths = tuple(stored_list), files
    config, hf, warnings = _config(config_path, tensors_given=True)
    records = group_scales(stored)
    arch = hf.architecture if hf else None
    if hf is not None:
        warnings.extend(hf.warnings)
    hint = (hf.quant_hint if hf else None) or quant_hint_from_tensors(records)
    if hf is None and config_path is None:
        warnings.append(f"{source}: no config.json beside the weights: the KV cache cannot be sized")
    file_bytes = sum(os.path.getsize(p) for p in paths)
    return ImportedModel(
        source, arch, from_safetensors(records, arch, config), hint, file_bytes, tuple(warnings)
    )


def _load_gguf(path: str, source: str) -> ImportedModel:
    from sizer.model.importers._gguf_arch import architecture_from_gguf, file_type_quant_id
    from sizer.model.importers.gguf_file import read_gguf

    gguf = read_gguf(path)
    arch, warnings = architecture_from_gguf(gguf.metadata, gguf.tensors, source)
    return ImportedModel(
        source,
        arch,
        from_gguf(gguf, arch),
        file_type_quant_id(gguf.metadata),
        gguf.file_bytes,
        tuple(warnings),
    )


def _load_folder(p: Path, source: str) -> ImportedModel:
    config_path = _sibling_config(p / "config.json")
    indexes = sorted(glob.glob(glob.escape(str(p)) + "/*.safetensors.index.json"))
    weights = sorted(glob.glob(glob.escape(str(p)) + "/*.safetensors"))
    if indexes:
        preferred = [i for i in indexes if os.path.basename(i) == "model.safetensors.index.json"]
        return _load_safetensors(source, index=(preferred or indexes)[0], files=(), config_path=config_path)
    if weights:
        shards = [w for w in weights if _SHARD_RE.match(os.path.basename(w))]
        # Mistral repos ship the same weights twice (consolidated.safetensors and model*.safetensors)
        hf_named = [w for w in weights if os.path.basename(w).startswith("model")]
        files = _shard_set(Path(shards[0])) if shards else tuple(hf_named or weights)
        return _load_safetensors(source, index=None, files=files, config_path=config_path)
    # mmproj-*.gguf is llama.cpp's separate vision projector, not a second model
    ggufs = [
        g
        for g in sorted(glob.glob(glob.escape(str(p)) + "/*.gguf"))
        if not os.path.basename(g).startswith("mmproj")
    ]
    if ggufs:
        from sizer.model.importers.gguf_file import split_paths

        if len(ggufs) == 1 or set(split_paths(ggufs[0])) == set(ggufs):
            return _load_gguf(ggufs[0], source)
        names = ", ".join(os.path.basename(g) for g in ggufs[:4])
        raise ModelFileError(f"{source}: folder holds several GGUF models ({names}...): pass one file")
    if config_path is not None:
        hf = architecture_from_config(read_config(config_path), str(config_path))
        return ImportedModel(source, hf.architecture, None, hf.quant_hint, 0, hf.warnings)
    raise ModelFileError(f"{source}: folder has no config.json, .safetensors or .gguf file")
