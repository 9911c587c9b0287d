"""Issue 13: recommend ranks what an expert would build (TTFT bound, support matrix, no GPU holding almost
nothing, expert offload in the default search) and launch commands carry the YaRN setting."""

from __future__ import annotations

from functools import cache

import pytest

from sizer.catalog.loading import load_catalog
from sizer.recommendation.expert import default_max_ttft_s
from sizer.recommendation.launch import yarn_setting
from sizer.recommendation.pipeline import Constraints, recommend
from sizer.recommendation.results import RecommendResult
from sizer.sizing.engine_support import engine_limit, platform_limit, platforms_of
from sizer.sizing.fitter import fit

CAT = load_catalog()
CASES = {
    "v3-32k": ("deepseek-v3", Constraints(context_tokens=32768)),
    "v3-32k-50-users": ("deepseek-v3", Constraints(context_tokens=32768, users=50, min_tps=20)),
    "70b": ("llama-3.3-70b", Constraints(top=8)),
    "gpt-oss-120b-32k": ("gpt-oss-120b", Constraints(context_tokens=32768, top=8)),
}


@cache
def result(case: str) -> RecommendResult:
    model, c = CASES[case]
    return recommend(model, c, catalog=CAT)


@pytest.mark.parametrize("case", list(CASES))
def test_no_row_violates_the_engines_support_matrix(case: str) -> None:
    for r in result(case).recommendations:
        for g in r.gpus:
            acc = CAT.accelerators[g.id]
            assert engine_limit(CAT.engines[r.engine], acc, r.quant) is None, (r.summary, g.id)
        platforms = frozenset().union(*(platforms_of(CAT.accelerators[g.id]) for g in r.gpus))
        for cmd in r.launch:  # the alternative engines' commands too
            assert platform_limit(CAT.engines[cmd.engine], platforms, r.quant) is None, (r.summary, cmd.engine)


@pytest.mark.parametrize("case", list(CASES))
def test_no_default_row_exceeds_the_default_ttft(case: str) -> None:
    res = result(case)
    bound = default_max_ttft_s(res.context_tokens)
    assert res.recommendations
    for r in res.recommendations:
        assert r.ttft_s <= bound, r.summary
    assert any("time to first token" in a and "default" in a for a in res.assumptions)


def test_default_ttft_bound_by_hand() -> None:
    assert default_max_ttft_s(32768) == pytest.approx(655.36)  # 32,768 tokens at 50 tokens/s
    assert default_max_ttft_s(1024) == 60.0  # at least a minute


def test_deepseek_v3_first_row_is_not_a_gpu_holding_almost_nothing() -> None:
    recs = result("v3-32k").recommendations
    first = recs[0]
    assert "Arc B570" not in first.hardware
    for r in recs:
        if r.offload == "layers":
            # "N of 61 layers in RAM (-ngl G)": the GPUs hold at least a tenth of the layers
            gpu_layers = int(r.placement.rsplit("-ngl ", 1)[1].rstrip(")"))
            assert gpu_layers >= 6.1, r.summary
    # the usual build is in front: one desk card with the routed experts in RAM (KTransformers or llama.cpp)
    assert any(r.offload == "experts" and r.engine in ("ktransformers", "llama.cpp") and sum(g.count for g in r.gpus)
               == 1 for r in recs)


def test_awq_on_mi300x_is_not_run_with_vllm() -> None:
    for r in result("v3-32k-50-users").recommendations:
        amd = any(CAT.accelerators[g.id].vendor.lower() == "amd" for g in r.gpus)
        assert not (amd and r.quant.startswith("awq") and r.engine == "vllm"), r.summary


def test_max_ttft_zero_lifts_the_bound() -> None:
    res = recommend("deepseek-v3", Constraints(context_tokens=32768, max_ttft_s=0, top=3), catalog=CAT)
    assert any("not bounded" in a for a in res.assumptions)


# --- YaRN ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("context", "expected"), [
    (40960, None),  # within the configured positions
    (65536, (2.0, 32768)),  # 65,536 / 32,768 = 2
    (100000, (3.5, 32768)),  # 3.05 rounded up to a half
    (131072, (4.0, 32768)),
    (262144, (4.0, 32768)),  # never above the card's factor
])
def test_yarn_setting(context: int, expected: tuple[float, int] | None) -> None:
    assert yarn_setting(context, 40960, 4.0, 32768) == expected


def test_qwen3_beyond_its_trained_context_gets_yarn_flags_in_launch_commands() -> None:
    res = recommend("qwen3-32b", Constraints(context_tokens=131072, top=3), catalog=CAT)
    cmds = {c.engine: c.command for r in res.recommendations for c in r.launch}
    assert cmds
    if "llama.cpp" in cmds:
        assert "--rope-scaling yarn --rope-scale 4 --yarn-orig-ctx 32768" in cmds["llama.cpp"]
    if "vllm" in cmds:
        assert '"rope_type":"yarn","factor":4.0,"original_max_position_embeddings":32768' in cmds["vllm"]
    if "sglang" in cmds:
        assert "--json-model-override-args" in cmds["sglang"]
    short = recommend("qwen3-32b", Constraints(context_tokens=8192, top=2), catalog=CAT)
    assert not any("yarn" in c.command for r in short.recommendations for c in r.launch)


def test_fit_beyond_the_configured_positions_states_yarn_instead_of_warning() -> None:
    r = fit("qwen3-32b", context_tokens=131072, catalog=CAT)
    assert not any("beyond the model's trained length" in w for w in r.warnings)
    assert any("YaRN" in a for a in r.assumptions)
    far = fit("qwen3-32b", context_tokens=262144, catalog=CAT)
    assert any("beyond the model's trained length" in w for w in far.warnings)
