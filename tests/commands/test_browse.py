"""`sizer gpus|models|quants|engines|systems list|show`."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from sizer.catalog.loading import build_catalog, load_catalog

BASE = Path(__file__).parent.parent / "data" / "catalog" / "base"
PRICE_LIST = BASE.parent / "valid" / "price_list.yaml"
pytestmark = pytest.mark.usefixtures("base_catalog")


def _json(result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_gpus_list_json_has_every_accelerator_sorted_by_vendor_then_memory(run_cli) -> None:
    rows = _json(run_cli("gpus", "list", "--format", "json"))
    catalog = load_catalog(base=BASE)
    assert {r["id"] for r in rows} == set(catalog.accelerators)
    keys = [(r["vendor"].lower(), r["memory_gb_marketed"]) for r in rows]
    assert keys == sorted(keys)
    h100 = next(r for r in rows if r["id"] == "nvidia-h100-sxm-80gb")
    entry = catalog.accelerators["nvidia-h100-sxm-80gb"]
    assert h100["memory_bandwidth_gb_s"] == entry.memory_bandwidth_gb_s
    assert h100["bf16_dense_tflops"] == entry.dense.bf16_tflops
    assert h100["memory_type"] == "HBM3"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--vendor", "apple"], {"apple-m2-ultra-192gb"}),
        (["--vendor", "APPLE", "--vendor", "nvidia", "--min-memory", "100"], {"apple-m2-ultra-192gb"}),
        (
            ["--min-memory", "80GB", "--vendor", "nvidia"],
            {
                "nvidia-h100-sxm-80gb",
                "nvidia-h100-pcie-80gb",
                "nvidia-a100-sxm4-80gb",
                "nvidia-a100-pcie-80gb",
            },
        ),
        (["--min-memory", "80GiB"], {"apple-m2-ultra-192gb"}),  # 80 GiB = 85.9 GB > 80 GB
        (["--unified"], {"apple-m2-ultra-192gb"}),
        (["--segment", "consumer"], {"nvidia-rtx-4090"}),
        (["--discrete", "--segment", "workstation"], set()),
    ],
)
def test_gpus_list_filters(run_cli, args: list[str], expected: set[str]) -> None:
    rows = _json(run_cli("gpus", "list", *args, "-f", "json"))
    assert {r["id"] for r in rows} == expected


def test_gpus_list_table_has_units_in_headers(run_cli) -> None:
    result = run_cli("gpus", "list")
    assert result.exit_code == 0
    header = result.stdout.splitlines()[0]
    for label in ("memory (GB)", "usable (GiB)", "bandwidth (GB/s)", "BF16 dense (TFLOPS)", "price (USD)"):
        assert label in header
    assert "nvidia-rtx-4090" in result.stdout and "1008" in result.stdout


def test_gpus_list_markdown_and_yaml(run_cli) -> None:
    markdown = run_cli("gpus", "list", "-f", "markdown").stdout.splitlines()
    assert markdown[0].startswith("| id") and set(markdown[1]) <= set("|-: ")
    as_yaml = yaml.safe_load(run_cli("gpus", "list", "-f", "yaml").stdout)
    assert as_yaml == _json(run_cli("gpus", "list", "-f", "json"))


def test_csv_always_has_a_header(run_cli) -> None:
    result = run_cli("gpus", "list", "--vendor", "nobody", "-f", "csv")
    assert result.exit_code == 0
    (header,) = list(csv.reader(io.StringIO(result.stdout)))
    assert header[:3] == ["id", "vendor", "name"]


def test_sources_column(run_cli) -> None:
    rows = _json(run_cli("gpus", "list", "--sources", "-f", "json", "--vendor", "apple"))
    assert rows[0]["sources"] == ["https://www.apple.com/newsroom/2023/06/apple-introduces-m2-ultra/"]
    assert "sources" not in _json(run_cli("gpus", "list", "-f", "json"))[0]


def test_gpus_show_prints_every_field(run_cli) -> None:
    record = _json(run_cli("gpus", "show", "H100 SXM", "-f", "json"))
    entry = load_catalog(base=BASE).accelerators["nvidia-h100-sxm-80gb"]
    expected = entry.model_dump(mode="json")
    del expected["sources"], expected["figure_sources"]
    assert record == expected
    with_sources = _json(run_cli("gpus", "show", "h100", "--sources", "-f", "json"))
    assert with_sources["sources"] == entry.sources


def test_show_table_is_field_value(run_cli) -> None:
    result = run_cli("gpus", "show", "rtx4090")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["field", "value"]
    assert any(line.split() == ["dense.bf16_tflops", "165.2"] for line in lines)


def test_unknown_gpu_exits_2_with_suggestions(run_cli) -> None:
    result = run_cli("gpus", "show", "rtx 4009")
    assert result.exit_code == 2
    assert "unknown GPU 'rtx 4009'" in result.stderr and "nvidia-rtx-4090" in result.stderr
    assert result.stdout == ""


def test_ambiguous_gpu_exits_2_with_candidates(run_cli) -> None:
    result = run_cli("gpus", "show", "a100")
    assert result.exit_code == 2
    assert "ambiguous" in result.stderr
    assert "nvidia-a100-sxm4-80gb" in result.stderr and "nvidia-a100-pcie-80gb" in result.stderr


def test_bad_option_value_exits_2_naming_the_option(run_cli) -> None:
    result = run_cli("gpus", "list", "--min-memory", "lots")
    assert result.exit_code == 2
    assert "--min-memory" in result.stderr and "'lots'" in result.stderr


def test_models_list_and_filters(run_cli) -> None:
    rows = _json(run_cli("models", "list", "-f", "json"))
    assert {r["id"] for r in rows} == {"llama-3.1-8b", "llama-3-8b"}
    assert rows[0]["total_params"] == 8030000000 and rows[0]["context_length"] in (8192, 131072)
    assert _json(run_cli("models", "list", "--max-params", "7B", "-f", "json")) == []
    assert (
        len(_json(run_cli("models", "list", "--min-params", "8.03B", "--family", "LLAMA", "-f", "json"))) == 2
    )
    assert _json(run_cli("models", "list", "--vendor", "qwen", "-f", "json")) == []
    table = run_cli("models", "list").stdout
    assert "8.03B" in table and "128k" in table


def test_models_show_by_hf_repo(run_cli) -> None:
    record = _json(run_cli("models", "show", "meta-llama/Llama-3.1-8B-Instruct", "-f", "json"))
    assert record["id"] == "llama-3.1-8b" and record["architecture"]["num_key_value_heads"] == 8


def test_quants_list_and_show(run_cli) -> None:
    rows = _json(run_cli("quants", "list", "--kind", "ggml_type", "-f", "json"))
    assert {r["id"]: r["bits_per_weight"] for r in rows} == {"ggml-q4_k": 144 * 8 / 256, "ggml-bf16": 16.0}
    record = _json(run_cli("quants", "show", "q4-k-m", "-f", "json"))
    assert record["id"] == "q4_k_m" and record["bits_per_weight"] is None  # a recipe mixes types


def test_engines_and_systems(run_cli) -> None:
    assert [r["id"] for r in _json(run_cli("engines", "list", "-f", "json"))] == ["llama.cpp"]
    assert _json(run_cli("engines", "show", "llamacpp", "-f", "json"))["activation_tokens"] == 512
    (system,) = _json(run_cli("systems", "list", "-f", "json"))
    assert system["accelerators"] == ["8x nvidia-h100-sxm-80gb"]
    assert _json(run_cli("systems", "show", "hgx-h100-8x", "-f", "json"))["host_ram_gb"] == 2048


def test_catalog_overlay_option_and_environment(run_cli) -> None:
    by_option = _json(run_cli("--catalog", str(PRICE_LIST), "gpus", "show", "h100", "-f", "json"))
    assert by_option["price_usd"] == 24500
    by_env = _json(run_cli("gpus", "show", "h100", "-f", "json", env={"SIZER_CATALOG": str(PRICE_LIST)}))
    assert by_env["price_usd"] == 24500
    assert _json(run_cli("gpus", "show", "h100", "-f", "json"))["price_usd"] == 30000


def test_invalid_overlay_exits_1_with_file_and_line(run_cli) -> None:
    bad = BASE.parent / "invalid" / "negative_size.yaml"
    result = run_cli("--catalog", str(bad), "gpus", "list")
    assert result.exit_code == 1
    assert f"{bad}:9:3: memory_gb_marketed: Input should be greater than 0" in result.stderr
    assert "Traceback" not in result.output


def test_internal_error_is_one_line_with_exit_3(run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    import sizer.commands.browse as browse

    def broken(*args: object, **kwargs: object) -> str:
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(browse, "render", broken)
    result = run_cli("gpus", "list")
    assert result.exit_code == 3
    assert result.stderr.strip() == "internal error: RuntimeError: boom second line; rerun with --debug"
    with pytest.raises(RuntimeError, match="boom"):
        run_cli("--debug", "gpus", "list")
    with pytest.raises(RuntimeError, match="boom"):
        run_cli("gpus", "list", env={"SIZER_DEBUG": "1"})


def test_version(run_cli) -> None:
    from sizer import __version__

    result = run_cli("--version")
    assert result.exit_code == 0 and result.stdout.strip() == f"sizer {__version__}"


@pytest.mark.parametrize("group", ["gpus", "models", "quants", "engines", "systems"])
def test_builtin_catalog_lists(run_cli, monkeypatch: pytest.MonkeyPatch, group: str) -> None:
    monkeypatch.undo()  # this one reads the real, built-in catalog
    catalog, issues = build_catalog()
    assert not issues
    table = {"gpus": "accelerators"}.get(group, group)
    rows = _json(run_cli(group, "list", "-f", "json"))
    assert [r["id"] for r in rows] != [] or not getattr(catalog, table)
    assert {r["id"] for r in rows} == set(getattr(catalog, table))
