"""Per-family config.json fields -> Architecture fields, and the local-attention layer pattern."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sizer.errors import ModelFileError
from sizer.limits import MAX_CONFIG_INTEGER

__all__ = ["FAMILY_FIELDS", "ConfigKeys", "local_layers"]


class ConfigKeys:
    """Typed access to one config dict; errors name the source file and the key."""

    def __init__(self, data: Mapping[str, Any], source: str) -> None:
        self.data, self.source = data, source

    def integer(self, *keys: str) -> int | None:
        for key in keys:
            value = self.data.get(key)
            if value is None:
                continue
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if isinstance(value, bool) or not isinstance(value, int):
                shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
                raise ModelFileError(f"{self.source}: {key} must be an integer, not {shown}")
            if not 0 <= value <= MAX_CONFIG_INTEGER:
                what = "negative" if value < 0 else f"larger than {MAX_CONFIG_INTEGER:,} (no real model comes close)"
                raise ModelFileError(f"{self.source}: {key} is {what}")
            return value
        return None

    def flag(self, key: str, default: bool) -> bool:
        value = self.data.get(key, default)
        return value if isinstance(value, bool) else default


def _moe(keys: ConfigKeys, fields: dict[str, Any], experts_key: str, width_key: str) -> None:
    fields.update(
        n_routed_experts=keys.integer(experts_key),
        num_experts_per_tok=keys.integer("num_experts_per_tok", "experts_per_token"),
        moe_intermediate_size=keys.integer(width_key),
    )


def _nothing(keys: ConfigKeys, fields: dict[str, Any], warnings: list[str]) -> None:
    """Llama, Mistral, Phi-3: the common fields say it all."""


def _qwen2(keys: ConfigKeys, fields: dict[str, Any], warnings: list[str]) -> None:
    fields["attention_bias"] = True  # Qwen2 hard-codes q/k/v biases


def _qwen3(keys: ConfigKeys, fields: dict[str, Any], warnings: list[str]) -> None:
    fields["qk_norm"] = True


def _gemma(keys: ConfigKeys, fields: dict[str, Any], warnings: list[str]) -> None:
    fields["norms_per_layer"] = 4
    fields["qk_norm"] = fields["family"] == "gemma3"


def _mixtral(keys: ConfigKeys, fields: dict[str, Any], warnings: list[str]) -> None:
    experts_key = next(k for k in ("num_local_experts", "n_routed_experts", "num_experts") if keys.integer(k))
    _moe(
        keys,
        fields,
        experts_key,
        "moe_intermediate_size" if keys.integer("moe_intermediate_size") else "intermediate_size",
    )
    fields["intermediate_size"] = None


def _qwen3_moe(keys: ConfigKeys, fields: dict[str, Any], warnings: list[str]) -> None:
    _moe(keys, fields, "num_experts", "moe_intermediate_size")
    fields["qk_norm"] = True
    fields["moe_layer_period"] = keys.integer("decoder_sparse_step") or 1
    if keys.data.get("mlp_only_layers"):
        warnings.append(
            f"{keys.source}: mlp_only_layers {keys.data['mlp_only_layers']} are not modelled (treated as MoE)"
        )
    if fields["moe_layer_period"] == 1:
        fields["intermediate_size"] = None  # unused: every layer is MoE


def _llama4(keys: ConfigKeys, fields: dict[str, Any], warnings: list[str]) -> None:
    _moe(keys, fields, "num_local_experts", "intermediate_size")
    step = keys.integer("interleave_moe_layer_step") or 1
    fields.update(
        n_shared_experts=1,
        moe_layer_period=step,
        intermediate_size=keys.integer("intermediate_size_mlp") if step > 1 else None,
    )


def _gpt_oss(keys: ConfigKeys, fields: dict[str, Any], warnings: list[str]) -> None:
    _moe(keys, fields, "num_local_experts", "intermediate_size")
    fields.update(
        intermediate_size=None,
        attention_bias=True,
        attention_output_bias=True,
        attention_sinks=True,
        router_bias=True,
        expert_bias=True,
    )


def _glm4_moe(keys: ConfigKeys, fields: dict[str, Any], warnings: list[str]) -> None:
    _moe(keys, fields, "n_routed_experts", "moe_intermediate_size")
    fields.update(
        n_shared_experts=keys.integer("n_shared_experts") or 0,
        first_k_dense_replace=keys.integer("first_k_dense_replace") or 0,
        attention_bias=keys.flag("attention_bias", True),
        qk_norm=keys.flag("use_qk_norm", False),
        router_bias=True,
    )


def _minimax(keys: ConfigKeys, fields: dict[str, Any], warnings: list[str]) -> None:
    _moe(keys, fields, "num_local_experts", "intermediate_size")
    qk_norm = keys.flag("use_qk_norm", True)
    fields.update(
        intermediate_size=None,
        qk_norm=qk_norm,
        qk_norm_full_width=qk_norm and keys.data.get("qk_norm_type") == "per_layer",
        router_bias=keys.flag("use_routing_bias", True),
    )
    # num_mtp_modules (3) stays 0: the released safetensors hold no MTP weights (their count, 228.7B,
    # is the model without them; shared/reference/models.yaml)


def _deepseek(keys: ConfigKeys, fields: dict[str, Any], warnings: list[str]) -> None:
    _moe(keys, fields, "n_routed_experts", "moe_intermediate_size")
    nope, rope = keys.integer("qk_nope_head_dim"), keys.integer("qk_rope_head_dim")
    fields.update(
        q_lora_rank=keys.integer("q_lora_rank"),
        kv_lora_rank=keys.integer("kv_lora_rank"),
        qk_nope_head_dim=nope,
        qk_rope_head_dim=rope,
        v_head_dim=keys.integer("v_head_dim"),
        head_dim=(nope or 0) + (rope or 0) or fields["head_dim"],
        n_shared_experts=keys.integer("n_shared_experts") or 0,
        first_k_dense_replace=keys.integer("first_k_dense_replace") or 0,
        moe_layer_period=keys.integer("moe_layer_freq") or 1,
        router_bias=keys.data.get("topk_method") == "noaux_tc",
    )
    if fields["family"] == "deepseek_v32":
        fields.update(
            index_n_heads=keys.integer("index_n_heads"),
            index_head_dim=keys.integer("index_head_dim"),
            index_topk=keys.integer("index_topk"),
        )


def _qwen3_next(keys: ConfigKeys, fields: dict[str, Any], warnings: list[str]) -> None:
    _moe(keys, fields, "num_experts", "moe_intermediate_size")
    shared = keys.integer("shared_expert_intermediate_size")
    fields.update(
        intermediate_size=None,
        qk_norm=True,
        attention_output_gate=True,
        n_shared_experts=1 if shared else 0,
        shared_expert_intermediate_size=shared,
        shared_expert_gate=bool(shared),
        linear_num_key_heads=keys.integer("linear_num_key_heads"),
        linear_num_value_heads=keys.integer("linear_num_value_heads"),
        linear_key_head_dim=keys.integer("linear_key_head_dim"),
        linear_value_head_dim=keys.integer("linear_value_head_dim"),
        linear_conv_kernel_dim=keys.integer("linear_conv_kernel_dim"),
        num_nextn_predict_layers=keys.integer("num_nextn_predict_layers", "mtp_num_hidden_layers") or 0,
    )


FamilyFields = Callable[[ConfigKeys, dict[str, Any], list[str]], None]
FAMILY_FIELDS: dict[str, FamilyFields] = {
    "llama": _nothing,
    "qwen2": _qwen2,
    "qwen3": _qwen3,
    "phi3": _nothing,
    "gemma2": _gemma,
    "gemma3": _gemma,
    "mixtral": _mixtral,
    "qwen3_moe": _qwen3_moe,
    "llama4": _llama4,
    "gpt_oss": _gpt_oss,
    "glm4_moe": _glm4_moe,
    "minimax_m2": _minimax,
    "deepseek_v3": _deepseek,
    "deepseek_v32": _deepseek,
    "qwen3_next": _qwen3_next,
}


def local_layers(keys: ConfigKeys, family: str, max_position: int, warnings: list[str]) -> dict[str, Any]:
    """local_layer_kind / period / window from layer_types or the family's own keys."""
    data, layers = keys.data, keys.integer("num_hidden_layers") or 0
    window = keys.integer("sliding_window", "attention_chunk_size")
    layer_types = data.get("layer_types")
    if isinstance(layer_types, list) and layer_types and all(isinstance(t, str) for t in layer_types):
        local = [t != "full_attention" for t in layer_types]
        kinds = {t for t in layer_types if t != "full_attention"}
    elif family == "qwen3_next":
        local, kinds = _every(layers, keys.integer("full_attention_interval") or 4), {"linear_attention"}
    elif family == "llama4" and window:
        nope = data.get("no_rope_layers")
        local = (
            [bool(v) for v in nope] if isinstance(nope, list) and len(nope) == layers else _every(layers, 4)
        )
        kinds = {"chunked_attention"}
    elif family in ("gemma2", "gemma3", "gpt_oss") and window:
        local, kinds = (
            _every(layers, keys.integer("sliding_window_pattern") or (6 if family == "gemma3" else 2)),
            {"sliding"},
        )
    elif window and window < max_position and data.get("use_sliding_window", True) is not False:
        local, kinds = [True] * layers, {"sliding"}
    else:
        return {}
    if not any(local):
        return {}
    kind = (
        "linear_attention"
        if kinds == {"linear_attention"}
        else "chunked"
        if kinds == {"chunked_attention"}
        else "sliding_window"
    )
    if kind != "linear_attention" and window is None:
        warnings.append(
            f"{keys.source}: local attention layers without a window size are read as full attention"
        )
        return {}
    if all(local):
        period = 1
    else:
        period = local.index(False) + 1
        if local != _every(len(local), period):
            period = max(1, round(len(local) / local.count(False)))
            warnings.append(
                f"{keys.source}: layer_types is not periodic; approximated as 1 global layer in {period}"
            )
    return {
        "local_layer_kind": kind,
        "local_layer_period": period,
        "local_window_tokens": window if kind != "linear_attention" else None,
    }


def _every(layers: int, period: int) -> list[bool]:
    """True (local) for every layer except each period-th one (as Architecture.local_layer_period reads)."""
    return [(i + 1) % period != 0 for i in range(layers)]
