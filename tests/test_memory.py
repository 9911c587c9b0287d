"""The memory breakdown and the activation / runtime-overhead rules.

The llama.cpp compute-buffer figures below were measured with ``llama-fit-params --fit-print -v`` of the
llama.cpp that llama-cpp-python 0.3.36 vendors (CPU build; the graph and ggml-alloc's sizing are the same
on every backend), on GGUF headers carrying the models' real shapes: "sched_reserve: CPU compute buffer
size = X MiB". Llama-3-8B at n_ubatch 512 with flash attention gives 266.50 MiB (without: 572.01 MiB at
n_ctx 8192): the logits (vocab x n_ubatch x 4 B = 250.5 MiB) plus two hidden-state rows per token.
The measurements were taken with the CPU backend only (no GPU here); a CUDA build may differ by a few
MiB where it fuses or places ops differently.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sizer.errors import BadValueError
from sizer.memory.activations import activation_bytes, activation_tokens, runtime_overhead_bytes
from sizer.memory.breakdown import Workload, breakdown
from sizer.memory.kv_cache import kv_total_bytes
from sizer.model.architecture import inventory
from sizer.model.tensors import QuantizedTensor
from sizer.schema import Architecture, Engine

MIB = 1 << 20


def arch(**kw: object) -> Architecture:
    base: dict[str, object] = {"tie_word_embeddings": False, "max_position_embeddings": 131072}
    base.update(kw)
    return Architecture(**base)  # type: ignore[arg-type]


def engine(rule: str, **kw: object) -> Engine:
    base: dict[str, object] = {
        "sources": ["https://example.org/engine"], "supported_quants": ["bf16"], "platforms": ["cuda"],
        "tensor_parallel": True, "pipeline_parallel": True, "expert_parallel": False, "layer_split": False,
        "expert_offload": False, "multi_node": False, "runtime_overhead_gib": 0.5,
    }
    if rule == "llama.cpp":
        base.update(id="llama.cpp", name="llama.cpp", context_pad_tokens=256, activation_tokens=512,
                    activation_rule="llama_cpp_compute_buffer",
                    kv_cache_dtypes=[{"name": "f16", "bytes_per_element": 2},
                                     {"name": "q8_0", "bytes_per_element": 1.0625}])
    else:
        base.update(id="vllm", name="vLLM", kv_block_tokens=16, activation_tokens=2048, runtime_overhead_gib=1.5,
                    activation_rule="vllm_profile_peak", device_tiers=[{"min_device_gib": 70, "activation_tokens": 8192}],
                    kv_cache_dtypes=[{"name": "auto", "bytes_per_element": 2}, {"name": "fp8", "bytes_per_element": 1}])
    base.update(kw)
    return Engine(**base)  # type: ignore[arg-type]


LLAMA_CPP, VLLM = engine("llama.cpp"), engine("vllm")
MLX = engine("vllm", id="mlx", name="MLX", activation_rule="mlx_lazy", kv_block_tokens=256)

LLAMA_3_8B = arch(family="llama", hidden_size=4096, num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=8,
                  head_dim=128, intermediate_size=14336, vocab_size=128256)
LLAMA_2_7B = arch(family="llama", hidden_size=4096, num_hidden_layers=32, num_attention_heads=32,
                  num_key_value_heads=32, head_dim=128, intermediate_size=11008, vocab_size=32000)
LLAMA_31_70B = arch(family="llama", hidden_size=8192, num_hidden_layers=80, num_attention_heads=64,
                    num_key_value_heads=8, head_dim=128, intermediate_size=28672, vocab_size=128256)
QWEN3_30B_A3B = arch(family="qwen3_moe", hidden_size=2048, num_hidden_layers=48, num_attention_heads=32,
                     num_key_value_heads=4, head_dim=128, vocab_size=151936, n_routed_experts=128,
                     num_experts_per_tok=8, moe_intermediate_size=768, qk_norm=True)
GEMMA_3_27B = arch(family="gemma3", hidden_size=5376, num_hidden_layers=62, num_attention_heads=32,
                   num_key_value_heads=16, head_dim=128, intermediate_size=21504, vocab_size=262208,
                   tie_word_embeddings=True, norms_per_layer=4, qk_norm=True, local_layer_kind="sliding_window",
                   local_layer_period=6, local_window_tokens=1024)
DEEPSEEK_V3 = arch(family="deepseek_v3", hidden_size=7168, num_hidden_layers=61, num_attention_heads=128,
                   num_key_value_heads=128, head_dim=192, intermediate_size=18432, vocab_size=129280,
                   n_routed_experts=256, num_experts_per_tok=8, n_shared_experts=1, moe_intermediate_size=2048,
                   first_k_dense_replace=3, q_lora_rank=1536, kv_lora_rank=512, qk_nope_head_dim=128,
                   qk_rope_head_dim=64, v_head_dim=128, num_nextn_predict_layers=1)


# (model, flash attention, n_ctx, n_ubatch, measured MiB)
MEASURED = [
    (LLAMA_3_8B, True, 4096, 512, 266.50), (LLAMA_3_8B, True, 16384, 1024, 533.00),
    (LLAMA_3_8B, False, 4096, 512, 308.01), (LLAMA_3_8B, False, 16384, 512, 1100.01),
    (LLAMA_2_7B, True, 4096, 512, 100.51), (LLAMA_2_7B, True, 16384, 512, 112.51),
    (LLAMA_2_7B, False, 4096, 512, 320.01), (LLAMA_2_7B, False, 16384, 1024, 2224.02),
    (LLAMA_31_70B, True, 4096, 512, 282.50), (LLAMA_31_70B, False, 16384, 512, 2164.01),
    (QWEN3_30B_A3B, True, 16384, 512, 304.75), (QWEN3_30B_A3B, False, 16384, 1024, 2172.02),
    (GEMMA_3_27B, True, 16384, 512, 533.13), (GEMMA_3_27B, False, 16384, 512, 1122.51),
    (DEEPSEEK_V3, True, 4096, 512, 412.01), (DEEPSEEK_V3, True, 16384, 512, 424.01),
    (DEEPSEEK_V3, False, 4096, 256, 720.00), (DEEPSEEK_V3, False, 16384, 512, 4536.01),
]


@pytest.mark.parametrize(("model", "fa", "n_ctx", "ubatch", "mib"), MEASURED)
def test_llama_cpp_compute_buffer_matches_measurement(model: Architecture, fa: bool, n_ctx: int, ubatch: int,
                                                      mib: float) -> None:
    got = activation_bytes(model, LLAMA_CPP, context_tokens=n_ctx, batch_tokens=ubatch, flash_attention=fa) / MIB
    assert got == pytest.approx(mib, rel=0.05)


def test_llama_cpp_logits_dominate_large_vocabularies() -> None:
    # output buffer: vocab x n_ubatch x 4 B plus two hidden-state rows per token
    assert activation_bytes(LLAMA_3_8B, LLAMA_CPP, context_tokens=8192) == 512 * (2 * 4096 + 128256) * 4


@given(tokens=st.integers(1, 16384), more=st.integers(1, 16384),
       eng=st.sampled_from([LLAMA_CPP, VLLM, MLX]), model=st.sampled_from([LLAMA_3_8B, QWEN3_30B_A3B, DEEPSEEK_V3]))
def test_activations_grow_with_the_micro_batch(tokens: int, more: int, eng: Engine, model: Architecture) -> None:
    small = activation_bytes(model, eng, context_tokens=32768, batch_tokens=tokens)
    large = activation_bytes(model, eng, context_tokens=32768, batch_tokens=tokens + more)
    assert 0 < small <= large


def test_vllm_profile_peak() -> None:
    # 2048 tokens on a small card; the H100 tier (>= 70 GiB) profiles 8192
    assert activation_tokens(VLLM) == 2048
    assert activation_tokens(VLLM, device_memory_gib=80) == 8192
    assert activation_tokens(VLLM, 100, device_memory_gib=80) == 100
    one = activation_bytes(LLAMA_31_70B, VLLM, batch_tokens=8192)
    tp8 = activation_bytes(LLAMA_31_70B, VLLM, batch_tokens=8192, n_devices=8)
    assert tp8 < one
    # never below the dummy sampler run: fp32 logits of 256 sequences (x3 for softmax and sort)
    assert activation_bytes(LLAMA_3_8B, VLLM, batch_tokens=256) >= 256 * 128256 * 4 * 3


def test_runtime_overhead() -> None:
    assert runtime_overhead_bytes(VLLM) == int(1.5 * 2**30)


# -- breakdown -----------------------------------------------------------------------------------------------

def bf16(model: Architecture) -> tuple[QuantizedTensor, ...]:
    return tuple(QuantizedTensor(t, "BF16", t.elements * 2) for t in inventory(model))


def test_breakdown_adds_up() -> None:
    tensors = bf16(DEEPSEEK_V3)
    w = Workload(context_tokens=32768, users=4)
    b = breakdown(tensors, DEEPSEEK_V3, w, LLAMA_CPP, None)
    loaded = [qt for qt in tensors if not qt.tensor.is_mtp]
    assert b.weights_bytes == sum(qt.weights_bytes for qt in loaded)
    assert sum(b.weights_by_role.values()) == b.weights_bytes == sum(b.weights_by_kind.values())
    assert b.kv_cache_bytes == sum(x.kv_bytes for x in b.kv_layers) == kv_total_bytes(b.kv_layers)
    assert b.total_bytes == b.weights_bytes + b.kv_cache_bytes + b.activations_bytes + b.overhead_bytes
    assert len(b.kv_layers) == DEEPSEEK_V3.num_hidden_layers
    # MLA latent at f16, n_ctx 131072 (4 streams of 32768)
    assert b.kv_cache_bytes == 61 * 576 * 2 * 131072
    assert any("MTP layers not loaded" in a for a in b.assumptions)


def test_breakdown_states_its_assumptions() -> None:
    b = breakdown(bf16(LLAMA_3_8B), LLAMA_3_8B, Workload(context_tokens=8000), LLAMA_CPP, None)
    text = " | ".join(b.assumptions)
    assert "KV f16, 2 bytes per element" in text
    assert "padded to 256" in text
    assert "n_ubatch 512" in text
    assert b.kv_cache_bytes == 8192 * 131072  # n_ctx 8000 -> 8192
    assert b.kv_dtype.name == "f16"


def test_breakdown_kv_dtype_choices() -> None:
    w = Workload(context_tokens=4096, kv_dtype="q8_0")
    tensors = bf16(LLAMA_3_8B)
    assert breakdown(tensors, LLAMA_3_8B, w, LLAMA_CPP).kv_cache_bytes == 4096 * 131072 * 17 // 32
    # an explicit dtype wins over the workload's
    assert breakdown(tensors, LLAMA_3_8B, w, LLAMA_CPP, "f16").kv_cache_bytes == 4096 * 131072
    with pytest.raises(BadValueError):
        breakdown(tensors, LLAMA_3_8B, w, VLLM)  # vLLM has no q8_0 cache


def test_breakdown_without_engine_is_weights_and_exact_kv() -> None:
    b = breakdown(bf16(LLAMA_3_8B), LLAMA_3_8B, Workload(context_tokens=1000, users=2), None, "bf16")
    assert b.kv_cache_bytes == 2 * 1000 * 131072
    assert b.activations_bytes == b.overhead_bytes == 0


@given(ctx=st.integers(1, 100_000), users=st.integers(1, 8), eng=st.sampled_from([LLAMA_CPP, VLLM, None]))
def test_breakdown_kv_by_hand(ctx: int, users: int, eng: Engine | None) -> None:
    """Llama-3-8B (GQA, no sliding window): 2 (K and V) x 8 KV heads x 128 x 2 bytes (16-bit) = 4,096 bytes
    per token per layer, x 32 layers = 131,072 bytes per token. Without an engine, exactly context x users
    tokens; vLLM pages of 16 tokens per sequence; llama.cpp n_ctx = context x users padded to 256, then one
    stream per sequence of n_ctx / users cells padded to 256 (llama-context.cpp n_ctx_seq)."""
    b = breakdown((), LLAMA_3_8B, Workload(context_tokens=ctx, users=users), eng, "f16" if eng is not VLLM else None)
    if eng is None:
        tokens = ctx * users
    elif eng is VLLM:
        tokens = -(-ctx // 16) * 16 * users
    else:
        n_ctx = -(-ctx * users // 256) * 256
        tokens = -(-(n_ctx // users) // 256) * 256 * users
    assert b.kv_cache_bytes == tokens * 131_072
    assert b.kv_layer_bytes == (tokens * 4096,) * 32
    assert b.total_bytes == b.kv_cache_bytes + b.activations_bytes + b.overhead_bytes


@pytest.mark.parametrize("bad", [{"context_tokens": 0}, {"context_tokens": 10, "users": 0},
                                 {"context_tokens": 10, "batch_tokens": 0}])
def test_workload_rejects_nonsense(bad: dict[str, Any]) -> None:
    with pytest.raises(BadValueError):
        Workload(**bad)
