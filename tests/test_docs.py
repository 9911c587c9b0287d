"""Documentation stays true: every command has help text, and the README names every command."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from sizer.cli import cli

README = Path(__file__).parent.parent / "README.md"


def _commands(
    group: click.Group, prefix: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, f"command {name!r} is registered but cannot be loaded"
        yield (*prefix, name), command
        if isinstance(command, click.Group):
            yield from _commands(command, (*prefix, name))


COMMANDS = list(_commands(cli))


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_command_has_help(path: tuple[str, ...], command: click.Command) -> None:
    assert (command.help or "").strip(), f"sizer {' '.join(path)} has no help text"
    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden:
            assert (param.help or "").strip(), f"sizer {' '.join(path)} {param.opts[0]} has no help text"


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_help_runs(run_cli, path: tuple[str, ...], command: click.Command) -> None:
    result = run_cli(*path, "--help")
    assert result.exit_code == 0 and "Usage: sizer" in result.stdout


def test_readme_names_every_top_level_command() -> None:
    text = README.read_text(encoding="utf-8")
    missing = [name for name in cli.list_commands(click.Context(cli)) if f"sizer {name}" not in text]
    assert missing == [], f"README.md does not mention: {', '.join('sizer ' + m for m in missing)}"


def test_ci_runs_the_readme_test_command() -> None:
    """The README's fresh-machine test command is what .ci/run runs (install step and pytest call)."""
    readme = README.read_text(encoding="utf-8")
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    command = next(line for line in readme.splitlines() if line.startswith("python3 -m venv") and "pytest" in line)
    install = command.split("&&")[1].strip().replace(".venv/bin/python", "").strip()
    run = command.split("&&")[2].strip().replace(".venv/bin/python", "").strip()
    assert f'"$dev" {install}'.replace("pip install", "pip install --quiet") in ci
    assert f'"$dev" {run}' in ci
