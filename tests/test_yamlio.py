"""The YAML reader: data equal to PyYAML's safe loader, positions for every key path, clear errors."""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sizer.catalog.yamlio import format_field_path, parse_yaml, read_yaml, validation_issues

TEXT = """\
- id: first
  memory:
    size_gb: 80
    kinds: [a, b]
- id: second
  released: 2024-05-13
  nested:
  - {name: x, value: 1.5}
"""


def test_data_matches_safe_load_except_timestamps_stay_strings() -> None:
    doc = parse_yaml(TEXT, "t.yaml")
    expected = yaml.safe_load(TEXT)
    expected[1]["released"] = "2024-05-13"
    assert doc.data == expected
    assert doc.issues == ()


def test_positions_are_one_based_and_point_at_keys() -> None:
    doc = parse_yaml(TEXT, "t.yaml")
    assert doc.position((0,)) == (1, 3)
    assert doc.position((0, "memory", "size_gb")) == (3, 5)
    assert doc.position((0, "memory", "kinds", 1)) == (4, 16)
    assert doc.position((1, "nested", 0, "value")) == (8, 15)
    # unknown paths fall back on their nearest ancestor
    assert doc.position((1, "nested", 0, "missing")) == (8, 5)
    assert doc.position((7,)) == (1, 1)


def test_duplicate_key_is_reported_on_its_line_and_first_wins() -> None:
    doc = parse_yaml("- id: a\n  x: 1\n  x: 2\n", "d.yaml")
    assert doc.data == [{"id": "a", "x": 1}]
    (issue,) = doc.issues
    assert (issue.file, issue.line, issue.column) == ("d.yaml", 3, 3)
    assert "duplicate key 'x'" in issue.message and "line 2" in issue.message


def test_syntax_error_has_file_line_column() -> None:
    doc = parse_yaml("- id: a\n  name: [x\n  other: 1\n", "s.yaml")
    assert doc.data is None
    (issue,) = doc.issues
    assert issue.file == "s.yaml" and issue.line == 3
    assert issue.message.startswith("YAML syntax error:") and "started at line 2" in issue.message


def test_python_tags_are_refused() -> None:
    doc = parse_yaml("- id: a\n  x: !!python/object/apply:os.system ['true']\n", "p.yaml")
    (issue,) = doc.issues
    assert issue.line == 2 and "unsupported YAML tag" in issue.message
    assert doc.data == [{"id": "a", "x": None}]


def test_recursive_alias_does_not_loop() -> None:
    doc = parse_yaml("a: &x [*x]\n", "r.yaml")
    assert any("recursive" in i.message for i in doc.issues)


def test_empty_document() -> None:
    doc = parse_yaml("# nothing\n", "e.yaml")
    assert doc.data is None and doc.issues == ()


def test_unreadable_file_is_an_issue(tmp_path: Path) -> None:
    doc = read_yaml(tmp_path / "missing.yaml")
    (issue,) = doc.issues
    assert "cannot read file" in issue.message


def test_cache_returns_same_data_and_notices_edits(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(TEXT)
    first = read_yaml(path)
    cached = read_yaml(path)
    assert cached.data == first.data
    assert list((Path(os.environ["XDG_CACHE_HOME"]) / "sizer").rglob("*.json"))  # the cache was written
    assert cached.position((0, "memory", "size_gb")) == (3, 5)  # positions recomputed on demand
    path.write_text(TEXT.replace("80", "96") + "\n")
    assert read_yaml(path).data[0]["memory"]["size_gb"] == 96


def test_cache_can_be_turned_off(tmp_path: Path, monkeypatch: object) -> None:
    import pytest

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    monkeypatch.setenv("SIZER_NO_CACHE", "1")
    path = tmp_path / "n.yaml"
    path.write_text(TEXT)
    read_yaml(path)
    assert not list((Path(os.environ["XDG_CACHE_HOME"])).rglob("*.json"))


class Inner(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    size_gb: float = Field(gt=0)
    kinds: list[str]


class Outer(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    id: str
    memory: Inner
    vendor: str


def test_validation_errors_map_onto_positions() -> None:
    text = "- id: first\n  memory:\n    size_gb: -1\n    kinds: [a, 3]\n    colour: red\n"
    doc = parse_yaml(text, "v.yaml")
    entry = doc.data[0]
    try:
        Outer.model_validate(entry)
    except ValidationError as exc:
        issues = validation_issues(
            exc.errors(), entry, lambda loc: ("v.yaml", *doc.position((0, *loc))), Outer
        )
    found = {(i.line, i.field_path): i.message for i in issues}
    assert "greater than 0" in found[(3, "memory.size_gb")]
    assert "valid string" in found[(4, "memory.kinds[1]")]
    assert found[(5, "memory.colour")] == "unknown field"
    assert found[(1, "vendor")] == "required field is missing"


def test_format_field_path() -> None:
    assert format_field_path(("accelerators", 0, "count")) == "accelerators[0].count"
    assert format_field_path(()) == ""


keys = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8)
scalars = st.one_of(
    st.integers(-(10**6), 10**6),
    st.booleans(),
    st.none(),
    st.text("abc xyz", max_size=10),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
)
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)),
    max_leaves=20,
)


@given(st.dictionaries(keys, documents, min_size=1, max_size=5), st.booleans())
def test_any_safe_dumped_document_loads_back_with_key_positions(data: dict[str, object], flow: bool) -> None:
    text = yaml.safe_dump(data, default_flow_style=flow, sort_keys=False)
    doc = parse_yaml(text, "h.yaml")
    assert doc.data == yaml.safe_load(text)
    lines = text.splitlines()
    for key in data:
        line, column = doc.position((key,))
        assert lines[line - 1][column - 1 :].lstrip("{ '\"").startswith(key)
