"""One source per fact (issue 9 item 3): what the CLI offers is what the library defines."""

from __future__ import annotations

import json
from typing import get_args

import click
import pytest

from sizer.catalog.files import BUILTIN_FILES, KINDS
from sizer.catalog.loading import KIND_TABLE, load_catalog
from sizer.recommendation.cost import CostOptions
from sizer.recommendation.pipeline import SORTS, Constraints
from sizer.schema import Accelerator, QuantFormat
from sizer.sizing.fitter import OFFLOAD_MODES
from sizer.sizing.quant_names import all_format_names, expand_quant_names, is_comparison
from tests.conftest import RunCli


def _option(command: click.Command, name: str) -> click.Option:
    found = [p for p in command.params if isinstance(p, click.Option) and name in p.opts]
    assert len(found) == 1, name
    return found[0]


def _choices(command: click.Command, name: str) -> list[str]:
    kind = _option(command, name).type
    assert isinstance(kind, click.Choice)
    return [str(c) for c in kind.choices]


def test_browse_choices_are_the_schema_enums() -> None:
    from sizer.commands.browse import gpus_list, quants_list

    segment = Accelerator.model_fields["segment"].annotation
    assert _choices(gpus_list, "--segment") == list(get_args(segment))
    assert _choices(quants_list, "--kind") == list(get_args(QuantFormat.model_fields["format_kind"].annotation))
    # the schema's own spelling, checked against one value written here by hand
    assert "gguf_file_type" in _choices(quants_list, "--kind") and "cloud" in _choices(gpus_list, "--segment")


def test_catalog_schema_kinds_are_the_catalog_kinds() -> None:
    from sizer.commands.catalog import schema

    assert _choices(schema, "--kind") == list(KIND_TABLE) == list(KINDS)
    assert set(BUILTIN_FILES) == set(KIND_TABLE)
    catalog = load_catalog()
    for kind, table in KIND_TABLE.items():
        entries = getattr(catalog, table.table)
        assert entries and all(isinstance(e, table.model) for e in entries.values()), kind


def test_recommend_options_take_the_library_defaults() -> None:
    from sizer.commands.recommend import recommend_command

    assert _choices(recommend_command, "--sort") == list(SORTS)
    c, cost = Constraints(), CostOptions()
    for option, value in (("--sort", c.sort), ("--top", c.top), ("--max-nodes", c.max_nodes),
                          ("--min-tps", c.min_tps), ("--users", c.users), ("--years", cost.years),
                          ("--kwh-price", cost.usd_per_kwh), ("--utilization", cost.utilization)):
        assert _option(recommend_command, option).default == value, option


def test_fit_offload_choices_are_the_library_modes() -> None:
    from sizer.commands.fit import fit_command

    assert _choices(fit_command, "--offload") == list(OFFLOAD_MODES) == ["auto", "none", "experts", "layers"]


def test_quant_all_is_one_list_for_fit_and_recommend(run_cli: RunCli) -> None:
    catalog = load_catalog()
    names = all_format_names(catalog)
    assert names[0] == "native" and len(names) == len(set(names))
    kinds = {catalog.quants[n].format_kind for n in names[1:]}
    assert "ggml_type" not in kinds and "native" not in kinds  # single tensor types and other models' mixes
    assert not any(catalog.quants[n].resolves_to for n in names[1:])  # no plain alias (int4 -> AWQ)
    assert {"q4_k_m", "q8_0", "bf16", "fp8-block128", "nvfp4", "awq-int4-g128", "mlx-4bit"} <= set(names)
    assert expand_quant_names(["ALL"], catalog) == names and expand_quant_names(["q4_k_m"], catalog) == ["q4_k_m"]
    assert is_comparison(["all"]) and is_comparison(["q4_k_m", "q8_0"]) and not is_comparison(["q4_k_m"])

    result = run_cli("fit", "qwen3-8b", "-q", "all", "-f", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    ids = [r["quant"] for r in rows]
    assert len(ids) == len(set(ids))  # f16 / fp16 and native / bf16 gave two rows each before
    # every format of the list, once (qwen3-8b's native checkpoint is BF16)
    assert set(ids) == set(names[1:])
    assert [r["weights_bytes"] for r in rows] == sorted(r["weights_bytes"] for r in rows)


@pytest.mark.parametrize(("native", "precision", "runs"), [
    (["fp8", "fp4"], "nvfp4", True),  # generic FP4 units run NVFP4 and MXFP4 (Blackwell lists fp4)
    (["fp8", "fp4"], "mxfp4", True),
    (["fp8", "mxfp4"], "fp4", True),  # a chip listing MXFP4 has FP4 units
    (["fp8", "mxfp4"], "nvfp4", False),  # but not NVFP4's scale format
    (["fp8"], "fp4", False),
    (["fp8"], "fp8", True),
    (["int8"], "fp8", False),
])
def test_fp4_rule(native: list[str], precision: str, runs: bool) -> None:
    h100 = load_catalog().accelerator("h100")
    acc = h100.model_copy(update={"native_formats": native})
    assert acc.runs_natively(precision) is runs
