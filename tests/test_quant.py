"""Quant catalog data and per-tensor quantization, checked against independent truth.

Truth used here: gguf-py's tables (block layouts, type and file-type ids), the bits-per-weight
table of llama.cpp's tools/quantize/README.md for Llama-3.1-8B, byte counts worked out by hand
from the published checkpoint layouts (shared/reference/quantization.yaml section 7), published
GGUF file sizes, and the rules of llama.cpp src/llama-quant.cpp read directly.
"""

from __future__ import annotations

import gguf.constants as gguf_constants
import pytest

from sizer.catalog.loading import load_catalog
from sizer.errors import BadValueError, UnknownNameError
from sizer.model.architecture import inventory
from sizer.model.tensors import QuantizedTensor, Role, Tensor
from sizer.quant.assignment import assign, bits_per_weight, resolve_quant, weights_bytes
from sizer.quant.checkpoint import matrix_bytes
from sizer.quant.llamacpp import ggml_bytes
from sizer.schema import QuantFormat

CATALOG = load_catalog()
QUANTS = CATALOG.quants

# briefs/IDS.md: the ids other modules and catalog files reference
IDS = """ggml-f32 ggml-f16 ggml-bf16 ggml-f64 ggml-i8 ggml-i16 ggml-i32 ggml-i64 ggml-q4_0 ggml-q4_1 ggml-q5_0
ggml-q5_1 ggml-q8_0 ggml-q8_1 ggml-q2_k ggml-q3_k ggml-q4_k ggml-q5_k ggml-q6_k ggml-q8_k ggml-iq1_s ggml-iq1_m
ggml-iq2_xxs ggml-iq2_xs ggml-iq2_s ggml-iq3_xxs ggml-iq3_s ggml-iq4_nl ggml-iq4_xs ggml-tq1_0 ggml-tq2_0 ggml-mxfp4
f32 f16 bf16 q8_0 q6_k q5_k_m q5_k_s q5_1 q5_0 q4_k_m q4_k_s q4_1 q4_0 q3_k_l q3_k_m q3_k_s q2_k q2_k_s iq4_xs
iq4_nl iq3_m iq3_s iq3_xs iq3_xxs iq2_m iq2_s iq2_xs iq2_xxs iq1_m iq1_s tq1_0 tq2_0 mxfp4_moe
fp8-per-tensor fp8-per-channel fp8-block128 mxfp4 nvfp4 gptq-int4-g128 gptq-int4-g32 gptq-int8-g128 gptq-int3-g128
awq-int4-g128 awq-int4-g64 w8a8-int8 bnb-nf4 bnb-fp4 bnb-int8 mlx-4bit mlx-8bit mlx-6bit mlx-3bit
mxfp4-experts fp4-experts-fp8 int4-g32-experts int4 int8 fp16 fp8 fp4""".split()  # noqa: SIM905
PLAIN = {"int4": "awq-int4-g128", "int8": "w8a8-int8", "fp16": "f16", "fp8": "fp8-per-tensor", "fp4": "nvfp4"}

# tools/quantize/README.md, meta-llama/Llama-3.1-8B, "bits/weight" row
LLAMA31_8B_BPW = {
    "F16": 16.0005,
    "Q8_0": 8.5008,
    "Q6_K": 6.5633,
    "Q5_K_M": 5.7036,
    "Q5_K_S": 5.5704,
    "Q4_K_M": 4.8944,
    "Q4_K_S": 4.6672,
    "IQ4_NL": 4.6818,
    "IQ4_XS": 4.4597,
    "Q3_K_L": 4.2979,
    "Q3_K_M": 3.9960,
    "Q3_K_S": 3.6429,
    "IQ3_M": 3.7628,
    "IQ3_S": 3.6606,
    "IQ3_XS": 3.4977,
    "IQ3_XXS": 3.2548,
    "Q2_K": 3.1593,
    "Q2_K_S": 2.9697,
    "IQ2_M": 2.9294,
    "IQ2_S": 2.7403,
    "IQ2_XS": 2.5882,
    "IQ2_XXS": 2.3824,
    "IQ1_M": 2.1460,
    "IQ1_S": 2.0042,
}


def llama31_8b() -> tuple[Tensor, ...]:
    """Llama-3.1-8B as convert_hf_to_gguf writes it, from plain shapes (rope_freqs included)."""
    h, layers, heads, kv_heads, head_dim, ff, vocab = 4096, 32, 32, 8, 128, 14336, 128256
    out = [
        Tensor("token_embd.weight", "token_embd", None, (h, vocab), Role.EMBEDDING),
        Tensor("output_norm.weight", "output_norm", None, (h,), Role.NORM),
        Tensor("output.weight", "output", None, (h, vocab), Role.OUTPUT),
        Tensor("rope_freqs.weight", "rope_freqs", None, (head_dim // 2,), Role.OTHER),
    ]
    for i in range(layers):

        def m(kind: str, shape: tuple[int, ...], role: Role = Role.ATTENTION, i: int = i) -> Tensor:
            return Tensor(f"blk.{i}.{kind}.weight", kind, i, shape, role)

        out += [
            m("attn_norm", (h,), Role.NORM),
            m("ffn_norm", (h,), Role.NORM),
            m("attn_q", (h, heads * head_dim)),
            m("attn_k", (h, kv_heads * head_dim)),
            m("attn_v", (h, kv_heads * head_dim)),
            m("attn_output", (heads * head_dim, h)),
            m("ffn_gate", (h, ff), Role.DENSE_FFN),
            m("ffn_up", (h, ff), Role.DENSE_FFN),
            m("ffn_down", (ff, h), Role.DENSE_FFN),
        ]
    return tuple(out)


def moe_model(
    *,
    layers: int = 8,
    hidden: int = 1024,
    heads: int = 16,
    kv_heads: int = 4,
    experts: int = 8,
    ff: int = 512,
    shared: bool = False,
    vocab: int = 1024,
    head_dim: int = 64,
) -> tuple[Tensor, ...]:
    out = [
        Tensor("token_embd.weight", "token_embd", None, (hidden, vocab), Role.EMBEDDING),
        Tensor("output_norm.weight", "output_norm", None, (hidden,), Role.NORM),
        Tensor("output.weight", "output", None, (hidden, vocab), Role.OUTPUT),
    ]
    for i in range(layers):

        def m(kind: str, shape: tuple[int, ...], role: Role = Role.ATTENTION, i: int = i) -> Tensor:
            n = shape[2] if len(shape) > 2 else 1
            return Tensor(f"blk.{i}.{kind}.weight", kind, i, shape, role, n_experts=n)

        out += [
            m("attn_norm", (hidden,), Role.NORM),
            m("ffn_norm", (hidden,), Role.NORM),
            m("attn_q", (hidden, heads * head_dim)),
            m("attn_k", (hidden, kv_heads * head_dim)),
            m("attn_v", (hidden, kv_heads * head_dim)),
            m("attn_output", (heads * head_dim, hidden)),
            m("ffn_gate_inp", (hidden, experts), Role.ROUTER),
            m("ffn_gate_exps", (hidden, ff, experts), Role.ROUTED_EXPERT),
            m("ffn_up_exps", (hidden, ff, experts), Role.ROUTED_EXPERT),
            m("ffn_down_exps", (ff, hidden, experts), Role.ROUTED_EXPERT),
        ]
        if shared:
            out += [
                m("ffn_gate_shexp", (hidden, ff), Role.SHARED_EXPERT),
                m("ffn_up_shexp", (hidden, ff), Role.SHARED_EXPERT),
                m("ffn_down_shexp", (ff, hidden), Role.SHARED_EXPERT),
            ]
    return tuple(out)


def types_of(qtensors: tuple[QuantizedTensor, ...], kind: str) -> list[str]:
    return [q.qtype for q in qtensors if q.tensor.kind == kind]


# --- catalog data -------------------------------------------------------------------------------


def test_every_agreed_id_exists() -> None:
    assert sorted(set(IDS) - set(QUANTS)) == []
    assert len(QUANTS) >= 30


@pytest.mark.parametrize("qtype", list(gguf_constants.GGML_QUANT_SIZES), ids=lambda t: t.name)
def test_ggml_type_layout_equals_gguf(qtype: gguf_constants.GGMLQuantizationType) -> None:
    block, size = gguf_constants.GGML_QUANT_SIZES[qtype]
    entry = QUANTS[f"ggml-{qtype.name.lower()}"]
    assert (entry.format_kind, entry.name, entry.ggml_type_id) == ("ggml_type", qtype.name, qtype.value)
    assert (entry.block_size, entry.type_size_bytes) == (block, size)


def test_every_ggml_entry_is_a_gguf_type() -> None:
    for entry in QUANTS.values():
        if entry.format_kind == "ggml_type":
            assert gguf_constants.GGMLQuantizationType[entry.name].value == entry.ggml_type_id


@pytest.mark.parametrize(
    "entry",
    [q for q in QUANTS.values() if q.format_kind == "gguf_file_type" and not q.resolves_to],
    ids=lambda q: q.id,
)
def test_file_type_ids_match_gguf(entry: QuantFormat) -> None:
    name = "ALL_F32" if entry.name == "F32" else f"MOSTLY_{entry.name}"
    assert gguf_constants.LlamaFileType[name].value == entry.llama_ftype_id
    ggml = {q.name for q in QUANTS.values() if q.format_kind == "ggml_type"}
    assert entry.base_ggml_type in ggml


@pytest.mark.parametrize("entry", list(QUANTS.values()), ids=lambda q: q.id)
def test_entry_has_sources_and_resolves(entry: QuantFormat) -> None:
    assert entry.sources
    for figure in entry.quality:
        assert figure.source.startswith("https://")
        assert (
            figure.mean_kld is not None
            or figure.ppl_increase is not None
            or figure.statement is not None
            or figure.ppl_increase_percent is not None
        )
    if entry.resolves_to:
        assert QUANTS[entry.resolves_to].resolves_to is None
    if entry.other_tensors_format:
        assert entry.other_tensors_format in QUANTS


def test_quality_figures_attached() -> None:
    q4 = QUANTS["q4_k_m"].quality
    assert any(f.mean_kld == pytest.approx(0.031273) for f in q4)  # perplexity README, no imatrix
    assert any(f.ppl_increase == pytest.approx(0.1754) for f in q4)  # quantize.cpp help text
    assert QUANTS["nvfp4"].quality and QUANTS["fp8-per-tensor"].quality


# --- llama.cpp recipes ----------------------------------------------------------------------------


@pytest.mark.parametrize("ftype", list(LLAMA31_8B_BPW))
def test_llama31_8b_bits_per_weight_match_quantize_readme(ftype: str) -> None:
    fmt = resolve_quant(ftype, None, CATALOG)
    got = bits_per_weight(assign(llama31_8b(), fmt, CATALOG))
    assert round(got, 4) == LLAMA31_8B_BPW[ftype]


def test_llama31_8b_from_the_catalog_inventory() -> None:
    model = CATALOG.model("llama-3.1-8b")
    inv = inventory(model.architecture)
    for ftype, want in LLAMA31_8B_BPW.items():
        got = bits_per_weight(
            assign(inv, resolve_quant(ftype, model, CATALOG), CATALOG, arch=model.architecture)
        )
        assert abs(got - want) < 5e-4, ftype  # to 3 decimals (this inventory has no rope_freqs)


def test_q4_k_m_types_on_llama() -> None:
    q = assign(llama31_8b(), QUANTS["q4_k_m"], CATALOG)
    assert types_of(q, "token_embd") == ["Q4_K"] and types_of(q, "output") == ["Q6_K"]
    more = [0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31]  # use_more_bits for 32 layers
    expect = ["Q6_K" if i in more else "Q4_K" for i in range(32)]
    assert types_of(q, "attn_v") == expect and types_of(q, "ffn_down") == expect
    assert set(types_of(q, "attn_norm")) == {"F32"} and set(types_of(q, "attn_q")) == {"Q4_K"}


def test_tied_embedding_takes_the_output_rule() -> None:
    tied = tuple(t for t in llama31_8b() if t.kind != "output")
    q = assign(tied, QUANTS["q4_k_m"], CATALOG)
    assert types_of(q, "token_embd") == ["Q6_K"]
    assert types_of(assign(tied, QUANTS["iq2_xs"], CATALOG), "token_embd") == ["Q5_K"]


def test_eight_expert_overrides() -> None:
    inv = moe_model(experts=8)
    q = assign(inv, QUANTS["q4_k_m"], CATALOG)
    assert set(types_of(q, "attn_v")) == {"Q8_0"} and set(types_of(q, "attn_k")) == {"Q8_0"}
    assert set(types_of(q, "attn_output")) == {"Q5_K"}
    iq = assign(inv, QUANTS["iq2_xs"], CATALOG)
    assert set(types_of(iq, "attn_v")) == {"Q4_K"} and set(types_of(iq, "attn_k")) == {"Q4_K"}
    assert set(types_of(iq, "ffn_gate_inp")) == {"F32"}


def test_moe_ffn_down_uses_the_parsed_layer_and_iq_group_the_counter() -> None:
    inv = moe_model(layers=16, experts=4, shared=True)
    q = assign(inv, QUANTS["q4_k_m"], CATALOG)
    more = {0, 1, 4, 7, 10, 13, 14, 15}  # use_more_bits(i, 16): i < 2, i >= 14, (i - 2) % 3 == 2
    assert types_of(q, "ffn_down_exps") == ["Q6_K" if i in more else "Q4_K" for i in range(16)]
    assert types_of(q, "ffn_down_shexp") == types_of(q, "ffn_down_exps")
    # IQ2_XXS: Q2_K for the first n/8 = 2 ffn_down tensors in visiting order: layer 0's exps and shexp
    iq = assign(inv, QUANTS["iq2_xxs"], CATALOG)
    assert types_of(iq, "ffn_down_exps")[:2] == ["Q2_K", "IQ2_XXS"]
    assert types_of(iq, "ffn_down_shexp")[:2] == ["Q2_K", "IQ2_XXS"]
    assert set(types_of(iq, "attn_v")) == {"Q4_K"}  # n_expert >= 4


def test_mxfp4_moe() -> None:
    q = assign(moe_model(), QUANTS["mxfp4_moe"], CATALOG)
    by_kind = {x.tensor.kind: x.qtype for x in q}
    assert by_kind["ffn_up_exps"] == by_kind["ffn_down_exps"] == "MXFP4"
    assert by_kind["attn_q"] == by_kind["token_embd"] == by_kind["output"] == "Q8_0"
    assert by_kind["ffn_gate_inp"] == by_kind["attn_norm"] == "F32"


def test_row_size_fallback() -> None:
    inv = moe_model(hidden=2880, heads=64, kv_heads=8, experts=4, ff=2880, layers=2, head_dim=64)
    q = assign(inv, QUANTS["q4_k_m"], CATALOG)
    by_kind = {x.tensor.kind: x.qtype for x in q if x.tensor.layer == 0}
    assert by_kind["attn_q"] == "Q5_0"  # rows of 2880: Q4_K -> Q5_0
    assert types_of(q, "ffn_down_exps") == ["Q5_0", "Q8_0"]  # layer 1 of 2 is use_more_bits: Q6_K -> Q8_0
    assert types_of(q, "output") == ["Q8_0"]  # row not divisible by the base block
    assert types_of(assign(inv, QUANTS["iq2_xs"], CATALOG), "attn_q")[0] == "IQ4_NL"
    assert types_of(assign(inv, QUANTS["q2_k"], CATALOG), "attn_q")[0] == "Q4_0"
    odd = (Tensor("blk.0.attn_q.weight", "attn_q", 0, (100, 64), Role.ATTENTION),)
    assert assign(odd, QUANTS["q4_k_m"], CATALOG)[0].qtype == "F16"  # not divisible by 32 either
    with pytest.raises(BadValueError):
        assign(odd, QUANTS["q1_0"], CATALOG)  # llama-quantize has no fallback for Q1_0


def test_mla_kv_b_is_split_as_current_conversions_do() -> None:
    arch = CATALOG.model("deepseek-v3").architecture
    t = Tensor("blk.3.attn_kv_b.weight", "attn_kv_b", 3, (512, 128 * 256), Role.ATTENTION)
    (q,) = assign((t,), QUANTS["q4_k_m"], CATALOG, arch=arch)
    assert q.qtype == "Q5_0+Q4_K"  # attn_k_b rows of 128 fall back; attn_v_b rows of 512 keep the base type
    assert q.weights_bytes == 128 * 512 * 128 // 32 * 22 + 512 * 128 * 128 // 256 * 144
    (plain,) = assign((t,), QUANTS["q4_k_m"], CATALOG)  # without the architecture: one attn_v-like tensor
    assert plain.qtype == "Q6_K"


def test_mtp_tensors_are_skipped_unless_asked() -> None:
    inv = (
        *llama31_8b()[:4],
        Tensor("blk.32.nextn.eh_proj.weight", "nextn.eh_proj", 32, (8192, 4096), Role.OTHER, is_mtp=True),
    )
    assert len(assign(inv, QUANTS["q8_0"], CATALOG)) == 4
    assert len(assign(inv, QUANTS["q8_0"], CATALOG, include_mtp=True)) == 5


@pytest.mark.parametrize(
    ("ftype", "gb"), [("Q8_0", 32.48), ("Q6_K", 25.10), ("Q5_K_M", 21.74), ("Q5_K_S", 21.10)]
)
def test_qwen3_30b_a3b_matches_published_gguf_sizes(ftype: str, gb: float) -> None:
    """bartowski/Qwen_Qwen3-30B-A3B-GGUF model card sizes (files include a few MB of metadata)."""
    inv = moe_model(
        layers=48, hidden=2048, heads=32, kv_heads=4, experts=128, ff=768, vocab=151936, head_dim=128
    )
    inv = tuple(t for t in inv) + tuple(
        Tensor(f"blk.{i}.{k}.weight", k, i, (128,), Role.NORM)
        for i in range(48)
        for k in ("attn_q_norm", "attn_k_norm")
    )
    got = weights_bytes(assign(inv, resolve_quant(ftype, None, CATALOG), CATALOG)) / 1e9
    assert got == pytest.approx(gb, rel=0.002)


@pytest.mark.parametrize(("ftype", "gb"), [("q4_k_m", 11.6), ("f16", 13.8), ("bf16", 13.8)])
def test_gpt_oss_gguf_keeps_mxfp4_experts_for_every_file_type(ftype: str, gb: float) -> None:
    """unsloth/gpt-oss-20b-GGUF: Q4_K_M 11.6 GB and F16 13.8 GB (https://huggingface.co/unsloth/gpt-oss-20b-GGUF);
    a BF16 conversion is 13.8 GB (https://github.com/danbev/learning-ai/blob/main/notes/llama.cpp/gpt-oss.md).
    Before the rule, the routed experts were re-quantized: 15.8 GB and 41.9 GB."""
    from sizer.model.architecture import inventory

    entry = CATALOG.model("gpt-oss-20b")
    q = resolve_quant(ftype, entry, CATALOG)
    rows = assign(inventory(entry.architecture), q, CATALOG, arch=entry.architecture)
    experts = [r for r in rows if r.tensor.role is Role.ROUTED_EXPERT and r.tensor.name.endswith(".weight")]
    assert experts and {r.qtype for r in experts} == {"MXFP4"}
    # MXFP4: 17 bytes per 32 values, by hand
    assert all(r.weights_bytes == r.tensor.elements // 32 * 17 for r in experts)
    assert weights_bytes(rows) / 1e9 == pytest.approx(gb, rel=0.01)


# --- checkpoint formats ---------------------------------------------------------------------------

# shared/reference/quantization.yaml section 7: one 4096 x 14336 projection, bytes from the layouts
WORKED = {
    "Q8_0": 62390272,
    "Q6_K": 48168960,
    "Q4_K": 33030144,
    "IQ4_XS": 31195136,
    "MXFP4": 31195136,
    "NVFP4": 33030144,
    "BF16": 117440512,
}
WORKED_CHECKPOINT = {
    "gptq-int4-g128": 30523392,
    "awq-int4-g128": 30507008,
    "bnb-nf4": 30293060,
    "mxfp4": 31195136,
    "nvfp4": 33030152,
    "mlx-4bit": 33030144,
    "fp8-per-tensor": 58720260,
    "fp8-block128": 58734592,
}


@pytest.mark.parametrize(("qtype", "nbytes"), list(WORKED.items()))
def test_worked_example_ggml(qtype: str, nbytes: int) -> None:
    layouts = {
        q.name: (q.block_size or 1, q.type_size_bytes or 0) for q in QUANTS.values() if q.format_kind == "ggml_type"
    }
    assert ggml_bytes((4096, 14336), qtype, layouts) == nbytes


@pytest.mark.parametrize(("fmt", "nbytes"), list(WORKED_CHECKPOINT.items()))
def test_worked_example_checkpoint(fmt: str, nbytes: int) -> None:
    assert matrix_bytes(QUANTS[fmt], (4096, 14336)) == nbytes
    t = Tensor("blk.0.ffn_up.weight", "ffn_up", 0, (4096, 14336), Role.DENSE_FFN)
    assert assign((t,), QUANTS[fmt], CATALOG)[0].weights_bytes == nbytes


def test_worked_example_gptq_as_ffn_down() -> None:
    assert matrix_bytes(QUANTS["gptq-int4-g128"], (14336, 4096)) == 30564352  # g_idx grows to 14336 entries


def test_stacked_experts_pay_their_scales_per_expert() -> None:
    one = matrix_bytes(QUANTS["fp8-block128"], (7168, 2048))
    assert one is not None
    assert matrix_bytes(QUANTS["fp8-block128"], (7168, 2048, 256)) == 256 * one
    assert one == 7168 * 2048 + 16 * 56 * 4


def test_checkpoints_keep_embeddings_and_routers_16_bit() -> None:
    inv = moe_model()
    by = {(q.tensor.kind, q.tensor.layer): q for q in assign(inv, QUANTS["awq-int4-g128"], CATALOG)}
    assert by[("token_embd", None)].qtype == by[("output", None)].qtype == "BF16"
    assert by[("ffn_gate_inp", 0)].qtype == by[("attn_norm", 0)].qtype == "BF16"
    assert by[("attn_q", 0)].qtype == by[("ffn_up_exps", 0)].qtype == "AWQ 4-bit g128"
    mlx = {(q.tensor.kind, q.tensor.layer): q for q in assign(inv, QUANTS["mlx-4bit"], CATALOG)}
    assert mlx[("token_embd", None)].qtype == mlx[("output", None)].qtype == "MLX 4-bit"
    assert mlx[("ffn_gate_inp", 0)].qtype == "MLX 8-bit"


def test_native_mix_experts_and_others() -> None:
    inv = moe_model()
    by = {(q.tensor.kind, q.tensor.layer): q for q in assign(inv, QUANTS["fp4-experts-fp8"], CATALOG)}
    assert by[("ffn_up_exps", 0)].weights_bytes == 1024 * 512 * 8 * 17 // 32
    assert by[("attn_q", 0)].qtype == "FP8 block-128" and by[("token_embd", None)].qtype == "BF16"
    gpt = {(q.tensor.kind, q.tensor.layer): q for q in assign(inv, QUANTS["mxfp4-experts"], CATALOG)}
    assert (
        gpt[("attn_q", 0)].qtype == "BF16"
        and gpt[("ffn_down_exps", 0)].weights_bytes == 512 * 1024 * 8 * 17 // 32
    )


def test_engram_rows_are_fp8_with_a_scale_per_32() -> None:
    table = Tensor("blk.1.engram_table.weight", "engram_table", 1, (256, 1000), Role.ENGRAM)
    (q,) = assign((table,), QUANTS["fp4-experts-fp8"], CATALOG)
    assert q.weights_bytes == 1000 * 264
    assert assign((table,), QUANTS["awq-int4-g128"], CATALOG)[0].weights_bytes == 1000 * 256 * 2


def test_llama3_8b_checkpoint_totals() -> None:
    """Whole-checkpoint sizes of Llama-3-8B (reference whole_model_checks, HF repos of these formats)."""
    inv = tuple(t for t in llama31_8b() if t.kind != "rope_freqs")
    for fmt, gb in (
        ("awq-int4-g128", 5.73),
        ("gptq-int4-g128", 5.73),
        ("mlx-4bit", 4.52),
        ("bnb-nf4", 5.70),
        ("nvfp4", 6.03),
        ("bf16", 16.06),
    ):
        assert weights_bytes(assign(inv, QUANTS[fmt], CATALOG)) / 1e9 == pytest.approx(gb, abs=0.01), fmt


# --- resolution and caching -------------------------------------------------------------------------


def test_resolve_plain_names_and_native() -> None:
    llama = CATALOG.model("llama-3.1-8b")
    for plain, target in PLAIN.items():
        assert resolve_quant(plain, llama, CATALOG).id == target
    assert resolve_quant("native", llama, CATALOG).id == llama.native_quant
    assert resolve_quant("Q4_K", llama, CATALOG).id == "q4_k_m"
    deepseek = CATALOG.model("deepseek-v3")
    assert resolve_quant("fp8", deepseek, CATALOG).id == deepseek.native_quant == "fp8-block128"
    with pytest.raises(UnknownNameError):
        resolve_quant("q4_k_zz", llama, CATALOG)
    with pytest.raises(BadValueError):
        resolve_quant("native", None, CATALOG)


def test_assign_is_cached_per_inventory_object() -> None:
    inv = llama31_8b()
    first = assign(inv, QUANTS["q4_k_m"], CATALOG)
    assert assign(inv, QUANTS["q4_k_m"], CATALOG) is first
    assert assign(inv, QUANTS["q4_k_m"], CATALOG, imatrix=True) is not first
    assert assign(llama31_8b(), QUANTS["q4_k_m"], CATALOG) == first


@pytest.mark.parametrize(("model_id", "gib"), [("gpt-oss-120b", 60.8), ("gpt-oss-20b", 12.8)])
def test_gpt_oss_native_checkpoint_size(model_id: str, gib: float) -> None:
    """gpt-oss model card (arXiv 2508.10925, table 1): checkpoint sizes 60.8 GiB and 12.8 GiB."""
    model = CATALOG.model(model_id)
    inv = inventory(model.architecture)
    fmt = resolve_quant("native", model, CATALOG)
    assert fmt.id == "mxfp4-experts"
    assert weights_bytes(assign(inv, fmt, CATALOG, arch=model.architecture)) / 2**30 == pytest.approx(
        gib, abs=0.06
    )
