"""Tensor inventories of the dense and GQA-MoE families against independent counts and GGUF naming.

Exact parameter counts come from keras-hub presets (Google's Keras team recomputes them from the
released weights), the gpt-oss model card's per-component table, the Gemma 2 report and a Hugging
Face safetensors count; none of them is derived from this code.
"""

from __future__ import annotations

import re
from math import ceil
from typing import Any

import gguf
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sizer.catalog.loading import load_catalog
from sizer.model.architecture import inventory
from sizer.model.architecture._common import is_local_layer, is_moe_layer
from sizer.model.architecture.counts import active_params, total_params
from sizer.model.tensors import Role
from sizer.schema import Architecture

KERAS = "https://github.com/keras-team/keras-hub/blob/master/keras_hub/src/models"

# Exact counts of the released checkpoints' language models (catalog id -> parameters).
EXACT_TOTALS = {
    # {KERAS}/qwen3/qwen3_presets.py
    "qwen3-0.6b": 596_049_920,
    "qwen3-1.7b": 1_720_574_976,
    "qwen3-4b": 4_022_468_096,
    "qwen3-8b": 8_190_735_360,
    "qwen3-14b": 14_768_307_200,
    "qwen3-32b": 32_762_123_264,
    # {KERAS}/qwen3_moe/qwen3_moe_presets.py
    "qwen3-30b-a3b": 30_532_122_624,
    "qwen3-235b-a22b": 235_093_634_560,
    # {KERAS}/qwen/qwen_presets.py
    "qwen2.5-72b": 72_706_203_648,
    # {KERAS}/llama3/llama3_presets.py (Llama 3 and 3.1 8B share the tensors)
    "llama-3.1-8b": 8_030_261_248,
    "llama-3-8b": 8_030_261_248,
    # {KERAS}/llama/llama_presets.py (llama2_7b_en)
    "llama-2-7b": 6_738_415_616,
    # {KERAS}/mistral/mistral_presets.py
    "mistral-7b-v0.3": 7_248_023_552,
    # {KERAS}/mixtral/mixtral_presets.py
    "mixtral-8x7b": 46_702_792_704,
    # {KERAS}/gpt_oss/gpt_oss_presets.py
    "gpt-oss-120b": 116_829_156_672,
    "gpt-oss-20b": 20_914_757_184,
    # {KERAS}/gemma/gemma_presets.py (Gemma 2, 256,000-row embedding)
    "gemma-2-9b": 9_241_705_984,
    "gemma-2-27b": 27_227_128_320,
    # {KERAS}/gemma3/gemma3_presets.py (text-only 1B)
    "gemma-3-1b": 999_885_952,
}

# keras-hub counts the text decoder of the multimodal Gemma 3 with the 262,144-token vocabulary
# (the HF checkpoint's 262,208 rows include image tokens), and Mistral Small 3.1's decoder as the
# same-shape magistral preset.
EXACT_TEXT_TOTALS = {
    "gemma-3-4b": (3_880_099_328, {"vocab_size": 262_144}),  # {KERAS}/gemma3/gemma3_presets.py
    "gemma-3-27b": (27_009_002_240, {"vocab_size": 262_144}),  # {KERAS}/gemma3/gemma3_presets.py
    "mistral-small-3.1-24b": (23_572_403_200, {}),  # {KERAS}/mistral/mistral_presets.py (magistral)
}

# GGUF arch whose tensor list each family's names must come from (gguf.MODEL_TENSORS).
GGUF_ARCH = {
    "llama": "LLAMA", "qwen2": "QWEN2", "qwen3": "QWEN3", "phi3": "PHI3", "gemma2": "GEMMA2",
    "gemma3": "GEMMA3", "mixtral": "LLAMA", "qwen3_moe": "QWEN3MOE", "llama4": "LLAMA4",
    "gpt_oss": "GPT_OSS", "glm4_moe": "GLM4_MOE", "minimax_m2": "MINIMAXM2",
}


@pytest.fixture(scope="module")
def models():
    return load_catalog().models


def _arch(models, model_id: str, **update) -> Architecture:
    arch = models[model_id].architecture
    return Architecture.model_validate({**arch.model_dump(), **update}) if update else arch


@pytest.mark.parametrize("model_id", sorted(EXACT_TOTALS))
def test_total_matches_exact_published_count(models, model_id):
    assert total_params(models[model_id].architecture) == EXACT_TOTALS[model_id]


@pytest.mark.parametrize("model_id", sorted(EXACT_TEXT_TOTALS))
def test_text_decoder_matches_exact_published_count(models, model_id):
    expected, update = EXACT_TEXT_TOTALS[model_id]
    assert total_params(_arch(models, model_id, **update)) == expected


@pytest.mark.parametrize(
    ("model_id", "mlp", "attention", "embed_unembed", "active", "total"),
    [
        # gpt-oss model card (arXiv 2508.10925), Table 1, in billions rounded to 0.01
        ("gpt-oss-120b", 114.71, 0.96, 1.16, 5.13, 116.83),
        ("gpt-oss-20b", 19.12, 0.64, 1.16, 3.61, 20.91),
    ],
)
def test_gpt_oss_components_match_model_card(models, model_id, mlp, attention, embed_unembed, active, total):
    arch = models[model_id].architecture
    by_role: dict[Role, int] = {}
    for t in inventory(arch):
        by_role[t.role] = by_role.get(t.role, 0) + t.elements
    attn_params = by_role[Role.ATTENTION] + sum(
        t.elements for t in inventory(arch) if t.kind.startswith("attn_") and t.role is Role.NORM
    )
    assert round((by_role[Role.ROUTED_EXPERT] + by_role[Role.ROUTER]) / 1e9, 2) == mlp
    assert round(attn_params / 1e9, 2) == attention
    assert round((by_role[Role.EMBEDDING] + by_role[Role.OUTPUT]) / 1e9, 2) == embed_unembed
    assert round(active_params(arch, "output_only") / 1e9, 2) == active
    assert round(total_params(arch) / 1e9, 2) == total


@pytest.mark.parametrize(
    ("model_id", "non_embedding"),
    # Gemma 2 report (arXiv 2408.00118), Table 2: non-embedding parameters
    [("gemma-2-9b", 8_324_201_984), ("gemma-2-27b", 26_047_480_320)],
)
def test_gemma2_non_embedding_matches_report(models, model_id, non_embedding):
    arch = models[model_id].architecture
    embedding = sum(t.elements for t in inventory(arch) if t.role is Role.EMBEDDING)
    assert total_params(arch) - embedding == non_embedding


def test_minimax_m2_plus_fp8_scales_matches_safetensors_count(models):
    # Hugging Face safetensors count of the same-shape MiniMax-M2.5 (reference models.yaml):
    # weights plus one FP32 weight_scale_inv per 128 x 128 block of every FP8 matrix (attention
    # projections and experts; router, norms, embedding and lm_head stay unquantized).
    arch = models["minimax-m2"].architecture
    scales = sum(
        ceil(t.shape[0] / 128) * ceil(t.shape[1] / 128) * t.n_experts
        for t in inventory(arch)
        if t.role in (Role.ATTENTION, Role.ROUTED_EXPERT) and t.name.endswith(".weight")
    )
    assert total_params(arch) + scales == 228_703_644_928


@pytest.mark.parametrize("model_id", ["llama-3.1-8b", "qwen2.5-7b", "phi-4", "gemma-3-27b", "mixtral-8x7b",
                                      "qwen3-30b-a3b", "llama-4-maverick-17b-128e", "gpt-oss-20b", "glm-4.5",
                                      "glm-4.5-air", "minimax-m2"])
def test_tensor_names_are_gguf_names_of_the_arch(models, model_id):
    arch = models[model_id].architecture
    gguf_arch = getattr(gguf.MODEL_ARCH, GGUF_ARCH[arch.family])
    allowed = {gguf.TENSOR_NAMES[t] for t in gguf.MODEL_TENSORS[gguf_arch]}
    for t in inventory(arch):
        base, suffix = t.name.rsplit(".", 1)
        assert suffix in ("weight", "bias"), t.name
        template = re.sub(r"^blk\.\d+\.", "blk.{bid}.", base)
        assert template in allowed, f"{t.name} is not a {GGUF_ARCH[arch.family]} tensor"
        assert base.endswith(t.kind)


def test_phi3_keeps_fused_qkv_and_gate_up(models):
    arch = models["phi-4"].architecture
    layer0 = {t.kind: t.shape for t in inventory(arch) if t.layer == 0}
    q_width = arch.num_attention_heads * arch.head_dim
    kv_width = arch.num_key_value_heads * arch.head_dim
    assert layer0["attn_qkv"] == (arch.hidden_size, q_width + 2 * kv_width)
    assert layer0["ffn_up"] == (arch.hidden_size, 2 * arch.intermediate_size)
    assert "ffn_gate" not in layer0 and "attn_q" not in layer0


def test_llama4_maverick_interleaves_dense_and_moe_layers(models):
    arch = models["llama-4-maverick-17b-128e"].architecture
    tensors = inventory(arch)
    moe_layers = {t.layer for t in tensors if t.kind == "ffn_up_exps"}
    assert moe_layers == set(range(1, 48, 2))  # config moe_layers: 1, 3, ..., 47
    dense_up = {t.layer: t.shape for t in tensors if t.kind == "ffn_up"}
    assert set(dense_up) == set(range(0, 48, 2))
    assert all(shape == (5120, 16384) for shape in dense_up.values())  # intermediate_size_mlp
    assert {t.layer for t in tensors if t.kind == "ffn_up_shexp"} == moe_layers
    exps = next(t for t in tensors if t.kind == "ffn_down_exps")
    assert exps.shape == (8192, 5120, 128) and exps.n_experts == 128


def test_glm45_dense_layers_and_mtp_layer(models):
    arch = models["glm-4.5"].architecture
    tensors = inventory(arch)
    assert {t.layer for t in tensors if t.kind == "ffn_gate"} == {0, 1, 2}
    mtp = [t for t in tensors if t.is_mtp]
    assert {t.layer for t in mtp} == {92}
    assert all(t.layer == 92 for t in tensors if t.kind.startswith("nextn."))
    assert {"nextn.eh_proj", "ffn_up_exps", "attn_q"} <= {t.kind for t in mtp}
    # biases on q/k/v only, per-head q/k norms, router score-correction vector
    assert {t.kind for t in tensors if t.name.endswith(".bias") and t.layer == 5} == {
        "attn_q", "attn_k", "attn_v", "exp_probs_b"}
    assert total_params(arch, include_mtp=True) - total_params(arch) == sum(t.elements for t in mtp)


def test_gpt_oss_biases_and_sinks(models):
    arch = models["gpt-oss-120b"].architecture
    layer0 = {t.name: t for t in inventory(arch) if t.layer == 0}
    assert layer0["blk.0.attn_sinks.weight"].shape == (64,)
    assert layer0["blk.0.ffn_gate_inp.bias"].shape == (128,)
    assert layer0["blk.0.ffn_gate_exps.bias"].shape == (2880, 128)
    assert layer0["blk.0.ffn_down_exps.bias"].role is Role.ROUTED_EXPERT
    assert layer0["blk.0.attn_output.bias"].shape == (2880,)


def test_tied_models_have_no_output_tensor(models):
    for model_id in ("gemma-3-1b", "llama-3.2-1b", "qwen3-4b"):
        names = {t.name for t in inventory(models[model_id].architecture)}
        assert "output.weight" not in names and "token_embd.weight" in names
    assert "output.weight" in {t.name for t in inventory(models["qwen3-8b"].architecture)}


def test_local_layer_patterns(models):
    gemma3 = models["gemma-3-27b"].architecture
    global_layers = [i for i in range(gemma3.num_hidden_layers) if not is_local_layer(gemma3, i)]
    assert global_layers == list(range(5, 62, 6))
    oss = models["gpt-oss-20b"].architecture
    assert [i for i in range(6) if is_local_layer(oss, i)] == [0, 2, 4]  # even layers slide
    scout = models["llama-4-scout-17b-16e"].architecture
    assert sum(not is_local_layer(scout, i) for i in range(48)) == 12  # every 4th layer global
    assert not any(is_local_layer(models["qwen3-8b"].architecture, i) for i in range(36))


def test_active_params_conventions(models):
    arch = models["mixtral-8x7b"].architecture
    both, head, none = (active_params(arch, e) for e in ("both", "output_only", "none"))
    vocab_rows = arch.vocab_size * arch.hidden_size
    assert both - head == vocab_rows and head - none == vocab_rows
    dense = models["qwen3-4b"].architecture  # tied: the one table is the head
    assert active_params(dense, "output_only") == active_params(dense, "both") == total_params(dense)
    assert active_params(dense, "none") == total_params(dense) - dense.vocab_size * dense.hidden_size


def test_inventory_is_cached(models):
    arch = models["qwen3-235b-a22b"].architecture
    assert inventory(arch) is inventory(arch)


# ---- invariants over random small architectures -------------------------------------------------

_dense: st.SearchStrategy[dict[str, Any]] = st.builds(
    dict,
    family=st.sampled_from(["llama", "qwen2", "qwen3", "phi3", "gemma2", "gemma3"]),
    hidden_size=st.sampled_from([64, 128, 256]),
    num_hidden_layers=st.integers(1, 6),
    num_key_value_heads=st.sampled_from([1, 2, 4]),
    group=st.sampled_from([1, 2, 4]),
    head_dim=st.sampled_from([16, 32, 64]),
    intermediate_size=st.integers(8, 512),
    vocab_size=st.integers(16, 4096),
    tie_word_embeddings=st.booleans(),
)


def _dense_arch(d: dict[str, Any], **update: Any) -> Architecture:
    d = {**d, **update}
    group = d.pop("group")
    gemma = d["family"].startswith("gemma")
    return Architecture(
        **d,
        num_attention_heads=d["num_key_value_heads"] * group,
        max_position_embeddings=4096,
        attention_bias=d["family"] == "qwen2",
        qk_norm=d["family"] in ("qwen3", "gemma3"),
        norms_per_layer=4 if gemma else 2,
    )


@settings(max_examples=60, deadline=None)
@given(_dense)
def test_dense_total_is_linear_in_layers_and_tying_removes_one_table(d):
    one = total_params(_dense_arch(d, num_hidden_layers=1))
    two = total_params(_dense_arch(d, num_hidden_layers=2))
    arch = _dense_arch(d)
    assert total_params(arch) == one + (arch.num_hidden_layers - 1) * (two - one)
    untied = total_params(_dense_arch(d, tie_word_embeddings=False))
    tied = total_params(_dense_arch(d, tie_word_embeddings=True))
    assert untied - tied == arch.vocab_size * arch.hidden_size
    names = [t.name for t in inventory(arch)]
    assert len(names) == len(set(names))


@settings(max_examples=60, deadline=None)
@given(
    family=st.sampled_from(["mixtral", "qwen3_moe", "llama4", "gpt_oss", "glm4_moe", "minimax_m2"]),
    n_experts=st.integers(1, 16),
    data=st.data(),
)
def test_moe_active_share_of_experts(family, n_experts, data):
    k = data.draw(st.integers(1, n_experts))
    base = dict(
        family=family, hidden_size=64, num_hidden_layers=data.draw(st.integers(1, 5)), num_attention_heads=4,
        num_key_value_heads=2, head_dim=16, intermediate_size=96, vocab_size=100, tie_word_embeddings=False,
        max_position_embeddings=4096, n_routed_experts=n_experts, moe_intermediate_size=32,
        norms_per_layer=2, n_shared_experts=1 if family in ("llama4", "glm4_moe") else 0,
        first_k_dense_replace=1 if family == "glm4_moe" else 0,
        moe_layer_period=data.draw(st.sampled_from([1, 2])) if family == "llama4" else 1,
    )
    arch = Architecture(**base, num_experts_per_tok=k)
    full = Architecture(**base, num_experts_per_tok=n_experts)
    experts = sum(t.elements for t in inventory(arch) if t.role is Role.ROUTED_EXPERT)
    assert active_params(full, "both") == total_params(full)
    assert total_params(arch) - active_params(arch, "both") == experts - experts * k // n_experts
    moe_layers = {t.layer for t in inventory(arch) if t.kind == "ffn_gate_inp"}
    assert moe_layers == {i for i in range(arch.num_hidden_layers) if is_moe_layer(arch, i)}
