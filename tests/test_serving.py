"""Serving at scale (#12): the layouts engines use, their memory rules, and speed under load.

Truth used here, independent of the code under test: the published layouts (SGLang's DeepSeek-V3 on one
8x H200 node with data-parallel attention; Qwen3-235B served to 200 users by replicas), the KV bytes of the
memory model (not placement) and the catalog's peak figures; the rest are invariants.
"""

from __future__ import annotations

import json
import math
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sizer.calibration.serving import ServingReport, _Loss, _params, load_rows, predict, serving_calibration
from sizer.catalog.loading import Catalog, load_catalog
from sizer.errors import BadValueError
from sizer.recommendation.pipeline import Constraints, recommend
from sizer.sizing.fitter import fit
from sizer.sizing.results import CurvePoint
from sizer.speed.serving_factors import ServingParams
from tests.conftest import RunCli

GIB = 2**30


@cache
def catalog() -> Catalog:
    return load_catalog()


def test_deepseek_v3_fp8_serves_50_users_at_32k_on_one_h200_node_with_dp_attention() -> None:
    # SGLang's documented first setup for DeepSeek-V3: one 8x H200 node, --enable-dp-attention
    # (https://docs.sglang.io/docs/advanced_features/dp_dpa_smg_guide)
    r = fit("deepseek-v3", system="dgx-h200", context_tokens=32768, users=50, engine="sglang", catalog=catalog())
    assert r.fits is True
    assert r.layout is not None and r.layout.attention_data_parallel == 8 and r.layout.expert_parallel == 8
    # each GPU holds the KV of its own 1/8 of the requests: 50 x 32768 tokens x the MLA latent's bytes / 8
    one_copy = 50 * 32768 * r.memory.kv_cache_bytes_per_token
    assert r.memory.kv_cache_bytes_per_token == (512 + 64) * 2 * 61  # kv_lora_rank + rope dims, 16-bit, 61 layers
    for u in r.placement:
        assert u.kv_cache_bytes == pytest.approx(one_copy / 8, rel=1e-6)
    # plain tensor parallel keeps the whole latent cache on every GPU and does not fit
    tp = fit("deepseek-v3", system="dgx-h200", context_tokens=32768, users=50, engine="sglang", tp=8, dp=1, ep=1,
             catalog=catalog())
    assert tp.fits is False
    assert all(u.kv_cache_bytes == pytest.approx(one_copy, rel=1e-6) for u in tp.placement)


def test_qwen3_235b_for_200_users_at_32k_is_served_by_replicas() -> None:
    res = recommend("qwen3-235b-a22b", Constraints(context_tokens=32768, users=200, min_tps=20), catalog=catalog())
    assert res.recommendations, "nothing found"
    for rec in res.recommendations:
        assert rec.fits and rec.per_user_decode_tokens_per_s >= 20
    assert any("replicas" in rec.placement for rec in res.recommendations)


@settings(max_examples=8, deadline=None)
@given(st.integers(1, 64), st.sampled_from([4096, 16384, 32768]))
def test_dp_attention_never_holds_more_kv_per_gpu_than_tensor_parallel(users: int, context: int) -> None:
    kw = dict(system="dgx-h200", context_tokens=context, users=users, engine="sglang", catalog=catalog())
    tp = fit("deepseek-v3", tp=8, dp=1, ep=1, **kw)  # type: ignore[arg-type]
    dp = fit("deepseek-v3", tp=8, dp=8, ep=8, **kw)  # type: ignore[arg-type]
    attention = tp.memory.weights_by_class.get("attention", 0) + tp.memory.weights_by_class.get("indexer", 0)
    for a, b in zip(tp.placement, dp.placement, strict=True):
        assert b.kv_cache_bytes <= a.kv_cache_bytes
        # the price: the attention weights are whole on every rank (at most all of them more per GPU)
        assert 0 <= b.weights_bytes - a.weights_bytes <= attention
        # so DP attention needs less memory per GPU exactly when the KV it saves exceeds that price
        saved_kv = a.kv_cache_bytes - b.kv_cache_bytes
        if saved_kv > attention:
            assert b.used_bytes < a.used_bytes


SETUPS = [("llama-3.3-70b", "fp8", "h100", 2, "vllm"), ("qwen3-30b-a3b", "fp8", "h200", 1, "sglang"),
          ("deepseek-v3", "native", "h200", 8, "tensorrt-llm"), ("gpt-oss-120b", "native", "h100", 1, "vllm"),
          ("llama-3.1-405b", "fp8", "mi300x", 8, "vllm")]


@cache
def _curve(setup: tuple[str, str, str, int, str]) -> tuple[tuple[CurvePoint, ...], float, float]:
    model, quant, gpu, n, engine = setup
    users = (1, 2, 4, 8, 16, 32, 64, 128, 256)
    r = fit(model, quant=quant, gpus=((gpu, n),), context_tokens=4096, users=1, engine=engine,
            curve_users=users, catalog=catalog())
    assert r.performance is not None
    return tuple(r.performance.curve), r.performance.decode_roofline_tokens_per_s, r.performance.decode_tokens_per_s


@pytest.mark.parametrize("setup", SETUPS, ids=[s[0] for s in SETUPS])
def test_more_users_never_raise_per_user_speed_nor_drop_aggregate_below_one_user(
    setup: tuple[str, str, str, int, str],
) -> None:
    curve, roofline, single = _curve(setup)
    assert len(curve) == 9
    for a, b in zip(curve, curve[1:], strict=False):
        assert b.per_user_decode_tokens_per_s <= a.per_user_decode_tokens_per_s * (1 + 1e-9)
    for p in curve:
        assert p.aggregate_decode_tokens_per_s >= single * (1 - 1e-3)
        # no estimate above the physical roofline of one sequence
        assert p.per_user_decode_tokens_per_s <= roofline * (1 + 1e-9)


@cache
def _report() -> ServingReport:
    return serving_calibration(catalog(), loo=False)


def test_no_serving_estimate_exceeds_its_roofline() -> None:
    roof = ServingParams(1.0, 1.0, 0.0, 0.0, "roofline", True, 1.0, 1.0)
    rows = _report().rows
    assert len(rows) >= 50
    for row, estimate, _ in rows:
        assert estimate <= predict(row, roof) * (1 + 1e-9), row.id


def test_the_vectorised_fit_loss_is_the_serving_model() -> None:
    rows = [r for r, _, _ in _report().rows]
    x = (0.62, 0.33, 17.0, 55.0, 0.4, 0.7)
    by_hand = sum(abs(math.log(predict(r, _params(x)) / r.measured)) for r in rows) / len(rows)
    assert _Loss(rows)(x) == pytest.approx(by_hand, rel=1e-9)


def test_every_serving_measurement_has_its_source_quote_and_engine_version() -> None:
    rows = load_rows()
    assert len({r["id"] for r in rows}) == len(rows)
    for r in rows:
        assert r["source"].startswith("https://") and r["quote"] and r["engine_version"], r["id"]
        assert r["measured"] > 0 and r["metric"] in ("output_tokens_per_s_per_user", "output_tokens_per_s_total",
                                                      "output_tokens_per_s_per_gpu", "total_tokens_per_s_per_gpu")


def test_calibrated_engines_record_their_versions_and_lose_the_upper_estimate_warning() -> None:
    table = catalog().calibration
    rows = table.values() if isinstance(table, dict) else table
    entries = [e for e in rows if getattr(e, "engine", None) == "tensorrt-llm"]
    assert entries and all(e.engine_versions for e in entries)
    r = fit("llama-3.3-70b", quant="fp8", gpus=(("h100", 2),), context_tokens=4096, engine="trt-llm",
            catalog=catalog())
    assert not any("treat them as an upper estimate" in w for w in r.warnings)
    assert any("serving calibration" in a and "TensorRT-LLM" in a for a in r.assumptions)


def test_single_user_deepseek_v3_on_8x_h200_is_near_published_speeds() -> None:
    # published single-stream DeepSeek-R1/V3 decode on 8 GPUs without speculative decoding: ~60-80 tok/s
    # (TensorRT-LLM's 67 tok/s baseline on 8x B200; serving.md section 2)
    r = fit("deepseek-v3", system="dgx-h200", context_tokens=4096, engine="sglang", catalog=catalog())
    assert r.performance is not None and 45 <= r.performance.decode_tokens_per_s <= 90


def test_fit_users_list_prints_the_curve_in_the_json_contract(run_cli: RunCli) -> None:
    res = run_cli("fit", "llama-3.1-8b", "--gpu", "h100", "-c", "8k", "--users", "1,8,32", "--format", "json")
    assert res.exit_code == 0, res.output
    perf = json.loads(res.stdout)["performance"]
    assert [p["users"] for p in perf["curve"]] == [1, 8, 32]
    for p in perf["curve"]:
        assert set(p) == {"users", "per_user_decode_tokens_per_s", "aggregate_decode_tokens_per_s",
                          "decode_tokens_per_s_per_gpu", "ttft_s", "fits"}
        assert isinstance(p["users"], int) and isinstance(p["fits"], bool)
    table = run_cli("fit", "llama-3.1-8b", "--gpu", "h100", "--users", "1,8,32")
    assert "Throughput / interactivity curve" in table.stdout


@pytest.mark.parametrize("bad", ["x", "1,,-3", "0", ""])
def test_a_bad_users_list_is_a_usage_error(run_cli: RunCli, bad: str) -> None:
    res = run_cli("fit", "llama-3.1-8b", "--gpu", "h100", "--users", bad)
    assert res.exit_code == 2


def test_a_pinned_layout_the_heads_cannot_take_is_a_clear_usage_error() -> None:
    # Llama-3.1-8B has 32 heads: tensor parallel 3 does not divide them
    with pytest.raises(BadValueError, match="--tp 3"):
        fit("llama-3.1-8b", gpus=(("h100", 3),), engine="vllm", tp=3, catalog=catalog())


def test_replicas_split_the_users_kv_and_keep_whole_weights() -> None:
    one = fit("llama-3.1-8b", gpus=(("h100", 1),), context_tokens=8192, users=16, engine="vllm", catalog=catalog())
    four = fit("llama-3.1-8b", gpus=(("h100", 4),), context_tokens=8192, users=16, engine="vllm", dp=4,
               catalog=catalog())
    assert four.layout is not None and four.layout.replicas == 4 and four.layout.tensor_parallel == 1
    for u in four.placement:
        assert u.weights_bytes == one.placement[0].weights_bytes
        assert u.kv_cache_bytes == pytest.approx(one.placement[0].kv_cache_bytes / 4, rel=1e-6)


def test_gpu_memory_utilization_and_max_num_seqs_change_what_fits() -> None:
    base = fit("llama-3.1-8b", gpus=(("h100", 1),), engine="vllm", catalog=catalog())
    low = fit("llama-3.1-8b", gpus=(("h100", 1),), engine="vllm", gpu_memory_utilization=0.5, catalog=catalog())
    h100 = next(a for a in catalog().accelerators.values() if a.id == "nvidia-h100-sxm-80gb")
    assert low.placement[0].capacity_bytes == int(int(h100.memory_gib_usable * GIB) * 0.5)
    assert low.max_concurrency is not None and base.max_concurrency is not None
    assert low.max_concurrency < base.max_concurrency
    capped = fit("llama-3.1-8b", gpus=(("h100", 1),), engine="vllm", max_num_seqs=7, catalog=catalog())
    assert capped.performance is not None and capped.performance.saturated_users == 7
    # vLLM's own default on an 80 GB H100: 1024 sequences (engine/arg_utils.py get_batch_defaults)
    assert base.performance is not None and base.performance.saturated_users == min(1024, int(base.max_concurrency))


def test_recommend_searches_an_fp8_kv_cache_that_doubles_the_sequences_a_gpu_holds() -> None:
    # Llama-3.1-8B, 16 users at 128k: 16 x 131072 x 128 KiB of BF16 KV (~256 GiB) fits no single GPU; FP8 KV
    # (~128 GiB) fits one 180 GB B200 beside the 15 GiB of weights
    res = recommend("llama-3.1-8b", Constraints(context_tokens=131072, users=16, max_gpus=1, min_tps=None,
                                                vendors=("nvidia",), quants=("bf16",), engines=("vllm",),
                                                include_systems=False, workers=1), catalog=catalog())
    fp8 = [r for r in res.recommendations if r.fit_inputs.kv_dtype == "fp8"]
    assert fp8, [r.summary for r in res.recommendations]
    i = fp8[0].fit_inputs
    again = fit(i.model, quant=i.quant, gpus=tuple((g, n) for g, n in i.gpus), context_tokens=i.context_tokens,
                users=i.users, engine=i.engine, kv_dtype=i.kv_dtype, catalog=catalog())
    assert again.fits is True
    bf16 = fit(i.model, quant=i.quant, gpus=tuple((g, n) for g, n in i.gpus), context_tokens=i.context_tokens,
               users=i.users, engine=i.engine, catalog=catalog())
    assert bf16.fits is False
    assert again.memory.kv_cache_bytes * 2 == pytest.approx(bf16.memory.kv_cache_bytes, rel=0.01)


def test_mtp_layers_are_loaded_and_speed_grows_by_at_most_the_tokens_a_step_yields() -> None:
    kw = dict(system="dgx-h200", context_tokens=4096, engine="sglang", catalog=catalog())
    base = fit("deepseek-v3", **kw)  # type: ignore[arg-type]
    mtp = fit("deepseek-v3", mtp=1, **kw)  # type: ignore[arg-type]
    # the MTP layer's bytes (reported, not loaded, without --mtp) now count in the weights
    assert base.memory.mtp_weights_bytes > 0
    assert sum(u.weights_bytes for u in mtp.placement) > sum(u.weights_bytes for u in base.placement)
    assert base.performance is not None and mtp.performance is not None
    # one drafted token accepted 85% of the time (DeepSeek-V3 report): at most 1.85 tokens per step
    ratio = mtp.performance.decode_tokens_per_s / base.performance.decode_tokens_per_s
    assert 1.0 < ratio <= 1.85
    assert any("MTP" in a and "2412.19437" in a for a in mtp.assumptions)
    with pytest.raises(BadValueError, match="no multi-token-prediction"):
        fit("llama-3.1-8b", gpus=(("h100", 1),), mtp=1, catalog=catalog())


def test_a_draft_model_costs_its_memory_on_every_gpu() -> None:
    kw = dict(quant="fp8", gpus=(("h100", 2),), context_tokens=4096, engine="vllm", catalog=catalog())
    base = fit("llama-3.3-70b", **kw)  # type: ignore[arg-type]
    spec = fit("llama-3.3-70b", draft="llama-3.2-1b", **kw)  # type: ignore[arg-type]
    draft = fit("llama-3.2-1b", context_tokens=4096, engine="vllm", catalog=catalog())
    per_gpu = (draft.memory.weights_bytes + draft.memory.kv_cache_bytes) / 2
    for a, b in zip(base.placement, spec.placement, strict=True):
        assert b.overhead_bytes - a.overhead_bytes == pytest.approx(per_gpu, abs=1)
    assert spec.performance is not None and base.performance is not None
    assert spec.performance.decode_tokens_per_s > base.performance.decode_tokens_per_s
