"""Hugging Face repos read header-only, against a local stand-in for the Hub (tests/hub_standin.py).

The real huggingface_hub client talks real HTTP to 127.0.0.1 (HF_ENDPOINT), with HF_HOME in tmp_path.
The stand-in refuses any read larger than 256 KiB, and every repo here is larger than that, so a test
fails if weights are downloaded. Expected values are worked out by hand from the shapes written.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import gguf
import numpy as np
import pytest
from gguf import GGMLQuantizationType as Q
from safetensors import TensorSpec, serialize_file

from tests.hub_standin import HubStandIn
from tests.test_importers import moe_meta, moe_tensors, write_gguf

# a tiny Llama: hidden 256, 2 layers, 4 heads of 64, 2 KV heads, FFN 512, vocabulary 1024, untied head
H, LAYERS, HEADS, KV, HD, FF, VOCAB = 256, 2, 4, 2, 64, 512, 1024
LLAMA_PARAMS = 2 * VOCAB * H + H + LAYERS * (H * H + 2 * KV * HD * H + H * H + 3 * FF * H + 2 * H)


def llama_config(**extra: object) -> dict[str, object]:
    return {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": H,
            "num_hidden_layers": LAYERS, "num_attention_heads": HEADS, "num_key_value_heads": KV, "head_dim": HD,
            "intermediate_size": FF, "vocab_size": VOCAB, "max_position_embeddings": 4096,
            "tie_word_embeddings": False, "torch_dtype": "bfloat16", **extra}


def llama_shapes() -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {"model.embed_tokens.weight": (VOCAB, H), "lm_head.weight": (VOCAB, H),
                                          "model.norm.weight": (H,)}
    for i in range(LAYERS):
        p = f"model.layers.{i}"
        shapes |= {f"{p}.self_attn.q_proj.weight": (HEADS * HD, H), f"{p}.self_attn.k_proj.weight": (KV * HD, H),
                   f"{p}.self_attn.v_proj.weight": (KV * HD, H), f"{p}.self_attn.o_proj.weight": (H, HEADS * HD),
                   f"{p}.mlp.gate_proj.weight": (FF, H), f"{p}.mlp.up_proj.weight": (FF, H),
                   f"{p}.mlp.down_proj.weight": (H, FF), f"{p}.input_layernorm.weight": (H,),
                   f"{p}.post_attention_layernorm.weight": (H,)}
    return shapes


_ITEM = {"bfloat16": 2, "float8_e4m3fn": 1, "float32": 4}
_keep: list[np.ndarray] = []


def write_safetensors(path: Path, tensors: dict[str, tuple[str, tuple[int, ...]]]) -> int:
    """Write with safetensors' own serializer; return the bytes of tensor data written."""
    specs, total = {}, 0
    for name, (dtype, shape) in tensors.items():
        arr = np.ones(int(np.prod(shape)) * _ITEM[dtype], np.uint8)
        _keep.append(arr)
        specs[name] = TensorSpec(dtype=dtype, shape=list(shape), data_ptr=arr.ctypes.data, data_len=arr.nbytes)
        total += arr.nbytes
    serialize_file(specs, str(path))
    return total


def bf16_repo(folder: Path, shards: int = 3, config: dict[str, object] | None = None) -> int:
    """A sharded BF16 checkpoint with its index; returns the weight bytes."""
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(config or llama_config()))
    names = list(llama_shapes().items())
    weight_map: dict[str, str] = {}
    total = 0
    for s in range(shards):
        part = dict(names[s::shards])
        fname = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
        total += write_safetensors(folder / fname, {n: ("bfloat16", shape) for n, shape in part.items()})
        weight_map |= {n: fname for n in part}
    (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    (folder / "README.md").write_text("a test repo\n")
    return total


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import huggingface_hub.constants as c

    standin = HubStandIn()
    url = standin.start()
    home = tmp_path / "hf-home"
    monkeypatch.setenv("HF_ENDPOINT", url)
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    # the client reads these at import; point the imported copy at the stand-in and tmp_path too
    monkeypatch.setattr(c, "ENDPOINT", url)
    monkeypatch.setattr(c, "HUGGINGFACE_CO_URL_TEMPLATE", url + "/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.setattr(c, "HF_HOME", str(home))
    monkeypatch.setattr(c, "HF_HUB_CACHE", str(home / "hub"))
    monkeypatch.setattr(c, "HF_TOKEN_PATH", str(home / "token"))
    monkeypatch.setattr(c, "HF_STORED_TOKENS_PATH", str(home / "stored_tokens"))
    monkeypatch.setattr(c, "HF_HUB_OFFLINE", False)
    yield standin
    standin.stop()
    assert not standin.refused, f"weights were downloaded: {standin.refused}"


def fit_json(run_cli, *args: str) -> dict[str, Any]:
    result = run_cli("fit", *args, "--format", "json")
    assert result.exit_code == 0, result.output + result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_sharded_bf16_repo_exact_bytes_params_and_kv(hub, tmp_path, run_cli):
    weights = bf16_repo(tmp_path / "repo")
    hub.add("acme/Tiny-Llama", tmp_path / "repo")
    out = fit_json(run_cli, "acme/Tiny-Llama")
    assert weights == 2 * LLAMA_PARAMS
    assert out["memory"]["weights_bytes"] == 2 * LLAMA_PARAMS
    assert out["model"]["total_params"] == LLAMA_PARAMS == out["model"]["active_params"]
    assert out["model"]["source"] == "huggingface" and out["model"]["repo"] == "acme/Tiny-Llama"
    # KV per token: 2 layers x (K and V) x 2 KV heads x 64 x 2 bytes (16-bit cache)
    assert out["memory"]["kv_cache_bytes_per_token"] == LAYERS * 2 * KV * HD * 2
    # only JSON files and header ranges crossed the wire
    assert all("bytes=" in r for r in hub.requests if r.startswith("GET") and ".safetensors " in r)
    assert hub.bytes_sent < 256 << 10


def test_compressed_tensors_fp8_repo(hub, tmp_path, run_cli):
    folder = tmp_path / "fp8"
    folder.mkdir()
    qc = {"quant_method": "compressed-tensors", "format": "float-quantized",
          "config_groups": {"group_0": {"targets": ["Linear"],
                                        "weights": {"num_bits": 8, "type": "float", "strategy": "channel"},
                                        "input_activations": {"num_bits": 8, "type": "float", "dynamic": True}}},
          "ignore": ["lm_head"]}
    (folder / "config.json").write_text(json.dumps(llama_config(quantization_config=qc)))
    tensors, expected = {}, 0
    for name, shape in llama_shapes().items():
        linear = len(shape) == 2 and "embed" not in name and "lm_head" not in name
        if linear:
            tensors[name] = ("float8_e4m3fn", shape)
            tensors[name.replace(".weight", ".weight_scale")] = ("bfloat16", (shape[0], 1))
            expected += shape[0] * shape[1] + 2 * shape[0]
        else:
            tensors[name] = ("bfloat16", shape)
            expected += 2 * int(np.prod(shape))
    assert write_safetensors(folder / "model.safetensors", tensors) == expected
    hub.add("acme/Tiny-Llama-FP8-Dynamic", folder)
    out = fit_json(run_cli, "acme/Tiny-Llama-FP8-Dynamic")
    assert out["memory"]["weights_bytes"] == expected
    assert out["model"]["total_params"] == LLAMA_PARAMS  # scales are not parameters
    assert out["quant"] == "fp8-per-channel"
    assert any("compressed-tensors" in a and "W8 float channel" in a for a in out["assumptions"])


def gguf_repo(folder: Path) -> tuple[int, int]:
    """Q4_K_M as one file, Q8_0 split in two; returns the tensor bytes of each."""
    folder.mkdir()
    q4 = sum(write_gguf(folder / "Tiny-MoE-Q4_K_M.gguf", "qwen3moe", moe_tensors(), moe_meta).values())
    (folder / "Q8_0").mkdir()
    tensors = [(n, Q.Q8_0 if t not in (Q.F32,) and len(s) > 1 else t, s) for n, t, s in moe_tensors()]
    half = len(tensors) // 2
    q8 = 0
    for i, part in enumerate((tensors[:half], tensors[half:])):
        def meta(w: gguf.GGUFWriter, i: int = i) -> None:
            if i == 0:
                moe_meta(w)
            w.add_uint16("split.no", i)
            w.add_uint16("split.count", 2)
            w.add_int32("split.tensors.count", len(tensors))
        q8 += sum(write_gguf(folder / "Q8_0" / f"Tiny-MoE-Q8_0-{i + 1:05d}-of-00002.gguf", "qwen3moe", part,
                             meta).values())
    (folder / "mmproj-F16.gguf").write_bytes(b"not read")
    return q4, q8


def test_gguf_repo_two_quants_and_a_split_file(hub, tmp_path, run_cli):
    q4, q8 = gguf_repo(tmp_path / "gguf")
    hub.add("acme/Tiny-MoE-GGUF", tmp_path / "gguf")
    # without a tag: the quants the repo has, with their sizes, exit 2
    listing = run_cli("fit", "acme/Tiny-MoE-GGUF")
    assert listing.exit_code == 2 and "Q4_K_M (" in listing.stderr and "Q8_0 (" in listing.stderr
    assert "Traceback" not in listing.output + listing.stderr
    assert fit_json(run_cli, "acme/Tiny-MoE-GGUF:Q4_K_M")["memory"]["weights_bytes"] == q4
    split = fit_json(run_cli, "acme/Tiny-MoE-GGUF:q8_0")  # the tag is case-insensitive
    assert split["memory"]["weights_bytes"] == q8 != q4
    assert split["model"]["repo"].startswith("acme/Tiny-MoE-GGUF:Q8_0/Tiny-MoE-Q8_0-00001-of-00002.gguf")
    assert fit_json(run_cli, "acme/Tiny-MoE-GGUF", "--quant", "Q8_0")["memory"]["weights_bytes"] == q8
    assert not any("mmproj" in r for r in hub.requests if r.startswith("GET"))


def test_family_sizer_does_not_model(hub, tmp_path, run_cli):
    # an OLMo-like config with a model_type sizer has no rules for, and a sliding window on every layer
    config = llama_config(model_type="acme_newarch", architectures=["AcmeForCausalLM"], sliding_window=1024,
                          layer_types=["sliding_attention", "full_attention"])
    bf16_repo(tmp_path / "new", shards=2, config=config)
    hub.add("acme/NewArch-1B", tmp_path / "new")
    out = fit_json(run_cli, "acme/NewArch-1B", "--context", "4096")
    assert out["memory"]["weights_bytes"] == 2 * LLAMA_PARAMS and out["model"]["total_params"] == LLAMA_PARAMS
    assert any("acme_newarch" in w and "KV" in w for w in out["warnings"]), out["warnings"]
    # layer 0 (sliding) holds the 1024-token window plus one 512-token micro-batch (llama.cpp's SWA cache),
    # layer 1 all 4096: (1536 + 4096) x K and V x 2 KV heads x 64 x 2 bytes
    assert out["engine"] == "llama.cpp"
    assert out["memory"]["kv_cache_bytes"] == (1024 + 512 + 4096) * 2 * KV * HD * 2


def test_gated_repo_needs_a_token(hub, tmp_path, run_cli, monkeypatch):
    bf16_repo(tmp_path / "gated", shards=2)
    hub.add("acme/Gated-Llama", tmp_path / "gated", gated=True)
    result = run_cli("fit", "acme/Gated-Llama")
    assert result.exit_code == 1
    message = result.stderr.strip()
    assert "gated" in message and "HF_TOKEN" in message and len(message.splitlines()) == 1
    monkeypatch.setenv("HF_TOKEN", "hf_testtoken")
    assert fit_json(run_cli, "acme/Gated-Llama")["memory"]["weights_bytes"] == 2 * LLAMA_PARAMS


def test_missing_repo_exits_2_with_catalog_suggestions(hub, run_cli):
    result = run_cli("fit", "nobody/Qwen3-8B")  # not a repo; its name part is a catalog model
    assert result.exit_code == 2
    assert "did you mean" in result.stderr and "qwen3-8b" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_repo_without_weights(hub, tmp_path, run_cli):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "README.md").write_text("nothing here")
    hub.add("acme/Empty", tmp_path / "empty")
    result = run_cli("fit", "acme/Empty")
    assert result.exit_code == 1 and "no .safetensors or .gguf weights" in result.stderr


def test_offline_reread_from_the_cache(hub, tmp_path, run_cli, monkeypatch):
    import huggingface_hub.constants as c

    bf16_repo(tmp_path / "repo")
    hub.add("acme/Tiny-Llama", tmp_path / "repo")
    gguf_repo(tmp_path / "gguf")
    hub.add("acme/Tiny-MoE-GGUF", tmp_path / "gguf")
    first = fit_json(run_cli, "acme/Tiny-Llama")
    first_gguf = fit_json(run_cli, "acme/Tiny-MoE-GGUF:Q8_0")
    hub.stop()  # the network is gone
    from sizer.model.importers import hub as hub_module

    hub_module._read.clear()  # forget this process's reads: the next one goes to the (unreachable) Hub
    again = fit_json(run_cli, "acme/Tiny-Llama")
    assert any("from the local cache" in a for a in again["assumptions"])
    assert again["memory"] == first["memory"] and again["model"] == first["model"]
    monkeypatch.setattr(c, "HF_HUB_OFFLINE", True)
    start = time.perf_counter()
    offline = fit_json(run_cli, "acme/Tiny-Llama")
    assert time.perf_counter() - start < 5  # generous here; tests/benchmarks/bench_hub.py measures it
    assert offline["memory"] == first["memory"]
    assert any("from the local cache" in a for a in offline["assumptions"])
    assert fit_json(run_cli, "acme/Tiny-MoE-GGUF:Q8_0")["memory"] == first_gguf["memory"]
    never = run_cli("fit", "acme/Never-Read")
    assert never.exit_code == 1 and "HF_HUB_OFFLINE" in never.stderr and "local model folder" in never.stderr


def test_no_network_and_never_read(hub, run_cli):
    hub.stop()
    result = run_cli("fit", "acme/Not-Cached")
    assert result.exit_code == 1
    assert "cannot reach the Hugging Face Hub" in result.stderr and ".gguf file" in result.stderr


def test_recommend_and_plan_accept_a_repo(hub, tmp_path, run_cli):
    bf16_repo(tmp_path / "repo")
    hub.add("acme/Tiny-Llama", tmp_path / "repo")
    result = run_cli("recommend", "acme/Tiny-Llama", "--top", "1", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["model"]["total_params"] == LLAMA_PARAMS
    plan = run_cli("plan", "acme/Tiny-Llama", "--top", "1", "--format", "json")
    assert plan.exit_code == 0, plan.stderr
    assert json.loads(plan.stdout)["model"]["total_params"] == LLAMA_PARAMS
    assert run_cli("recommend", "llama3.3:70b", "--top", "1", "--format", "json").exit_code == 0


def test_hub_reference_and_gguf_labels():
    from sizer.model.importers.hub import gguf_quant_label, parse_hub_reference

    ref = parse_hub_reference("unsloth/Qwen3-235B-A22B-GGUF@main:Q4_K_M")
    assert ref is not None and (ref.repo_id, ref.revision, ref.quant) == ("unsloth/Qwen3-235B-A22B-GGUF", "main", "Q4_K_M")
    assert parse_hub_reference("llama3.3:70b") is None and parse_hub_reference("a/../b") is None
    assert gguf_quant_label("Q4_K_M/Qwen3-235B-A22B-Q4_K_M-00001-of-00003.gguf") == "Q4_K_M"
    assert gguf_quant_label("gpt-oss-20b-UD-Q4_K_XL.gguf") == "UD-Q4_K_XL"
    assert gguf_quant_label("model.BF16.gguf") == "BF16"


def test_mtp_layer_bytes_are_reported_apart(hub, tmp_path, run_cli):
    """A checkpoint storing one layer past num_hidden_layers (DeepSeek / GLM MTP layout): its bytes go to
    memory.mtp_weights_bytes, not to the loaded weights; for a local folder and for a Hub repo alike."""
    folder = tmp_path / "mtp"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(llama_config(num_nextn_predict_layers=1)))
    shapes = llama_shapes()
    mtp = {n.replace(f"layers.{LAYERS - 1}.", f"layers.{LAYERS}."): s for n, s in shapes.items()
           if f"layers.{LAYERS - 1}." in n}
    write_safetensors(folder / "model.safetensors", {n: ("bfloat16", s) for n, s in (shapes | mtp).items()})
    mtp_bytes = 2 * sum(int(np.prod(s)) for s in mtp.values())
    hub.add("acme/Tiny-MTP", folder)
    for ref in (str(folder), "acme/Tiny-MTP"):
        out = fit_json(run_cli, ref)
        assert out["memory"]["mtp_weights_bytes"] == mtp_bytes > 0
        assert out["memory"]["weights_bytes"] == 2 * LLAMA_PARAMS


def test_ollama_tags_mean_their_quant_and_engine(run_cli):
    default = fit_json(run_cli, "llama3.3:70b")
    assert (default["quant"], default["engine"], default["model"]["id"]) == ("q4_k_m", "ollama", "llama-3.3-70b")
    assert default["model"]["source"] == "ollama"
    tagged = fit_json(run_cli, "qwen3:30b-a3b-q8_0")
    assert (tagged["quant"], tagged["engine"]) == ("q8_0", "ollama")
    assert tagged["memory"]["weights_bytes"] == pytest.approx(32.48e9, rel=0.002)  # bartowski's Q8_0 file
    assert fit_json(run_cli, "llama3.3:70b", "--quant", "q8_0")["quant"] == "q8_0"  # --quant wins
    latest = fit_json(run_cli, "llama3.3:latest")  # the bare name's model, Ollama's default build
    assert (latest["model"]["id"], latest["quant"], latest["engine"]) == ("llama-3.3-70b", "q4_k_m", "ollama")


def _launch_text(result) -> str:
    rec = json.loads(result.stdout)["recommendations"]
    return "\n".join(cmd["command"] for r in rec for cmd in r["launch"])


def test_launch_commands_name_published_conversions(run_cli):
    text = _launch_text(run_cli("recommend", "llama-3.3-70b", "--quant", "q4_k_m", "--top", "2", "--format", "json"))
    llama = [line for line in text.splitlines() if line.startswith("llama-server")]
    assert llama and all("-hf unsloth/Llama-3.3-70B-Instruct-GGUF:Q4_K_M " in line for line in llama)
    fp8 = _launch_text(run_cli("recommend", "qwen3-32b", "--quant", "fp8-block128", "--top", "1", "--engine", "vllm",
                               "--format", "json"))
    assert "vllm serve Qwen/Qwen3-32B-FP8 " in fp8


def test_launch_commands_name_the_repo_given(hub, tmp_path, run_cli):
    bf16_repo(tmp_path / "repo")
    hub.add("acme/Tiny-Llama", tmp_path / "repo")
    text = _launch_text(run_cli("recommend", "acme/Tiny-Llama", "--engine", "vllm", "--top", "1", "--format", "json"))
    assert "vllm serve acme/Tiny-Llama " in text


def test_every_conversion_names_catalog_quants():
    from sizer.catalog.loading import load_catalog

    catalog = load_catalog()
    seen = set()
    for entry in catalog.models.values():
        for c in entry.conversions:
            assert c.repo not in seen and all(q in catalog.quants for q in c.quants), (entry.id, c.repo)
            assert (c.format == "gguf") == (not c.quants)
            seen.add(c.repo)
    assert len(seen) >= 10


def test_a_fresh_process_honours_the_hub_environment(tmp_path):
    """HF_ENDPOINT / HF_HOME / HF_HUB_OFFLINE as a user sets them, read by a new interpreter (the client
    reads them at import; the offline re-read reads them itself)."""
    import os
    import subprocess
    import sys

    standin = HubStandIn()
    url = standin.start()
    bf16_repo(tmp_path / "repo", shards=2)
    standin.add("acme/Tiny-Llama", tmp_path / "repo")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE"))}
    env |= {"HF_ENDPOINT": url, "HF_HOME": str(tmp_path / "hf"), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    cmd = [sys.executable, "-m", "sizer", "fit", "acme/Tiny-Llama", "--format", "json"]
    try:
        first = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    finally:
        standin.stop()
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["memory"]["weights_bytes"] == 2 * LLAMA_PARAMS
    assert (tmp_path / "hf" / "hub").is_dir()  # the Hub client's own cache (config.json, index)
    assert not (tmp_path / "hf" / "sizer").exists()  # sizer writes only in its own cache folder
    ours = Path(env["XDG_CACHE_HOME"]) / "sizer" / "hub"
    assert any(ours.glob("header-*.bin")) and oct(ours.stat().st_mode & 0o777) == "0o700"
    again = subprocess.run(cmd, env={**env, "HF_HUB_OFFLINE": "1"}, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["memory"] == json.loads(first.stdout)["memory"]
    assert not standin.refused


def test_hostile_remote_gguf_header_is_a_clean_error(hub, tmp_path, run_cli):
    """A GGUF whose first key claims 2**40 bytes: the bounded parser stops before asking for them."""
    import struct

    folder = tmp_path / "bad"
    folder.mkdir()
    header = b"GGUF" + struct.pack("<IQQ", 3, 1, 1) + struct.pack("<Q", 1 << 40)
    (folder / "Bad-Q4_K_M.gguf").write_bytes(header + bytes(300_000))
    hub.add("acme/Bad-GGUF", folder)
    result = run_cli("fit", "acme/Bad-GGUF:Q4_K_M")
    assert result.exit_code == 1 and "truncated or corrupt header" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert [r for r in hub.requests if r.startswith("GET /acme/Bad-GGUF/resolve")] == [
        r for r in hub.requests if "bytes=0-65535" in r]  # one range read, nothing more


@pytest.mark.parametrize(("qc", "hint", "words"), [
    ({"quant_method": "fp8", "weight_block_size": [128, 128], "activation_scheme": "dynamic"}, "fp8-block128",
     "FP8 block 128x128 (DeepSeek style)"),
    ({"quant_method": "gptq", "bits": 4, "group_size": 128, "desc_act": True}, "gptq-int4-g128",
     "GPTQ int4, group 128, act-order"),
    ({"quant_method": "awq", "bits": 4, "group_size": 128}, "awq-int4-g128", "AWQ int4, group 128"),
    ({"quant_method": "bitsandbytes", "load_in_4bit": True, "bnb_4bit_quant_type": "nf4"}, "bnb-nf4", "bitsandbytes 4-bit nf4"),
    ({"quant_method": "bitsandbytes", "load_in_8bit": True}, "bnb-int8", "bitsandbytes 8-bit"),
    ({"quant_method": "fbgemm_fp8"}, "fp8-per-channel", "fbgemm FP8 per-channel"),
    ({"quant_method": "mxfp4"}, "mxfp4-experts", "MXFP4"),
    ({"quant_method": "modelopt", "quant_algo": "NVFP4"}, "nvfp4", "ModelOpt NVFP4"),
    ({"quant_method": "compressed-tensors", "format": "int-quantized", "config_groups": {"g": {
        "weights": {"num_bits": 8, "type": "int", "strategy": "channel"},
        "input_activations": {"num_bits": 8, "type": "int"}}}}, "w8a8-int8", "W8 int channel, A8 int"),
    ({"quant_method": "compressed-tensors", "format": "pack-quantized", "config_groups": {"g": {
        "weights": {"num_bits": 4, "type": "int", "strategy": "group", "group_size": 128}}}}, "awq-int4-g128",
     "W4 int group group 128, weight-only"),
    ({"quant_method": "compressed-tensors", "format": "nvfp4-pack-quantized", "config_groups": {"g": {
        "weights": {"num_bits": 4, "type": "float", "strategy": "tensor_group", "group_size": 16},
        "input_activations": {"num_bits": 4, "type": "float"}}}}, "nvfp4", "W4 float tensor_group group 16"),
    ({"quant_method": "compressed-tensors", "format": "float-quantized", "config_groups": {"g": {
        "weights": {"num_bits": 8, "type": "float", "strategy": "block", "block_structure": [128, 128]}}}},
     "fp8-block128", "W8 float block block [128, 128]"),
])
def test_every_common_quantization_config_is_identified(qc, hint, words):
    from sizer.model.importers._quant_hint import describe_quantization, quant_hint_from_config

    config = llama_config(model_type="gpt_oss" if qc["quant_method"] == "mxfp4" else "llama", quantization_config=qc)
    assert quant_hint_from_config(config, "gpt_oss" if qc["quant_method"] == "mxfp4" else "llama") == hint
    assert words in (describe_quantization(config) or "")


def test_mlx_community_config_is_identified():
    from sizer.model.importers._quant_hint import describe_quantization, quant_hint_from_config

    config = llama_config(quantization={"group_size": 64, "bits": 4})
    assert quant_hint_from_config(config, "llama") == "mlx-4bit"
    assert describe_quantization(config) == "MLX affine 4-bit, group 64"


def test_quant_sizes_a_repo_in_another_format(hub, tmp_path, run_cli):
    bf16_repo(tmp_path / "repo", shards=2)
    hub.add("acme/Tiny-Llama", tmp_path / "repo")
    out = fit_json(run_cli, "acme/Tiny-Llama", "--quant", "q8_0")
    norms = H + LAYERS * 2 * H  # 1-D tensors stay F32 in a GGUF
    # Q8_0: 34 bytes per 32 values for every 2-D weight (rows of 256 and 512 split evenly)
    assert out["quant"] == "q8_0"
    assert out["memory"]["weights_bytes"] == (LLAMA_PARAMS - norms) // 32 * 34 + norms * 4


def test_unknown_family_with_other_key_spellings(hub, tmp_path, run_cli):
    """A ChatGLM-style config (num_layers, multi_query_group_num, padded_vocab_size, seq_length) still
    sizes: weights exactly from the headers, KV from the fields it names, with a warning."""
    config = {"model_type": "acme_glm", "hidden_size": H, "num_layers": LAYERS, "num_attention_heads": HEADS,
              "multi_query_group_num": KV, "kv_channels": HD, "ffn_hidden_size": FF, "padded_vocab_size": VOCAB,
              "seq_length": 4096, "head_dim": HD}
    bf16_repo(tmp_path / "glm", shards=2, config=config)
    hub.add("acme/GLM-Like", tmp_path / "glm")
    out = fit_json(run_cli, "acme/GLM-Like")
    assert out["memory"]["weights_bytes"] == 2 * LLAMA_PARAMS
    assert out["memory"]["kv_cache_bytes_per_token"] == LAYERS * 2 * KV * HD * 2
    assert any("num_hidden_layers from num_layers" in w for w in out["warnings"])


def test_recommend_a_gguf_repo_names_it_in_the_launch_command(hub, tmp_path, run_cli):
    gguf_repo(tmp_path / "gguf")
    hub.add("acme/Tiny-MoE-GGUF", tmp_path / "gguf")
    result = run_cli("recommend", "acme/Tiny-MoE-GGUF:Q8_0", "--engine", "llama.cpp", "--top", "1", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert "-hf acme/Tiny-MoE-GGUF:" in _launch_text(result)


def test_repo_without_a_config_still_sizes_from_the_tensor_shapes(hub, tmp_path, run_cli):
    bf16_repo(tmp_path / "noconf", shards=2)
    (tmp_path / "noconf" / "config.json").unlink()
    hub.add("acme/No-Config", tmp_path / "noconf")
    out = fit_json(run_cli, "acme/No-Config", "--context", "4096")
    assert out["memory"]["weights_bytes"] == 2 * LLAMA_PARAMS
    # k_proj stores 2 KV heads x 64 = 128 values per token and layer; read as 1 head of 128 (the assumed
    # head_dim), the KV bytes per token are the same: what K and V store is what the shapes say
    assert out["memory"]["kv_cache_bytes_per_token"] == LAYERS * 2 * KV * HD * 2
    assert any("sized from the tensor shapes" in w for w in out["warnings"])
