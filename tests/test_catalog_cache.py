"""The cache of the validated built-in catalog (sizer._catalog_cache): exact, invalidated by any
change, never trusted when damaged, never used by `validate_catalog` nor for overlays.

The truth each test compares with is a catalog validated from the YAML files in the same test.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pydantic
import pytest

import sizer
import sizer.catalog.cache as cache
import sizer.catalog.loading as catalog_module
from sizer.catalog.loading import KIND_MODELS, KIND_TABLES, clear_cache, load_catalog, validate_catalog
from sizer.errors import CatalogError
from sizer.schema import Accelerator

BASE = Path(__file__).parent / "data" / "catalog" / "base"
REPO = Path(__file__).resolve().parents[1]


def _cache_file() -> Path:
    return Path(os.environ["XDG_CACHE_HOME"]) / "sizer" / f"catalog-{cache._FORMAT}.json"


def _same_types(a: Any, b: Any) -> bool:
    """Equal is not enough (1 == 1.0, [1] != (1,) but enums equal their values): same types too."""
    if type(a) is not type(b):
        return False
    if isinstance(a, pydantic.BaseModel):
        return a.model_fields_set == b.model_fields_set and _same_types(a.__dict__, b.__dict__)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same_types(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same_types(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _assert_same_catalog(stored: Any, validated: Any, *, origins: bool = True) -> None:
    for table in KIND_TABLES.values():
        left, right = getattr(stored, table), getattr(validated, table)
        assert list(left) == list(right), table
        for entry_id, entry in left.items():
            assert entry == right[entry_id] and repr(entry) == repr(right[entry_id]), entry_id
            assert _same_types(entry, right[entry_id]), entry_id
            assert entry.model_dump(exclude_unset=True) == right[entry_id].model_dump(exclude_unset=True)
            if origins:
                assert stored.origin(entry_id) == validated.origin(entry_id), entry_id


def _validated() -> Any:
    catalog, issues = catalog_module._build(())
    assert issues == ()
    return catalog


def _forbid(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"{name} must not be called here")

    target = cache if name in ("load", "holds") else catalog_module
    monkeypatch.setattr(target, name, fail)


@pytest.fixture
def fresh() -> Iterator[None]:
    """No catalog kept in this process before or after the test."""
    clear_cache()
    yield
    clear_cache()


@pytest.fixture
def builtin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh: None) -> Path:
    """A writable copy of the small test catalog stands in for the built-in one."""
    root = tmp_path / "gpu_catalog"
    shutil.copytree(BASE, root)
    monkeypatch.setattr("sizer.catalog.files.builtin_root", lambda: root)
    return root


def _load_stored(monkeypatch: pytest.MonkeyPatch) -> Any:
    """load_catalog() in a new process' state, which must come from the cache (no validation)."""
    clear_cache()
    with monkeypatch.context() as patch:
        _forbid(patch, "_build")
        return load_catalog()


def _edit(path: Path, old: str, new: str, *, keep_stat: bool = False) -> None:
    stat = path.stat()
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    if keep_stat:
        assert path.stat().st_size == stat.st_size
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    else:
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


# ------------------------------------------------------------------------ exact round trip
def test_the_builtin_catalog_comes_back_exactly_from_the_cache(
    fresh: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    validated = load_catalog()  # empty cache folder: validated, then stored
    assert _cache_file().is_file()
    stored = _load_stored(monkeypatch)
    assert stored is not validated and load_catalog() is stored  # one catalog per process
    assert type(next(iter(stored._raws.values()))) is cache.CachedOrigin
    _assert_same_catalog(stored, validated)


def test_a_cold_run_from_the_cache_builds_no_validator_and_reads_no_yaml(fresh: None) -> None:
    load_catalog()  # fills the cache folder of this test
    code = (
        "import sys; from sizer.catalog.loading import load_catalog; from sizer.schema import Accelerator, ModelEntry;"
        "c = load_catalog(); c.model('deepseek-v3');"
        "print(Accelerator.__pydantic_complete__, ModelEntry.__pydantic_complete__, 'yaml' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False", "False"]


def test_origins_of_stored_entries_point_at_their_lines(
    builtin: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_catalog()
    stored = _load_stored(monkeypatch)
    file, line = stored.origin("nvidia-h100-pcie-80gb")
    lines = Path(file).read_text(encoding="utf-8").splitlines()
    assert Path(file) == builtin / "accelerators" / "test.yaml"
    assert lines[line - 1] == "- id: nvidia-h100-pcie-80gb"


# ------------------------------------------------------------------------ invalidation
def test_an_edited_file_is_validated_again(builtin: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_catalog().accelerators["nvidia-h100-sxm-80gb"].memory_bandwidth_gb_s == 3350
    _edit(
        builtin / "accelerators" / "test.yaml", "memory_bandwidth_gb_s: 3350", "memory_bandwidth_gb_s: 3351"
    )
    clear_cache()
    assert load_catalog().accelerators["nvidia-h100-sxm-80gb"].memory_bandwidth_gb_s == 3351.0
    _assert_same_catalog(_load_stored(monkeypatch), _validated())  # and the new figures were stored


def test_an_added_file_is_read(builtin: Path) -> None:
    load_catalog()
    text = (builtin / "accelerators" / "test.yaml").read_text(encoding="utf-8")
    start = text.index("- id: nvidia-h100-pcie-80gb")
    block = text[start : text.index("\n\n", start)]  # an entry without aliases
    block = block.replace("nvidia-h100-pcie-80gb", "acme-one-80gb").replace("H100 PCIe 80GB", "ACME One")
    (builtin / "accelerators" / "acme.yaml").write_text(block + "\n", encoding="utf-8")
    clear_cache()
    assert load_catalog().accelerator("ACME One").id == "acme-one-80gb"


def test_an_edit_that_breaks_the_catalog_raises_instead_of_serving_the_cache(builtin: Path) -> None:
    load_catalog()
    _edit(
        builtin / "accelerators" / "test.yaml", "memory_bandwidth_gb_s: 3350", "memory_bandwidth_gb_s: -3350"
    )
    clear_cache()
    with pytest.raises(CatalogError) as raised:
        load_catalog()
    (issue,) = raised.value.issues
    assert issue.field_path == "memory_bandwidth_gb_s" and issue.file.endswith("accelerators/test.yaml")


def test_an_edit_that_keeps_size_and_mtime_is_seen(
    builtin: Path, monkeypatch: pytest.MonkeyPatch, run_cli: Any
) -> None:
    load_catalog()  # stored, and every file in the YAML parse cache
    target = builtin / "accelerators" / "test.yaml"
    _edit(target, "memory_bandwidth_gb_s: 3350", "memory_bandwidth_gb_s: -335", keep_stat=True)
    line = next(i for i, t in enumerate(target.read_text().splitlines(), 1) if "-335" in t)
    clear_cache()
    with monkeypatch.context() as patch:
        _forbid(patch, "load")  # validate_catalog never reads the stored catalog
        (issue,) = validate_catalog()
    assert (issue.file, issue.line, issue.field_path) == (str(target), line, "memory_bandwidth_gb_s")
    clear_cache()
    result = run_cli("catalog", "validate")
    assert result.exit_code == 1
    assert f"test.yaml:{line}:" in result.stdout and "memory_bandwidth_gb_s" in result.stdout
    clear_cache()
    with pytest.raises(CatalogError):
        load_catalog()


def test_the_key_covers_sizer_code_and_versions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code = tmp_path / "sizer"
    (code / "schema").mkdir(parents=True)
    module = code / "schema" / "model.py"
    module.write_text("x = 1\n")
    monkeypatch.setattr(cache, "_PACKAGE", str(code))
    keys = {cache.key()}
    _edit(module, "x = 1", "x = 2")
    keys.add(cache.key())
    monkeypatch.setattr(cache, "__version__", "0.0.0-test")
    keys.add(cache.key())
    monkeypatch.setattr(pydantic, "VERSION", "0.0.0-test")
    keys.add(cache.key())
    assert None not in keys and len(keys) == 4


def test_the_key_covers_every_module_of_the_installed_package() -> None:
    """The schema (sizer/schema/), the limits it applies and the checks decide what is valid: the key covers
    them, not only the modules of sizer/catalog/."""
    package = Path(sizer.__file__).resolve().parent
    assert Path(cache._PACKAGE).resolve() == package
    covered = {Path(p).resolve().relative_to(package).as_posix() for p in cache._code_files(cache._PACKAGE)}
    assert {"schema/accelerator.py", "schema/model.py", "limits.py", "catalog/checks.py", "__init__.py"} <= covered


# ------------------------------------------------------------------------ damaged or foreign files
def _damage_drop_a_field(text: str) -> str:
    header, body = text.split("\n", 1)
    data = json.loads(body)
    data["entries"]["accelerator"][0][2].pop()
    return header + "\n" + json.dumps(data)


def _damage_bad_enum(text: str) -> str:
    header, body = text.split("\n", 1)
    data = json.loads(body)
    entry = data["entries"]["accelerator"][0][2]
    index = 1 + list(Accelerator.model_fields).index("memory_type")
    entry[index] = "HBM9"
    return header + "\n" + json.dumps(data)


def _damage_set_index(text: str) -> str:
    header, body = text.split("\n", 1)
    data = json.loads(body)
    data["entries"]["model"][0][2][0] = len(data["sets"]) + 5
    return header + "\n" + json.dumps(data)


DAMAGES = {
    "empty": lambda text: "",
    "binary garbage": lambda text: "\x00\xff garbage",
    "truncated": lambda text: text[: len(text) // 2],
    "another key": lambda text: text.replace('"key": "', '"key": "0', 1),
    "another format": lambda text: text.replace('"format": ', '"format": 9', 1),
    "right key, empty body": lambda text: text.split("\n", 1)[0] + "\n{}",
    "a field missing": _damage_drop_a_field,
    "an unknown enum value": _damage_bad_enum,
    "a fields-set index out of range": _damage_set_index,
}


def _sign(body: str) -> str:
    """A cache file as sizer writes it: the sha256 of the body, then the body."""
    return f"sizer-cache sha256={hashlib.sha256(body.encode()).hexdigest()}\n{body}"


@pytest.mark.parametrize("signed", [False, True], ids=["edited", "edited and re-signed"])
@pytest.mark.parametrize("damage", DAMAGES, ids=list(DAMAGES))
def test_a_damaged_or_foreign_cache_is_ignored_and_rewritten(
    builtin: Path, monkeypatch: pytest.MonkeyPatch, damage: str, signed: bool
) -> None:
    """Edited without its checksum: the checksum catches it. Edited with the checksum recomputed:
    the decoder still refuses what it cannot rebuild exactly."""
    load_catalog()
    path = _cache_file()
    good = path.read_text(encoding="utf-8")
    signature, body = good.split("\n", 1)
    assert _sign(body) == good
    damaged = DAMAGES[damage](body)
    path.write_text(_sign(damaged) if signed else f"{signature}\n{damaged}", encoding="utf-8")
    key = cache.key()
    assert key is not None and cache.load(key, KIND_MODELS) is None
    clear_cache()
    _assert_same_catalog(load_catalog(), _validated())
    assert path.read_text(encoding="utf-8") == good  # rewritten by the validated build
    _assert_same_catalog(_load_stored(monkeypatch), _validated())


@pytest.mark.parametrize("edit", ["h100 memory 7920 GiB", "entries emptied"])
def test_an_edited_body_is_never_served(builtin: Path, edit: str) -> None:
    """Issue 10: editing a figure in the cache made `fit` trust it; emptying entries made every model
    unknown. An edited body fails its checksum: the catalog is validated again from the YAML."""
    load_catalog()
    path = _cache_file()
    signature, body = path.read_text(encoding="utf-8").split("\n", 1)
    header, entries = body.split("\n", 1)
    data = json.loads(entries)
    if edit == "entries emptied":
        data["entries"] = {kind: [] for kind in data["entries"]}
    else:
        first = data["entries"]["accelerator"][0][2]
        index = 1 + list(Accelerator.model_fields).index("memory_gib_usable")
        first[index] = 7920.0
    path.write_text(f"{signature}\n{header}\n{json.dumps(data)}", encoding="utf-8")
    clear_cache()
    _assert_same_catalog(load_catalog(), _validated())


def test_a_cache_file_of_another_user_is_ignored(builtin: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    load_catalog()
    key = cache.key()
    assert key is not None and cache.holds(key) and cache.load(key, KIND_MODELS) is not None
    owner = _cache_file().stat().st_uid
    monkeypatch.setattr(os, "getuid", lambda: owner + 1)
    assert not cache.holds(key) and cache.load(key, KIND_MODELS) is None


def test_an_unreadable_cache_file_is_ignored(builtin: Path) -> None:
    _cache_file().mkdir(parents=True)  # a folder where the file should be: cannot be read nor replaced
    _assert_same_catalog(load_catalog(), _validated())


def test_values_json_cannot_bring_back_exactly_are_not_stored(builtin: Path) -> None:
    catalog = _validated()
    entry = catalog.accelerators["nvidia-h100-sxm-80gb"]
    odd = entry.model_copy(update={"memory_bandwidth_gb_s": 3350})  # an int in a float field
    tables = {kind: dict(getattr(catalog, KIND_TABLES[kind])) for kind in KIND_MODELS}
    tables["accelerator"][odd.id] = odd
    origins = {i: ("f.yaml", (0,)) for table in tables.values() for i in table}
    assert not cache.store("k" * 64, KIND_MODELS, tables, origins)
    tables["accelerator"][odd.id] = entry
    assert cache.store("k" * 64, KIND_MODELS, tables, origins)


def test_the_cache_folder_is_private(builtin: Path) -> None:
    load_catalog()
    assert _cache_file().parent.stat().st_mode & 0o777 == 0o700


# ------------------------------------------------------------------------ when the cache is not used
def test_sizer_no_cache_turns_it_off(builtin: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIZER_NO_CACHE", "1")
    _forbid(monkeypatch, "load")
    load_catalog()
    assert not _cache_file().exists()


def test_overlays_are_validated_on_every_run(
    builtin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_catalog()  # the built-in catalog is stored
    overlay = tmp_path / "prices.yaml"
    overlay.write_text(
        "- id: nvidia-h100-sxm-80gb\n  price_usd: -1\n  price_date: 2026-01\n  sources: [https://example.com/prices]\n",
        encoding="utf-8",
    )
    _forbid(monkeypatch, "load")
    (issue,) = validate_catalog([overlay])
    assert (issue.file, issue.line, issue.field_path) == (str(overlay), 2, "price_usd")
    with pytest.raises(CatalogError):
        load_catalog([overlay])


# ------------------------------------------------------------------ the cache folder cannot be turned
def _run_sizer(env: dict[str, str], *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SIZER_", "XDG_"))}
    return subprocess.run([sys.executable, "-m", "sizer", *args], capture_output=True, text=True, timeout=60,
                          env={**base, "PYTHONPATH": str(REPO), **env}, cwd=cwd)


def test_a_planted_temporary_link_is_never_written_through(tmp_path: Path) -> None:
    """The temporary file has a random name and is created exclusively: links planted under every name
    the old code would use (`catalog-N.json.<pid>.tmp`) are left alone, as is the file they point to."""
    cache_home = tmp_path / "cache"
    folder = cache_home / "sizer"
    folder.mkdir(parents=True, mode=0o700)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    for pid in range(2, 1000):
        (folder / f"catalog-{cache._FORMAT}.json.{pid}.tmp").symlink_to(victim)
    result = _run_sizer({"XDG_CACHE_HOME": str(cache_home)}, "gpus", "list", "-f", "csv")
    assert result.returncode == 0, result.stderr
    assert victim.read_text() == "precious\n"
    stored = folder / f"catalog-{cache._FORMAT}.json"
    assert stored.is_file() and not stored.is_symlink()


@pytest.mark.parametrize("setup", ["mode 0777", "a link to a folder", "a file", "another owner"])
def test_an_unsafe_cache_folder_is_not_used_and_said_once(tmp_path: Path, setup: str) -> None:
    cache_home = tmp_path / "cache"
    cache_home.mkdir()
    folder = cache_home / "sizer"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    if setup == "mode 0777":
        folder.mkdir()
        folder.chmod(0o777)
    elif setup == "a link to a folder":
        folder.symlink_to(elsewhere)
    elif setup == "a file":
        folder.write_text("not a folder\n")
    else:
        if os.getuid() != 0:
            pytest.skip("needs root to give the folder to another user")
        folder.mkdir(mode=0o700)
        os.chown(folder, 12345, 12345)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    result = _run_sizer({"XDG_CACHE_HOME": str(cache_home)}, "gpus", "list", "-f", "csv")
    assert result.returncode == 0, result.stderr
    assert "nvidia-h100-sxm-80gb" in result.stdout
    warnings = [line for line in result.stderr.splitlines() if "cache folder" in line]
    assert len(warnings) == 1 and warnings[0].startswith("warning: ") and str(folder) in warnings[0]
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing written anywhere


def test_a_relative_xdg_cache_home_is_ignored(tmp_path: Path) -> None:
    """XDG base directory spec: a relative path is invalid and ignored; the default ~/.cache is used."""
    home, work = tmp_path / "user", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    result = _run_sizer({"XDG_CACHE_HOME": "relative/cache", "HOME": str(home)}, "gpus", "list", cwd=work)
    assert result.returncode == 0, result.stderr
    assert list(work.iterdir()) == []
    assert (home / ".cache" / "sizer" / f"catalog-{cache._FORMAT}.json").is_file()
