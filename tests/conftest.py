"""Shared fixtures: an isolated environment for every test and the `run_cli` helper."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import settings

settings.register_profile("ci", max_examples=50, deadline=None)
settings.register_profile("dev", max_examples=20, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

DATA = Path(__file__).parent / "data"

RunCli = Callable[..., Result]
_USER_ENV = ("SIZER_CATALOG", "SIZER_DEBUG", "SIZER_NO_CACHE")


def pytest_configure(config: pytest.Config) -> None:
    """Isolate collection too: test modules that load the catalog at import time must not read the
    developer's overlays nor write to their cache folder."""
    for name in _USER_ENV:
        os.environ.pop(name, None)
    os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="sizer-tests-cache-")


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No user overlay, debug flag or cache from the developer's machine leaks into a test."""
    for name in _USER_ENV:
        monkeypatch.delenv(name, raising=False)
    from sizer.catalog import yamlcache

    monkeypatch.setattr(yamlcache, "_warning", None)  # a refused cache folder of a previous test
    monkeypatch.setattr(yamlcache, "_warned", False)
    home = tmp_path / "home"
    for name, sub in (
        ("HOME", ""),
        ("XDG_CONFIG_HOME", ".config"),
        ("XDG_CACHE_HOME", ".cache"),
        ("XDG_DATA_HOME", ".local/share"),
    ):
        path = home / sub
        path.mkdir(parents=True, exist_ok=True)
        monkeypatch.setenv(name, str(path))


@pytest.fixture
def run_cli() -> RunCli:
    """`run_cli("gpus", "list", "--format", "json")` -> click Result (stdout and stderr kept apart).

    Exceptions are not caught: a bug fails the test with its traceback instead of hiding in a Result.
    """
    from sizer.cli import cli

    def run(*args: str, input: str | None = None, env: Mapping[str, str] | None = None) -> Result:
        runner = CliRunner()
        return runner.invoke(cli, list(args), input=input, env=dict(env or {}), catch_exceptions=False)

    return run


@pytest.fixture
def data_dir() -> Path:
    return DATA
