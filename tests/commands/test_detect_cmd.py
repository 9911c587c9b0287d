"""`sizer detect`, `--here` and `models list --fits-here` on the recorded machines of tests/data/detect.

The commands call `sizer.machine.detection.detect()`; here it reads a recorded /proc, /sys, sysctl and NVML
instead of this machine's, so the whole command (probe -> parse -> match -> size -> render) is checked.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest

import sizer.machine.detection as detection
from tests.conftest import RunCli
from tests.test_detect import RecordedProbes

GIB = 2**30


@pytest.fixture
def machine(monkeypatch: pytest.MonkeyPatch) -> Any:
    """`machine("linux-2x-rtx3090")` makes every command of this test see that recorded machine."""
    real = detection.detect

    def use(name: str, os_name: str = "linux") -> None:
        monkeypatch.setattr(detection, "detect",
                            lambda probes=None, **kw: real(RecordedProbes(name, os_name=os_name), **kw))

    return use


def _json(result: Any) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_detect_json_on_two_rtx_3090(run_cli: RunCli, machine: Any) -> None:
    machine("linux-2x-rtx3090")
    got = _json(run_cli("detect", "-f", "json"))
    assert [g["catalog_id"] for g in got["gpus"]] == ["nvidia-rtx-3090-24gb"] * 2
    # nvml.json: total 25769803776 bytes = 24 GiB each
    assert [g["memory_total_bytes"] for g in got["gpus"]] == [24 * GIB] * 2
    # proc/meminfo: MemTotal 65788224 kB, MemAvailable 58012616 kB (kB = 1024 bytes)
    assert got["host_ram_bytes"] == 65788224 * 1024
    assert got["host_ram_available_bytes"] == 58012616 * 1024
    assert got["cpu_model"] == "AMD Ryzen 7 5800X 8-Core Processor"
    assert (got["cpu_cores_physical"], got["cpu_threads"]) == (8, 16)
    assert got["unified_memory"] is False


def test_detect_table_on_a_mac(run_cli: RunCli, machine: Any) -> None:
    machine("darwin-m2-max-96gb", "darwin")
    result = run_cli("detect")
    assert result.exit_code == 0
    # sysctl.txt: hw.memsize 103079215104 = 96 GiB, brand "Apple M2 Max", 12 cores
    for cell in ("Apple M2 Max", "96.0 GiB", "12 / 12", "apple-m2-max-96gb", "unified memory"):
        assert cell in result.stdout, cell


def test_detect_csv_lists_the_gpus(run_cli: RunCli, machine: Any) -> None:
    machine("linux-8x-mi300x")
    result = run_cli("detect", "-f", "csv")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 8 and {r["catalog match"] for r in rows} == {"amd-instinct-mi300x-192gb"}


def test_fit_here_uses_the_detected_gpus_and_ram(run_cli: RunCli, machine: Any) -> None:
    machine("linux-2x-rtx3090")
    here = _json(run_cli("fit", "llama-3.1-8b", "-q", "q4_k_m", "--here", "-f", "json"))
    by_hand = _json(run_cli("fit", "llama-3.1-8b", "-q", "q4_k_m", "--gpu", "rtx 3090:2",
                            "--ram", str(65788224 * 1024 // 10**9), "-f", "json"))
    assert here["hardware"] == "2x GeForce RTX 3090 + 67 GB RAM"
    assert [d["device"] for d in here["placement"] if d["kind"] == "gpu"] == ["GeForce RTX 3090"] * 2
    assert here["fits"] is True and here["memory"] == by_hand["memory"]


def test_fit_here_keeps_an_explicit_gpu(run_cli: RunCli, machine: Any) -> None:
    machine("linux-2x-rtx3090")
    got = _json(run_cli("fit", "llama-3.1-8b", "-q", "q4_k_m", "--here", "--gpu", "h100", "-f", "json"))
    assert got["hardware"].startswith("1x H100")


def test_fit_here_on_a_mac_is_unified_memory(run_cli: RunCli, machine: Any) -> None:
    machine("darwin-m2-max-96gb", "darwin")
    got = _json(run_cli("fit", "llama-3.1-8b", "-q", "q4_k_m", "--here", "-f", "json"))
    assert [d["kind"] for d in got["placement"]] == ["unified"]


def test_models_fitting_here(run_cli: RunCli, machine: Any) -> None:
    machine("darwin-m2-max-96gb", "darwin")
    rows = _json(run_cli("models", "list", "--fits-here", "-f", "json"))
    ids = [r["model"] for r in rows]
    assert "llama-3.1-8b" in ids and "deepseek-v3" not in ids  # 671B weights never fit in 96 GiB


def test_fit_csv_is_the_json_flattened(run_cli: RunCli) -> None:
    args = ("fit", "llama-3.1-8b", "-q", "q4_k_m", "--gpu", "rtx 4090")
    result = run_cli(*args, "-f", "csv")
    assert result.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 1
    row, full = rows[0], _json(run_cli(*args, "-f", "json"))
    assert (row["model"], row["quant"], row["hardware"]) == ("llama-3.1-8b", "q4_k_m", "1x GeForce RTX 4090")
    assert row["fits"] == "true"
    for key in ("weights_bytes", "kv_cache_bytes", "activations_bytes", "overhead_bytes", "total_bytes"):
        assert int(row[key]) == full["memory"][key], key
    assert int(row["max_context"]) == full["max_context"]
    assert float(row["decode_tokens_per_s"]) == full["performance"]["decode_tokens_per_s"]
    # Llama-3.1-8B at 8k context, one user, f16 KV: 32 layers x 2 x 8 heads x 128 x 2 bytes x 8192 tokens = 1 GiB
    assert int(row["kv_cache_bytes"]) == GIB


def test_models_fitting_here_json_carries_raw_numbers(run_cli: RunCli, machine: Any) -> None:
    # JSON carries integers in bytes and parameters, as every other JSON of sizer; the table is human
    machine("darwin-m2-max-96gb", "darwin")
    rows = {r["model"]: r for r in _json(run_cli("models", "list", "--fits-here", "-f", "json"))}
    row = rows["llama-3.1-8b"]
    assert row["total_params"] == 8_030_261_248  # Meta's count for Llama-3.1-8B
    assert isinstance(row["weights_bytes"], int) and row["weights_bytes"] > 8 * 10**9  # 16-bit: 2 bytes per weight
    table = run_cli("models", "list", "--fits-here").stdout
    assert "8.03B" in table and "GiB" in table
