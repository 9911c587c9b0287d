"""The page machinery of `--format html`: the Jinja2 environment over the templates shipped in
`sizer/render/templates/` (read with importlib.resources, so they load from a wheel too), and the plain
one-table page that listings get.

Jinja2 comes with the `sizer[html]` extra; without it, a clear error names the extra (exit 1).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any

from sizer.errors import InputError

__all__ = ["EXTRA_MISSING", "page", "render_table_html"]

EXTRA_MISSING = "--format html needs the html extra (Jinja2 and matplotlib): pip install 'sizer[html]'"

_NUMERIC = re.compile(r"[-+]?\$?[\d,]+(\.\d+)?[kMG]?( ?(GiB|tok/s|s|%))?|unknown|\?")


def _is_numeric(value: Any) -> bool:
    """Right-align numbers and figures with a unit ("8.0 GiB", "$8,499", "49.1 tok/s")."""
    return (isinstance(value, (int, float)) and not isinstance(value, bool)) or (
        isinstance(value, str) and _NUMERIC.fullmatch(value) is not None)


def _environment() -> Any:
    try:
        import jinja2
    except ImportError:
        raise InputError(EXTRA_MISSING) from None

    templates = resources.files("sizer.render") / "templates"

    def load(name: str) -> str:
        return (templates / name).read_text(encoding="utf-8")

    env = jinja2.Environment(loader=jinja2.FunctionLoader(load), autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["cell"] = _cell
    env.tests["numeric"] = _is_numeric
    return env


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)


def page(template: str, **context: Any) -> str:
    from markupsafe import Markup

    env = _environment()
    context["charts"] = [{**c, "svg": Markup(c["svg"])} for c in context.get("charts", [])]
    return str(env.get_template(template).render(**context))


def render_table_html(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], headers: Mapping[str, str]) -> str:
    """A plain page with one table (the `html` format of listings and other tabular output)."""
    table = {"title": "", "columns": [headers.get(c, c) for c in columns],
             "rows": [[row.get(c) for c in columns] for row in rows]}
    return page("table.html.j2", title="sizer", heading="", tables=[table], charts=[], warnings=[], assumptions=[],
                 sources=[])
