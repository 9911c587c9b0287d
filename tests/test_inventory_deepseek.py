"""Tensor inventories of the DeepSeek-style and hybrid families against independent figures.

Independent truth used here: the vendors' official counts (catalog ``total_params`` /
``active_params`` with their sources), hand counts published in the reference notes
(DeepSeek-V3: 671.03B main + 11.61B MTP; Kimi K2: 1,014.69B routed experts + 11.72B rest; V3.2's
indexer formula), Qwen's non-embedding figure, the Engram hash-bucket primes (recomputed here from
NeMo's hashing rule), gguf's tensor-name tables, and closed-form per-layer formulas from the
reference's description of each family.
"""

from __future__ import annotations

import re
from math import ceil

import gguf
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sizer.catalog.loading import load_catalog
from sizer.model.architecture import inventory
from sizer.model.architecture.counts import active_params, total_params
from sizer.model.tensors import Role
from sizer.schema import Architecture

MY_MODELS = (
    "deepseek-v3", "deepseek-r1", "deepseek-v3.1", "deepseek-v3.2-exp", "deepseek-v3.2", "deepseek-v4-flash",
    "deepseek-v4-pro", "deepseek-v4.1-flash", "kimi-k2-instruct", "kimi-k2-thinking", "qwen3-next-80b-a3b",
)


@pytest.fixture(scope="module")
def models():
    return load_catalog().models


def _by_role(arch: Architecture, *, mtp: bool = False) -> dict[Role, int]:
    out: dict[Role, int] = {}
    for t in inventory(arch):
        if t.is_mtp == mtp:
            out[t.role] = out.get(t.role, 0) + t.elements
    return out


# ---- official counts --------------------------------------------------------------------------


@pytest.mark.parametrize("model_id", MY_MODELS)
def test_total_matches_official_count(models, model_id):
    entry = models[model_id]
    official = entry.total_params
    recomputed = total_params(entry.architecture, include_mtp=official.includes_mtp) + entry.extra_params
    tolerance = (official.tolerance_pct or 0.5) / 100
    assert abs(recomputed - official.value) <= tolerance * official.value, recomputed
    if official.tolerance_pct:  # a rounded headline: the recomputation must round to it
        digits = len(str(official.value).rstrip("0"))
        assert float(f"{recomputed:.{digits}g}") == official.value
        assert entry.count_residue


@pytest.mark.parametrize("model_id", [m for m in MY_MODELS if not m.startswith("deepseek-v3.2")])
def test_active_matches_official_count(models, model_id):
    entry = models[model_id]
    official = entry.active_params
    recomputed = active_params(entry.architecture, official.embeddings)
    tolerance = (official.tolerance_pct or 3.0) / 100
    assert abs(recomputed - official.value) <= tolerance * official.value, recomputed


def test_deepseek_v3_matches_reference_hand_count(models):
    arch = models["deepseek-v3"].architecture
    main = total_params(arch)
    mtp = total_params(arch, include_mtp=True) - main
    assert round(main / 1e9, 2) == 671.03  # reference notes: 671.03B main
    assert round(mtp / 1e9, 2) == 11.61  # reference notes: 11.61B MTP unique
    assert abs(mtp - 11.5e9) / 11.5e9 < 0.01  # README_WEIGHTS: 11.5B unique MTP parameters
    by_role = _by_role(arch)
    assert round((by_role[Role.EMBEDDING]) / 1e9, 1) == 0.9  # README_WEIGHTS: 0.9B embedding
    assert round((by_role[Role.OUTPUT]) / 1e9, 1) == 0.9  # and 0.9B output head


def test_hf_safetensors_total_of_v32(models):
    # HF's 685B counts: main + MTP layer + the MTP layer's stored copies of embedding and head + one
    # FP32 scale per 128 x 128 block of every FP8 matrix (attention, indexer q/k, experts, dense MLP).
    arch = models["deepseek-v3.2"].architecture
    tensors = inventory(arch)
    copies = sum(t.elements for t in tensors if t.role in (Role.EMBEDDING, Role.OUTPUT))
    fp8 = (Role.ATTENTION, Role.DENSE_FFN, Role.SHARED_EXPERT, Role.ROUTED_EXPERT)
    scales = sum(
        ceil(t.shape[0] / 128) * ceil(t.shape[1] / 128) * t.n_experts
        for t in tensors if t.role in fp8 or t.kind in ("indexer.attn_q_b", "indexer.attn_k")
    )
    hf_total = total_params(arch, include_mtp=True) + copies + scales
    assert abs(hf_total - 685e9) / 685e9 < 0.001


def test_v32_indexer_adds_the_reference_formula(models):
    v3, v32 = models["deepseek-v3"].architecture, models["deepseek-v3.2"].architecture
    # reference: wq_b (q_lora x 64 x 128), wk (h x 128), k_norm (LayerNorm 128), weights_proj (h x 64)
    per_layer = 1536 * 64 * 128 + 7168 * 128 + 2 * 128 + 7168 * 64
    assert total_params(v32) - total_params(v3) == 61 * per_layer
    assert round(61 * per_layer / 1e9, 2) == 0.85  # "the indexer adds ~0.85B"
    assert total_params(v32, include_mtp=True) - total_params(v32) == (
        total_params(v3, include_mtp=True) - total_params(v3) + per_layer
    )


def test_kimi_k2_split_matches_reference(models):
    arch = models["kimi-k2-instruct"].architecture
    by_role = _by_role(arch)
    routed = by_role.pop(Role.ROUTED_EXPERT)
    assert round(routed / 1e9, 2) == 1014.69  # reference: routed experts 1,014.69B
    assert round(sum(by_role.values()) / 1e9, 2) == 11.72  # everything else 11.72B
    assert not any(t.is_mtp for t in inventory(arch))
    assert {t.layer for t in inventory(arch) if t.kind == "ffn_gate"} == {0}


def test_qwen3_next_non_embedding_matches_card(models):
    arch = models["qwen3-next-80b-a3b"].architecture
    by_role = _by_role(arch)
    non_embedding = total_params(arch) - by_role[Role.EMBEDDING] - by_role[Role.OUTPUT]
    assert abs(non_embedding - 79e9) / 79e9 < 0.005  # card: 79B non-embedding


def test_v4_flash_matches_third_party_diagram(models):
    # reference: third-party diagram of the released checkpoint, 284.44B total
    assert abs(total_params(models["deepseek-v4-flash"].architecture) - 284.44e9) / 284.44e9 < 0.001


# ---- Engram (V4.1) ------------------------------------------------------------------------------


def _is_prime(n: int) -> bool:
    if n < 2:
        return False
    for p in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37):
        if n % p == 0:
            return n == p
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for a in (2, 3, 5, 7, 11, 13, 17):  # deterministic below 3.4e14
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def test_engram_tables_hold_the_hash_bucket_primes(models):
    # NeMo's DeepseekV41NgramHash: per Engram layer, (max_ngram 4 - 1) x 8 heads buckets, each the
    # next unused prime above engram_vocab_size - 1 = 15,999,999; a table's rows are their sum.
    arch = models["deepseek-v4.1-flash"].architecture
    primes: list[int] = []
    n = 15_999_999
    while len(primes) < 48:
        n += 1
        if _is_prime(n):
            primes.append(n)
    assert arch.engram_rows_per_table == (sum(primes[:24]), sum(primes[24:]))
    tables = [t for t in inventory(arch) if t.role is Role.ENGRAM]
    assert [(t.name, t.shape) for t in tables] == [
        ("blk.1.engram_embd.weight", (256, sum(primes[:24]))),
        ("blk.14.engram_embd.weight", (256, sum(primes[24:]))),
    ]
    params = sum(t.elements for t in tables)
    assert round(params / 1e9) == 197  # reference: ~197B params of Engram
    bytes_ = sum(t.shape[1] for t in tables) * 264  # FP8 + 8 e8m0 scales per 256-value row
    assert round(bytes_ / 1e9) == 203 and 188.5 < bytes_ / 2**30 < 190  # "~203 GB", "~189-190 GiB"
    assert arch.engram_rows_per_token == 48 == 2 * 3 * 8  # two layers x 3 n-gram orders x 8 heads


def test_v41_backbone_and_drafter(models):
    entry = models["deepseek-v4.1-flash"]
    arch = entry.architecture
    by_role = _by_role(arch)
    backbone = total_params(arch) - by_role[Role.ENGRAM]
    assert abs(backbone - 552e9) / 552e9 < 0.005  # reference: ~552B backbone
    mtp = [t for t in inventory(arch) if t.is_mtp]
    assert {t.layer for t in mtp} == {40, 41, 42}
    assert {t.shape[2] for t in mtp if t.role is Role.ROUTED_EXPERT} == {128}  # DSpark: 128 experts
    assert not any(t.kind.startswith(("compressor", "indexer", "engram")) for t in mtp)
    # vision: 32 x (qkv, o with biases, SwiGLU 2816, 2 norms) + patch embed + norm + aligner + delimiters
    block = (1024 * 3072 + 3072) + (1024 * 1024 + 1024) + 1024 * 2 * 2816 + 2816 * 1024 + 2 * 1024
    vision = 32 * block + (3 * 14 * 14 * 1024 + 1024) + 1024 + (9 * 1024 * 5120 + 5120) + (5120 * 5120 + 5120)
    assert entry.extra_params == vision + 3 * 5120


def test_v41_csa2_sources(models):
    from sizer.model.architecture.deepseek_v41 import kv_source

    arch = models["deepseek-v4.1-flash"].architecture
    tensors = inventory(arch)
    assert {t.layer for t in tensors if t.kind == "compressor_kv"} == {2, 8, 14, 20}
    assert {t.layer for t in tensors if t.kind == "compressor_gate"} == {2, 8, 14}  # ratio 1 has none
    assert {t.layer for t in tensors if t.kind == "indexer.attn_q_b"} == {2, 8, 14, 20, 24, 28, 32, 36}
    assert {t.layer for t in tensors if t.kind == "indexer.attn_k"} == {2, 8, 14, 20}
    assert [kv_source(arch, i) for i in (0, 1, 2, 7, 8, 19, 20, 39)] == [None, None, 2, 2, 8, 14, 20, 20]


# ---- layer patterns ------------------------------------------------------------------------------


def test_v4_flash_layer_schedule(models):
    from sizer.model.architecture.deepseek_v4 import compress_ratio

    arch = models["deepseek-v4-flash"].architecture
    ratios = [compress_ratio(arch, i) for i in range(arch.num_hidden_layers)]
    assert ratios[:2] == [0, 0] and set(ratios[2:]) == {4, 128}
    assert all(a != b for a, b in zip(ratios[2:], ratios[3:], strict=False))  # CSA and HCA alternate
    tensors = inventory(arch)
    csa = {i for i, r in enumerate(ratios) if r == 4}
    assert {t.layer for t in tensors if t.kind == "indexer.attn_q_b"} == csa
    assert {t.layer for t in tensors if t.kind == "compressor_kv"} == {i for i, r in enumerate(ratios) if r}
    kv = {t.layer: t.shape for t in tensors if t.kind == "compressor_kv" and t.layer is not None}
    assert all(kv[i] == (4096, (2 if ratios[i] == 4 else 1) * 512) for i in kv)  # overlap on CSA
    assert {t.layer for t in tensors if t.kind == "ffn_gate_tid2eid"} == {0, 1, 2}
    assert {t.layer for t in tensors if t.kind == "exp_probs_b"} == set(range(3, 43)) | {43}
    names = {t.name: t for t in tensors}
    assert names["blk.5.attn_output_a.weight"].shape == (64 * 512 // 8, 8 * 1024)
    assert names["blk.5.hc_attn_fn.weight"].shape == (4 * 4096, 24)
    assert names["hc_head_fn.weight"].shape == (4 * 4096, 4)
    assert names["blk.0.ffn_gate_tid2eid.weight"].shape == (6, 129280)


def test_qwen3_next_layer_pattern(models):
    arch = models["qwen3-next-80b-a3b"].architecture
    tensors = inventory(arch)
    assert {t.layer for t in tensors if t.kind == "attn_q" and not t.is_mtp} == set(range(3, 48, 4))
    assert {t.layer for t in tensors if t.kind == "ssm_in"} == set(range(48)) - set(range(3, 48, 4))
    names = {t.name: t.shape for t in tensors}
    assert names["blk.3.attn_q.weight"] == (2048, 2 * 16 * 256)  # query + output gate
    assert names["blk.0.ssm_in.weight"] == (2048, 2 * 16 * 128 + 2 * 32 * 128)
    assert names["blk.0.ssm_conv1d.weight"] == (4, 2 * 16 * 128 + 32 * 128)
    assert names["blk.0.ffn_gate_inp_shexp.weight"] == (2048,)
    assert {t.layer for t in tensors if t.is_mtp} == {48}


# ---- naming and invariants ------------------------------------------------------------------------

GGUF_ARCH = {"deepseek_v3": "DEEPSEEK2", "deepseek_v32": "GLM_DSA", "qwen3_next": "QWEN3NEXT"}


@pytest.mark.parametrize(
    "model_id", ["deepseek-v3", "deepseek-v3.2", "kimi-k2-instruct", "qwen3-next-80b-a3b"]
)
def test_names_are_gguf_names(models, model_id):
    arch = models[model_id].architecture
    gguf_arch = getattr(gguf.MODEL_ARCH, GGUF_ARCH[arch.family])
    allowed = {gguf.TENSOR_NAMES[t] for t in gguf.MODEL_TENSORS[gguf_arch]}
    allowed |= {v for k, v in gguf.TENSOR_NAMES.items() if k.name.startswith("NEXTN_")}
    for t in inventory(arch):
        base, suffix = t.name.rsplit(".", 1)
        assert suffix in ("weight", "bias"), t.name
        assert re.sub(r"^blk\.\d+\.", "blk.{bid}.", base) in allowed, t.name
        assert base.endswith(t.kind)


@pytest.mark.parametrize("model_id", ["deepseek-v4-flash", "deepseek-v4-pro", "deepseek-v4.1-flash"])
def test_kinds_without_gguf_name_are_documented(models, model_id):
    from sizer.model.architecture import deepseek_v4, deepseek_v41

    arch = models[model_id].architecture
    doc = deepseek_v4.__doc__ + (deepseek_v41.__doc__ if arch.family == "deepseek_v41" else "")
    tokens = [re.sub(r"\.(weight|bias)$", "", m) for m in re.findall(r"``([^`]+)``", doc)]
    documented = [re.compile(re.escape(m).replace(r"\*", r"\w+") + "$") for m in tokens]
    known = {re.sub(r"^blk\.\{bid\}\.", "", n) for n in gguf.TENSOR_NAMES.values()}
    for kind in {t.kind for t in inventory(arch)} - known:
        assert any(p.match(kind) for p in documented), kind


@pytest.mark.parametrize("model_id", MY_MODELS)
def test_inventory_invariants(models, model_id):
    arch = models[model_id].architecture
    tensors = inventory(arch)
    names = [t.name for t in tensors]
    assert len(names) == len(set(names))
    n_layers = arch.num_hidden_layers
    for t in tensors:
        assert all(d > 0 for d in t.shape), t.name
        assert t.is_mtp == (t.layer is not None and t.layer >= n_layers), t.name
        if t.role is Role.ROUTED_EXPERT:
            assert len(t.shape) == 3 and t.n_experts == t.shape[2]
        if t.role is Role.ENGRAM:
            assert t.kind == "engram_embd"
    mtp_layers = {t.layer for t in tensors if t.is_mtp}
    assert mtp_layers == set(range(n_layers, n_layers + arch.num_nextn_predict_layers))
    assert {t.layer for t in tensors if t.kind == "attn_norm"} == set(range(n_layers)) | mtp_layers


# ---- closed-form counts over random small DeepSeek-V3 shapes -------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    h=st.sampled_from([64, 128]), layers=st.integers(1, 5), heads=st.sampled_from([2, 4]),
    q_lora=st.sampled_from([16, 32]), kv_lora=st.sampled_from([16, 32]), dense=st.integers(0, 2),
    experts=st.integers(1, 8), shared=st.integers(0, 2), mtp=st.integers(0, 2), indexer=st.booleans(),
)
def test_mla_moe_total_matches_closed_form(
    h, layers, heads, q_lora, kv_lora, dense, experts, shared, mtp, indexer
):
    nope, rope, v, f, fe, vocab = 16, 8, 16, 96, 32, 200
    arch = Architecture(
        family="deepseek_v32" if indexer else "deepseek_v3", hidden_size=h, num_hidden_layers=layers,
        num_attention_heads=heads, num_key_value_heads=heads, head_dim=nope + rope, intermediate_size=f,
        vocab_size=vocab, tie_word_embeddings=False, max_position_embeddings=4096, q_lora_rank=q_lora,
        kv_lora_rank=kv_lora, qk_nope_head_dim=nope, qk_rope_head_dim=rope, v_head_dim=v,
        n_routed_experts=experts, num_experts_per_tok=1, n_shared_experts=shared, moe_intermediate_size=fe,
        first_k_dense_replace=dense, router_bias=True, num_nextn_predict_layers=mtp,
        index_n_heads=4 if indexer else None, index_head_dim=8 if indexer else None,
    )
    # models.md: q_a, q_a_norm, q_b, kv_a_with_mqa, kv_a_norm, kv_b, o; 2 norms; dense 3hf; MoE router
    # h x E + bias E + (E + shared) x 3 h fe; V3.2 indexer wq_b, wk, k_norm (w + b), weights_proj.
    attn = h * q_lora + q_lora + q_lora * heads * (nope + rope) + h * (kv_lora + rope) + kv_lora
    attn += kv_lora * heads * (nope + v) + heads * v * h + 2 * h
    if indexer:
        attn += q_lora * 4 * 8 + h * 8 + 2 * 8 + h * 4
    moe = h * experts + experts + (experts + shared) * 3 * h * fe
    dense_layers = min(dense, layers)
    main = layers * attn + dense_layers * 3 * h * f + (layers - dense_layers) * moe + 2 * vocab * h + h
    assert total_params(arch) == main
    extras = 2 * h * h + 3 * h  # eh_proj, enorm, hnorm, shared_head_norm
    assert total_params(arch, include_mtp=True) - main == mtp * (attn + moe + extras)
    idle_experts = (layers - dense_layers) * (experts - 1) * 3 * h * fe
    assert total_params(arch) - active_params(arch, "both") == idle_experts
