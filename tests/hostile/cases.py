"""Hostile inputs for the `sizer` command: the files they need and the exit each must give.

`write_files(folder)` writes every file the cases use; `CASES` lists (name, argv, expected exit codes,
a fragment the message must hold). Shared by tests/test_hostile_cli.py (every case in one bounded
subprocess) and tests/benchmarks/bench_hostile.py (one subprocess per case: exit, time, peak memory).
An argv item "{dir}" is replaced by the folder the files were written to.
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CASES", "Case", "write_files"]

LLAMA_CONFIG = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "hidden_size": 4096,
    "intermediate_size": 14336,
    "num_attention_heads": 32,
    "num_hidden_layers": 32,
    "num_key_value_heads": 8,
    "vocab_size": 128256,
    "max_position_embeddings": 131072,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
}


@dataclass(frozen=True)
class Case:
    name: str
    argv: tuple[str, ...]
    codes: tuple[int, ...] = (1, 2)  # accepted exit codes
    says: str = ""  # a fragment the output (stdout + stderr) must hold, case-insensitive


def _config(folder: Path, name: str, **changes: object) -> None:
    data = dict(LLAMA_CONFIG)
    data.update(changes)
    (folder / name).mkdir(exist_ok=True)
    (folder / name / "config.json").write_text(json.dumps(data))


def _safetensors(path: Path, header: bytes) -> None:
    path.write_bytes(struct.pack("<Q", len(header)) + header)


def _gguf(path: Path, block_count: int, embedding: int = 256, head_count: int | None = 4) -> None:
    """A 2-layer llama GGUF written by gguf's own writer, its metadata as given."""
    import gguf
    import numpy as np

    writer = gguf.GGUFWriter(path, "llama")
    writer.add_block_count(block_count)
    writer.add_uint64("llama.embedding_length", embedding)
    writer.add_feed_forward_length(512)
    if head_count is not None:
        writer.add_head_count(head_count)
    writer.add_head_count_kv(2)
    writer.add_context_length(4096)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    tensors = {"token_embd.weight": (256, 512), "output.weight": (256, 512), "output_norm.weight": (256,)}
    for i in range(2):
        tensors |= {
            f"blk.{i}.attn_q.weight": (256, 256),
            f"blk.{i}.attn_k.weight": (256, 128),
            f"blk.{i}.attn_v.weight": (256, 128),
            f"blk.{i}.attn_output.weight": (256, 256),
            f"blk.{i}.ffn_up.weight": (256, 512),
            f"blk.{i}.ffn_gate.weight": (256, 512),
            f"blk.{i}.ffn_down.weight": (512, 256),
            f"blk.{i}.attn_norm.weight": (256,),
            f"blk.{i}.ffn_norm.weight": (256,),
        }
    for name, shape in tensors.items():
        writer.add_tensor(name, np.zeros(tuple(reversed(shape)), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def _fifo(path: Path) -> None:
    if not path.exists():
        os.mkfifo(path)


def write_files(folder: Path) -> None:
    """Every file the cases name, under `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "zero.yaml").exists():
        (folder / "zero.yaml").symlink_to("/dev/zero")
    laughs = ['a0: &a0 ["x","x","x","x","x","x","x","x","x"]']
    laughs += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    (folder / "bomb.yaml").write_text("\n".join(laughs) + "\n")
    _fifo(folder / "fifo.gguf")
    (folder / "fifo-model").mkdir(exist_ok=True)
    _fifo(folder / "fifo-model" / "model.safetensors")
    (folder / "fifo-model" / "config.json").write_text(json.dumps(LLAMA_CONFIG))
    _fifo(folder / "fifo.yaml")
    _config(folder, "layers-1e9", num_hidden_layers=10**9)
    _config(folder, "heads-0", num_attention_heads=0)
    _config(folder, "hidden-1e300", hidden_size=1e300)
    (folder / "digits").mkdir(exist_ok=True)
    text = json.dumps(LLAMA_CONFIG).replace('"hidden_size": 4096', '"hidden_size": ' + "9" * 5000)
    (folder / "digits" / "config.json").write_text(text)
    _safetensors(folder / "digits.safetensors",
                 b'{"a":{"dtype":"F32","shape":[' + b"9" * 5000 + b'],"data_offsets":[0,4]}}')
    huge = {f"t{i}": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]} for i in range(300_000)}
    _safetensors(folder / "many-tensors.safetensors", json.dumps(huge).encode())
    _gguf(folder / "blocks-1e9.gguf", block_count=10**9)
    _gguf(folder / "wide-2e40.gguf", block_count=2, embedding=2**40)
    _gguf(folder / "no-heads.gguf", block_count=2, head_count=None)
    (folder / "inf.yaml").write_text(
        "- id: nvidia-h100-sxm-80gb\n  memory_gib_usable: .inf\n  sources: [https://example.com]\n"
    )
    entries = [f"- id: x{i}\n  kind: engine\n  name: X{i}\n" for i in range(30_000)]
    (folder / "big-overlay.yaml").write_text("".join(entries))
    (folder / "a-dir.gguf").mkdir(exist_ok=True)


_FIT_70B = ("fit", "--params", "70B", "--gpu", "h100")
CASES: tuple[Case, ...] = (
    # hangs and memory blow-ups
    Case("validate /dev/zero", ("catalog", "validate", "{dir}/zero.yaml"), (1,), "regular file"),
    Case("YAML alias bomb", ("catalog", "validate", "{dir}/bomb.yaml"), (1,), "alias"),
    Case("FIFO .gguf", ("fit", "{dir}/fifo.gguf", "--gpu", "h100"), (1,), "regular file"),
    Case("FIFO model.safetensors", ("fit", "{dir}/fifo-model", "--gpu", "h100"), (1,), "regular file"),
    Case("FIFO overlay", ("--catalog", "{dir}/fifo.yaml", "gpus", "list"), (1,), "regular file"),
    Case("directory as .gguf", ("fit", "{dir}/a-dir.gguf", "--gpu", "h100"), (1,), "folder has no"),
    Case("--params 1e29", ("fit", "--params", "1e29", "--gpu", "h100"), (2,), "--params"),
    Case("--params 1e25", ("fit", "--params", "1e25", "--gpu", "h100"), (2,), "--params"),
    Case("--gpu h100:1e20", ("fit", "llama-3.1-8b", "--gpu", "h100:99999999999999999999"), (2,), "count"),
    Case("--layers 1e9", (*_FIT_70B, "--layers", "1000000000"), (2,), "--layers"),
    Case("--layers 1e6", (*_FIT_70B, "--layers", "1000000"), (2,), "--layers"),
    Case("1T on 100000 GPUs x 1024 nodes",
         ("fit", "--params", "1T", "--gpu", "h100:100000", "--nodes", "1024"), (2,), "count"),
    Case("--hidden 2^40", (*_FIT_70B, "--hidden", str(2**40)), (2,), "--hidden"),
    Case("-c 1e12", ("fit", "llama-3.1-8b", "--gpu", "h100", "-c", "1e12"), (2,), "--context"),
    Case("-u 1e12", ("fit", "llama-3.1-8b", "--gpu", "h100", "-u", "1000000000000"), (2,), "--users"),
    Case("config num_hidden_layers 1e9", ("fit", "{dir}/layers-1e9/config.json", "--gpu", "h100"), (1,),
         "num_hidden_layers"),
    # a GGUF header that is missing or contradicts the tensors is not trusted: the KV cache is then sized
    # from the tensor shapes with a warning that names the key (exit 0), never from the header's claim
    Case("GGUF block_count 1e9 with 2 layers", ("fit", "{dir}/blocks-1e9.gguf", "--gpu", "h100"), (0, 1),
         "block_count says 1,000,000,000 layers but the tensors hold 2"),
    Case("GGUF embedding_length 2^40 on 256-wide tensors", ("fit", "{dir}/wide-2e40.gguf", "--gpu", "h100"),
         (0, 1), "embedding_length says 1,099,511,627,776 but token_embd.weight is 256 wide"),
    Case("GGUF without head_count", ("fit", "{dir}/no-heads.gguf", "--gpu", "h100"), (0, 1),
         "lacks llama.attention.head_count"),
    Case("300k-tensor safetensors", ("fit", "{dir}/many-tensors.safetensors", "--gpu", "h100"), (1,),
         "more bytes than the file holds"),
    Case("30000-entry overlay", ("--catalog", "{dir}/big-overlay.yaml", "gpus", "list"), (1,), "entries"),
    # exit 3 on bad input
    Case("num_attention_heads 0", ("fit", "{dir}/heads-0/config.json", "--gpu", "h100"), (1,),
         "num_attention_heads"),
    Case("hidden_size 1e300", ("fit", "{dir}/hidden-1e300/config.json", "--gpu", "h100"), (1,), "hidden_size"),
    Case("5000-digit int in config.json", ("fit", "{dir}/digits/config.json", "--gpu", "h100"), (1,),
         "5000 digits"),
    Case("5000-digit int in safetensors", ("fit", "{dir}/digits.safetensors", "--gpu", "h100"), (1,),
         "5000 digits"),
    Case("overlay memory_gib_usable .inf (validate)", ("catalog", "validate", "{dir}/inf.yaml"), (1,),
         "memory_gib_usable"),
    Case("overlay memory_gib_usable .inf (fit)",
         ("--catalog", "{dir}/inf.yaml", "fit", "llama-3.1-8b", "--gpu", "h100"), (1,), "memory_gib_usable"),
    Case("recommend --budget 0", ("recommend", "llama-3.1-8b", "--budget", "0"), (2,), "--budget"),
    Case("recommend --max-power 0", ("recommend", "llama-3.1-8b", "--max-power", "0"), (0,), "power"),
    Case("catalog schema -o /dev/null", ("catalog", "schema", "-o", "/dev/null"), (2,), "not a folder"),
    Case("catalog schema -o under /proc", ("catalog", "schema", "-o", "/proc/no/such"), (1,), "check the path"),
    Case("5000-character model name", ("fit", "x" * 5000, "--gpu", "h100"), (2,), "unknown model"),
    Case("model under a missing folder", ("fit", "/nonexistent/dir/model.gguf", "--gpu", "h100"), (1,),
         "no such file"),
    Case("unknown GPU, no close match", ("gpus", "show", "RTX 9999 Ultra"), (2,), "sizer gpus list"),
    Case("unknown model, no close match", ("models", "show", "zzzzqqqq"), (2,), "sizer models list"),
    Case("unknown quant, no close match", ("quants", "show", "zzzzqqqq"), (2,), "sizer quants list"),
    Case("unknown engine, no close match", ("engines", "show", "zzzzqqqq"), (2,), "sizer engines list"),
    Case("unknown system, no close match", ("systems", "show", "zzzzqqqq"), (2,), "sizer systems list"),
    # silently wrong
    Case("--ram-bandwidth nan", ("fit", "llama-3.1-8b", "--ram", "64", "--ram-bandwidth", "nan"), (2,),
         "--ram-bandwidth"),
    Case("--budget nan", ("recommend", "llama-3.1-8b", "--budget", "nan"), (2,), "--budget"),
    Case("--min-tps nan", ("recommend", "llama-3.1-8b", "--min-tps", "nan"), (2,), "--min-tps"),
    Case("plan --pue nan", ("plan", "llama-3.1-8b", "--pue", "nan", "-f", "json"), (2,), "--pue"),
    Case("--kwh-price inf", ("recommend", "llama-3.1-8b", "--kwh-price", "inf"), (2,), "--kwh-price"),
    Case("mixed cards: a small card left idle",
         ("fit", "llama-3.3-70b", "-q", "q4_k_m", "--gpu", "h100", "--gpu", "rtx 3060", "-e", "vllm"), (0,),
         "RTX 3060 12GB left idle"),
    Case("--years inf", ("recommend", "llama-3.1-8b", "--years", "inf"), (2,), "--years"),
)
