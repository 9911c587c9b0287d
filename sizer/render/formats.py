"""The only formatter: rows or a result -> table | markdown | json | yaml | csv | html text.

- `table` is tabulate "simple", `markdown` tabulate "github"; both take display headers (with units)
  and flatten nested values (`dense.bf16_tflops`). A single record prints as a field/value table.
- `json` is indent 2 with a trailing newline, `yaml` is safe_dump(sort_keys=False); both keep the
  data's own keys and nesting (raw integers and floats, no human formatting).
- `csv` always writes a header (the flattened keys), even without rows.
- `html` is a self-contained page with the table (`html_page`); `fit`, `recommend` and `plan` have their
  own pages with charts (`html_report`).

Order is the caller's: rows keep their order, keys keep insertion order.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["FORMATS", "flatten", "render"]

FORMATS = ("table", "json", "yaml", "csv", "markdown", "html")
Rows = Sequence[Mapping[str, Any]]
_WRAP_COLUMNS = 100  # long values (notes) of a single record wrap at this width in `table` output


def _plain(data: Any) -> Any:
    """pydantic models -> JSON-compatible data (enums to values, tuples to lists)."""
    dump = getattr(data, "model_dump", None)
    if callable(dump):
        return dump(mode="json")
    if isinstance(data, Mapping):
        return {str(k): _plain(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_plain(v) for v in data]
    value = getattr(data, "value", data)  # an Enum member
    return value if isinstance(value, (str, int, float, bool, type(None))) else str(value)


def _finite(data: Any) -> Any:
    """The same data with every NaN or infinite float as None (null)."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {k: _finite(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_finite(v) for v in data]
    return data


def flatten(record: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"dense": {"bf16_tflops": 989}} -> {"dense.bf16_tflops": 989}; lists of scalars stay lists."""
    out: dict[str, Any] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, name + "."))
        elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
            for index, item in enumerate(value):
                out.update(flatten(item, f"{name}[{index}]."))
        else:
            out[name] = value
    return out


def _cell(value: Any, joiner: str = ", ") -> Any:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return joiner.join(str(_cell(v, joiner)) for v in value)
    if isinstance(value, Mapping):
        return joiner.join(f"{k}={_cell(v, joiner)}" for k, v in value.items())
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return int(value)  # 80.0 GB reads as 80
    return "" if value is None else value


def _columns(rows: list[dict[str, Any]], columns: Sequence[str] | None) -> list[str]:
    if columns is not None:
        return list(columns)
    keys: dict[str, None] = {}
    for row in rows:
        keys.update(dict.fromkeys(row))
    return list(keys)


def _csv_cell(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ";".join(str(_csv_cell(v)) for v in value)
    return "" if value is None else value


def _tabulate(
    rows: list[dict[str, Any]],
    columns: list[str],
    headers: Mapping[str, str],
    fmt: str,
    wrap: int | None = None,
) -> str:
    from tabulate import tabulate  # imported here: it costs ~30 ms and json/yaml/csv output needs none of it

    body = [[_cell(row.get(c)) for c in columns] for row in rows]
    shown = [headers.get(c, c) for c in columns]
    style = "github" if fmt == "markdown" else "simple"
    widths = [None] * (len(columns) - 1) + [wrap] if wrap and fmt == "table" and body else None
    text = tabulate(
        body, headers=shown, tablefmt=style, disable_numparse=True, missingval="", maxcolwidths=widths
    )
    return str(text) + "\n"


def render(
    data: Any,
    fmt: str = "table",
    *,
    columns: Sequence[str] | None = None,
    headers: Mapping[str, str] | None = None,
    human: Mapping[str, Callable[[Any], str]] | None = None,
) -> str:
    """Render a list of rows, or one record (a mapping or a pydantic model), as `fmt`.

    `columns` picks and orders the flattened keys shown in table/markdown/csv (default: all keys in
    first-seen order); `headers` maps keys to display headers and `human` keys to value formatters
    (`format_params`), both for table/markdown only.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    plain = _plain(data)
    if fmt == "json":
        try:
            return json.dumps(plain, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
        except ValueError:  # a NaN or infinity: JSON has none, and `NaN` breaks every strict reader
            return json.dumps(_finite(plain), indent=2, ensure_ascii=False) + "\n"
    if fmt == "yaml":
        import yaml

        return str(yaml.safe_dump(plain, sort_keys=False, allow_unicode=True))
    single = isinstance(plain, Mapping)
    rows = [flatten(r) if isinstance(r, Mapping) else {"value": r} for r in ([plain] if single else plain)]
    keys = _columns(rows, columns)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(keys)
        writer.writerows([_csv_cell(row.get(k)) for k in keys] for row in rows)
        return out.getvalue()
    if human:
        rows = [
            {k: human[k](v) if k in human and v is not None else v for k, v in row.items()} for row in rows
        ]
    if fmt == "html":  # a plain page with the table (listings); fit, recommend and plan have their own pages
        from sizer.render.html_page import render_table_html

        if single:
            rows = [{"field": headers.get(k, k) if headers else k, "value": rows[0].get(k)} for k in keys]
            keys, headers = ["field", "value"], {}
        return render_table_html(rows, keys, headers or {})
    if single:  # one record reads better as a field/value table
        vertical = [{"field": headers.get(k, k) if headers else k, "value": rows[0].get(k)} for k in keys]
        return _tabulate(vertical, ["field", "value"], {}, fmt, wrap=_WRAP_COLUMNS)
    return _tabulate(rows, keys, headers or {}, fmt)
