"""Catalog loading, the overlay merge rule, cross-entry checks and name resolution.

Most tests run on tests/data/catalog/base (a small catalog laid out like gpu_catalog/), so they do
not depend on the state of the real data; the tests at the end run on the built-in catalog.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from sizer.catalog.files import merge_override
from sizer.catalog.loading import (
    KIND_TABLES,
    build_catalog,
    load_catalog,
    overlay_paths_from_env,
    validate_catalog,
)
from sizer.catalog.names import name_tokens
from sizer.errors import AmbiguousNameError, CatalogError, UnknownNameError

CATALOG_DATA = Path(__file__).parent / "data" / "catalog"
BASE = CATALOG_DATA / "base"
INVALID = sorted((CATALOG_DATA / "invalid").glob("*.yaml"))
VALID = sorted((CATALOG_DATA / "valid").glob("*.yaml"))
EXPECT = re.compile(r"^# expect: (\d+): (.+)$")

ACCELERATOR = """\
- kind: accelerator
  id: {id}
  vendor: ACME
  name: {name}
  segment: datacenter
  architecture: ACME One
  launch_year: 2025
  memory_gb_marketed: 96
  memory_gib_usable: 89
  usable_memory_basis: estimated
  memory_type: HBM3
  memory_bandwidth_gb_s: {bandwidth}
  unified_memory: false
  dense: {{bf16_tflops: 500}}
  native_formats: [bf16]
  confidence: low
  sources: [https://example.com/{id}]
"""


def accelerator_yaml(entry_id: str = "acme-x1", name: str = "X1", bandwidth: float = 4000) -> str:
    return ACCELERATOR.format(id=entry_id, name=name, bandwidth=bandwidth)


def _line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if line.startswith(text))


# ------------------------------------------------------------------------------------ merge rule
BASE_ENTRY = {
    "id": "gpu",
    "price_usd": 100,
    "dense": {"bf16_tflops": 1, "fp8_tflops": 2},
    "sources": ["https://vendor.example.com/spec"],
    "figure_sources": {"tdp_w": "https://review.example.com"},
}


def test_override_replaces_given_fields_whole_and_keeps_the_rest() -> None:
    merged, changed = merge_override(
        BASE_ENTRY, {"id": "gpu", "dense": {"bf16_tflops": 3}, "sources": ["https://mine.example.com/x"]}
    )
    assert changed == ("dense",)
    assert merged["dense"] == {"bf16_tflops": 3}  # no deep merge: fp8 is gone
    assert merged["price_usd"] == 100
    assert merged["sources"] == BASE_ENTRY["sources"]


def test_override_records_its_first_source_for_each_changed_field() -> None:
    merged, _ = merge_override(
        BASE_ENTRY,
        {
            "id": "gpu",
            "price_usd": 90,
            "price_date": "2026-01",
            "sources": ["https://prices.example.com/q1", "https://other.example.com"],
        },
    )
    assert merged["figure_sources"] == {
        "tdp_w": "https://review.example.com",
        "price_usd": "https://prices.example.com/q1",
        "price_date": "https://prices.example.com/q1",
    }


def test_override_figure_sources_win_per_field() -> None:
    merged, _ = merge_override(
        BASE_ENTRY,
        {
            "id": "gpu",
            "price_usd": 90,
            "price_date": "2026-01",
            "sources": ["https://a.example.com"],
            "figure_sources": {"price_usd": "https://b.example.com"},
        },
    )
    assert merged["figure_sources"]["price_usd"] == "https://b.example.com"


def test_override_never_changes_id_or_kind_and_skips_unknown_fields_in_figure_sources() -> None:
    merged, changed = merge_override(
        BASE_ENTRY,
        {"id": "gpu", "kind": "accelerator", "colour": "red", "sources": ["https://a.example.com"]},
        known_fields={"price_usd"},
    )
    assert changed == ("colour",) and merged["id"] == "gpu" and "kind" not in merged
    assert "colour" not in merged["figure_sources"]


@pytest.mark.parametrize("sources", [None, [], "https://a.example.com", [1]])
def test_override_needs_a_list_of_sources(sources: object) -> None:
    override = (
        {"id": "gpu", "price_usd": 90}
        if sources is None
        else {"id": "gpu", "price_usd": 90, "sources": sources}
    )
    with pytest.raises(ValueError, match="needs `sources`"):
        merge_override(BASE_ENTRY, override)


# ----------------------------------------------------------------------------------- base catalog
def test_base_catalog_is_valid_and_complete() -> None:
    catalog, issues = build_catalog(base=BASE)
    assert issues == []
    assert {table: len(getattr(catalog, table)) for table in KIND_TABLES.values()} == {
        "accelerators": 6,
        "models": 2,
        "quants": 6,
        "engines": 1,
        "systems": 1,
        "calibration": 1,
        "hosts": 0,
        "cloud_prices": 0,
    }
    assert catalog.calibration["calibration-decode-cuda-nvidia-consumer-legacy"].efficiency == 0.8
    file, line = catalog.origin("nvidia-rtx-4090")
    assert file.endswith("accelerators/test.yaml") and line == _line_of(Path(file), "- id: nvidia-rtx-4090")


def test_load_catalog_is_cached() -> None:
    assert load_catalog(base=BASE) is load_catalog(base=BASE)


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_overlays(path: Path) -> None:
    assert validate_catalog([path], base=BASE) == []


def test_price_list_overlay_overrides_price_and_records_its_source() -> None:
    catalog = load_catalog([CATALOG_DATA / "valid" / "price_list.yaml"], base=BASE)
    h100 = catalog.accelerator("h100")
    assert h100.price_usd == 24500 and h100.price_is_estimate is False
    assert h100.figure_sources["price_usd"] == "https://example.com/acme-procurement/price-list-2026-q1"
    assert h100.memory_bandwidth_gb_s == 3350  # untouched fields stay
    assert load_catalog(base=BASE).accelerator("h100").price_usd == 30000  # the base is unchanged


def test_new_hardware_overlay_adds_entries_that_reference_each_other() -> None:
    catalog = load_catalog([CATALOG_DATA / "valid" / "new_hardware.yaml"], base=BASE)
    assert catalog.accelerator("ACME X1").id == "acme-x1-96gb"
    assert catalog.system("acme-x1-box").accelerators[0].accelerator == "acme-x1-96gb"


def _expectation(path: Path) -> tuple[int, str]:
    match = EXPECT.match(path.read_text().splitlines()[0])
    assert match, f"{path.name}: first line must be '# expect: <line>: <message fragment>'"
    return int(match.group(1)), match.group(2)


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_invalid_file_gets_its_message_on_its_line(path: Path) -> None:
    line, fragment = _expectation(path)
    issues = validate_catalog([path], base=BASE)
    assert len(issues) == 1, "\n".join(map(str, issues))
    (issue,) = issues
    assert issue.file == str(path)
    assert issue.line == line, str(issue)
    assert fragment in (f"{issue.field_path}: {issue.message}" if issue.field_path else issue.message), str(
        issue
    )
    assert str(issue).startswith(f"{path}:{line}:{issue.column}: ")


def test_invalid_catalog_raises_with_every_issue() -> None:
    with pytest.raises(CatalogError) as info:
        load_catalog([CATALOG_DATA / "invalid" / "negative_size.yaml"], base=BASE)
    assert len(info.value.issues) == 1 and "negative_size.yaml:9:" in str(info.value)


def test_every_problem_is_reported_in_one_run(tmp_path: Path) -> None:
    text = (
        accelerator_yaml("acme-a", bandwidth=-1)
        + accelerator_yaml("acme-b", bandwidth=90000)
        + accelerator_yaml("acme-c").replace("memory_type: HBM3", "memory_type: HBM9")
    )
    (tmp_path / "many.yaml").write_text(text)
    (tmp_path / "broken.yaml").write_text("- id: [\n")
    issues = validate_catalog([tmp_path], base=BASE)
    assert [(Path(i.file).name, i.line, i.field_path) for i in issues] == [
        ("broken.yaml", 2, ""),
        ("many.yaml", 12, "memory_bandwidth_gb_s"),
        ("many.yaml", 29, "memory_bandwidth_gb_s"),
        ("many.yaml", 45, "memory_type"),
    ]


def test_overlay_folders_are_read_recursively_in_path_order(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "10-add.yaml").write_text(accelerator_yaml("acme-x1"))
    (tmp_path / "20-price.yaml").write_text(
        "- {id: acme-x1, price_usd: 1, price_date: 2026-01, sources: [https://a.example.com]}\n"
    )
    (tmp_path / "sub" / "30-price.yaml").write_text(
        "- {id: acme-x1, price_usd: 2, price_date: 2026-02, sources: [https://b.example.com]}\n"
    )
    (tmp_path / "notes.txt").write_text("not yaml, ignored")
    catalog = load_catalog([tmp_path], base=BASE)
    assert catalog.accelerators["acme-x1"].price_usd == 2
    assert catalog.accelerators["acme-x1"].figure_sources == {"price_usd": "https://b.example.com",
                                                              "price_date": "https://b.example.com"}


def test_overlay_paths_from_env() -> None:
    import os

    env = {"SIZER_CATALOG": os.pathsep.join(["a.yaml", "", "dir"])}
    assert overlay_paths_from_env(env) == ("a.yaml", "dir")
    assert overlay_paths_from_env({}) == ()


def test_missing_overlay_path_is_an_issue(tmp_path: Path) -> None:
    (issue,) = validate_catalog([tmp_path / "nope.yaml"], base=BASE)
    assert "no such file" in issue.message


def test_unexpected_file_in_the_catalog_folder(tmp_path: Path) -> None:
    base = tmp_path / "catalog"
    shutil.copytree(BASE, base)
    (base / "prices.yaml").write_text("[]\n")
    (issue,) = validate_catalog(base=base)
    assert issue.file.endswith("prices.yaml") and "unexpected catalog file" in issue.message


def test_duplicate_id_in_the_catalog_folder(tmp_path: Path) -> None:
    base = tmp_path / "catalog"
    shutil.copytree(BASE, base)
    (base / "accelerators" / "zz-more.yaml").write_text(
        accelerator_yaml("nvidia-rtx-4090")
    )  # read after test.yaml
    (issue,) = validate_catalog(base=base)
    assert issue.line == 2 and issue.field_path == "id"
    first = _line_of(BASE / "accelerators" / "test.yaml", "- id: nvidia-rtx-4090")
    assert (
        "duplicate id 'nvidia-rtx-4090' (first defined at" in issue.message
        and f"test.yaml:{first})" in issue.message
    )


def test_wrong_kind_in_a_kind_folder(tmp_path: Path) -> None:
    base = tmp_path / "catalog"
    shutil.copytree(BASE, base)
    (base / "models" / "gpu.yaml").write_text(accelerator_yaml())
    (issue,) = validate_catalog(base=base)
    assert "this file holds model entries, not 'accelerator'" in issue.message


@pytest.mark.parametrize(
    ("overlay", "fragment"),
    [
        (accelerator_yaml("nvidia_h100_sxm_80gb"), "clashes with"),
        (
            "- id: llama-3-8b\n  hf_repos: [META-LLAMA/llama-3.1-8b]\n  sources: [https://a.example.com]\n",
            "already listed by model 'llama-3.1-8b'",
        ),
        (
            "- id: llama.cpp\n  supported_quants: [q4_k_m, q9_k]\n  sources: [https://a.example.com]\n",
            "unknown quant id 'q9_k'",
        ),
        (
            "- id: q4_k_m\n  base_ggml_type: Q9_K\n  sources: [https://a.example.com]\n",
            "'Q9_K' is not the id or name of a ggml_type format",
        ),
        (
            "- id: llama-3-8b\n  total_params: {value: 8030000000, source: 'https://nohost'}\n  sources: [https://a.example.com]\n",
            "not a well-formed http(s) URL",
        ),
    ],
    ids=["canonical-id-clash", "hf-repo-twice", "engine-quant", "base-ggml-type", "nested-source"],
)
def test_cross_entry_rules(tmp_path: Path, overlay: str, fragment: str) -> None:
    (tmp_path / "o.yaml").write_text(overlay)
    issues = validate_catalog([tmp_path / "o.yaml"], base=BASE)
    assert len(issues) == 1 and fragment in issues[0].message, issues


def test_an_entry_that_fails_is_not_also_reported_as_an_unknown_reference(tmp_path: Path) -> None:
    (tmp_path / "o.yaml").write_text(
        "- id: nvidia-h100-sxm-80gb\n  tdp_w: -700\n  sources: [https://a.example.com]\n"
    )
    (issue,) = validate_catalog(
        [tmp_path / "o.yaml"], base=BASE
    )  # the system that names the H100 stays quiet
    assert issue.field_path == "tdp_w" and issue.file == str(tmp_path / "o.yaml") and issue.line == 2


# -------------------------------------------------------------------------------- name resolution
@pytest.mark.parametrize(
    ("kind", "name", "entry_id"),
    [
        ("accelerator", "h100", "nvidia-h100-sxm-80gb"),
        ("accelerator", "H100 SXM", "nvidia-h100-sxm-80gb"),
        ("accelerator", "NVIDIA-H100-SXM-80GB", "nvidia-h100-sxm-80gb"),
        ("accelerator", "h100 pcie", "nvidia-h100-pcie-80gb"),
        ("accelerator", "rtx4090", "nvidia-rtx-4090"),
        ("accelerator", "RTX 4090", "nvidia-rtx-4090"),
        ("accelerator", "geforce rtx 4090", "nvidia-rtx-4090"),
        ("accelerator", "M2 Ultra", "apple-m2-ultra-192gb"),
        ("accelerator", "A100 80GB", "nvidia-a100-sxm4-80gb"),
        ("model", "meta-llama/llama-3.1-8b-INSTRUCT", "llama-3.1-8b"),
        ("model", "Llama-3.1-8B", "llama-3.1-8b"),
        ("model", "Llama 3 8B", "llama-3-8b"),
        ("model", "llama3.1:8b", "llama-3.1-8b"),
        ("quant", "Q4_K_M", "q4_k_m"),
        ("quant", "q4-k-m", "q4_k_m"),
        ("engine", "llamacpp", "llama.cpp"),
        ("system", "HGX H100", "hgx-h100-8x"),
    ],
)
def test_names_resolve(kind: str, name: str, entry_id: str) -> None:
    catalog = load_catalog(base=BASE)
    assert getattr(catalog, kind)(name).id == entry_id


@pytest.mark.parametrize(
    ("name", "candidates"),
    [
        ("a100", {"nvidia-a100-sxm4-80gb", "nvidia-a100-pcie-80gb"}),
        (
            "nvidia 80gb",
            {
                "nvidia-h100-sxm-80gb",
                "nvidia-h100-pcie-80gb",
                "nvidia-a100-sxm4-80gb",
                "nvidia-a100-pcie-80gb",
            },
        ),
    ],
)
def test_ambiguous_names_list_the_candidates(name: str, candidates: set[str]) -> None:
    with pytest.raises(AmbiguousNameError) as info:
        load_catalog(base=BASE).accelerator(name)
    assert set(info.value.candidates) == candidates and info.value.kind == "GPU"


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [("h10", "nvidia-h100-sxm-80gb"), ("rtx 4009", "nvidia-rtx-4090"), ("m2 ultar", "apple-m2-ultra-192gb")],
)
def test_unknown_names_get_suggestions(name: str, suggestion: str) -> None:
    with pytest.raises(UnknownNameError) as info:
        load_catalog(base=BASE).accelerator(name)
    assert suggestion in info.value.suggestions
    assert "did you mean" in str(info.value)


def test_unknown_name_without_anything_close() -> None:
    with pytest.raises(UnknownNameError) as info:
        load_catalog(base=BASE).model("zzzz-qqqq")
    assert info.value.suggestions == ()


# ------------------------------------------------------------------------------ built-in catalog
BUILTIN, BUILTIN_ISSUES = build_catalog()
FORGIVING_GPU_NAMES = [
    "h100",
    "H100 SXM",
    "rtx4090",
    "RTX 4090",
    "M2 Ultra",
    "DGX Spark",
    "Ascend 910C",
    "A100 80GB",
]


def test_builtin_catalog_is_valid() -> None:
    assert BUILTIN_ISSUES == [], "\n".join(map(str, BUILTIN_ISSUES))


@pytest.mark.parametrize("name", FORGIVING_GPU_NAMES)
def test_forgiving_gpu_names_resolve_to_one_entry(name: str) -> None:
    entry = BUILTIN.accelerator(name)
    # the entry really is what was asked for: every word of the query is in its id, name or aliases
    words = name_tokens(" ".join([entry.id, entry.name, *entry.aliases]))
    assert name_tokens(name) <= words


def test_forgiving_gpu_names_are_distinct_entries() -> None:
    found = {}
    for name in FORGIVING_GPU_NAMES:
        try:
            found[name] = BUILTIN.accelerator(name).id
        except UnknownNameError:
            continue
    assert found.get("h100", "x") == found.get("H100 SXM", "x")
    assert found.get("rtx4090", "x") == found.get("RTX 4090", "x")


ENTRIES = [(kind, entry) for kind, table in KIND_TABLES.items() for entry in getattr(BUILTIN, table).values()]


@pytest.mark.parametrize(("kind", "entry"), ENTRIES, ids=[f"{k}:{e.id}" for k, e in ENTRIES])
def test_builtin_entry_is_sourced_and_resolves_by_id_and_aliases(kind: str, entry: Any) -> None:
    entry_id = entry.id
    assert entry.sources, "an entry needs at least one source"
    repos = list(getattr(entry, "hf_repos", ()))  # models: base and instruct repos, any case
    for name in (entry_id, entry_id.upper(), *entry.aliases, *repos, *(r.lower() for r in repos)):
        assert BUILTIN.resolve(kind, name) == entry_id, name
    file, _ = BUILTIN.origin(entry_id)
    folder = {"accelerator": "accelerators", "model": "models"}.get(kind)
    assert folder is None or Path(file).parent.name == folder
