"""The JSON Schemas committed under gpu_catalog/schemas/ equal what `sizer catalog schema` prints.

When this fails after a schema change, regenerate them:  sizer catalog schema -o gpu_catalog/schemas
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sizer.catalog.loading import KIND_MODELS

SCHEMAS = Path(__file__).parent.parent / "gpu_catalog" / "schemas"
REGENERATE = "stale; regenerate with: sizer catalog schema -o gpu_catalog/schemas"


@pytest.mark.parametrize("kind", [*KIND_MODELS, None], ids=[*KIND_MODELS, "catalog"])
def test_committed_schema_is_fresh(run_cli, kind: str | None) -> None:
    name = f"{kind}.schema.json" if kind else "catalog.schema.json"
    result = run_cli("catalog", "schema", *(["--kind", kind] if kind else []))
    assert result.exit_code == 0
    committed = SCHEMAS / name
    assert committed.exists(), f"{committed} is missing; {REGENERATE}"
    assert committed.read_text(encoding="utf-8") == result.stdout, f"{committed} is {REGENERATE}"


def test_no_stray_schema_files() -> None:
    expected = {f"{kind}.schema.json" for kind in KIND_MODELS} | {"catalog.schema.json"}
    assert {p.name for p in SCHEMAS.glob("*.json")} == expected


def test_catalog_files_name_the_schema_of_their_kind() -> None:
    """Each built-in YAML file starts with the yaml-language-server modeline of its kind."""
    root = SCHEMAS.parent
    kinds = {
        "accelerators": "accelerator",
        "models": "model",
        "quantization.yaml": "quant",
        "engines.yaml": "engine",
        "systems.yaml": "system",
    }
    wrong = []
    for path in sorted(root.rglob("*.yaml")):
        rel = path.relative_to(root)
        kind = kinds.get(rel.parts[0])
        if kind is None:
            continue
        prefix = "../" * (len(rel.parts) - 1) or "./"
        modeline = f"# yaml-language-server: $schema={prefix}schemas/{kind}.schema.json"
        first = path.read_text(encoding="utf-8").split("\n", 1)[0]
        if first.replace("=./", "=") != modeline.replace("=./", "="):
            wrong.append(f"{rel}: first line should be {modeline!r}, is {first!r}")
    assert wrong == []
    json.loads((SCHEMAS / "catalog.schema.json").read_text())  # and the committed files are JSON
