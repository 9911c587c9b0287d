"""`sizer catalog validate` and `sizer catalog schema`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sizer.catalog.loading import KIND_MODELS

DATA = Path(__file__).parent.parent / "data" / "catalog"
pytestmark = pytest.mark.usefixtures("base_catalog")


def test_validate_ok(run_cli) -> None:
    result = run_cli("catalog", "validate")
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "catalog OK: 6 accelerators, 2 models, 6 quant formats, 1 engines, 1 systems" in result.stderr


def test_validate_overlays_from_arguments_option_and_environment(run_cli) -> None:
    valid = DATA / "valid"
    assert run_cli("catalog", "validate", str(valid)).exit_code == 0
    assert (
        "7 accelerators, 2 models, 6 quant formats, 1 engines, 2 systems"
        in run_cli("catalog", "validate", str(valid)).stderr
    )
    bad = str(DATA / "invalid" / "negative_size.yaml")
    assert run_cli("--catalog", bad, "catalog", "validate").exit_code == 1
    assert run_cli("catalog", "validate", env={"SIZER_CATALOG": bad}).exit_code == 1


def test_validate_reports_every_problem_as_file_line_col(run_cli) -> None:
    files = [
        DATA / "invalid" / name
        for name in ("negative_size.yaml", "yaml_syntax.yaml", "unresolved_reference.yaml")
    ]
    result = run_cli("catalog", "validate", *map(str, files))
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 3 and "3 problems found" in result.stderr
    for path, line in zip(files, lines, strict=True):
        expected_line, fragment = path.read_text().splitlines()[0].removeprefix("# expect: ").split(": ", 1)
        file, line_no, column, rest = line.split(":", 3)
        assert Path(file).resolve() == path.resolve()
        assert line_no == expected_line and column.isdigit()
        assert fragment in rest


def test_validate_github_annotations(run_cli) -> None:
    path = DATA / "invalid" / "negative_size.yaml"
    result = run_cli("catalog", "validate", "--format", "github", str(path))
    assert result.exit_code == 1
    (line,) = result.stdout.splitlines()
    assert line.startswith("::error file=") and ",line=9,col=3,title=memory_gb_marketed::" in line
    assert line.endswith("::Input should be greater than 0 (got -96)")


def test_github_annotation_escapes() -> None:
    from sizer.commands.catalog import _format_issue
    from sizer.errors import CatalogIssue

    text = _format_issue(CatalogIssue("a,b:c.yaml", 1, 2, "x", "50% bad\nnext"), "github")
    assert text == "::error file=a%2Cb%3Ac.yaml,line=1,col=2,title=x::50%25 bad%0Anext"


def test_validate_missing_path_is_a_usage_error(run_cli, tmp_path: Path) -> None:
    result = run_cli("catalog", "validate", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 2 and "does not exist" in result.stderr


def test_schema_per_kind_describes_every_field(run_cli) -> None:
    for kind, model in KIND_MODELS.items():
        result = run_cli("catalog", "schema", "--kind", kind)
        assert result.exit_code == 0
        schema = json.loads(result.stdout)
        assert schema["type"] == "array"
        item = schema["$defs"][schema["items"]["$ref"].rsplit("/", 1)[-1]]
        assert set(item["properties"]) == set(model.model_fields)
        assert item["additionalProperties"] is False
        undocumented = [name for name, prop in item["properties"].items() if not prop.get("description")]
        assert undocumented == [], f"{kind}: fields without a description: {undocumented}"


def test_schema_without_kind_accepts_any_kind(run_cli) -> None:
    schema = json.loads(run_cli("catalog", "schema").stdout)
    assert set(schema["items"]["discriminator"]["mapping"]) == set(KIND_MODELS)


def test_schema_output_folder_and_file(run_cli, tmp_path: Path) -> None:
    result = run_cli("catalog", "schema", "-o", str(tmp_path / "schemas"))
    assert result.exit_code == 0
    written = sorted(p.name for p in (tmp_path / "schemas").iterdir())
    assert written == sorted([f"{k}.schema.json" for k in KIND_MODELS] + ["catalog.schema.json"])
    run_cli("catalog", "schema", "--kind", "model", "-o", str(tmp_path / "m.json"))
    assert (tmp_path / "m.json").read_text() == run_cli("catalog", "schema", "--kind", "model").stdout
