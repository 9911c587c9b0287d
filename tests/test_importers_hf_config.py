"""config.json -> Architecture for every family, quant hints, and the Hugging Face tensor-name vocabulary.

tests/data/hf_configs/ holds the config.json of released checkpoints (their real field sets); the
expected values are the vendors' figures from shared/reference/models.yaml, not output of the code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gguf
import pytest

from sizer.errors import ModelFileError
from sizer.model.importers import load_model_file
from sizer.model.importers._names import hf_kind
from sizer.model.importers.hf_config import architecture_from_config

CONFIGS = Path(__file__).parent / "data" / "hf_configs"


def config(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((CONFIGS / f"{name}.json").read_text())
    return loaded


# fmt: off
# config file -> (expected Architecture fields, expected quant hint)
CASES: dict[str, tuple[dict[str, Any], str | None]] = {
    "llama-3.1-8b": ({"family": "llama", "hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32,
                      "num_key_value_heads": 8, "head_dim": 128, "intermediate_size": 14336, "vocab_size": 128256,
                      "tie_word_embeddings": False, "max_position_embeddings": 131072, "local_layer_kind": None},
                     "bf16"),
    "qwen3-30b-a3b": ({"family": "qwen3_moe", "hidden_size": 2048, "num_hidden_layers": 48, "num_key_value_heads": 4,
                       "head_dim": 128, "n_routed_experts": 128, "num_experts_per_tok": 8,
                       "moe_intermediate_size": 768, "intermediate_size": None, "qk_norm": True,
                       "vocab_size": 151936, "local_layer_kind": None}, "bf16"),
    "deepseek-v3": ({"family": "deepseek_v3", "num_hidden_layers": 61, "num_attention_heads": 128,
                     "q_lora_rank": 1536, "kv_lora_rank": 512, "qk_nope_head_dim": 128, "qk_rope_head_dim": 64,
                     "v_head_dim": 128, "n_routed_experts": 256, "num_experts_per_tok": 8, "n_shared_experts": 1,
                     "moe_intermediate_size": 2048, "first_k_dense_replace": 3, "intermediate_size": 18432,
                     "num_nextn_predict_layers": 1, "router_bias": True, "vocab_size": 129280}, "fp8-block128"),
    "gpt-oss-20b": ({"family": "gpt_oss", "hidden_size": 2880, "num_hidden_layers": 24, "num_attention_heads": 64,
                     "num_key_value_heads": 8, "head_dim": 64, "n_routed_experts": 32, "num_experts_per_tok": 4,
                     "moe_intermediate_size": 2880, "attention_sinks": True, "attention_bias": True,
                     "local_layer_kind": "sliding_window", "local_layer_period": 2, "local_window_tokens": 128,
                     "vocab_size": 201088}, "mxfp4-experts"),
    "gemma-3-27b": ({"family": "gemma3", "hidden_size": 5376, "num_hidden_layers": 62, "num_attention_heads": 32,
                     "num_key_value_heads": 16, "head_dim": 128, "intermediate_size": 21504, "vocab_size": 262208,
                     "tie_word_embeddings": True, "max_position_embeddings": 131072, "norms_per_layer": 4,
                     "qk_norm": True, "local_layer_kind": "sliding_window", "local_layer_period": 6,
                     "local_window_tokens": 1024}, "bf16"),
    "gemma-3-4b": ({"family": "gemma3", "hidden_size": 2560, "num_hidden_layers": 34, "num_attention_heads": 8,
                    "num_key_value_heads": 4, "head_dim": 256, "intermediate_size": 10240, "vocab_size": 262208,
                    "tie_word_embeddings": True}, "bf16"),
    "qwen3-next-80b-a3b": ({"family": "qwen3_next", "hidden_size": 2048, "num_hidden_layers": 48,
                            "num_attention_heads": 16, "num_key_value_heads": 2, "head_dim": 256,
                            "n_routed_experts": 512, "num_experts_per_tok": 10, "moe_intermediate_size": 512,
                            "n_shared_experts": 1, "shared_expert_intermediate_size": 512,
                            "local_layer_kind": "linear_attention", "local_layer_period": 4,
                            "linear_num_key_heads": 16, "linear_num_value_heads": 32, "linear_key_head_dim": 128,
                            "linear_value_head_dim": 128, "linear_conv_kernel_dim": 4,
                            "attention_output_gate": True}, "bf16"),
    "qwen2.5-7b": ({"family": "qwen2", "num_key_value_heads": 4, "head_dim": 128, "intermediate_size": 18944,
                    "vocab_size": 152064, "attention_bias": True, "local_layer_kind": None}, "bf16"),
    "mistral-7b-v0.1": ({"family": "llama", "local_layer_kind": "sliding_window", "local_layer_period": 1,
                         "local_window_tokens": 4096}, "bf16"),
    "phi-4": ({"family": "phi3", "hidden_size": 5120, "num_hidden_layers": 40, "num_key_value_heads": 10,
               "head_dim": 128, "intermediate_size": 17920, "vocab_size": 100352, "local_layer_kind": None}, "bf16"),
    "gemma-2-9b": ({"family": "gemma2", "head_dim": 256, "num_key_value_heads": 8, "tie_word_embeddings": True,
                    "norms_per_layer": 4, "qk_norm": False, "local_layer_period": 2, "local_window_tokens": 4096},
                   "f32"),
    "mixtral-8x7b": ({"family": "mixtral", "n_routed_experts": 8, "num_experts_per_tok": 2,
                      "moe_intermediate_size": 14336, "vocab_size": 32000}, "bf16"),
    "llama-4-scout": ({"family": "llama4", "hidden_size": 5120, "num_hidden_layers": 48, "num_attention_heads": 40,
                       "num_key_value_heads": 8, "head_dim": 128, "n_routed_experts": 16, "num_experts_per_tok": 1,
                       "n_shared_experts": 1, "moe_intermediate_size": 8192, "vocab_size": 202048,
                       "tie_word_embeddings": False, "local_layer_kind": "chunked", "local_layer_period": 4,
                       "local_window_tokens": 8192}, "bf16"),
    "glm-4.5-air": ({"family": "glm4_moe", "hidden_size": 4096, "num_hidden_layers": 46, "num_attention_heads": 96,
                     "num_key_value_heads": 8, "intermediate_size": 10944, "n_routed_experts": 128,
                     "n_shared_experts": 1, "moe_intermediate_size": 1408, "first_k_dense_replace": 1,
                     "attention_bias": True, "qk_norm": False, "num_nextn_predict_layers": 1}, "bf16"),
    "minimax-m2": ({"family": "minimax_m2", "hidden_size": 3072, "num_hidden_layers": 62, "num_attention_heads": 48,
                    "num_key_value_heads": 8, "n_routed_experts": 256, "num_experts_per_tok": 8,
                    "moe_intermediate_size": 1536, "qk_norm": True, "qk_norm_full_width": True, "router_bias": True,
                    "vocab_size": 200064, "num_nextn_predict_layers": 0}, "fp8-block128"),
    "kimi-k2-thinking": ({"family": "deepseek_v3", "num_attention_heads": 64, "n_routed_experts": 384,
                          "first_k_dense_replace": 1, "vocab_size": 163840}, "int4-g32-experts"),
    "deepseek-v3.2-exp": ({"family": "deepseek_v32", "index_n_heads": 64, "index_head_dim": 128, "index_topk": 2048,
                           "kv_lora_rank": 512}, "fp8-block128"),
}
# catalog ids of these configs, and fields the catalog sets although the checkpoint does not use them
CATALOG_IDS = {name: name for name in CASES if name != "mistral-7b-v0.1"} | {"llama-4-scout": "llama-4-scout-17b-16e"}
UNUSED_IN_CATALOG = {
    "qwen3-next-80b-a3b": {"intermediate_size", "num_nextn_predict_layers"},  # all layers MoE; MTP not in config
    "llama-4-scout": {"intermediate_size"},  # interleave step 1: no dense MLP layer
}
# fmt: on


@pytest.mark.parametrize("model", CASES)
def test_config_maps_to_the_published_architecture(model):
    expected, hint = CASES[model]
    imported = load_model_file(CONFIGS / f"{model}.json")
    assert imported.tensors is None and imported.file_bytes == 0 and imported.warnings == ()
    assert {k: getattr(imported.architecture, k) for k in expected} == expected
    assert imported.quant_hint == hint


@pytest.mark.parametrize("model", CATALOG_IDS)
def test_imported_config_equals_the_catalog_entry(model):
    """Two independent readings of one model (its config.json here, vendor figures there) agree."""
    from sizer.catalog.loading import load_catalog
    from sizer.model.architecture.counts import total_params

    catalog_arch = load_catalog().model(CATALOG_IDS[model]).architecture
    imported = architecture_from_config(config(model)).architecture
    differ = {k for k in type(imported).model_fields if getattr(imported, k) != getattr(catalog_arch, k)}
    details = {k: (getattr(imported, k), getattr(catalog_arch, k)) for k in differ}
    assert differ <= UNUSED_IN_CATALOG.get(model, set()), details
    assert total_params(imported) == total_params(catalog_arch)


def test_official_parameter_counts_from_imported_configs():
    """Imported configs give the vendors' exact counts (keras-hub presets quoted in the reference)."""
    from sizer.model.architecture import inventory

    expected = {"llama-3.1-8b": 8_030_261_248, "qwen3-30b-a3b": 30_532_122_624, "gpt-oss-20b": 20_914_757_184}
    for model, count in expected.items():
        tensors = inventory(architecture_from_config(config(model)).architecture)
        assert sum(t.elements for t in tensors if not t.is_mtp) == count, model


def test_unknown_model_type_is_generic_with_a_warning():
    hf = architecture_from_config({**config("llama-3.1-8b"), "model_type": "olmo2"}, "x/config.json")
    assert hf.architecture.family == "llama" and hf.architecture.hidden_size == 4096
    assert "olmo2" in hf.warnings[0]
    moe = architecture_from_config({**config("qwen3-30b-a3b"), "model_type": "qwen2_moe"}, "y/config.json")
    assert moe.architecture.family == "mixtral" and moe.architecture.moe_intermediate_size == 768
    assert "qwen2_moe" in moe.warnings[0]


@pytest.mark.parametrize(
    ("base", "change", "message"),
    [
        ("llama-3.1-8b", {"model_type": "bert", "num_hidden_layers": None}, "lacks num_hidden_layers"),
        ("llama-3.1-8b", {"hidden_size": "4096"}, "hidden_size must be an integer"),
        ("llama-3.1-8b", {"num_key_value_heads": 7}, "multiple of num_key_value_heads"),
        ("deepseek-v3", {"model_type": "deepseek_v4"}, "catalog entry"),
        ("minimax-m2", {"model_type": "minimax", "attn_type_list": [0, 1] * 31}, "lightning"),
    ],
)
def test_configs_that_cannot_be_sized_are_model_file_errors(base, change, message, tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**config(base), **change}))
    with pytest.raises(ModelFileError, match=message) as info:
        load_model_file(path)
    assert str(path) in str(info.value)


def test_config_that_is_not_an_object(tmp_path):
    (tmp_path / "config.json").write_text("[1, 2]")
    with pytest.raises(ModelFileError, match="JSON object"):
        load_model_file(tmp_path / "config.json")


def _ct(weights: dict[str, Any], acts: dict[str, Any] | None = None) -> dict[str, Any]:
    """A compressed-tensors quantization_config with one config group."""
    return {
        "quant_method": "compressed-tensors",
        "config_groups": {"g": {"weights": weights, "input_activations": acts}},
    }


@pytest.mark.parametrize(
    ("quantization", "hint"),
    [
        (
            {"quant_method": "gptq", "bits": 4, "group_size": 128, "desc_act": False, "sym": True},
            "gptq-int4-g128",
        ),
        ({"quant_method": "gptq", "bits": 8, "group_size": 128}, "gptq-int8-g128"),
        (
            {"quant_method": "awq", "bits": 4, "group_size": 128, "zero_point": True, "version": "gemm"},
            "awq-int4-g128",
        ),
        ({"quant_method": "bitsandbytes", "load_in_4bit": True, "bnb_4bit_quant_type": "nf4"}, "bnb-nf4"),
        ({"quant_method": "bitsandbytes", "load_in_8bit": True}, "bnb-int8"),
        ({"quant_method": "fp8", "activation_scheme": "dynamic"}, "fp8-per-tensor"),
        ({"quant_method": "modelopt", "quant_algo": "NVFP4"}, "nvfp4"),
        (_ct({"num_bits": 8, "type": "float", "strategy": "channel"}), "fp8-per-channel"),
        (_ct({"num_bits": 4, "type": "float", "strategy": "tensor_group", "group_size": 16}), "nvfp4"),
        (
            _ct({"num_bits": 8, "type": "int", "strategy": "channel"}, {"num_bits": 8, "type": "int"}),
            "w8a8-int8",
        ),
        ({"quant_method": "gptq", "bits": 2, "group_size": 128}, None),
    ],
)
def test_quantization_config_hints(quantization, hint):
    assert (
        architecture_from_config({**config("llama-3.1-8b"), "quantization_config": quantization}).quant_hint
        == hint
    )


def test_mlx_quantization_block_hint():
    mlx = {**config("llama-3.1-8b"), "quantization": {"group_size": 64, "bits": 4}}
    assert architecture_from_config(mlx).quant_hint == "mlx-4bit"


# fmt: off
# Hugging Face names -> GGUF kinds, checked against gguf's own conversion table (TensorNameMap)
L3 = "model.layers.3."
NAMES = {
    gguf.MODEL_ARCH.LLAMA: ["model.embed_tokens", "lm_head", "model.norm"] + [L3 + n for n in (
        "input_layernorm", "post_attention_layernorm", "self_attn.q_proj", "self_attn.k_proj", "self_attn.o_proj",
        "mlp.gate_proj", "mlp.down_proj", "block_sparse_moe.gate", "block_sparse_moe.experts.w1",
        "block_sparse_moe.experts.w2", "block_sparse_moe.experts.w3")],
    gguf.MODEL_ARCH.QWEN3MOE: [L3 + n for n in (
        "self_attn.q_norm", "mlp.gate", "mlp.experts.up_proj", "mlp.experts.down_proj")],
    gguf.MODEL_ARCH.DEEPSEEK2: [L3 + n for n in (
        "self_attn.q_a_proj", "self_attn.q_a_layernorm", "self_attn.q_b_proj", "self_attn.kv_a_proj_with_mqa",
        "self_attn.kv_a_layernorm", "self_attn.kv_b_proj", "mlp.shared_experts.gate_proj", "mlp.experts.gate_proj")],
    gguf.MODEL_ARCH.GPT_OSS: [L3 + n for n in ("self_attn.sinks", "mlp.router", "mlp.experts.down_proj")],
    gguf.MODEL_ARCH.QWEN3NEXT: [L3 + n for n in (
        "linear_attn.in_proj_qkvz", "linear_attn.in_proj_ba", "linear_attn.conv1d", "linear_attn.A_log",
        "linear_attn.norm", "linear_attn.out_proj", "mlp.shared_expert_gate", "mlp.shared_expert.up_proj",
        "post_attention_layernorm")],
    gguf.MODEL_ARCH.GEMMA3: [L3 + n for n in (
        "post_attention_layernorm", "pre_feedforward_layernorm", "post_feedforward_layernorm")],
    gguf.MODEL_ARCH.PHI3: [L3 + n for n in ("self_attn.qkv_proj", "mlp.gate_up_proj")],
    gguf.MODEL_ARCH.MINIMAXM2: [L3 + n for n in ("block_sparse_moe.gate", "block_sparse_moe.experts.w3")],
}
# fmt: on


@pytest.mark.parametrize("arch", NAMES, ids=[a.name for a in NAMES])
def test_hf_names_map_to_the_kinds_llama_cpp_gives_them(arch):
    table = gguf.get_tensor_name_map(arch, 8)
    post_norm = arch in (gguf.MODEL_ARCH.GEMMA3, gguf.MODEL_ARCH.QWEN3NEXT)
    for hf in NAMES[arch]:
        theirs = table.get_name(hf)
        assert theirs is not None, hf
        expected = (theirs.split(".", 2)[2], 3) if theirs.startswith("blk.") else (theirs, None)
        kind, layer, _, _ = hf_kind(hf + ".weight", post_attention_norm=post_norm)
        assert (kind, layer) == expected, hf


def test_per_expert_and_mtp_names():
    assert hf_kind("model.layers.7.mlp.experts.211.up_proj.weight")[:2] == ("ffn_up_exps", 7)
    assert hf_kind("model.layers.61.eh_proj.weight")[:2] == ("nextn.eh_proj", 61)
    assert hf_kind("model.layers.5.mlp.gate.e_score_correction_bias")[:3] == ("exp_probs_b", 5, True)
    assert hf_kind("mtp.layers.0.mlp.experts.3.down_proj.weight") == ("ffn_down_exps", 0, False, True)
    llama4 = "language_model.model.layers.2.feed_forward.experts.gate_up_proj"
    assert hf_kind(llama4)[:2] == ("ffn_gate_up_exps", 2)
    assert hf_kind("vision_tower.vision_model.encoder.layers.0.mlp.fc1.weight")[0] == "vision"
