"""Optional: the same facts from a Hugging Face Hub repository, without downloading weights.

Downloads config.json (``hf_hub_download``) and reads every safetensors header with HTTP range
requests (``get_safetensors_metadata``: the index, then the first bytes of each shard). Needs the
optional ``huggingface_hub`` package and the network; tests never run this path. Every failure (not
installed, offline, gated or missing repo, not a safetensors repo) is a ``ModelFileError``.
"""

from __future__ import annotations

import importlib
from typing import Any

from sizer.errors import ModelFileError
from sizer.model.importers._imported import ImportedModel, from_safetensors
from sizer.model.importers._quant_hint import quant_hint_from_tensors
from sizer.model.importers.hf_config import architecture_from_config, read_config
from sizer.model.importers.safetensors_file import StoredTensor, _entry, group_scales

__all__ = ["load_from_hub"]


def _hub() -> Any:
    try:
        return importlib.import_module("huggingface_hub")
    except ImportError:
        raise ModelFileError(
            "reading a model from the Hugging Face Hub needs the optional package huggingface_hub "
            "(pip install huggingface_hub); or download config.json and pass its folder"
        ) from None


def load_from_hub(repo_id: str, revision: str | None = None) -> ImportedModel:
    """config.json -> Architecture and safetensors headers -> exact tensor bytes, for ``org/name``."""
    hub = _hub()
    source = f"hf://{repo_id}" + (f"@{revision}" if revision else "")
    try:
        config_path = hub.hf_hub_download(repo_id, "config.json", revision=revision)
        meta = hub.get_safetensors_metadata(repo_id, revision=revision)
        info = hub.HfApi().model_info(repo_id, revision=revision, files_metadata=True)
    except Exception as exc:  # noqa: BLE001 - the hub client raises many types (HTTP, offline, gated, parsing)
        raise ModelFileError(f"{source}: {type(exc).__name__}: {exc}") from None
    config = read_config(config_path)
    hf = architecture_from_config(config, f"{source}/config.json")
    stored: list[StoredTensor] = []
    for filename, file_meta in sorted(meta.files_metadata.items()):
        for name, tensor in file_meta.tensors.items():
            raw = {
                "dtype": tensor.dtype,
                "shape": list(tensor.shape),
                "data_offsets": list(tensor.data_offsets),
            }
            stored.append(_entry(f"{source}/{filename}", name, raw)[0])
    records = group_scales(stored)
    sizes = {s.rfilename: s.size or 0 for s in info.siblings or ()}
    file_bytes = sum(sizes.get(f, 0) for f in meta.files_metadata)
    return ImportedModel(
        source,
        hf.architecture,
        from_safetensors(records, hf.architecture, config),
        hf.quant_hint or quant_hint_from_tensors(records),
        file_bytes,
        hf.warnings,
    )
