"""KV cache per layer: exact figures for reference models, engine rounding, published and measured log lines.

Expected numbers are written out by hand from the models' configs (shared/reference/models.yaml, the
vendors' config.json) and from the engines' own allocation rules; none is copied from sizer's output.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sizer.errors import BadValueError, UnknownNameError
from sizer.memory.kv_cache import (
    COMMON_KV_DTYPES,
    kv_bytes_per_token,
    kv_cache_per_layer,
    kv_state_bytes,
    kv_total_bytes,
    resolve_kv_dtype,
)
from sizer.schema import Architecture, Engine

MIB = 1 << 20
M = 1 << 20  # "1M tokens" as 1,048,576


def arch(**kw: object) -> Architecture:
    base: dict[str, object] = {"tie_word_embeddings": False, "max_position_embeddings": 131072}
    base.update(kw)
    return Architecture(**base)  # type: ignore[arg-type]


_MLA = {"q_lora_rank": 1536, "kv_lora_rank": 512, "qk_nope_head_dim": 128, "qk_rope_head_dim": 64, "v_head_dim": 128}
# Shapes from shared/reference/models.yaml (vendor config.json values)
DEEPSEEK_V3 = arch(family="deepseek_v3", hidden_size=7168, num_hidden_layers=61, num_attention_heads=128,
                   num_key_value_heads=128, head_dim=192, intermediate_size=18432, vocab_size=129280,
                   n_routed_experts=256, num_experts_per_tok=8, n_shared_experts=1, moe_intermediate_size=2048,
                   first_k_dense_replace=3, **_MLA)
DEEPSEEK_V32 = DEEPSEEK_V3.model_copy(update={"family": "deepseek_v32", "index_n_heads": 64, "index_head_dim": 128,
                                              "index_topk": 2048})
KIMI_K2 = arch(family="deepseek_v3", hidden_size=7168, num_hidden_layers=61, num_attention_heads=64,
               num_key_value_heads=64, head_dim=192, intermediate_size=18432, vocab_size=163840, n_routed_experts=384,
               num_experts_per_tok=8, n_shared_experts=1, moe_intermediate_size=2048, first_k_dense_replace=1, **_MLA)
_V4 = {"family": "deepseek_v4", "num_key_value_heads": 1, "head_dim": 512, "vocab_size": 129280, "n_shared_experts": 1,
       "num_experts_per_tok": 6, "index_n_heads": 64, "index_head_dim": 128, "index_topk": 512, "o_lora_rank": 1024,
       "local_window_tokens": 128, "hc_mult": 4, "max_position_embeddings": 1048576}
V4_FLASH = arch(hidden_size=4096, num_hidden_layers=43, num_attention_heads=64, n_routed_experts=256,
                moe_intermediate_size=2048, q_lora_rank=1024, o_groups=8, window_only_layers=2,
                compress_ratios=(4, 128), **_V4)
# vLLM's V4-Pro test fixture (tests/models/test_dsv4_mono_layers.py) starts [128, 128, 4, 128, 4]
V4_PRO = arch(hidden_size=7168, num_hidden_layers=61, num_attention_heads=128, n_routed_experts=384,
              moe_intermediate_size=3072, q_lora_rank=1536, o_groups=16, compress_ratios=(128, 128) + (4, 128) * 29 + (4,),
              **_V4)
LLAMA_31_8B = arch(family="llama", hidden_size=4096, num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=8,
                   head_dim=128, intermediate_size=14336, vocab_size=128256)
LLAMA_2_7B = arch(family="llama", hidden_size=4096, num_hidden_layers=32, num_attention_heads=32,
                  num_key_value_heads=32, head_dim=128, intermediate_size=11008, vocab_size=32000)
GEMMA_3_27B = arch(family="gemma3", hidden_size=5376, num_hidden_layers=62, num_attention_heads=32,
                   num_key_value_heads=16, head_dim=128, intermediate_size=21504, vocab_size=262208,
                   tie_word_embeddings=True, norms_per_layer=4, qk_norm=True, local_layer_kind="sliding_window",
                   local_layer_period=6, local_window_tokens=1024)
GPT_OSS_120B = arch(family="gpt_oss", hidden_size=2880, num_hidden_layers=36, num_attention_heads=64,
                    num_key_value_heads=8, head_dim=64, intermediate_size=2880, vocab_size=201088,
                    n_routed_experts=128, num_experts_per_tok=4, moe_intermediate_size=2880,
                    local_layer_kind="sliding_window", local_layer_period=2, local_window_tokens=128)
QWEN3_NEXT = arch(family="qwen3_next", hidden_size=2048, num_hidden_layers=48, num_attention_heads=16,
                  num_key_value_heads=2, head_dim=256, intermediate_size=5120, vocab_size=151936,
                  n_routed_experts=512, num_experts_per_tok=10, n_shared_experts=1, moe_intermediate_size=512,
                  local_layer_kind="linear_attention", local_layer_period=4, linear_num_key_heads=16,
                  linear_num_value_heads=32, linear_key_head_dim=128, linear_value_head_dim=128,
                  linear_conv_kernel_dim=4, attention_output_gate=True)
MINIMAX_M2 = arch(family="minimax_m2", hidden_size=3072, num_hidden_layers=62, num_attention_heads=48,
                  num_key_value_heads=8, head_dim=128, vocab_size=200064, n_routed_experts=256, num_experts_per_tok=8,
                  moe_intermediate_size=1536)
LLAMA_4_SCOUT = arch(family="llama4", hidden_size=5120, num_hidden_layers=48, num_attention_heads=40,
                     num_key_value_heads=8, head_dim=128, intermediate_size=16384, vocab_size=202048,
                     n_routed_experts=16, num_experts_per_tok=1, n_shared_experts=1, moe_intermediate_size=8192,
                     local_layer_kind="chunked", local_layer_period=4, local_window_tokens=8192)
ALL = [DEEPSEEK_V3, DEEPSEEK_V32, KIMI_K2, V4_FLASH, V4_PRO, LLAMA_31_8B, LLAMA_2_7B, GEMMA_3_27B, GPT_OSS_120B,
       QWEN3_NEXT, MINIMAX_M2, LLAMA_4_SCOUT]


def engine(rule: str, **kw: object) -> Engine:
    """An engine entry with the rule values of engines.md (llama.cpp: n_ctx padded to 256, n_ubatch 512;
    vLLM: 16-token blocks, max_num_batched_tokens 2048 below 70 GiB)."""
    base: dict[str, object] = {
        "sources": ["https://example.org/engine"], "supported_quants": ["bf16"], "platforms": ["cuda"],
        "kv_cache_dtypes": [{"name": "f16", "bytes_per_element": 2}], "tensor_parallel": True,
        "pipeline_parallel": True, "expert_parallel": False, "layer_split": False, "expert_offload": False,
        "multi_node": False, "runtime_overhead_gib": 0.5,
    }
    if rule == "llama.cpp":
        base.update(id="llama.cpp", name="llama.cpp", context_pad_tokens=256, activation_tokens=512,
                    activation_rule="llama_cpp_compute_buffer",
                    kv_cache_dtypes=[{"name": "f16", "bytes_per_element": 2},
                                     {"name": "q8_0", "bytes_per_element": 1.0625},
                                     {"name": "q4_0", "bytes_per_element": 0.5625}])
    else:
        base.update(id="vllm", name="vLLM", kv_block_tokens=16, activation_tokens=2048,
                    activation_rule="vllm_profile_peak", gpu_memory_utilization=0.9,
                    kv_cache_dtypes=[{"name": "auto", "bytes_per_element": 2},
                                     {"name": "bfloat16", "bytes_per_element": 2},
                                     {"name": "fp8", "bytes_per_element": 1}])
    base.update(kw)
    return Engine(**base)  # type: ignore[arg-type]


LLAMA_CPP = engine("llama.cpp")
VLLM = engine("vllm")


def total(a: Architecture, ctx: int, users: int = 1, bpe: float = 2.0, **kw: object) -> int:
    return kv_total_bytes(kv_cache_per_layer(a, ctx, bpe, sequences=users, **kw))  # type: ignore[arg-type]


# -- exact per-token figures ---------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("model", "expected"),
    [
        pytest.param(DEEPSEEK_V3, 61 * (512 + 64) * 2, id="deepseek-v3-70272"),
        pytest.param(KIMI_K2, 61 * (512 + 64) * 2, id="kimi-k2-70272"),
        # + the indexer key: 128 fp8 values and one fp32 scale (DeepSeek-V3.2-Exp inference/model.py)
        pytest.param(DEEPSEEK_V32, 61 * ((512 + 64) * 2 + 128 + 4), id="deepseek-v3.2-78324"),
        pytest.param(LLAMA_31_8B, 32 * 2 * 8 * 128 * 2, id="llama-3.1-8b-131072"),
        pytest.param(LLAMA_2_7B, 512 * 1024, id="llama-2-7b-512KiB"),
        pytest.param(MINIMAX_M2, 62 * 2 * 8 * 128 * 2, id="minimax-m2-253952"),
        pytest.param(GEMMA_3_27B, 10 * 2 * 16 * 128 * 2, id="gemma-3-27b-global-layers"),
        pytest.param(GPT_OSS_120B, 18 * 2 * 8 * 64 * 2, id="gpt-oss-120b-full-layers"),
        pytest.param(QWEN3_NEXT, 12 * 2 * 2 * 256 * 2, id="qwen3-next-attention-layers"),
        pytest.param(LLAMA_4_SCOUT, 12 * 2 * 8 * 128 * 2, id="llama-4-scout-global-layers"),
        # 21 CSA layers: 512-wide row + 132 B indexer key per 4 tokens; 20 HCA layers: one row per 128 tokens
        pytest.param(V4_FLASH, 21 * (512 * 2 + 132) / 4 + 20 * 512 * 2 / 128, id="deepseek-v4-flash"),
    ],
)
def test_asymptotic_bytes_per_token(model: Architecture, expected: float) -> None:
    assert kv_bytes_per_token(model, 2.0) == pytest.approx(expected, abs=1e-6)


def test_minimax_m2_matches_vendor_240_gb_per_million_tokens() -> None:
    # MiniMax-M2 docs/vllm_deploy_guide.md: "240 GB" of KV per 1M tokens; 253,952 B x 1e6 = 236.5 GiB
    gib = kv_bytes_per_token(MINIMAX_M2, 2.0) * 1_000_000 / 2**30
    assert gib == pytest.approx(240, rel=0.02)


def test_deepseek_mla_is_not_full_kv() -> None:
    # Peers size DeepSeek as if it cached full K and V (128 heads x (192 + 128)): 71x the latent
    full_kv = 61 * 128 * (192 + 128) * 2
    assert full_kv / kv_bytes_per_token(DEEPSEEK_V3, 2.0) == pytest.approx(128 * 320 / 576)


def test_gemma_3_27b_at_128k_caps_sliding_layers() -> None:
    per_layer_token = 2 * 16 * 128 * 2
    expected = (10 * 131072 + 52 * 1024) * per_layer_token
    assert total(GEMMA_3_27B, 131072) == expected
    assert kv_bytes_per_token(GEMMA_3_27B, 2.0, context_tokens=131072) == expected / 131072


def test_llama_4_chunked_layers_capped_at_chunk() -> None:
    per_layer_token = 2 * 8 * 128 * 2
    assert total(LLAMA_4_SCOUT, 1_000_000) == (12 * 1_000_000 + 36 * 8192) * per_layer_token


def test_qwen3_next_fixed_state_per_sequence() -> None:
    conv, recurrent = 3 * (2 * 16 * 128 + 32 * 128), 32 * 128 * 128
    # reference (transformers): conv state in the model dtype, recurrent state fp32
    assert kv_state_bytes(kv_cache_per_layer(QWEN3_NEXT, 10, 2.0)) == 36 * (conv * 2 + recurrent * 4)
    # llama.cpp: both f32 (llama_model::create_memory, GGML_TYPE_F32); vLLM: model dtype (mamba_utils)
    assert kv_state_bytes(kv_cache_per_layer(QWEN3_NEXT, 10, 2.0, engine=LLAMA_CPP, sequences=3)) == \
        3 * 36 * (conv + recurrent) * 4
    assert kv_state_bytes(kv_cache_per_layer(QWEN3_NEXT, 10, 2.0, engine=VLLM)) == 36 * (conv + recurrent) * 2
    # the state does not grow with context; the 12 attention layers do
    assert total(QWEN3_NEXT, 100_000) - total(QWEN3_NEXT, 1) == 99_999 * 12 * 2 * 2 * 256 * 2


def test_deepseek_v4_flash_rows_at_1m() -> None:
    layers = kv_cache_per_layer(V4_FLASH, M, 2.0)
    assert [x.kind for x in layers[:4]] == ["sliding_window", "sliding_window", "compressed", "compressed"]
    assert layers[0].cached_rows == 128  # window only
    assert layers[2].cached_rows == 128 + M // 4  # CSA
    assert layers[3].cached_rows == 128 + M // 128  # HCA
    raw = 43 * 128 * 512 * 2
    csa = 21 * (M // 4) * (512 * 2 + 132)
    hca = 20 * (M // 128) * 512 * 2
    assert sum(x.cache_bytes for x in layers) == raw + csa + hca
    # compressor state, f32 kv + score (llama.cpp llama_dsv4_comp_state)
    assert kv_state_bytes(layers) == 4 * (21 * (2 * 8 * 1024 + 2 * 8 * 256) + 20 * 2 * 128 * 512)


def test_deepseek_v4_vendor_kv_ratios_at_1m() -> None:
    """The vendor: at 1M tokens V4-Pro needs 10% and V4-Flash 7% of V3.2's KV cache.

    Compared as deployed: V3.2 in vLLM's fp8_ds_mla layout (656 B per latent) with FP8 indexer keys
    (132 B); V4 rows of 448 fp8 + 64 bf16 values + 8 B of scales (584 B, vLLM deepseek_v4 attention.py)
    with MXFP4 indexer keys (68 B per 128 values). The vendor rounds to whole percent, so +-0.5 points.
    In bf16 throughout the ratios are about 1.15x higher (8.0% and 11.4%): the formats differ, not the rows.
    """
    v32 = kv_bytes_per_token(DEEPSEEK_V32, 656 / 576, context_tokens=M)
    for model, vendor in ((V4_PRO, 0.10), (V4_FLASH, 0.07)):
        v4 = kv_bytes_per_token(model, 584 / 512, context_tokens=M, indexer_bytes_per_element=68 / 128)
        assert abs(v4 / v32 - vendor) <= 0.005
        bf16 = kv_bytes_per_token(model, 2.0, context_tokens=M) / kv_bytes_per_token(DEEPSEEK_V32, 2.0, context_tokens=M)
        assert bf16 == pytest.approx(vendor * 1.15, rel=0.05)


# -- invariants ----------------------------------------------------------------------------------------------

@given(model=st.sampled_from(ALL), ctx=st.integers(1, 300_000), users=st.integers(1, 16))
def test_reference_kv_is_linear_in_users(model: Architecture, ctx: int, users: int) -> None:
    assert total(model, ctx, users) == users * total(model, ctx)


@given(model=st.sampled_from([DEEPSEEK_V3, LLAMA_31_8B, MINIMAX_M2]), a=st.integers(1, 200_000),
       b=st.integers(1, 200_000))
def test_full_attention_kv_is_linear_in_context(model: Architecture, a: int, b: int) -> None:
    assert total(model, a + b) == total(model, a) + total(model, b)


@given(model=st.sampled_from(ALL), ctx=st.integers(1, 400_000), users=st.integers(1, 8),
       eng=st.sampled_from([None, LLAMA_CPP, VLLM]))
def test_window_layers_never_exceed_their_cap(model: Architecture, ctx: int, users: int, eng: Engine | None) -> None:
    layers = kv_cache_per_layer(model, ctx, 2.0, engine=eng, sequences=users)
    assert kv_total_bytes(layers) == sum(x.cache_bytes + x.state_bytes for x in layers)
    for x in layers:
        if x.kind in ("sliding_window", "chunked"):
            window = model.local_window_tokens or 128
            if eng is None:
                cap = window
            elif eng is LLAMA_CPP:
                cap = -(-(window + 512) // 256) * 256
            else:  # vLLM: window - 1 + max_num_batched_tokens, in blocks, + 1 block
                cap = (-(-(window - 1 + 2048) // 16) + 1) * 16
            assert x.cached_rows <= cap


@given(model=st.sampled_from([LLAMA_31_8B, DEEPSEEK_V3, MINIMAX_M2]), ctx=st.integers(1, 200_000),
       users=st.integers(1, 8))
def test_engine_rounding_stays_within_one_block_or_pad(model: Architecture, ctx: int, users: int) -> None:
    exact, per_token = total(model, ctx, users), kv_bytes_per_token(model, 2.0)
    vllm = total(model, ctx, users, engine=VLLM)  # each sequence: at most 15 tokens of its last block
    assert exact <= vllm <= exact + users * 15 * per_token
    llama = total(model, ctx, users, engine=LLAMA_CPP)  # n_ctx padded, then each stream padded again
    assert exact <= llama <= exact + (users + 1) * 255 * per_token


# -- engine rules --------------------------------------------------------------------------------------------

def test_vllm_rounds_each_sequence_to_16_token_blocks() -> None:
    per_token = 32 * 2 * 8 * 128 * 2
    assert total(LLAMA_31_8B, 1000, engine=VLLM) == 1008 * per_token  # 63 blocks
    assert total(LLAMA_31_8B, 1000, 3, engine=VLLM) == 3 * 1008 * per_token


def test_llama_cpp_pads_n_ctx_to_256() -> None:
    per_token = 32 * 2 * 8 * 128 * 2
    assert total(LLAMA_31_8B, 1000, engine=LLAMA_CPP) == 1024 * per_token
    # -c 3000 -np 3: n_ctx 3072, n_ctx_seq pad256(1024) = 1024 per sequence
    assert total(LLAMA_31_8B, 1000, 3, engine=LLAMA_CPP) == 3072 * per_token


def test_vllm_hybrid_rules_gpt_oss() -> None:
    """kv_cache_interface.SlidingWindowSpec: cdiv(min(window - 1 + max_num_batched_tokens, len), block) + 1."""
    page = 16 * 2 * 8 * 64 * 2  # one 16-token block of one layer
    full_blocks = 131072 // 16
    sliding_blocks = -(-(127 + 8192) // 16) + 1  # 521
    expected = 18 * (full_blocks + sliding_blocks) * page  # 18 + 18 layers: one group each, no padding
    assert total(GPT_OSS_120B, 131072, engine=VLLM, batch_tokens=8192) == expected


def test_vllm_hybrid_groups_pad_gemma_3_27b_sliding_layers() -> None:
    """52 sliding + 10 full layers: groups of 10, so the sliding layers are paid as 60 (kv_cache_planning)."""
    page = 16 * 2 * 16 * 128 * 2
    sliding_blocks = -(-(1023 + 2048) // 16) + 1
    expected = (10 * (32768 // 16) + 60 * sliding_blocks) * page
    assert total(GEMMA_3_27B, 32768, engine=VLLM) == expected


# -- published log lines (checks of the rules) --------------------------------------------------------------

@pytest.mark.parametrize(
    ("model", "n_ctx", "mib"),
    [
        # llama.cpp logs in countless issue reports: "kv self size = 256.00 MB" for LLaMA-7B at the old default
        # n_ctx 512, 2048 MiB at 4096; Llama-3-8B at 8192 "KV self size = 1024.00 MiB, K (f16): 512.00 MiB,
        # V (f16): 512.00 MiB" (re-measured: "llama_kv_cache: size = 1024.00 MiB" with the vendored build)
        (LLAMA_2_7B, 512, 256.0),
        (LLAMA_2_7B, 4096, 2048.0),
        (LLAMA_31_8B, 8192, 1024.0),
    ],
)
def test_llama_cpp_kv_self_size_log_lines(model: Architecture, n_ctx: int, mib: float) -> None:
    assert total(model, n_ctx, engine=LLAMA_CPP) / MIB == mib


@pytest.mark.parametrize(
    ("pool_tokens", "max_model_len", "concurrency"),
    [
        # vLLM docs/serving/parallelism_scaling.md: "GPU KV cache size: 643,232 tokens" /
        # "Maximum concurrency for 40,960 tokens per request: 15.70x"
        (643_232, 40_960, "15.70"),
        # vLLM docs/benchmarking/cli.md: "GPU KV cache size: 15,728,640 tokens" / "... 8,192 tokens ...: 1920"
        (15_728_640, 8_192, "1920.00"),
    ],
)
def test_vllm_max_concurrency_log_lines(pool_tokens: int, max_model_len: int, concurrency: str) -> None:
    # a full-attention model: the pool is whole 16-token blocks, one request takes cdiv(len, 16) of them
    assert pool_tokens % 16 == 0
    pool_bytes = pool_tokens * kv_bytes_per_token(LLAMA_31_8B, 2.0)
    per_request = total(LLAMA_31_8B, max_model_len, engine=VLLM)
    assert f"{pool_bytes / per_request:.2f}" == concurrency


# Measured with llama-fit-params --fit-print -v (llama.cpp as vendored by llama-cpp-python 0.3.36, CPU build) on
# GGUF headers of the real shapes: "llama_kv_cache: size = X MiB (N cells, L layers, S/S seqs)".
@pytest.mark.parametrize(
    ("args", "full_mib", "swa_mib"),
    [
        ({"ctx": 32768}, 2560.0, 624.0),  # 10 layers x 32768 cells; 52 layers x 1536 cells
        ({"ctx": 32768, "batch_tokens": 1024}, 2560.0, 832.0),  # -ub 1024: 2048 SWA cells
        ({"ctx": 8192, "users": 4}, 2560.0, 2496.0),  # -c 32768 -np 4: 4 x 8192 and 4 x 1536 cells
        ({"ctx": 32768, "swa_full": True}, 2560.0, 13312.0),
        ({"ctx": 1000}, 80.0, 416.0),  # 1024 cells in both
        ({"ctx": 1667, "users": 3}, 420.0, 1872.0),  # -c 5000 -np 3: 3 x 1792 and 3 x 1536 cells
    ],
)
def test_llama_cpp_measured_gemma_3_27b(args: dict[str, object], full_mib: float, swa_mib: float) -> None:
    ctx, users = int(args.pop("ctx")), int(args.pop("users", 1))  # type: ignore[call-overload]
    layers = kv_cache_per_layer(GEMMA_3_27B, ctx, 2.0, engine=LLAMA_CPP, sequences=users, **args)  # type: ignore[arg-type]
    assert sum(x.cache_bytes for x in layers if x.kind == "full") / MIB == full_mib
    assert sum(x.cache_bytes for x in layers if x.kind == "sliding_window") / MIB == swa_mib


def test_llama_cpp_measured_deepseek_mla_and_indexer() -> None:
    # 5-layer DeepSeek-V3 / V3.2 shapes at -c 4096: "size = 22.50 MiB (4096 cells, 5 layers)" K only (MLA latent),
    # and for V3.2 the indexer cache "size = 5.00 MiB" (128 f16 values per token per layer)
    assert total(DEEPSEEK_V3, 4096, engine=LLAMA_CPP) / MIB == pytest.approx(22.5 * 61 / 5)
    assert total(DEEPSEEK_V32, 4096, engine=LLAMA_CPP) / MIB == pytest.approx((22.5 + 5.0) * 61 / 5)


def test_llama_cpp_unified_kv_shares_one_stream() -> None:
    # --kv-unified: SWA cells = min(n_ctx, pad256(window x users + n_ubatch)) (llama-kv-cache-iswa.cpp)
    layers = kv_cache_per_layer(GEMMA_3_27B, 8192, 2.0, engine=LLAMA_CPP, sequences=4, unified_kv=True)
    swa = sum(x.cache_bytes for x in layers if x.kind == "sliding_window")
    assert swa == 52 * 4608 * 8192


def test_deepseek_v4_llama_cpp_streams_per_sequence() -> None:
    # llama-kv-cache-dsv4.cpp: raw window = pad256(min(n_ctx_seq, 128 + n_ubatch)) = 768 cells, compressed
    # pad256(ceil(n_ctx_seq / ratio)) cells, indexer keys on CSA layers, all in the KV type (f16)
    layers = kv_cache_per_layer(V4_FLASH, 65536, 2.0, engine=LLAMA_CPP, sequences=2)
    raw = 43 * 768 * 1024
    csa = 21 * 16384 * (1024 + 256)
    hca = 20 * 512 * 1024
    assert sum(x.cache_bytes for x in layers) == 2 * (raw + csa + hca)


# -- KV dtypes -----------------------------------------------------------------------------------------------

def test_kv_dtype_resolution() -> None:
    assert resolve_kv_dtype(None, VLLM).name == "auto"
    assert resolve_kv_dtype("bf16", VLLM).name == "bfloat16"
    assert resolve_kv_dtype("Q8_0", LLAMA_CPP).bytes_per_element == 1.0625
    with pytest.raises(BadValueError, match="does not offer"):
        resolve_kv_dtype("q4_0", VLLM)
    with pytest.raises(UnknownNameError):
        resolve_kv_dtype("q9_9", LLAMA_CPP)
    assert resolve_kv_dtype("fp8_e4m3").bytes_per_element == 1.0
    assert resolve_kv_dtype("fp8_ds_mla").bytes_per_element * 576 == pytest.approx(656)


def test_common_ggml_kv_types_match_gguf() -> None:
    from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

    for name in ("q8_0", "q5_1", "q5_0", "q4_1", "q4_0", "iq4_nl", "f16", "bf16", "f32"):
        block, size = GGML_QUANT_SIZES[GGMLQuantizationType[name.upper()]]
        assert COMMON_KV_DTYPES[name] == size / block


def test_bad_arguments() -> None:
    with pytest.raises(BadValueError):
        kv_cache_per_layer(LLAMA_31_8B, -1, 2.0)
    with pytest.raises(BadValueError):
        kv_cache_per_layer(LLAMA_31_8B, 10, 2.0, sequences=0)


# -- over the catalog ----------------------------------------------------------------------------------------

# shared/reference/models.yaml kv_cache_bytes_per_token_bf16 (hand computed from the vendors' configs)
REFERENCE_PER_TOKEN = {
    "deepseek-v3": 70272, "deepseek-r1": 70272, "deepseek-v3.1": 70272, "kimi-k2-instruct": 70272,
    "kimi-k2-thinking": 70272, "llama-3.1-8b": 131072, "llama-3.1-70b": 327680, "llama-2-7b": 524288,
    "qwen3-8b": 147456, "qwen3-0.6b": 114688, "gemma-3-27b": 81920, "gemma-3-12b": 65536, "gemma-3-4b": 20480,
    "gemma-3-1b": 4096, "gemma-2-9b": 172032, "gemma-2-27b": 188416, "gpt-oss-120b": 36864, "gpt-oss-20b": 24576,
    "qwen3-next-80b-a3b": 24576, "minimax-m2": 253952, "glm-4.5": 376832, "glm-4.5-air": 188416,
    "phi-4": 204800, "llama-4-scout-17b-16e": 196608 // 4, "llama-4-maverick-17b-128e": 196608 // 4,
    # models.yaml: "70272 plus indexer key cache ~61 x 132 bytes"
    "deepseek-v3.2": 70272 + 61 * 132, "deepseek-v3.2-exp": 70272 + 61 * 132,
}


def test_catalog_models_match_reference_per_token() -> None:
    from sizer.catalog.loading import load_catalog

    models = load_catalog().models
    checked = 0
    for model_id, expected in REFERENCE_PER_TOKEN.items():
        if model_id in models:
            assert kv_bytes_per_token(models[model_id].architecture, 2.0) == expected, model_id
            checked += 1
    assert checked >= 10


def test_catalog_deepseek_v4_vendor_ratios() -> None:
    from sizer.catalog.loading import load_catalog

    models = load_catalog().models
    v32 = kv_bytes_per_token(models["deepseek-v3.2"].architecture, 656 / 576, context_tokens=M)
    for model_id, vendor in (("deepseek-v4-pro", 0.10), ("deepseek-v4-flash", 0.07)):
        a = models[model_id].architecture
        v4 = kv_bytes_per_token(a, 584 / 512, context_tokens=M, indexer_bytes_per_element=68 / 128)
        assert abs(v4 / v32 - vendor) <= 0.005, model_id
