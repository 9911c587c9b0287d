"""Model-file importers on files the tests write: GGUF (gguf.GGUFWriter) and safetensors (safetensors.numpy).

Independent truth: the byte sizes of the arrays written, the file sizes on disk, gguf's own
GGUFReader and safetensors' own safe_open. Hostile inputs are crafted by hand.
"""

from __future__ import annotations

import json
import os
import struct
import tracemalloc
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import gguf
import numpy as np
import pytest
from gguf import GGMLQuantizationType as Q
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors import safe_open
from safetensors.numpy import save_file

from sizer.errors import ModelFileError
from sizer.model.importers import load_model_file
from sizer.model.importers.gguf_file import read_gguf
from sizer.model.importers.safetensors_file import read_safetensors
from sizer.model.tensors import Role

RNG = np.random.default_rng(0)


# ---------------------------------------------------------------------------------------------- GGUF


def _array(qtype: Q, shape: tuple[int, ...]) -> tuple[np.ndarray, Q | None]:
    """Random data for a tensor of ggml shape ``shape`` (ne0 first) stored as ``qtype``."""
    np_shape = tuple(reversed(shape))
    if qtype == Q.F32:
        return RNG.standard_normal(np_shape).astype(np.float32), None
    if qtype == Q.F16:
        return RNG.standard_normal(np_shape).astype(np.float16), None
    byte_shape = gguf.quants.quant_shape_to_byte_shape(np_shape, qtype)
    return RNG.integers(0, 256, size=byte_shape, dtype=np.uint8), qtype


def write_gguf(
    path: Path, arch: str, tensors: Sequence[tuple[str, Q, tuple[int, ...]]], meta=None, **kw
) -> dict[str, int]:
    """Write a GGUF with gguf's own writer; return the bytes of each tensor's array."""
    writer = gguf.GGUFWriter(path, arch, **kw)
    if meta is not None:
        meta(writer)
    sizes = {}
    for name, qtype, shape in tensors:
        arr, raw = _array(qtype, shape)
        writer.add_tensor(name, arr, raw_dtype=raw)
        sizes[name] = arr.nbytes
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return sizes


H, HEADS, KV, HD, E, FF, VOCAB, LAYERS = 256, 4, 2, 64, 8, 128, 512, 2


def moe_tensors() -> list[tuple[str, Q, tuple[int, ...]]]:
    """A tiny Qwen3-MoE-shaped model using Q4_K, Q6_K, Q8_0, MXFP4, F16 and F32."""
    out = [
        ("token_embd.weight", Q.Q4_K, (H, VOCAB)),
        ("output_norm.weight", Q.F32, (H,)),
        ("output.weight", Q.Q6_K, (H, VOCAB)),
    ]
    for i in range(LAYERS):
        out += [
            (f"blk.{i}.attn_norm.weight", Q.F32, (H,)),
            (f"blk.{i}.attn_q.weight", Q.Q4_K, (H, HEADS * HD)),
            (f"blk.{i}.attn_k.weight", Q.Q8_0, (H, KV * HD)),
            (f"blk.{i}.attn_v.weight", Q.F16 if i else Q.Q8_0, (H, KV * HD)),
            (f"blk.{i}.attn_output.weight", Q.Q4_K, (HEADS * HD, H)),
            (f"blk.{i}.attn_q_norm.weight", Q.F32, (HD,)),
            (f"blk.{i}.attn_k_norm.weight", Q.F32, (HD,)),
            (f"blk.{i}.ffn_norm.weight", Q.F32, (H,)),
            (f"blk.{i}.ffn_gate_inp.weight", Q.F32, (H, E)),
            (f"blk.{i}.ffn_gate_exps.weight", Q.Q4_K, (H, FF, E)),
            (f"blk.{i}.ffn_up_exps.weight", Q.MXFP4, (H, FF, E)),
            (f"blk.{i}.ffn_down_exps.weight", Q.Q8_0, (FF, H, E)),
        ]
    return out


def moe_meta(w: gguf.GGUFWriter) -> None:
    w.add_block_count(LAYERS)
    w.add_embedding_length(H)
    w.add_feed_forward_length(768)
    w.add_head_count(HEADS)
    w.add_head_count_kv(KV)
    w.add_key_length(HD)
    w.add_value_length(HD)
    w.add_context_length(40960)
    w.add_expert_count(E)
    w.add_expert_used_count(2)
    w.add_expert_feed_forward_length(FF)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_Q4_K_M)
    w.add_tokenizer_model("gpt2")
    w.add_token_list([f"tok{i}" for i in range(VOCAB)])
    w.add_token_types([1] * VOCAB)
    w.add_token_merges([f"t{i} o{i}" for i in range(300)])
    w.add_chat_template("{{ messages }}" * 100)


@pytest.fixture
def moe_gguf(tmp_path: Path) -> tuple[Path, dict[str, int]]:
    path = tmp_path / "tiny-qwen3moe-Q4_K_M.gguf"
    return path, write_gguf(path, "qwen3moe", moe_tensors(), moe_meta)


def test_gguf_tensor_bytes_equal_written_arrays(moe_gguf):
    path, sizes = moe_gguf
    model = load_model_file(path)
    assert model.tensors is not None
    assert {t.tensor.name: t.weights_bytes for t in model.tensors} == sizes
    assert model.file_bytes == os.path.getsize(path)
    # the data section is exactly the padded tensors: file size minus gguf's own header size
    reader = gguf.GGUFReader(path)
    padded = sum(-(-n // 32) * 32 for n in sizes.values())
    assert os.path.getsize(path) - reader.data_offset == padded
    ours = {t.tensor.name: t for t in model.tensors}
    for rt in reader.tensors:
        assert ours[rt.name].weights_bytes == rt.n_bytes
        assert ours[rt.name].qtype == rt.tensor_type.name
        assert ours[rt.name].tensor.shape == tuple(int(d) for d in rt.shape)


def test_gguf_types_shapes_and_roles(moe_gguf):
    path, _ = moe_gguf
    loaded = load_model_file(path).tensors
    assert loaded is not None
    by_name = {t.tensor.name: t for t in loaded}
    up = by_name["blk.1.ffn_up_exps.weight"]
    assert (up.qtype, up.tensor.shape, up.tensor.kind, up.tensor.layer) == (
        "MXFP4",
        (H, FF, E),
        "ffn_up_exps",
        1,
    )
    assert up.tensor.role is Role.ROUTED_EXPERT and up.tensor.n_experts == E
    # MXFP4: 17 bytes per 32 values (4.25 bits), straight from the OCP MX spec
    assert up.weights_bytes == H * FF * E // 32 * 17
    assert by_name["blk.1.attn_v.weight"].qtype == "F16"
    assert by_name["blk.0.ffn_down_exps.weight"].qtype == "Q8_0"
    assert by_name["token_embd.weight"].tensor.role is Role.EMBEDDING
    assert by_name["token_embd.weight"].tensor.layer is None
    assert by_name["output.weight"].tensor.role is Role.OUTPUT
    assert by_name["blk.0.ffn_gate_inp.weight"].tensor.role is Role.ROUTER
    assert by_name["blk.0.attn_q_norm.weight"].tensor.role is Role.NORM
    assert by_name["blk.0.attn_q.weight"].tensor.role is Role.ATTENTION


def test_gguf_metadata_maps_to_architecture(moe_gguf):
    path, _ = moe_gguf
    model = load_model_file(path)
    arch = model.architecture
    assert arch is not None
    assert arch is not None and model.warnings == ()
    assert (arch.family, arch.hidden_size, arch.num_hidden_layers) == ("qwen3_moe", H, LAYERS)
    assert (arch.num_attention_heads, arch.num_key_value_heads, arch.head_dim) == (HEADS, KV, HD)
    assert (arch.n_routed_experts, arch.num_experts_per_tok, arch.moe_intermediate_size) == (E, 2, FF)
    assert arch.vocab_size == VOCAB and arch.max_position_embeddings == 40960
    assert arch.qk_norm and not arch.tie_word_embeddings and not arch.attention_bias
    assert model.quant_hint == "q4_k_m"


def test_gguf_llama_with_experts_is_mixtral_and_tied_without_output(tmp_path):
    def meta(w):
        w.add_block_count(1), w.add_embedding_length(H), w.add_head_count(HEADS), w.add_context_length(4096)
        (
            w.add_feed_forward_length(FF),
            w.add_expert_count(4),
            w.add_expert_used_count(2),
            w.add_vocab_size(VOCAB),
        )

    tensors = [("token_embd.weight", Q.Q8_0, (H, VOCAB)), ("blk.0.ffn_up_exps.weight", Q.Q4_0, (H, FF, 4))]
    write_gguf(tmp_path / "m.gguf", "llama", tensors, meta)
    arch = load_model_file(tmp_path / "m.gguf").architecture
    assert arch is not None
    assert arch.family == "mixtral" and arch.tie_word_embeddings
    assert (arch.n_routed_experts, arch.moe_intermediate_size, arch.head_dim) == (4, FF, H // HEADS)


def test_gguf_deepseek2_mla_fields(tmp_path):
    def meta(w):
        w.add_block_count(4), w.add_embedding_length(H), w.add_head_count(HEADS), w.add_head_count_kv(HEADS)
        w.add_context_length(163840), w.add_vocab_size(VOCAB), w.add_feed_forward_length(512)
        w.add_q_lora_rank(96), w.add_kv_lora_rank(64), w.add_rope_dimension_count(32), w.add_key_length(96)
        (
            w.add_value_length(64),
            w.add_expert_count(E),
            w.add_expert_used_count(2),
            w.add_expert_shared_count(1),
        )
        (
            w.add_expert_feed_forward_length(FF),
            w.add_leading_dense_block_count(1),
            w.add_nextn_predict_layers(1),
        )

    tensors = [("output.weight", Q.Q8_0, (H, VOCAB)), ("blk.3.nextn.eh_proj.weight", Q.Q8_0, (2 * H, H))]
    write_gguf(tmp_path / "ds.gguf", "deepseek2", tensors, meta)
    model = load_model_file(tmp_path / "ds.gguf")
    arch = model.architecture
    assert arch is not None
    assert arch.family == "deepseek_v3" and arch.num_hidden_layers == 3 and arch.num_nextn_predict_layers == 1
    assert (
        arch.q_lora_rank,
        arch.kv_lora_rank,
        arch.qk_rope_head_dim,
        arch.qk_nope_head_dim,
        arch.v_head_dim,
    ) == (96, 64, 32, 64, 64)
    assert (arch.n_shared_experts, arch.first_k_dense_replace) == (1, 1)
    assert model.tensors is not None
    mtp = model.tensors[1].tensor
    assert mtp.is_mtp and mtp.layer == 3 and mtp.kind == "nextn.eh_proj"


def test_gguf_unknown_architecture_keeps_exact_tensors(tmp_path):
    sizes = write_gguf(tmp_path / "x.gguf", "rwkv6", [("blk.0.time_mix.weight", Q.Q5_K, (H, 8))])
    model = load_model_file(tmp_path / "x.gguf")
    assert model.architecture is None and "rwkv6" in model.warnings[0]
    assert model.weights_bytes == sum(sizes.values())


def test_big_endian_gguf(tmp_path):
    sizes = write_gguf(
        tmp_path / "be.gguf", "qwen3moe", moe_tensors(), moe_meta, endianess=gguf.GGUFEndian.BIG
    )
    model = load_model_file(tmp_path / "be.gguf")
    assert model.tensors is not None and model.architecture is not None
    assert {t.tensor.name: t.weights_bytes for t in model.tensors} == sizes
    assert model.architecture.hidden_size == H and model.quant_hint == "q4_k_m"


def test_split_gguf_reads_every_shard(tmp_path):
    sizes = write_gguf(tmp_path / "big.gguf", "qwen3moe", moe_tensors(), moe_meta, split_max_tensors=10)
    shards = sorted(tmp_path.glob("big-*-of-*.gguf"))
    assert len(shards) >= 3
    for shard in (shards[0], shards[-1]):
        model = load_model_file(shard)
        assert model.tensors is not None and model.architecture is not None
        assert {t.tensor.name: t.weights_bytes for t in model.tensors} == sizes
        assert model.file_bytes == sum(os.path.getsize(s) for s in shards)
        assert model.architecture.family == "qwen3_moe"
    shards[1].unlink()
    with pytest.raises(ModelFileError, match="missing 1 of"):
        load_model_file(shards[0])


def test_sparse_gguf_of_tens_of_gigabytes_is_read_from_its_header(tmp_path):
    """Tensor data is never touched: a sparse file with 77 GB of experts reads like a tiny one."""
    path = tmp_path / "huge.gguf"
    writer = gguf.GGUFWriter(path, "llama")
    total = 0
    for i in range(64):
        shape = (8192, 4096, 64)  # ggml order; writer takes numpy order
        nbytes = 8192 * 4096 * 64 // 256 * 144
        writer.add_tensor_info(
            f"blk.{i}.ffn_up_exps.weight", tuple(reversed(shape)), np.dtype(np.float32), nbytes, Q.Q4_K
        )
        total += nbytes
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    assert writer.fout is not None
    header_end = writer.fout[0].tell()
    writer.close()
    with open(path, "r+b") as fh:
        fh.truncate(-(-header_end // 32) * 32 + total)
    model = load_model_file(path)
    assert model.weights_bytes == total > 75e9
    assert model.file_bytes == os.path.getsize(path)


# ------------------------------------------------------------------------------------- hostile GGUF


def _gguf_header(
    n_tensors: int, n_kv: int, body: bytes = b"", magic: bytes = b"GGUF", version: int = 3
) -> bytes:
    return magic + struct.pack("<IQQ", version, n_tensors, n_kv) + body


def _kv_string(key: bytes, claimed: int, payload: bytes) -> bytes:
    return struct.pack("<Q", len(key)) + key + struct.pack("<IQ", 8, claimed) + payload


HOSTILE_GGUF = {
    "wrong magic": _gguf_header(0, 0, magic=b"GGML") + bytes(64),
    "version 1": _gguf_header(0, 0, version=1) + bytes(64),
    "absurd tensor count": _gguf_header(2**60, 0) + bytes(64),
    "count beyond file": _gguf_header(10_000, 0) + bytes(64),
    "absurd kv count": _gguf_header(0, 2**62) + bytes(64),
    "key length past EOF": _gguf_header(0, 1, struct.pack("<Q", 2**40) + b"general.name"),
    "string value past EOF": _gguf_header(0, 1, _kv_string(b"general.name", 2**40, b"x" * 32)),
    "array of 2**60 items": _gguf_header(
        0, 1, struct.pack("<Q", 1) + b"k" + struct.pack("<IIQ", 9, 0, 2**60)
    ),
    "array of 2**20 strings past EOF": _gguf_header(
        0, 1, struct.pack("<Q", 1) + b"k" + struct.pack("<IIQ", 9, 8, 2**20)
    ),
    "nested arrays": _gguf_header(
        0, 1, struct.pack("<Q", 1) + b"k" + struct.pack("<IIQ", 9, 9, 1) + bytes(32)
    ),
    "unknown value type": _gguf_header(0, 1, struct.pack("<Q", 1) + b"k" + struct.pack("<I", 99) + bytes(32)),
    "duplicate key": _gguf_header(0, 2, (struct.pack("<Q", 1) + b"k" + struct.pack("<IB", 0, 1)) * 2),
    "zero-filled tensor infos": _gguf_header(1000, 0) + bytes(24 * 1000),
    "too many dims": _gguf_header(1, 0, struct.pack("<Q", 1) + b"t" + struct.pack("<I", 9) + bytes(96)),
    "unknown ggml type": _gguf_header(1, 0, struct.pack("<Q", 1) + b"t" + struct.pack("<IQIQ", 1, 32, 4, 0))
    + bytes(64),
    "negative dim": _gguf_header(1, 0, struct.pack("<Q", 1) + b"t" + struct.pack("<IQIQ", 1, 2**63, 0, 0))
    + bytes(64),
    "row not a block multiple": _gguf_header(
        1, 0, struct.pack("<Q", 1) + b"t" + struct.pack("<IQIQ", 1, 33, 8, 0)
    )
    + bytes(64),
    "data past EOF": _gguf_header(1, 0, struct.pack("<Q", 1) + b"t" + struct.pack("<IQIQ", 2, 4096, 4096, 0))
    + bytes(64),
    "huge dims": _gguf_header(
        1, 0, struct.pack("<Q", 1) + b"t" + struct.pack("<IQQIQ", 2, 2**62, 2**62, 0, 0)
    )
    + bytes(64),
    "misaligned offset": _gguf_header(1, 0, struct.pack("<Q", 1) + b"t" + struct.pack("<IQIQ", 1, 1, 0, 3))
    + bytes(64),
    "not utf-8 name": _gguf_header(
        1, 0, struct.pack("<Q", 2) + b"\xff\xfe" + struct.pack("<IQIQ", 1, 1, 0, 0)
    )
    + bytes(64),
    "tiny file": b"GGUF\x03\x00",
    "empty file": b"",
}


@pytest.mark.parametrize("case", HOSTILE_GGUF, ids=list(HOSTILE_GGUF))
def test_hostile_gguf_is_a_clean_error_naming_the_file(tmp_path, case):
    path = tmp_path / "evil.gguf"
    path.write_bytes(HOSTILE_GGUF[case])
    with pytest.raises(ModelFileError) as info:
        load_model_file(path)
    assert str(path) in str(info.value)


def test_hostile_files_never_allocate_by_untrusted_counts(tmp_path):
    """All hostile GGUF and safetensors inputs together stay under a few MB of Python allocations."""
    paths = []
    for i, data in enumerate(list(HOSTILE_GGUF.values())):
        paths.append(tmp_path / f"g{i}.gguf")
        paths[-1].write_bytes(data)
    for i, data in enumerate(HOSTILE_SAFETENSORS.values()):
        paths.append(tmp_path / f"s{i}.safetensors")
        paths[-1].write_bytes(data)
    for warm in (paths[0], paths[-1]):  # import and cache gguf's tables before measuring
        with pytest.raises(ModelFileError):
            load_model_file(warm)
    tracemalloc.start()
    try:
        for path in paths:
            with pytest.raises(ModelFileError):
                load_model_file(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4_000_000


def test_every_truncation_of_a_real_header_is_a_clean_error(moe_gguf, tmp_path):
    path, _ = moe_gguf
    data = path.read_bytes()
    header_end = gguf.GGUFReader(path).data_offset
    cut = tmp_path / "cut.gguf"
    for end in range(0, header_end, 7):
        cut.write_bytes(data[:end])
        with pytest.raises(ModelFileError, match="cut.gguf"):
            read_gguf(cut)


@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_corrupted_gguf_headers_fail_cleanly_or_parse(moe_gguf, tmp_path, data):
    path, _ = moe_gguf
    raw = bytearray(path.read_bytes()[:6000])
    for _ in range(data.draw(st.integers(1, 8))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    bad = tmp_path / "fuzz.gguf"
    bad.write_bytes(bytes(raw))
    try:
        read_gguf(bad)
    except ModelFileError as exc:
        assert "fuzz.gguf" in str(exc)


# --------------------------------------------------------------------------------------- safetensors


def retype(path: Path, dtypes: dict[str, str]) -> None:
    """Rewrite dtype codes in a safetensors header (numpy has no float8: write U8, relabel as F8_E4M3)."""
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    for name, dtype in dtypes.items():
        header[name]["dtype"] = dtype
    new = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(new)) + new + raw[8 + n :])


def fp8_layer(i: int, hidden: int = 256, experts: int = 2, ff: int = 384) -> dict[str, np.ndarray]:
    """A DeepSeek-style FP8 layer: uint8 weights with float32 128x128 block scales."""
    out: dict[str, np.ndarray] = {}
    p = f"model.layers.{i}"

    def linear(name: str, rows: int, cols: int) -> None:
        out[f"{name}.weight"] = RNG.integers(0, 256, (rows, cols), dtype=np.uint8)
        out[f"{name}.weight_scale_inv"] = np.ones((-(-rows // 128), -(-cols // 128)), np.float32)

    linear(f"{p}.self_attn.q_a_proj", 96, hidden)
    linear(f"{p}.self_attn.kv_b_proj", 512, 64)
    out[f"{p}.input_layernorm.weight"] = np.ones(hidden, np.float32)
    out[f"{p}.mlp.gate.weight"] = np.ones((experts, hidden), np.float32)
    out[f"{p}.mlp.gate.e_score_correction_bias"] = np.zeros(experts, np.float32)
    for e in range(experts):
        for proj, rows, cols in (
            ("gate_proj", ff, hidden),
            ("up_proj", ff, hidden),
            ("down_proj", hidden, ff),
        ):
            linear(f"{p}.mlp.experts.{e}.{proj}", rows, cols)
    linear(f"{p}.mlp.shared_experts.up_proj", ff, hidden)
    return out


def _fp8_names(arrays: dict[str, np.ndarray]) -> dict[str, str]:
    return {n: "F8_E4M3" for n, a in arrays.items() if a.dtype == np.uint8}


def test_safetensors_groups_fp8_scales_with_their_weight(tmp_path):
    arrays = fp8_layer(0)
    path = tmp_path / "model.safetensors"
    save_file(arrays, path)
    retype(path, _fp8_names(arrays))
    model = load_model_file(path)
    assert model.tensors is not None
    by_name = {t.tensor.name: t for t in model.tensors}
    assert not any(n.endswith("weight_scale_inv") for n in by_name)
    # per-expert tensors are stacked as a GGUF conversion stacks them, scales included
    up = by_name["model.layers.0.mlp.experts.*.up_proj.weight"]
    assert up.weights_bytes == sum(
        arrays[f"model.layers.0.mlp.experts.{e}.up_proj.{part}"].nbytes
        for e in (0, 1)
        for part in ("weight", "weight_scale_inv")
    )
    assert up.qtype == "F8_E4M3" and up.tensor.shape == (256, 384, 2)  # ggml order: (in, out, experts)
    assert (up.tensor.kind, up.tensor.layer, up.tensor.role, up.tensor.n_experts) == (
        "ffn_up_exps",
        0,
        Role.ROUTED_EXPERT,
        2,
    )
    assert not any(".experts.1." in n for n in by_name)
    assert by_name["model.layers.0.mlp.gate.e_score_correction_bias"].tensor.kind == "exp_probs_b"
    assert by_name["model.layers.0.mlp.shared_experts.up_proj.weight"].tensor.role is Role.SHARED_EXPERT
    # every byte of the data section is accounted for once
    (n,) = struct.unpack("<Q", path.read_bytes()[:8])
    assert model.weights_bytes == sum(a.nbytes for a in arrays.values()) == os.path.getsize(path) - 8 - n
    assert model.quant_hint == "fp8-block128" and model.architecture is None


def _same_as_safe_open(path: Path) -> None:
    ours = {t.name: (t.dtype, list(t.shape)) for t in read_safetensors(path)}
    with safe_open(path, framework="numpy") as f:
        theirs = {k: (f.get_slice(k).get_dtype(), f.get_slice(k).get_shape()) for k in f.keys()}  # noqa: SIM118
    assert ours == theirs


def test_safetensors_parser_agrees_with_safe_open(tmp_path):
    arrays = {**fp8_layer(0), "empty": np.zeros((0, 3), np.float16), "scalar": np.array(1.5, np.float64)}
    path = tmp_path / "a.safetensors"
    save_file(arrays, path, metadata={"format": "pt"})
    retype(path, _fp8_names(arrays))
    _same_as_safe_open(path)


def write_sharded(folder: Path, layers: int = 2) -> dict[str, np.ndarray]:
    """Two shards of DeepSeek-style FP8 layers and their model.safetensors.index.json."""
    folder.mkdir(exist_ok=True)
    every: dict[str, np.ndarray] = {}
    weight_map = {}
    for i in range(layers):
        arrays = fp8_layer(i)
        if i == 0:
            arrays["model.embed_tokens.weight"] = np.zeros((1000, 256), np.float16)
        else:
            arrays["lm_head.weight"] = np.zeros((1000, 256), np.float16)
        shard = f"model-{i + 1:05d}-of-{layers:05d}.safetensors"
        save_file(arrays, folder / shard)
        retype(folder / shard, _fp8_names(arrays))
        weight_map.update({n: shard for n in arrays})
        every.update(arrays)
    index = {"metadata": {"total_size": sum(a.nbytes for a in every.values())}, "weight_map": weight_map}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    return every


def test_index_folder_and_shard_paths_read_the_same_model(tmp_path):
    every = write_sharded(tmp_path / "m")
    expected = sum(a.nbytes for a in every.values())
    shards = sorted((tmp_path / "m").glob("*.safetensors"))
    for path in (tmp_path / "m", tmp_path / "m" / "model.safetensors.index.json", shards[1]):
        model = load_model_file(path)
        assert model.weights_bytes == expected
        assert model.file_bytes == sum(os.path.getsize(s) for s in shards)
        assert model.quant_hint == "fp8-block128"
    (tmp_path / "m" / "model-00002-of-00002.safetensors").unlink()
    with pytest.raises(ModelFileError, match="model-00002-of-00002.safetensors"):
        load_model_file(tmp_path / "m")
    with pytest.raises(ModelFileError, match="missing"):
        load_model_file(shards[0])


def test_index_naming_a_tensor_its_shard_lacks_is_an_error(tmp_path):
    write_sharded(tmp_path / "m")
    index_path = tmp_path / "m" / "model.safetensors.index.json"
    index = json.loads(index_path.read_text())
    index["weight_map"]["model.layers.9.ghost.weight"] = "model-00001-of-00002.safetensors"
    index_path.write_text(json.dumps(index))
    with pytest.raises(ModelFileError, match="ghost"):
        load_model_file(index_path)


def test_sparse_safetensors_of_tens_of_gigabytes_is_read_from_its_header(tmp_path):
    rows, cols = 128_000, 200_000  # 25.6e9 BF16 values: 51.2 GB of data that is never read
    header = _st(_one("BF16", (rows, cols), (0, rows * cols * 2)))
    path = tmp_path / "model.safetensors"
    with open(path, "wb") as fh:
        fh.write(header)
        fh.truncate(len(header) + rows * cols * 2)
    model = load_model_file(path)
    assert model.weights_bytes == rows * cols * 2 and model.file_bytes == os.path.getsize(path)
    assert model.tensors is not None
    assert model.tensors[0].tensor.shape == (cols, rows)


def test_gpt_oss_mxfp4_blocks_and_scales(tmp_path):
    e, out_f, in_f = 4, 64, 96
    arrays: dict[str, np.ndarray[Any, Any]] = {
        "model.layers.0.mlp.experts.gate_up_proj_blocks": np.zeros((e, 2 * out_f, in_f // 32, 16), np.uint8),
        "model.layers.0.mlp.experts.gate_up_proj_scales": np.zeros((e, 2 * out_f, in_f // 32), np.uint8),
        "model.layers.0.mlp.experts.gate_up_proj_bias": np.zeros((e, 2 * out_f), np.float32),
        "model.layers.0.self_attn.sinks": np.zeros(8, np.float32),
    }
    save_file(arrays, tmp_path / "g.safetensors")
    loaded = load_model_file(tmp_path / "g.safetensors").tensors
    assert loaded is not None
    by_name = {t.tensor.name: t for t in loaded}
    blocks = by_name["model.layers.0.mlp.experts.gate_up_proj_blocks"]
    assert blocks.tensor.shape == (in_f, 2 * out_f, e) and blocks.tensor.n_experts == e
    assert blocks.tensor.kind == "ffn_gate_up_exps" and blocks.tensor.role is Role.ROUTED_EXPERT
    assert blocks.weights_bytes == e * 2 * out_f * in_f // 32 * 17  # MXFP4: 17 bytes per 32 values
    bias = by_name["model.layers.0.mlp.experts.gate_up_proj_bias"].tensor
    assert bias.role is Role.ROUTED_EXPERT and bias.n_experts == e
    assert by_name["model.layers.0.self_attn.sinks"].tensor.kind == "attn_sinks"


def _st(header: object, data: bytes = b"", length: int | None = None) -> bytes:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(raw) if length is None else length) + raw + data


def _one(dtype: str = "F32", shape: Iterable[object] = (2,), offsets: Iterable[object] = (0, 8)) -> dict[str, Any]:
    return {"w": {"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets)}}


HOSTILE_SAFETENSORS = {
    "header length 2**40": _st({}, length=2**40),
    "header over the 100 MB limit": _st({}, length=150_000_000),
    "header length past EOF": _st({}, length=1000),
    "header is a list": _st([1, 2]),
    "header not json": _st(b"{not json"),
    "offsets past EOF": _st(_one(offsets=(0, 80)), bytes(8)),
    "negative shape": _st(_one(shape=(-2,)), bytes(8)),
    "shape and offsets disagree": _st(_one(shape=(3,)), bytes(8)),
    "gap between tensors": _st(_one(offsets=(8, 16)), bytes(16)),
    "unknown dtype": _st(_one(dtype="E8M0"), bytes(8)),
    "huge shape": _st(_one(shape=(2**62, 2**62)), bytes(8)),
    "__metadata__ not strings": _st({"__metadata__": {"n": 1}}),
    "too small": b"\x01\x02",
}


@pytest.mark.parametrize("case", HOSTILE_SAFETENSORS, ids=list(HOSTILE_SAFETENSORS))
def test_hostile_safetensors_is_a_clean_error_and_safe_open_agrees(tmp_path, case):
    path = tmp_path / "evil.safetensors"
    path.write_bytes(HOSTILE_SAFETENSORS[case])
    with pytest.raises(ModelFileError) as info:
        load_model_file(path)
    assert str(path) in str(info.value)
    with pytest.raises(Exception), safe_open(path, framework="numpy") as f:  # noqa: B017 - the package rejects it too
        list(f.keys())


# ------------------------------------------------------------------------------------------ dispatch


def test_paths_that_are_not_models(tmp_path):
    with pytest.raises(ModelFileError, match="no such file"):
        load_model_file(tmp_path / "absent.gguf")
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(ModelFileError, match="not a model file"):
        load_model_file(tmp_path / "notes.txt")
    with pytest.raises(ModelFileError, match="no config.json"):
        load_model_file(tmp_path)
    (tmp_path / "config.json").write_text('{"hidden_size": 8,\n "oops"}')
    with pytest.raises(ModelFileError, match=r"config.json:2:\d+: "):
        load_model_file(tmp_path / "config.json")


def test_folder_with_two_gguf_models_asks_for_one(tmp_path):
    write_gguf(tmp_path / "a.gguf", "llama", [("x.weight", Q.F32, (4,))])
    write_gguf(tmp_path / "mmproj-F16.gguf", "clip", [("v.weight", Q.F32, (8,))])
    assert load_model_file(tmp_path).weights_bytes == 16  # the vision projector is not a second model
    write_gguf(tmp_path / "b.gguf", "llama", [("x.weight", Q.F32, (4,))])
    with pytest.raises(ModelFileError, match="several GGUF"):
        load_model_file(tmp_path)


def test_folder_with_mistral_duplicate_weights_reads_the_hf_ones(tmp_path):
    save_file(
        {"layers.0.attention.wq.weight": np.zeros((4, 4), np.float32)}, tmp_path / "consolidated.safetensors"
    )
    save_file(
        {"model.layers.0.self_attn.q_proj.weight": np.zeros((4, 4), np.float32)},
        tmp_path / "model.safetensors",
    )
    model = load_model_file(tmp_path)
    assert model.tensors is not None
    assert [t.tensor.kind for t in model.tensors] == ["attn_q"] and model.weights_bytes == 64
