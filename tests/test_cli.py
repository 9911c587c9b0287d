"""The root command: lazy command modules, exit codes, one-line internal errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

import sizer.cli


def test_a_broken_command_module_does_not_break_the_others(run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sizer.cli.COMMANDS, "broken", "sizer.no_such_module:command")
    listing = run_cli("--help")
    assert listing.exit_code == 0
    assert "broken" in listing.stdout and "unavailable: ModuleNotFoundError" in listing.stdout
    result = run_cli("broken", "--anything")
    assert result.exit_code == 3
    assert result.stderr.startswith("internal error: ModuleNotFoundError:") and result.stderr.count("\n") == 1
    assert run_cli("catalog", "--help").exit_code == 0


def test_unknown_command_is_a_usage_error(run_cli) -> None:
    result = run_cli("frobnicate")
    assert result.exit_code == 2 and "No such command" in result.stderr


def test_module_entry_point_runs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sizer", "--version"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0 and result.stdout.startswith("sizer ")
