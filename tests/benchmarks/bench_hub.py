"""Benchmark: a Hugging Face repo read header-only, from the local stand-in Hub (tests/hub_standin.py).

    .venv/bin/python tests/benchmarks/bench_hub.py [TMPDIR]

The repo: a Llama-3.1-8B-shaped BF16 checkpoint (16.1 GB) in 6 safetensors shards with an index and a
config, written as sparse files (headers only on disk). Timed, each in a fresh interpreter
(`sizer fit acme/Llama-8B --format json`: Python start-up, imports, catalog, resolution and sizing):
1. first read: empty HF_HOME (listing + config + index + 6 header range reads over HTTP);
2. re-read online: the listing is fetched again, config, index and headers come from the caches;
3. re-read offline: HF_HUB_OFFLINE=1, nothing crosses the wire;
and the same three in-process (load_from_hub only). Targets (issue 11): first read under 3 s, cached
re-read under 0.5 s. Figures are printed, never asserted.
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

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.hub_standin import HubStandIn

H, LAYERS, HEADS, KV, HD, FF, VOCAB, SHARDS = 4096, 32, 32, 8, 128, 14336, 128256, 6


def shapes() -> dict[str, list[int]]:
    out = {"model.embed_tokens.weight": [VOCAB, H], "lm_head.weight": [VOCAB, H], "model.norm.weight": [H]}
    for i in range(LAYERS):
        p = f"model.layers.{i}"
        out |= {f"{p}.self_attn.q_proj.weight": [HEADS * HD, H], f"{p}.self_attn.k_proj.weight": [KV * HD, H],
                f"{p}.self_attn.v_proj.weight": [KV * HD, H], f"{p}.self_attn.o_proj.weight": [H, HEADS * HD],
                f"{p}.mlp.gate_proj.weight": [FF, H], f"{p}.mlp.up_proj.weight": [FF, H],
                f"{p}.mlp.down_proj.weight": [H, FF], f"{p}.input_layernorm.weight": [H],
                f"{p}.post_attention_layernorm.weight": [H]}
    return out


def write_repo(folder: Path) -> int:
    """Sparse safetensors shards (a real header, then a hole of the data size); returns the data bytes."""
    folder.mkdir(parents=True)
    config = {"model_type": "llama", "hidden_size": H, "num_hidden_layers": LAYERS, "num_attention_heads": HEADS,
              "num_key_value_heads": KV, "head_dim": HD, "intermediate_size": FF, "vocab_size": VOCAB,
              "max_position_embeddings": 131072, "tie_word_embeddings": False, "torch_dtype": "bfloat16"}
    (folder / "config.json").write_text(json.dumps(config))
    items = list(shapes().items())
    weight_map, total = {}, 0
    for s in range(SHARDS):
        name = f"model-{s + 1:05d}-of-{SHARDS:05d}.safetensors"
        header, offset = {}, 0
        for tensor, shape in items[s::SHARDS]:
            n = 2
            for d in shape:
                n *= d
            header[tensor] = {"dtype": "BF16", "shape": shape, "data_offsets": [offset, offset + n]}
            offset += n
            weight_map[tensor] = name
        raw = json.dumps(header).encode()
        raw += b" " * (-len(raw) % 8)
        with open(folder / name, "wb") as fh:
            fh.write(struct.pack("<Q", len(raw)) + raw)
            fh.truncate(8 + len(raw) + offset)
        total += offset
    (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    return total


def cli(env: dict[str, str], model: str = "acme/Llama-8B") -> tuple[float, dict[str, Any]]:
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "sizer", "fit", model, "--format", "json"],
                         capture_output=True, text=True, env=env, cwd=ROOT)
    if out.returncode:
        raise SystemExit(out.stderr)
    return time.perf_counter() - start, json.loads(out.stdout)


def main() -> None:
    base = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="bench-hub-"))
    repo = base / "repo"
    data = write_repo(repo)
    standin = HubStandIn()
    url = standin.start()
    standin.add("acme/Llama-8B", repo)
    env = {**os.environ, "HF_ENDPOINT": url, "HF_HOME": str(base / "hf-cli")}
    env.pop("HF_HUB_OFFLINE", None)
    print(f"repo: {SHARDS} shards, {data / 1e9:.1f} GB of BF16 tensors (sparse files), stand-in at {url}")
    t1, r1 = cli(env)
    sent = standin.bytes_sent
    t2, r2 = min(cli(env) for _ in range(3))
    t3, r3 = min(cli({**env, "HF_HUB_OFFLINE": "1"}) for _ in range(3))
    t0, _ = min(cli(env, "llama-3.1-8b") for _ in range(3))
    assert r1["memory"] == r2["memory"] == r3["memory"] and r1["memory"]["weights_bytes"] == data
    print(f"sizer fit (fresh interpreter): first read {t1:.2f} s ({sent / 1024:.0f} KiB over HTTP), "
          f"cached re-read online {t2:.2f} s, offline (HF_HUB_OFFLINE=1) {t3:.2f} s "
          f"(best of 3); the catalog model llama-3.1-8b: {t0:.2f} s")

    import huggingface_hub.constants as c

    c.ENDPOINT = url
    c.HUGGINGFACE_CO_URL_TEMPLATE = url + "/{repo_id}/resolve/{revision}/{filename}"
    c.HF_HOME = str(base / "hf-lib")
    c.HF_HUB_CACHE = str(base / "hf-lib" / "hub")
    from sizer.model.importers import hub
    from sizer.model.importers.hub import load_from_hub

    times = []
    for offline in (False, False, True):
        c.HF_HUB_OFFLINE = offline
        hub._read.clear()  # not the in-process memo: the on-disk caches
        start = time.perf_counter()
        model = load_from_hub("acme/Llama-8B")
        times.append(time.perf_counter() - start)
        assert model.imported.weights_bytes == data
    print(f"load_from_hub (in-process): first read {times[0] * 1000:.0f} ms, cached re-read online "
          f"{times[1] * 1000:.0f} ms, offline {times[2] * 1000:.0f} ms")
    standin.stop()
    assert not standin.refused


if __name__ == "__main__":
    main()
