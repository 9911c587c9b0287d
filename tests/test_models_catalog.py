"""Every model entry of the catalog, one test id per model: its recomputed counts match the vendor's.

The total is the tensor inventory (MTP layers only when the figure ``includes_mtp``) plus
``extra_params`` (vision towers); it must
be within 0.5% of the official figure, or within the entry's own ``tolerance_pct`` when the entry
explains the gap in ``count_residue``. Active counts use the convention the entry states
(``active_params.embeddings``) and a 3% default tolerance (vendors round them to 2 digits).
"""

from __future__ import annotations

import pytest

from sizer.catalog.loading import load_catalog
from sizer.model.architecture import inventory
from sizer.model.architecture._common import is_moe_layer
from sizer.model.architecture.counts import active_params, total_params
from sizer.model.tensors import Role
from sizer.schema import ModelEntry, canonicalize_name

TOTAL_TOLERANCE_PCT = 0.5
ACTIVE_TOLERANCE_PCT = 3.0


def _models() -> dict[str, ModelEntry]:
    return load_catalog().models


MODELS = _models()
IDS = sorted(MODELS)


def _gap_pct(recomputed: int, official: int) -> float:
    return abs(recomputed - official) / official * 100


@pytest.mark.parametrize("model_id", IDS)
def test_total_matches_official(model_id):
    entry = MODELS[model_id]
    official = entry.total_params
    recomputed = total_params(entry.architecture, include_mtp=official.includes_mtp) + entry.extra_params
    tolerance = official.tolerance_pct or TOTAL_TOLERANCE_PCT
    assert _gap_pct(recomputed, official.value) <= tolerance, (
        f"{model_id}: recomputed {recomputed:,} vs official {official.value:,} ({official.source})"
    )


# per-entry rules run on the entries they concern (a test that asserts nothing is not run)
WIDENED_OR_EXTRA = [i for i in IDS if MODELS[i].extra_params
                    or (MODELS[i].total_params.tolerance_pct or 0) > TOTAL_TOLERANCE_PCT]
WITH_ACTIVE = [i for i in IDS if MODELS[i].active_params is not None]
MOE_WITHOUT_ACTIVE = [i for i in IDS if MODELS[i].active_params is None and MODELS[i].architecture.is_moe]
WITH_LOCAL_LAYERS = [i for i in IDS if MODELS[i].architecture.local_layer_kind is not None]


def test_the_filtered_model_lists_are_not_empty():
    # an empty parameter list would skip its test silently
    assert WIDENED_OR_EXTRA and WITH_ACTIVE and MOE_WITHOUT_ACTIVE and WITH_LOCAL_LAYERS


@pytest.mark.parametrize("model_id", WIDENED_OR_EXTRA)
def test_gaps_and_extras_are_explained(model_id):
    assert MODELS[model_id].count_residue, f"{model_id}: extra_params or a widened tolerance needs a count_residue"


@pytest.mark.parametrize("model_id", MOE_WITHOUT_ACTIVE)
def test_moe_without_active_count_says_why(model_id):
    # a MoE model without a published active count must say so in count_residue (DeepSeek-V3.2)
    assert MODELS[model_id].count_residue, f"{model_id}: MoE models state their active parameters"


@pytest.mark.parametrize("model_id", WITH_ACTIVE)
def test_active_matches_official(model_id):
    entry = MODELS[model_id]
    arch = entry.architecture
    official = entry.active_params
    assert official is not None
    recomputed = active_params(arch, official.embeddings)
    tolerance = official.tolerance_pct or ACTIVE_TOLERANCE_PCT
    assert _gap_pct(recomputed, official.value) <= tolerance, (
        f"{model_id}: recomputed active {recomputed:,} ({official.embeddings}) vs {official.value:,}"
    )
    assert recomputed <= total_params(arch, include_mtp=True) + entry.extra_params


@pytest.mark.parametrize("model_id", IDS)
def test_inventory_is_well_formed(model_id):
    arch = MODELS[model_id].architecture
    tensors = inventory(arch)
    names = [t.name for t in tensors]
    assert len(names) == len(set(names)), "duplicate tensor names"
    main_layers = {t.layer for t in tensors if t.layer is not None and not t.is_mtp}
    assert main_layers == set(range(arch.num_hidden_layers))
    mtp_layers = {t.layer for t in tensors if t.is_mtp}
    first_mtp = arch.num_hidden_layers
    assert mtp_layers == set(range(first_mtp, first_mtp + arch.num_nextn_predict_layers))
    for t in tensors:
        assert all(d > 0 for d in t.shape), t.name
        assert t.name.endswith((".weight", ".bias")), t.name
        if t.layer is None:
            assert not t.name.startswith("blk."), t.name
        else:
            assert t.name.startswith(f"blk.{t.layer}."), t.name
        if t.role is Role.ROUTED_EXPERT:
            assert t.n_experts == t.shape[-1], t.name
            n_experts = arch.n_routed_experts
            if t.is_mtp and arch.mtp_n_routed_experts:
                n_experts = arch.mtp_n_routed_experts
            assert t.n_experts == n_experts, t.name
        else:
            assert t.n_experts == 1, t.name
    globals_ = {t.name: t.shape for t in tensors if t.layer is None}
    assert globals_["token_embd.weight"] == (arch.hidden_size, arch.vocab_size)
    if arch.tie_word_embeddings:
        assert "output.weight" not in globals_
    else:
        assert globals_["output.weight"] == (arch.hidden_size, arch.vocab_size)
    if arch.is_moe:
        routed = {t.layer for t in tensors if t.role is Role.ROUTED_EXPERT and not t.is_mtp}
        expected = {i for i in range(arch.num_hidden_layers) if is_moe_layer(arch, i)}
        assert routed == expected


@pytest.mark.parametrize("model_id", IDS)
def test_official_figures_cite_entry_sources(model_id):
    entry = MODELS[model_id]
    for count in (entry.total_params, entry.active_params):
        if count is not None:
            assert count.source in entry.sources, f"{count.source} missing from sources"


@pytest.mark.parametrize("model_id", WITH_LOCAL_LAYERS)
def test_local_layer_pattern_is_complete(model_id):
    arch = MODELS[model_id].architecture
    assert arch.local_layer_period is not None
    if arch.local_layer_kind in ("sliding_window", "chunked"):
        assert arch.local_window_tokens is not None


def test_hf_repos_are_unique_across_models():
    seen: dict[str, str] = {}
    for model_id, entry in MODELS.items():
        for repo in entry.hf_repos:
            key = canonicalize_name(repo)
            assert key not in seen, f"{repo} is listed by {seen.get(key)} and {model_id}"
            seen[key] = model_id
