"""The `sizer` command: the root group, its global options, and the one place errors become exit codes.

Exit codes: 0 done, 1 invalid catalog or input file (or a path that cannot be read or written), 2 usage
error (unknown name, bad value), 3 internal error (one line; `--debug` or SIZER_DEBUG=1 shows the traceback).

Command groups live in `sizer.commands.*` and load on first use (see COMMANDS), so `sizer gpus
list` never imports the code behind `sizer fit`.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click

from sizer import __version__
from sizer.commands._state import CliState
from sizer.errors import InputError, UsageProblem

__all__ = ["COMMANDS", "cli", "main"]

# command name -> "module:attribute" of its click command; add a line to register a command module
COMMANDS: dict[str, str] = {
    "catalog": "sizer.commands.catalog:catalog",
    "clouds": "sizer.commands.browse:clouds",
    "detect": "sizer.commands.detect:detect_command",
    "engines": "sizer.commands.browse:engines",
    "fit": "sizer.commands.fit:fit_command",
    "gpus": "sizer.commands.browse:gpus",
    "hosts": "sizer.commands.browse:hosts",
    "models": "sizer.commands.browse:models",
    "plan": "sizer.commands.recommend:plan_command",
    "quants": "sizer.commands.browse:quants",
    "recommend": "sizer.commands.recommend:recommend_command",
    "systems": "sizer.commands.browse:systems",
}
_TRUE = ("1", "true", "yes", "on")


class _InputFailure(click.ClickException):
    exit_code = 1


class _InternalError(click.ClickException):
    exit_code = 3

    def show(self, file: Any = None) -> None:
        click.echo(self.format_message(), err=True)


def _debug(ctx: click.Context) -> bool:
    state = ctx.find_object(CliState)
    return bool(state and state.debug) or os.environ.get("SIZER_DEBUG", "").lower() in _TRUE


def _unavailable(name: str, error: Exception) -> click.Command:
    """Stands in for a command whose module failed to import: running it reports the error (exit 3)."""

    def fail() -> None:
        raise error

    settings = {"ignore_unknown_options": True, "allow_extra_args": True}
    reason = f"(unavailable: {type(error).__name__}: {error})"
    return click.Command(name, callback=fail, help=reason, context_settings=settings)


class SizerGroup(click.Group):
    """Loads command modules lazily and maps library errors to exit codes (once, for every command)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, _, attribute = target.partition(":")
        try:
            command: click.Command = getattr(importlib.import_module(module), attribute)
        except Exception as exc:  # a broken command module must not break `sizer --help` or other commands
            if os.environ.get("SIZER_DEBUG", "").lower() in _TRUE:
                raise
            return _unavailable(cmd_name, exc)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except UsageProblem as exc:
            if _debug(ctx):
                raise
            raise click.UsageError(str(exc)) from exc
        except InputError as exc:
            if _debug(ctx):
                raise
            raise _InputFailure(str(exc)) from exc
        except OSError as exc:  # a path that cannot be read or written (a folder, a full disk, no access)
            if _debug(ctx):
                raise
            where = f"{exc.filename}: " if exc.filename else ""
            raise _InputFailure(f"{where}{exc.strerror or exc}; check the path") from exc
        except Exception as exc:
            if _debug(ctx):
                raise
            detail = " ".join(str(exc).split()) or "no detail"
            raise _InternalError(
                f"internal error: {type(exc).__name__}: {detail}; rerun with --debug"
            ) from exc


@click.group(
    "sizer",
    cls=SizerGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "--catalog",
    "catalog_paths",
    multiple=True,
    type=click.Path(exists=True, dir_okay=True, file_okay=True),
    metavar="PATH",
    help="Catalog overlay file or folder, applied after the built-in catalog (repeatable; "
    "also SIZER_CATALOG, separated by the OS path separator).",
)
@click.option("--debug", is_flag=True, help="Show the traceback of internal errors (also SIZER_DEBUG=1).")
@click.version_option(__version__, "--version", prog_name="sizer", message="%(prog)s %(version)s")
@click.pass_context
def cli(ctx: click.Context, catalog_paths: tuple[str, ...], debug: bool) -> None:
    """What hardware it takes to run an open-weight LLM, how to lay it out, and how fast it will be."""
    ctx.obj = CliState(catalog_paths=catalog_paths, debug=debug)
    ctx.call_on_close(_cache_warning)


def _cache_warning() -> None:
    """One line on stderr when sizer's cache folder was found unsafe and not used."""
    from sizer.catalog.yamlcache import take_warning

    message = take_warning()
    if message:
        click.echo(f"warning: {message}", err=True)


def main() -> None:
    """Console-script entry point."""
    try:
        cli.main(prog_name="sizer")
    except Exception as exc:  # raised outside any command (help formatting, ...): still one line
        if "--debug" in sys.argv or os.environ.get("SIZER_DEBUG", "").lower() in _TRUE:
            raise
        _InternalError(
            f"internal error: {type(exc).__name__}: {' '.join(str(exc).split())}; rerun with --debug"
        ).show()
        sys.exit(3)
