"""Predicted GGUF bytes equal the bytes of real GGUF files, and bytes behave as bits say they must.

Each synthetic model is quantized on paper (`sizer.quant.assignment.assign`), then written with
``gguf.GGUFWriter`` as tensors of exactly the predicted ggml types and shapes, read back with
``gguf.GGUFReader``, and every tensor's data size in the file must equal the prediction.
"""

from __future__ import annotations

from pathlib import Path

import gguf
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sizer.catalog.loading import load_catalog
from sizer.model.tensors import QuantizedTensor, Role, Tensor
from sizer.quant.assignment import assign, weights_bytes
from sizer.schema import QuantFormat

CATALOG = load_catalog()
QUANTS = CATALOG.quants
FTYPES = ["q4_k_m", "q2_k", "iq2_xs", "q8_0", "mxfp4_moe", "q3_k_m", "iq4_xs", "bf16"]


def _m(name: str, kind: str, layer: int | None, shape: tuple[int, ...], role: Role) -> Tensor:
    n = shape[2] if len(shape) > 2 else 1
    return Tensor(name, kind, layer, shape, role, n_experts=n if role is Role.ROUTED_EXPERT else 1)


def synthetic(
    *,
    layers: int,
    hidden: int,
    heads: int,
    kv_heads: int,
    head_dim: int,
    ff: int,
    vocab: int = 512,
    experts: int = 0,
    moe_ff: int = 0,
    shared: bool = False,
    qkv_bias: bool = False,
    tied: bool = False,
) -> tuple[Tensor, ...]:
    """A decoder in GGUF naming: embedding, per-layer attention and (dense or MoE) FFN, head."""
    out = [
        _m("token_embd.weight", "token_embd", None, (hidden, vocab), Role.EMBEDDING),
        _m("output_norm.weight", "output_norm", None, (hidden,), Role.NORM),
    ]
    if not tied:
        out.append(_m("output.weight", "output", None, (hidden, vocab), Role.OUTPUT))
    for i in range(layers):

        def w(kind: str, shape: tuple[int, ...], role: Role, suffix: str = "weight", i: int = i) -> Tensor:
            return _m(f"blk.{i}.{kind}.{suffix}", kind, i, shape, role)

        out += [
            w("attn_norm", (hidden,), Role.NORM),
            w("ffn_norm", (hidden,), Role.NORM),
            w("attn_q", (hidden, heads * head_dim), Role.ATTENTION),
            w("attn_k", (hidden, kv_heads * head_dim), Role.ATTENTION),
            w("attn_v", (hidden, kv_heads * head_dim), Role.ATTENTION),
            w("attn_output", (heads * head_dim, hidden), Role.ATTENTION),
        ]
        if qkv_bias:
            out += [
                w("attn_q", (heads * head_dim,), Role.NORM, "bias"),
                w("attn_k", (kv_heads * head_dim,), Role.NORM, "bias"),
                w("attn_v", (kv_heads * head_dim,), Role.NORM, "bias"),
            ]
        if experts:
            out += [
                w("ffn_gate_inp", (hidden, experts), Role.ROUTER),
                w("exp_probs_b", (experts,), Role.ROUTER, "bias"),
                w("ffn_gate_exps", (hidden, moe_ff, experts), Role.ROUTED_EXPERT),
                w("ffn_up_exps", (hidden, moe_ff, experts), Role.ROUTED_EXPERT),
                w("ffn_down_exps", (moe_ff, hidden, experts), Role.ROUTED_EXPERT),
            ]
            if shared:
                out += [
                    w("ffn_gate_inp_shexp", (hidden, 1), Role.ROUTER),
                    w("ffn_gate_shexp", (hidden, ff), Role.SHARED_EXPERT),
                    w("ffn_up_shexp", (hidden, ff), Role.SHARED_EXPERT),
                    w("ffn_down_shexp", (ff, hidden), Role.SHARED_EXPERT),
                ]
        else:
            out += [
                w("ffn_gate", (hidden, ff), Role.DENSE_FFN),
                w("ffn_up", (hidden, ff), Role.DENSE_FFN),
                w("ffn_down", (ff, hidden), Role.DENSE_FFN),
            ]
    return tuple(out)


MODELS = {
    "dense-gqa4": synthetic(layers=8, hidden=512, heads=8, kv_heads=2, head_dim=64, ff=1536, qkv_bias=True),
    "dense-gqa1-tied": synthetic(layers=6, hidden=512, heads=8, kv_heads=8, head_dim=64, ff=1024, tied=True),
    "moe-8-experts": synthetic(
        layers=4, hidden=512, heads=8, kv_heads=2, head_dim=64, ff=512, experts=8, moe_ff=256
    ),
    "moe-4-experts-shared": synthetic(
        layers=5, hidden=512, heads=8, kv_heads=4, head_dim=64, ff=768, experts=4, moe_ff=256, shared=True
    ),
    "hidden-576": synthetic(layers=4, hidden=576, heads=9, kv_heads=3, head_dim=64, ff=1536, vocab=320),
    "hidden-2880-moe": synthetic(
        layers=2, hidden=2880, heads=8, kv_heads=2, head_dim=64, ff=0, vocab=256, experts=4, moe_ff=320
    ),
}


def _write_and_read(path: Path, qtensors: tuple[QuantizedTensor, ...]) -> dict[str, gguf.ReaderTensor]:
    writer = gguf.GGUFWriter(str(path), arch="llama")
    for q in qtensors:
        qtype = gguf.GGMLQuantizationType[q.qtype]
        numpy_shape = tuple(reversed(q.tensor.shape))  # ggml order -> numpy order
        byte_shape = gguf.quants.quant_shape_to_byte_shape(numpy_shape, qtype)
        writer.add_tensor(q.tensor.name, np.zeros(byte_shape, dtype=np.uint8), raw_dtype=qtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return {t.name: t for t in gguf.GGUFReader(str(path)).tensors}


@pytest.mark.parametrize("ftype", FTYPES)
@pytest.mark.parametrize("model", list(MODELS))
def test_predicted_bytes_equal_the_written_gguf(tmp_path: Path, model: str, ftype: str) -> None:
    qtensors = assign(MODELS[model], QUANTS[ftype], CATALOG)
    read = _write_and_read(tmp_path / f"{model}-{ftype}.gguf", qtensors)
    assert len(read) == len(qtensors)
    for q in qtensors:
        t = read[q.tensor.name]
        assert t.tensor_type.name == q.qtype, q.tensor.name
        assert tuple(int(n) for n in t.shape) == q.tensor.shape, q.tensor.name
        assert int(t.n_bytes) == q.weights_bytes, q.tensor.name
    assert sum(int(t.n_bytes) for t in read.values()) == weights_bytes(qtensors)


def test_the_models_exercise_the_rules() -> None:
    """The synthetic set really covers fallbacks, the 8-expert rule and MXFP4 experts."""
    used = {q.qtype for m in MODELS.values() for f in FTYPES for q in assign(m, QUANTS[f], CATALOG)}
    assert {"Q5_0", "Q4_0", "IQ4_NL", "Q8_0", "MXFP4", "Q6_K", "Q5_K", "F32", "BF16"} <= used


# --- properties ---------------------------------------------------------------------------------------

LADDER = ["q2_k", "q3_k_m", "q4_k_m", "q5_k_m", "q6_k", "q8_0", "f16"]
SIZES = st.integers(1, 48).map(lambda n: n * 32) | st.integers(8, 3000)


@given(
    hidden=SIZES,
    ff=SIZES,
    vocab=st.integers(16, 4096),
    layers=st.integers(1, 12),
    heads=st.sampled_from([(8, 8), (8, 2), (16, 2), (6, 1)]),
    head_dim=st.sampled_from([32, 64, 80, 128]),
)
def test_more_bits_never_fewer_bytes(
    hidden: int, ff: int, vocab: int, layers: int, heads: tuple[int, int], head_dim: int
) -> None:
    inv = synthetic(
        layers=layers, hidden=hidden, heads=heads[0], kv_heads=heads[1], head_dim=head_dim, ff=ff, vocab=vocab
    )
    sizes = [weights_bytes(assign(inv, QUANTS[f], CATALOG)) for f in LADDER]
    assert sizes == sorted(sizes), dict(zip(LADDER, sizes, strict=True))


CHECKPOINTS = [
    q for q in QUANTS.values() if q.format_kind not in ("ggml_type", "gguf_file_type") and not q.resolves_to
]
GGUF_TYPES = [
    q for q in QUANTS.values() if q.format_kind == "gguf_file_type" and not q.resolves_to and q.id != "q1_0"
]


@given(
    hidden=st.integers(1, 40).map(lambda n: n * 64),
    ff=st.integers(1, 40).map(lambda n: n * 64),
    experts=st.sampled_from([0, 4, 8]),
    fmt=st.sampled_from(CHECKPOINTS + GGUF_TYPES),
)
def test_bytes_never_below_the_layout_minimum(hidden: int, ff: int, experts: int, fmt: QuantFormat) -> None:
    """Every tensor costs at least its codes: elements x weight bits / 8 (checkpoints) or exactly
    rows x blocks x bytes-per-block of the ggml type it got (GGUF)."""
    inv = synthetic(
        layers=2,
        hidden=hidden,
        heads=4,
        kv_heads=2,
        head_dim=64,
        ff=ff,
        vocab=256,
        experts=experts,
        moe_ff=ff,
    )
    layouts = {
        q.name: (q.block_size or 1, q.type_size_bytes or 0) for q in QUANTS.values() if q.format_kind == "ggml_type"
    }
    for q in assign(inv, fmt, CATALOG):
        n = q.tensor.elements
        if fmt.format_kind == "gguf_file_type":
            block, size = layouts[q.qtype]
            assert q.weights_bytes == n // block * size and n % block == 0
        elif q.qtype in ("BF16", "F16"):
            assert q.weights_bytes == 2 * n
        else:
            assert q.weights_bytes >= n * (fmt.weight_bits or 1) / 8
