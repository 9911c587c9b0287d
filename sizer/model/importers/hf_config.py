"""Hugging Face ``config.json`` -> schema.Architecture (plus the checkpoint's quant id as a hint).

Multimodal wrappers (Gemma 3, Llama 4, Mistral 3, Kimi K2.5 ...) are read through their
``text_config``. Keys a config may omit take the defaults of the transformers config class
(``_DEFAULTS``), as transformers itself would. ``layer_types`` / ``sliding_window`` /
``sliding_window_pattern`` / ``full_attention_interval`` become the ``local_layer_*`` fields.

An unknown ``model_type`` is read as a generic dense GQA model (or a plain MoE when it has expert
counts) with a warning; a config without the essential keys is a ``ModelFileError``.
DeepSeek V4 is refused: its config.json field names are not in the reference data, so a guessed
mapping could silently size the wrong thing (the catalog entries cover V4).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from sizer.errors import ModelFileError
from sizer.model.importers._hf_families import FAMILY_FIELDS, ConfigKeys, local_layers
from sizer.model.importers._quant_hint import quant_hint_from_config
from sizer.model.importers.safetensors_file import read_json
from sizer.schema import Architecture

__all__ = ["HfConfig", "architecture_from_config", "read_config"]

MAX_CONFIG_BYTES = 16 << 20

_FAMILIES = {
    "llama": "llama",
    "mistral": "llama",
    "qwen2": "qwen2",
    "qwen3": "qwen3",
    "phi3": "phi3",
    "gemma2": "gemma2",
    "gemma3": "gemma3",
    "gemma3_text": "gemma3",
    "mixtral": "mixtral",
    "qwen3_moe": "qwen3_moe",
    "llama4": "llama4",
    "llama4_text": "llama4",
    "gpt_oss": "gpt_oss",
    "glm4_moe": "glm4_moe",
    "minimax_m2": "minimax_m2",
    "minimax": "minimax_m2",
    "deepseek_v3": "deepseek_v3",
    "kimi_k2": "deepseek_v3",
    "deepseek_v32": "deepseek_v32",
    "qwen3_next": "qwen3_next",
}
_REFUSED = {
    "deepseek_v4": "DeepSeek V4 config.json field names are not verified in sizer's reference data; "
    "use the catalog entry (deepseek-v4-flash, deepseek-v4-pro) instead",
}
# transformers config-class defaults for keys real configs omit (Gemma 3 4B leaves out its head counts)
_DEFAULTS: dict[str, dict[str, Any]] = {
    "gemma3_text": {
        "hidden_size": 2304,
        "intermediate_size": 9216,
        "num_hidden_layers": 26,
        "num_attention_heads": 8,
        "num_key_value_heads": 4,
        "head_dim": 256,
        "vocab_size": 262_208,
        "max_position_embeddings": 131_072,
        "sliding_window": 4096,
        "sliding_window_pattern": 6,
        "tie_word_embeddings": True,
    },
    "gemma2": {"sliding_window": 4096, "tie_word_embeddings": True, "max_position_embeddings": 8192},
    "gpt_oss": {"sliding_window": 128},
    "llama4_text": {"attention_chunk_size": 8192, "interleave_moe_layer_step": 1, "num_experts_per_tok": 1},
    "qwen3_next": {"full_attention_interval": 4},
    "minimax_m2": {"use_qk_norm": True, "qk_norm_type": "per_layer", "use_routing_bias": True},
}
_DEFAULTS["gemma3"] = _DEFAULTS["gemma3_text"]
_DEFAULTS["llama4"] = _DEFAULTS["llama4_text"]
_DEFAULTS["minimax"] = _DEFAULTS["minimax_m2"]
_ESSENTIAL = ("hidden_size", "num_hidden_layers", "num_attention_heads", "vocab_size")


@dataclass(frozen=True, slots=True)
class HfConfig:
    """What a config.json says: the architecture, the quant id of the checkpoint, and caveats."""

    architecture: Architecture
    quant_hint: str | None
    warnings: tuple[str, ...] = ()


def read_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load a config.json (bounded size, ``path:line:col`` on malformed JSON)."""
    path = os.fspath(path)
    config = read_json(path, MAX_CONFIG_BYTES)
    if not isinstance(config, dict):
        raise ModelFileError(
            f"{path}: a config.json holds a JSON object, this holds a {type(config).__name__}"
        )
    return config


def _text_part(config: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    """The language-model part of a config and its model_type (text_config for multimodal wrappers)."""
    outer_type = str(config.get("model_type", ""))
    text = config.get("text_config")
    if not (isinstance(text, Mapping) and (text.get("model_type") or "num_hidden_layers" in text)):
        return dict(config), outer_type
    model_type = str(text.get("model_type") or outer_type)
    merged = {k: config[k] for k in ("tie_word_embeddings", "torch_dtype") if k in config}
    merged.update(text)
    return merged, model_type


def architecture_from_config(config: Mapping[str, Any], source: str = "config.json") -> HfConfig:
    """Map a config dict onto Architecture; raise ModelFileError if it cannot describe a model."""
    data, model_type = _text_part(config)
    if model_type in _REFUSED:
        raise ModelFileError(f"{source}: model_type {model_type}: {_REFUSED[model_type]}")
    data = {**_DEFAULTS.get(model_type, {}), **data}
    warnings: list[str] = []
    if model_type not in _FAMILIES:
        data = _standard_names(data, source, warnings)
    keys = ConfigKeys(data, source)
    family = _FAMILIES.get(model_type)
    if model_type == "minimax" and 0 in (data.get("attn_type_list") or ()):
        raise ModelFileError(
            f"{source}: MiniMax lightning-attention hybrids (model_type minimax) are not supported"
        )
    if family is None:
        family = _generic_family(keys, model_type, source, warnings)
    missing = [k for k in _ESSENTIAL if keys.integer(k) is None]
    max_position = keys.integer("max_position_embeddings", "max_sequence_length", "seq_length", "n_positions")
    if max_position is None:
        missing.append("max_position_embeddings")
    if missing or max_position is None:
        raise ModelFileError(
            f"{source}: config.json (model_type {model_type or '?'}) lacks {', '.join(missing)}"
        )
    hidden, heads = keys.integer("hidden_size") or 0, keys.integer("num_attention_heads") or 0
    fields: dict[str, Any] = {
        "family": family,
        "hidden_size": hidden,
        "num_hidden_layers": keys.integer("num_hidden_layers"),
        "num_attention_heads": heads,
        "num_key_value_heads": keys.integer("num_key_value_heads") or heads,
        "head_dim": keys.integer("head_dim") or (hidden // heads if heads else 0),
        "intermediate_size": keys.integer("intermediate_size"),
        "vocab_size": keys.integer("vocab_size"),
        "tie_word_embeddings": keys.flag("tie_word_embeddings", False),
        "max_position_embeddings": max_position,
        "attention_bias": keys.flag("attention_bias", False),
        "num_nextn_predict_layers": keys.integer("num_nextn_predict_layers") or 0,
    }
    FAMILY_FIELDS[family](keys, fields, warnings)
    fields.update(local_layers(keys, family, max_position, warnings))
    try:
        architecture = Architecture(**fields)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or family}: {e['msg']}" for e in exc.errors())
        raise ModelFileError(
            f"{source}: config.json does not describe a valid {family} model ({problems})"
        ) from None
    if model_type not in _FAMILIES:
        warnings.append(f"{source}: KV cache of model_type {model_type!r} {_kv_assumed(architecture)}")
    return HfConfig(architecture, quant_hint_from_config(config, family), tuple(warnings))


# other spellings of the standard config fields (GPT-2 / Falcon / ChatGLM / MPT style configs)
_SPELLINGS = {
    "hidden_size": ("d_model", "n_embd", "model_dim"),
    "num_hidden_layers": ("num_layers", "n_layer", "n_layers"),
    "num_attention_heads": ("n_head", "num_heads", "n_heads"),
    "num_key_value_heads": ("num_kv_heads", "n_kv_heads", "multi_query_group_num"),
    "vocab_size": ("padded_vocab_size", "n_vocab"),
    "intermediate_size": ("ffn_hidden_size", "d_ff", "n_inner"),
}


def _standard_names(data: dict[str, Any], source: str, warnings: list[str]) -> dict[str, Any]:
    """A config of a family sizer does not model, with the standard keys filled from other spellings."""
    out = dict(data)
    used = []
    for key, spellings in _SPELLINGS.items():
        if out.get(key) is None:
            for other in spellings:
                if isinstance(out.get(other), int) and not isinstance(out.get(other), bool):
                    out[key] = out[other]
                    used.append(f"{key} from {other}")
                    break
    if used:
        warnings.append(f"{source}: read {', '.join(used)}")
    return out


def _kv_assumed(a: Architecture) -> str:
    """What the KV cache of a family sizer does not model is assumed to be, in words."""
    if a.kv_lora_rank:
        text = f"assumed MLA: one latent of {a.kv_lora_rank} + {a.qk_rope_head_dim} per token and layer"
    else:
        text = (f"assumed from the standard config fields: {a.num_hidden_layers} layers x K and V x "
                f"{a.num_key_value_heads} KV heads (num_key_value_heads) x head_dim {a.head_dim}")
    if a.local_layer_kind and a.local_window_tokens:
        text += (f"; {a.local_layer_kind.replace('_', ' ')} of {a.local_window_tokens} tokens on the layers "
                 f"sliding_window / layer_types mark (every {a.local_layer_period}th layer global)")
    return text + "; state-space or linear-attention layers, if any, are not modelled"


def _generic_family(keys: ConfigKeys, model_type: str, source: str, warnings: list[str]) -> str:
    experts = keys.integer("n_routed_experts", "num_experts", "num_local_experts")
    if keys.integer("kv_lora_rank") is not None:
        if keys.integer("q_lora_rank") is None or not experts:
            raise ModelFileError(
                f"{source}: model_type {model_type!r} uses MLA without q_lora_rank or experts: not supported"
            )
        warnings.append(f"{source}: unknown model_type {model_type!r} read as DeepSeek-V3-style MLA + MoE")
        return "deepseek_v3"
    family = "mixtral" if experts else "llama"
    kind = "MoE (no shared expert)" if experts else "dense GQA"
    warnings.append(
        f"{source}: unknown model_type {model_type!r} read as a generic {kind} model; check the result"
    )
    return family
