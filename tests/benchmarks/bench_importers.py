"""Benchmark: import ~100 GB model files from their headers (sparse files: no data is written).

    /work/venv/bin/python tests/benchmarks/bench_importers.py [TMPDIR]

1. GGUF: a Qwen3-235B-A22B-shaped Q3_K file (~98 GB) with a real-size tokenizer (151,669 tokens and
   151,387 merges, which dominate the header parse), read in-process (warm) and by a fresh interpreter
   (cold, including Python start-up and imports).
2. safetensors: the same model in BF16 (~470 GB) as 118 shards with an index, per-expert tensors
   (~36k), read as a folder.
Figures are printed, never asserted (STYLE 8.7).
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from sizer.model.importers import load_model_file

H, LAYERS, HEADS, KV, HD, E, FF, VOCAB = 4096, 94, 64, 4, 128, 128, 1536, 151936


def write_gguf(path: Path) -> int:
    import gguf
    from gguf import GGMLQuantizationType as Q

    w = gguf.GGUFWriter(path, "qwen3moe")
    w.add_block_count(LAYERS)
    w.add_embedding_length(H)
    w.add_head_count(HEADS)
    w.add_head_count_kv(KV)
    w.add_key_length(HD)
    w.add_value_length(HD)
    w.add_context_length(40960)
    w.add_feed_forward_length(12288)
    w.add_expert_count(E)
    w.add_expert_used_count(8)
    w.add_expert_feed_forward_length(FF)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_Q3_K_M)
    w.add_tokenizer_model("gpt2")
    w.add_token_list([f"token-{i}" for i in range(151_669)])
    w.add_token_types([1] * 151_669)
    w.add_token_merges([f"m{i} n{i}" for i in range(151_387)])
    total = 0

    def info(name: str, shape: tuple[int, ...], qtype: Q) -> None:
        nonlocal total
        block, size = gguf.GGML_QUANT_SIZES[qtype]
        nbytes = int(np.prod(shape)) // block * size
        w.add_tensor_info(name, tuple(reversed(shape)), np.dtype(np.float32), nbytes, qtype)
        total += -(-nbytes // 32) * 32

    info("token_embd.weight", (H, VOCAB), Q.Q3_K)
    info("output.weight", (H, VOCAB), Q.Q6_K)
    info("output_norm.weight", (H,), Q.F32)
    for i in range(LAYERS):
        for kind, shape, qtype in (
            ("attn_norm", (H,), Q.F32),
            ("attn_q", (H, HEADS * HD), Q.Q3_K),
            ("attn_k", (H, KV * HD), Q.Q3_K),
            ("attn_v", (H, KV * HD), Q.Q5_K),
            ("attn_output", (HEADS * HD, H), Q.Q4_K),
            ("attn_q_norm", (HD,), Q.F32),
            ("attn_k_norm", (HD,), Q.F32),
            ("ffn_norm", (H,), Q.F32),
            ("ffn_gate_inp", (H, E), Q.F32),
            ("ffn_gate_exps", (H, FF, E), Q.Q3_K),
            ("ffn_up_exps", (H, FF, E), Q.Q3_K),
            ("ffn_down_exps", (FF, H, E), Q.Q4_K),
        ):
            info(f"blk.{i}.{kind}.weight", shape, qtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    assert w.fout is not None
    end = w.fout[0].tell()
    w.close()
    with open(path, "r+b") as fh:
        fh.truncate(-(-end // 32) * 32 + total)
    return os.path.getsize(path)


def write_safetensors(folder: Path, shards: int = 118) -> int:
    folder.mkdir()
    names: list[tuple[str, list[int]]] = [
        ("model.embed_tokens.weight", [VOCAB, H]),
        ("lm_head.weight", [VOCAB, H]),
        ("model.norm.weight", [H]),
    ]
    for i in range(LAYERS):
        p = f"model.layers.{i}"
        names += [
            (f"{p}.input_layernorm.weight", [H]),
            (f"{p}.post_attention_layernorm.weight", [H]),
            (f"{p}.self_attn.q_proj.weight", [HEADS * HD, H]),
            (f"{p}.self_attn.k_proj.weight", [KV * HD, H]),
            (f"{p}.self_attn.v_proj.weight", [KV * HD, H]),
            (f"{p}.self_attn.o_proj.weight", [H, HEADS * HD]),
            (f"{p}.self_attn.q_norm.weight", [HD]),
            (f"{p}.self_attn.k_norm.weight", [HD]),
            (f"{p}.mlp.gate.weight", [E, H]),
        ]
        for e in range(E):
            names += [
                (f"{p}.mlp.experts.{e}.gate_proj.weight", [FF, H]),
                (f"{p}.mlp.experts.{e}.up_proj.weight", [FF, H]),
                (f"{p}.mlp.experts.{e}.down_proj.weight", [H, FF]),
            ]
    per_shard = -(-len(names) // shards)
    weight_map = {}
    for s in range(shards):
        chunk = names[s * per_shard : (s + 1) * per_shard]
        header, offset = {}, 0
        for name, shape in chunk:
            nbytes = int(np.prod(shape)) * 2
            header[name] = {"dtype": "BF16", "shape": shape, "data_offsets": [offset, offset + nbytes]}
            offset += nbytes
        raw = json.dumps(header).encode()
        shard = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
        with open(folder / shard, "wb") as fh:
            fh.write(struct.pack("<Q", len(raw)) + raw)
            fh.truncate(8 + len(raw) + offset)
        weight_map.update({name: shard for name, _ in chunk})
    (folder / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {}, "weight_map": weight_map})
    )
    config = {
        "model_type": "qwen3_moe",
        "hidden_size": H,
        "num_hidden_layers": LAYERS,
        "num_attention_heads": HEADS,
        "num_key_value_heads": KV,
        "head_dim": HD,
        "intermediate_size": 12288,
        "moe_intermediate_size": FF,
        "num_experts": E,
        "num_experts_per_tok": 8,
        "vocab_size": VOCAB,
        "max_position_embeddings": 40960,
        "tie_word_embeddings": False,
        "torch_dtype": "bfloat16",
    }
    (folder / "config.json").write_text(json.dumps(config))
    return sum(os.path.getsize(f) for f in folder.glob("*.safetensors"))


def timed(path: Path, repeat: int = 5) -> tuple[float, Any]:
    best, model = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        model = load_model_file(path)
        best = min(best, time.perf_counter() - start)
    return best, model


def cold(path: Path) -> float:
    code = f"from sizer.model.importers import load_model_file; load_model_file({str(path)!r})"
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
    return time.perf_counter() - start


def main() -> None:
    base = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="sizer-bench-"))
    gguf_path = base / "Qwen3-235B-A22B-Q3_K_M.gguf"
    size = write_gguf(gguf_path)
    warm, model = timed(gguf_path)
    print(
        f"GGUF {size / 1e9:.1f} GB sparse, {len(model.tensors)} tensors, {model.weights_bytes / 1e9:.1f} GB "
        f"weights, {model.architecture.family}, {model.quant_hint}: warm {warm * 1e3:.1f} ms, "
        f"cold process {cold(gguf_path) * 1e3:.0f} ms"
    )
    folder = base / "Qwen3-235B-A22B"
    size = write_safetensors(folder)
    warm, model = timed(folder, repeat=3)
    print(
        f"safetensors {size / 1e9:.1f} GB sparse in 118 shards, {len(model.tensors)} tensors after stacking "
        f"experts, {model.weights_bytes / 1e9:.1f} GB: warm {warm * 1e3:.1f} ms, cold process {cold(folder) * 1e3:.0f} ms"
    )
    print(f"empty interpreter start: {cold_python() * 1e3:.0f} ms")


def cold_python() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
