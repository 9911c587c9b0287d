"""`sizer fit` end to end: model files the tests write, raw mode, --quant all, errors and exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gguf
import pytest

from tests.test_importers import moe_meta, moe_tensors, write_gguf


def _json(result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_fit_on_a_gguf_file_counts_exactly_the_files_tensor_bytes(run_cli, tmp_path: Path) -> None:
    path = tmp_path / "tiny-qwen3moe-Q4_K_M.gguf"
    sizes = write_gguf(path, "qwen3moe", moe_tensors(), moe_meta)
    r = _json(run_cli("fit", str(path), "--gpu", "RTX 4090", "-c", "4096", "-f", "json"))
    assert r["model"]["source"] == "gguf"
    assert r["memory"]["weights_bytes"] == sum(sizes.values())  # the arrays gguf's writer wrote
    # independent: gguf's own reader agrees on every tensor
    reader = gguf.GGUFReader(path)
    assert sum(int(t.n_bytes) for t in reader.tensors) == r["memory"]["weights_bytes"]
    assert r["fits"] is True and r["placement"][0]["weights_bytes"] > 0


def test_fit_on_a_config_json_sizes_the_same_as_the_catalog_entry(run_cli, tmp_path: Path) -> None:
    config = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 4096,
        "intermediate_size": 14336, "num_hidden_layers": 32, "num_attention_heads": 32,
        "num_key_value_heads": 8, "head_dim": 128, "vocab_size": 128256, "tie_word_embeddings": False,
        "max_position_embeddings": 131072, "rms_norm_eps": 1e-5, "rope_theta": 500000.0, "torch_dtype": "bfloat16",
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    from_file = _json(run_cli("fit", str(tmp_path / "config.json"), "-q", "q4_k_m", "-c", "8k", "-f", "json"))
    from_catalog = _json(run_cli("fit", "meta-llama/Llama-3.1-8B-Instruct", "-q", "q4_k_m", "-c", "8k", "-f", "json"))
    assert from_file["model"]["total_params"] == 8_030_261_248  # keras-hub llama3.1_8b preset, exact
    assert from_file["memory"]["weights_bytes"] == from_catalog["memory"]["weights_bytes"]
    assert from_file["memory"]["kv_cache_bytes"] == from_catalog["memory"]["kv_cache_bytes"]


def test_a_hostile_gguf_is_exit_1_with_the_file_named_and_no_traceback(run_cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF" + (3).to_bytes(4, "little") + (2**60).to_bytes(8, "little") + b"\0" * 8)
    result = run_cli("fit", str(bad))
    assert result.exit_code == 1
    assert "bad.gguf" in result.stderr and "Traceback" not in result.output


def test_raw_mode_prints_its_assumptions_and_weights_follow_bits(run_cli) -> None:
    q4 = _json(run_cli("fit", "--params", "70B", "-q", "q4_k_m", "-f", "json"))
    q8 = _json(run_cli("fit", "--params", "70B", "-q", "q8_0", "-f", "json"))
    assert q4["model"]["source"] == "raw"
    assert any("assumed shape" in a for a in q4["assumptions"])
    # params x bits: Q8_0 is 8.5 bits on every block, Q4_K_M between 4.5 and 6.6
    assert 70e9 * 8.5 / 8 * 0.99 < q8["memory"]["weights_bytes"] < 70e9 * 8.5 / 8 * 1.01
    assert 70e9 * 4.5 / 8 < q4["memory"]["weights_bytes"] < q8["memory"]["weights_bytes"]


def test_quant_all_rows_grow_with_bits(run_cli) -> None:
    rows = json.loads(run_cli("fit", "llama-3.1-8b", "-q", "all", "-f", "json").stdout)
    by_name = {r["quant_name"]: r for r in rows}
    order = ["Q2_K", "Q3_K_M", "Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0", "BF16"]
    sizes = [by_name[n]["weights_bytes"] for n in order]
    assert sizes == sorted(sizes) and len(rows) >= 30


@pytest.mark.parametrize(("args", "fragment"), [
    (("fit", "llama-3.1-8b", "--gpu", "rtx 9999"), "did you mean"),
    (("fit", "no-such-model-xyz"), "unknown model"),
    (("fit", "llama-3.1-8b", "-q", "q4_k_x"), "did you mean"),
    (("fit", "llama-3.1-8b", "--context", "lots"), "--context"),
    (("fit", "llama-3.1-8b", "--gpu", "h100:zero"), "--gpu"),
])
def test_bad_names_and_values_exit_2_with_help(run_cli, args: tuple[str, ...], fragment: str) -> None:
    result = run_cli(*args)
    assert result.exit_code == 2
    assert fragment.lower() in result.stderr.lower()


def test_table_output_shows_verdict_tiers_and_assumptions(run_cli) -> None:
    out = run_cli("fit", "deepseek-v3", "-q", "q4_k_m", "--gpu", "RTX 5090", "--ram", "768", "-c", "32k").stdout
    for cell in ("FITS", "host RAM", "routed experts", "decode, 1 sequence", "bound by", "Assumptions"):
        assert cell in out


def test_mtp_layers_are_reported_apart_from_the_loaded_weights(run_cli) -> None:
    r = _json(run_cli("fit", "deepseek-v3", "-f", "json"))
    # DeepSeek's README_WEIGHTS: the MTP module holds 11.5B unique parameters; FP8 stores ~1 byte each
    assert 11.4e9 < r["memory"]["mtp_weights_bytes"] < 11.8e9
    dense = _json(run_cli("fit", "llama-3.1-8b", "-f", "json"))
    assert dense["memory"]["mtp_weights_bytes"] == 0


def test_an_offload_that_cannot_apply_is_a_warning_not_an_error(run_cli) -> None:
    r = _json(run_cli("fit", "llama-3.1-8b", "--gpu", "M3 Ultra", "--ram", "96", "--offload", "experts", "-f", "json"))
    assert r["fits"] is True and r["offload"] == "none"
    assert any("--offload experts does not apply" in w for w in r["warnings"])


def test_a_layout_that_does_not_fit_labels_its_speed_as_hypothetical(run_cli) -> None:
    # 1T weights at 4.5 bits on one 32 GB card: no speed is real, and the table says so
    out = run_cli("fit", "--params", "1T", "--active", "32B", "--quant", "int4", "--gpu", "RTX 5090").stdout
    assert "DOES NOT FIT" in out
    assert "Speed if it had the room (estimates; it does not fit)" in out and "Speed (estimates)" not in out
    fits = run_cli("fit", "llama-3.1-8b", "-q", "q4_k_m", "--gpu", "RTX 4090").stdout
    assert "Speed (estimates)" in fits and "Speed if it had the room" not in fits
