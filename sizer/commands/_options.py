"""Options and parameter types shared by the command modules.

ParamTypes turn strings into typed values and fail with `click.BadParameter` (exit 2, naming the
option): `TokenCount` (`32k`), `ParamCount` (`37B`), `MemorySize` (`768GB`, bytes), `GpuSpecType`
(`NAME[:COUNT]`). `get_catalog()` loads the catalog with the overlays the root group collected.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, get_args

import click

from sizer.commands._state import CliState
from sizer.errors import BadValueError
from sizer.render.formats import FORMATS
from sizer.units import parse_gpu_spec, parse_memory_bytes, parse_param_count, parse_ram_spec, parse_token_count

if TYPE_CHECKING:
    from pydantic import BaseModel

    from sizer.catalog.loading import Catalog

__all__ = [
    "GPU_SPEC",
    "MEMORY_SIZE",
    "PARAM_COUNT",
    "RAM_SPEC",
    "TOKEN_COUNT",
    "GpuSpecType",
    "MemorySize",
    "ParamCount",
    "RamSpec",
    "TokenCount",
    "FiniteFloat",
    "finite",
    "format_option",
    "get_catalog",
    "schema_choices",
    "sources_option",
]

F = TypeVar("F", bound=Callable[..., Any])


class _Parsed(click.ParamType):  # type: ignore[type-arg]  # generic in click >= 8.2 only
    """A ParamType around one of `sizer.units`' parsers."""

    parser: Callable[[str], Any]

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value  # already converted (a default)
        try:
            return type(self).parser(value)
        except BadValueError as exc:
            self.fail(str(exc), param, ctx)


class TokenCount(_Parsed):
    """Token counts: 32k, 128K, 1M, 32768."""

    name = "tokens"
    parser = staticmethod(parse_token_count)


class ParamCount(_Parsed):
    """Parameter counts: 1T, 37B, 7.6e9."""

    name = "params"
    parser = staticmethod(parse_param_count)


class MemorySize(_Parsed):
    """Memory sizes in bytes: 768 (GB), 768GB, 512GiB, 1.5TB."""

    name = "size"
    parser = staticmethod(parse_memory_bytes)


class RamSpec(_Parsed):
    """Host RAM with an optional DIMM type: 128GB, 128GB:DDR4 -> (bytes, type or None)."""

    name = "size[:DDR4|DDR5]"
    parser = staticmethod(parse_ram_spec)


class GpuSpecType(_Parsed):
    """NAME[:COUNT], e.g. h100:8 or "RTX 4090:2" (the name is resolved against the catalog later)."""

    name = "gpu"
    parser = staticmethod(parse_gpu_spec)


class FiniteFloat(click.FloatRange):
    """A float option within [min, max] that is never NaN nor infinite (click's FloatRange lets
    `nan` through every bound, and `inf` through a lower one)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


def finite(min: float | None = None, max: float | None = None, *, min_open: bool = False) -> FiniteFloat:
    """A float option type that rejects NaN and infinity (exit 2, naming the option)."""
    return FiniteFloat(min=min, max=max, min_open=min_open)


TOKEN_COUNT = TokenCount()
PARAM_COUNT = ParamCount()
MEMORY_SIZE = MemorySize()
GPU_SPEC = GpuSpecType()
RAM_SPEC = RamSpec()


def format_option(default: str = "table") -> Callable[[F], F]:
    """`--format table|json|yaml|csv|markdown` (-f), passed as `fmt`."""
    return click.option(
        "-f",
        "--format",
        "fmt",
        type=click.Choice(FORMATS, case_sensitive=False),
        default=default,
        show_default=True,
        help="Output format.",
    )


def sources_option(func: F) -> F:
    """`--sources`: add the source URLs of the figures shown."""
    return click.option(
        "--sources", "show_sources", is_flag=True, help="Add the source URLs of the figures."
    )(func)


def get_catalog() -> Catalog:
    """The catalog with the overlays of the current invocation (--catalog, SIZER_CATALOG)."""
    from sizer.catalog.loading import load_catalog

    state = click.get_current_context().find_object(CliState)
    return load_catalog(state.overlays if state is not None else ())


def schema_choices(model: type[BaseModel], field: str) -> list[str]:
    """The values a catalog schema allows in a Literal field (`Accelerator.segment`, ...): a click choice
    that repeats a schema enum is derived from it, so the two cannot drift apart."""
    annotation = model.model_fields[field].annotation
    values = [v for v in get_args(annotation) if isinstance(v, str)]
    if not values:
        raise TypeError(f"{model.__name__}.{field} is not a Literal of strings")
    return values
