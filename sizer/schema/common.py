"""Building blocks shared by every catalog entry: strict base model, ids, aliases, sources."""

from __future__ import annotations

import re
from typing import Annotated, Any, NewType

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "CatalogId",
    "Entry",
    "SourceUrl",
    "StrictModel",
    "canonicalize_name",
]

CatalogId = NewType("CatalogId", str)

_CANON_SEPARATORS = re.compile(r"[\s_\-/.]+")


def canonicalize_name(name: str) -> CatalogId:
    """The one normal form used for every lookup: lower case, separators folded away.

    ``"RTX 4090"``, ``"rtx-4090"`` and ``"rtx4090"`` all become ``"rtx4090"``; ``"H100 SXM"`` becomes
    ``"h100sxm"``. Catalog ids, aliases and Hugging Face repo names are compared in this form only.
    """
    return CatalogId(_CANON_SEPARATORS.sub("", name.strip().lower()))


_URL = re.compile(r"^https?://[A-Za-z0-9.-]+\.[A-Za-z]{2,}(:\d+)?(/\S*)?$")


def _check_url(value: str) -> str:
    if not _URL.match(value):
        raise ValueError(f"not a well-formed http(s) URL: {value!r}")
    return value


SourceUrl = Annotated[
    str,
    AfterValidator(_check_url),
    Field(description="An http(s) URL where the figure can be checked."),
]

_ID = r"^[a-z0-9][a-z0-9._+]*(-[a-z0-9._+]+)*$"


class StrictModel(BaseModel):
    """Strict, frozen, no unknown fields: a typo in a catalog file is an error, not a silent default.
    No float is NaN or infinite (`.inf` in YAML is refused with its file:line).

    `defer_build`: pydantic builds a model's validator and serializer on first use, not when the
    class is created; a catalog read from the cache (`sizer.catalog.cache`) never needs them.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, defer_build=True, allow_inf_nan=False)


class Entry(StrictModel):
    """Fields every catalog entry has."""

    id: Annotated[
        str,
        Field(
            pattern=_ID,
            description="Lower-case kebab-case identifier, unique across the catalog (e.g. nvidia-h100-sxm-80gb).",
        ),
    ]
    aliases: list[str] = Field(
        default_factory=list,
        description="Other names that resolve to this entry (compared case- and separator-insensitively).",
    )
    sources: list[SourceUrl] = Field(
        min_length=1,
        description="Where the entry's figures come from; every figure is covered by at least one of these.",
    )
    figure_sources: dict[str, SourceUrl] = Field(
        default_factory=dict,
        description="Per-field sources where a figure comes from somewhere else than `sources` "
        "(an overlay's price list, a measurement); keys are field names of this entry.",
    )
    notes: str | None = Field(default=None, description="Caveats, conflicts between sources, how a figure was derived.")

    @model_validator(mode="after")
    def _figure_sources_name_fields(self) -> Any:
        unknown = sorted(set(self.figure_sources) - set(type(self).model_fields))
        if unknown:
            raise ValueError(f"figure_sources names unknown field(s): {', '.join(unknown)}")
        return self
