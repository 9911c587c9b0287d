"""Issue 13: the way to a fit (suggestions), engine competition, and formats an engine runs converted."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sizer.catalog.loading import load_catalog
from sizer.errors import BadValueError
from sizer.sizing.engine_support import engine_limit
from sizer.sizing.fitter import default_engine, fit
from sizer.sizing.results import FitResult
from sizer.sizing.suggestions import apply_args

CAT = load_catalog()
GB = 10**9


def _fit(model: str, **kw: Any) -> FitResult:
    return fit(model, catalog=CAT, **kw)


# --- the cases of the issue ------------------------------------------------------------------------------

def test_gpt_oss_120b_on_two_3090s_with_ram_fits_with_llama_cpp_expert_offload() -> None:
    r = _fit("gpt-oss-120b", gpus=(("RTX 3090", 2),), ram_bytes=128 * GB, context_tokens=32768)
    assert r.fits is True and r.engine == "llama.cpp" and r.offload == "experts"
    assert r.quant == "mxfp4_moe"  # the MXFP4 experts kept as they are
    # vLLM (the old default) competed and lost because it ignores host RAM
    vllm = [c for c in r.engine_candidates if c.engine == "vllm"]
    assert vllm and vllm[0].fits is False and "vLLM" in r.engine_choice and "does not fit" in r.engine_choice


def test_deepseek_v4_flash_on_one_5090_with_256_gb_fits_with_expert_offload() -> None:
    r = _fit("deepseek-v4-flash", gpus=(("RTX 5090", 1),), ram_bytes=256 * GB)
    assert r.fits is True and r.engine == "llama.cpp" and r.offload == "experts"
    # the routed experts in RAM: more than the 32 GB card could ever hold
    host = [p for p in r.placement if p.kind == "host_ram"]
    assert host and host[0].weights_bytes > 100 * 2**30


def test_gpt_oss_20b_runs_on_a_16_gb_card_with_llama_cpp() -> None:
    # OpenAI: "the gpt-oss-20b model ... can run within 16GB of memory" (https://openai.com/index/introducing-gpt-oss/)
    r = _fit("openai/gpt-oss-20b", gpus=(("RTX 4060 Ti 16GB", 1),), context_tokens=8192)
    assert r.fits is True and r.engine in ("llama.cpp", "ollama") and r.offload == "none"
    assert r.quant == "mxfp4_moe"
    assert any("converted to MXFP4_MOE" in a for a in r.assumptions)


def test_without_hardware_the_format_stays_as_released() -> None:
    r = _fit("gpt-oss-20b")
    assert r.quant == "mxfp4-experts" and r.engine == "vllm"


def test_an_engine_named_by_the_user_does_not_compete() -> None:
    r = _fit("gpt-oss-120b", gpus=(("RTX 3090", 2),), ram_bytes=128 * GB, context_tokens=32768, engine="vllm")
    assert r.engine == "vllm" and r.fits is False and r.engine_candidates == [] and r.engine_choice == ""


# --- suggestions -------------------------------------------------------------------------------------------

def test_a_fit_that_fits_has_no_suggestions() -> None:
    assert _fit("qwen3-8b", gpus=(("RTX 4090", 1),)).suggestions == []


def test_suggestions_for_gpt_oss_120b_on_two_3090s_without_ram() -> None:
    r = _fit("gpt-oss-120b", gpus=(("RTX 3090", 2),), context_tokens=32768)
    assert r.fits is False
    by_kind = {tuple(s.args[::2]): s for s in r.suggestions}
    # 60.8 GiB of weights: a third 24 GB card holds them (3 x 21.9 GiB usable)
    more = [s for s in r.suggestions if s.args == ["--gpu", "nvidia-rtx-3090-24gb:3"]]
    assert more and more[0].fits and more[0].decode_tokens_per_s
    # host RAM for the routed experts, with llama.cpp
    ram = [s for s in r.suggestions if "--ram" in s.args]
    assert ram and ram[0].args[:2] == ["--engine", "llama.cpp"]
    assert by_kind  # every suggestion carries CLI options


def test_a_shorter_context_is_suggested_when_only_the_kv_cache_is_short() -> None:
    # Qwen3-8B Q4_K_M (~4.7 GiB) on a 16 GB card: 128k of KV (36 layers x 8 KV heads x 128 x 2 x 2 B = 144 KiB per
    # token, 18 GiB at 128k) does not fit, a shorter context does
    r = _fit("qwen3-8b", quant="q4_k_m", gpus=(("RTX 4060 Ti 16GB", 1),), context_tokens=131072, engine="llama.cpp")
    assert r.fits is False
    ctx = [s for s in r.suggestions if s.args[:1] == ["-c"]]
    assert ctx and 8192 <= int(ctx[0].args[1]) < 131072
    kv = [s for s in r.suggestions if s.args[:1] == ["--kv-dtype"]]
    assert kv and kv[0].args[1] == "q8_0"


def test_apply_args_replaces_the_options_it_names() -> None:
    request = {"quant": "native", "gpus": (("RTX 3090", 2),), "ram_bytes": None, "ram_bandwidth_gb_s": 50.0,
               "context_tokens": 32768, "engine": None, "kv_dtype": None, "nodes": 1}
    out = apply_args(request, ["--engine", "llama.cpp", "--ram", "256GB", "--gpu", "h100:8", "--nodes", "2",
                               "-c", "16k", "--kv-dtype", "q8_0", "--quant", "q4_k_m"])
    assert out == {"quant": "q4_k_m", "gpus": (("h100", 8),), "ram_bytes": 256 * GB, "ram_bandwidth_gb_s": None,
                   "context_tokens": 16384, "engine": "llama.cpp", "kv_dtype": "q8_0", "nodes": 2}
    with pytest.raises(BadValueError):
        apply_args(request, ["--budget", "1"])


_MODELS = ("gpt-oss-120b", "qwen3-32b", "deepseek-v3", "gpt-oss-20b", "llama-3.3-70b")
_GPUS = ("RTX 3090", "RTX 4060 Ti 16GB", "RTX 5090", "H100", "Arc B570", "RX 7900 XTX")


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model=st.sampled_from(_MODELS), gpu=st.sampled_from(_GPUS), count=st.integers(1, 2),
       ram_gb=st.sampled_from([None, 64, 128]), context=st.sampled_from([4096, 32768, 131072]))
def test_applying_a_suggestion_makes_the_fit_succeed(model: str, gpu: str, count: int, ram_gb: int | None,
                                                     context: int) -> None:
    request: dict[str, Any] = {"quant": "native", "gpus": ((gpu, count),), "ram_bytes": ram_gb and ram_gb * GB,
                               "context_tokens": context}
    r = _fit(model, **request)
    if r.fits:
        assert r.suggestions == []
        return
    for s in r.suggestions:
        again = _fit(model, **apply_args(request, s.args))
        assert again.fits is True, (s.change, s.args)
        assert s.decode_tokens_per_s == (again.performance.decode_tokens_per_s if again.performance else None)


# --- --quant all -------------------------------------------------------------------------------------------

def test_quant_all_skips_a_format_that_cannot_be_made(run_cli) -> None:
    res = run_cli("fit", "gpt-oss-120b", "-q", "all", "-f", "json")
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    ids = [row["quant"] for row in rows]
    assert "q1_0" not in ids and "q4_k_m" in ids and len(ids) == len(set(ids))
    # gpt-oss rows have 2880 values: Q1_0's 128-value blocks do not divide them (2880 = 22.5 x 128)
    assert "q1_0: skipped" in res.stderr
    named = run_cli("fit", "gpt-oss-120b", "-q", "q1_0")
    assert named.exit_code == 2  # asked for by name it stays a usage error


# --- the support matrix ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("gpu", "quant", "runs"), [
    ("MI300X", "awq-int4-g128", False),  # vLLM's quantization table: AWQ not on AMD GPUs
    ("MI300X", "gptq-int4-g128", False),
    ("MI300X", "fp8-block128", True),
    ("RX 7900 XTX", "awq-int4-g128", False),
    ("Arc B570", "w8a8-int8", False),
    ("Arc B570", "awq-int4-g128", True),
])
def test_vllm_support_matrix(gpu: str, quant: str, runs: bool) -> None:
    why = engine_limit(CAT.engine("vllm"), CAT.accelerator(gpu), quant)
    assert (why is None) == runs
    if why is not None:
        assert "https://" in why  # the rule's source is shown with it


def test_default_engine_skips_an_engine_whose_matrix_forbids_the_format() -> None:
    from sizer.placement.hardware import build_hardware

    hw = build_hardware(CAT, (("MI300X", 8),))
    assert default_engine(CAT, hw, CAT.quant("awq-int4-g128")).id != "vllm"
    assert default_engine(CAT, hw, CAT.quant("fp8-block128")).id == "vllm"


def test_a_v4_flash_vllm_fit_prints_its_placement_header_once(run_cli) -> None:
    for gpu in ("H100:4", "RTX 5090"):
        res = run_cli("fit", "deepseek-v4-flash", "-e", "vllm", "--gpu", gpu)
        assert res.exit_code == 0 and res.stdout.count("Placement on") == 1


def test_a_unified_memory_machine_is_offered_a_second_machine() -> None:
    # DeepSeek-V3 Q8_0 is ~665 GB: one 512 GB Mac Studio cannot hold it, two can (llama.cpp RPC)
    r = _fit("deepseek-v3", quant="q8_0", gpus=(("M3 Ultra", 1),), context_tokens=32768)
    assert r.fits is False
    two = [s for s in r.suggestions if "--nodes" in s.args]
    assert two and two[0].args[-2:] == ["--nodes", "2"]
    again = _fit("deepseek-v3", **apply_args({"quant": "q8_0", "gpus": (("M3 Ultra", 1),), "context_tokens": 32768},
                                             two[0].args))
    assert again.fits is True and again.quant == "q8_0"
    # every suggestion runs a format its engine loads (no "llama.cpp runs FP8 block-128")
    for s in _fit("deepseek-v3", gpus=(("M3 Ultra", 1),), context_tokens=32768).suggestions:
        assert "--nodes" not in s.args
