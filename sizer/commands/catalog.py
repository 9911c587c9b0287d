"""`sizer catalog validate|schema`: check catalog files, print the JSON Schema editors use.

Editor support: each catalog YAML file starts with a modeline naming the schema of its kind,

    # yaml-language-server: $schema=../schemas/accelerator.schema.json

(`accelerators/*.yaml` and `models/*.yaml` use `../schemas/`, the top-level files
`quantization.yaml`, `engines.yaml`, `systems.yaml` use `schemas/`). Regenerate the committed
schemas with `sizer catalog schema -o gpu_catalog/schemas`; a test fails when they are stale.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from sizer.catalog.loading import KIND_MODELS
from sizer.errors import CatalogIssue

__all__ = ["catalog"]


@click.group("catalog")
def catalog() -> None:
    """Validate catalog files and overlays; print the catalog's JSON Schema."""


def _display_path(file: str) -> str:
    """Paths under the current directory print relative to it (what GitHub annotations need)."""
    try:
        relative = os.path.relpath(file)
    except ValueError:  # another drive on Windows
        return file
    return file if relative.startswith("..") or not os.path.isabs(file) else relative


def _github_escape(text: str, *, property_value: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if property_value else text


def _format_issue(issue: CatalogIssue, fmt: str) -> str:
    file = _display_path(issue.file)
    if fmt == "github":
        title = issue.field_path or "catalog"
        props = ",".join(
            f"{k}={_github_escape(str(v), property_value=True)}"
            for k, v in (("file", file), ("line", issue.line), ("col", issue.column), ("title", title))
        )
        return f"::error {props}::{_github_escape(issue.message)}"
    return str(CatalogIssue(file, issue.line, issue.column, issue.field_path, issue.message))


@catalog.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, dir_okay=True, file_okay=True))
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(["text", "github"]),
    default="text",
    show_default=True,
    help="text: file:line:col: field.path: message; github: GitHub Actions error annotations.",
)
@click.pass_context
def validate(ctx: click.Context, paths: tuple[str, ...], fmt: str) -> None:
    """Validate the built-in catalog plus overlay files or folders (PATHS, --catalog, SIZER_CATALOG).

    Every problem is reported in one run, one per line; the exit code is 1 if there is any.
    """
    from sizer.catalog.loading import load_catalog, validate_catalog

    state = ctx.find_root().obj
    issues = validate_catalog((*(state.overlays if state else ()), *paths))
    for issue in issues:
        click.echo(_format_issue(issue, fmt))
    if issues:
        click.echo(f"{len(issues)} problem{'s' if len(issues) != 1 else ''} found", err=True)
        ctx.exit(1)  # exit 1 = invalid catalog (the issues above are the result, already printed)
    loaded = load_catalog((*(state.overlays if state else ()), *paths))
    click.echo(
        f"catalog OK: {len(loaded.accelerators)} accelerators, {len(loaded.models)} models, "
        f"{len(loaded.quants)} quant formats, {len(loaded.engines)} engines, {len(loaded.systems)} systems, "
        f"{len(loaded.hosts)} hosts, {len(loaded.cloud_prices)} cloud prices",
        err=True,
    )


@catalog.command("schema")
@click.option("--kind", type=click.Choice(list(KIND_MODELS)), help="Only the schema of one kind of entry.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=True, writable=True),
    metavar="PATH",
    help="Write to PATH instead of printing (without --kind: a folder, one <kind>.schema.json per kind).",
)
def schema(kind: str | None, output: str | None) -> None:
    """Print the JSON Schema of catalog files (for editors; the pydantic models are the authority).

    Without --kind it prints the schema of a file mixing kinds, where each entry names its `kind`
    (overlays). The committed copies live in gpu_catalog/schemas/.

    \b
    Editors (VS Code YAML, any yaml-language-server client) pick the schema from a first-line modeline:
      # yaml-language-server: $schema=../schemas/accelerator.schema.json
    """
    from sizer.catalog.json_schema import schema_documents, schema_file_name, schema_text

    documents = schema_documents()
    name = schema_file_name(kind)
    if output is None:
        click.echo(schema_text(documents[name]), nl=False)
        return
    target = Path(output)
    if kind:
        target.write_text(schema_text(documents[name]), encoding="utf-8")
        click.echo(f"wrote {target}", err=True)
        return
    if target.exists() and not target.is_dir():
        raise click.BadParameter(f"{output} is not a folder (without --kind, -o names a folder that gets one "
                                 "<kind>.schema.json per kind)", param_hint="'-o' / '--output'")
    target.mkdir(parents=True, exist_ok=True)
    for file_name, document in documents.items():
        (target / file_name).write_text(schema_text(document), encoding="utf-8")
    click.echo(f"wrote {len(documents)} schemas to {target}", err=True)
