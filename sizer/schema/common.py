"""Building blocks shared by every catalog entry: strict base model, ids, aliases, sources."""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal, NewType

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "AVAILABILITY",
    "CatalogId",
    "DateText",
    "Entry",
    "PricedEntry",
    "SourceUrl",
    "StrictModel",
    "canonicalize_name",
    "date_key",
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

_DATE = r"^(19|20)\d\d(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?$"

DateText = Annotated[
    str,
    Field(pattern=_DATE, description="A date: YYYY-MM-DD, or YYYY-MM / YYYY where only the month or year is known."),
]
AVAILABILITY = ("on_sale", "discontinued", "announced")


def date_key(text: str) -> str:
    """A date, month or year as a sortable YYYY-MM-DD string (a bare month or year counts from its first day)."""
    return text + "-01-01"[len(text) - 4:] if len(text) < 10 else text


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


class PricedEntry(Entry):
    """An entry that can be bought: its price carries a date (and a source), and it has an availability.

    The price's source is `figure_sources[<price field>]` where given, else the entry's `sources`. A
    price without a `price_date` is rejected; `discontinued` needs the date it stopped being sold.
    """

    price_date: DateText | None = Field(
        default=None, description="When the price was observed or announced (YYYY-MM-DD or YYYY-MM)."
    )
    availability: Literal["on_sale", "discontinued", "announced"] = Field(
        default="on_sale",
        description="on_sale: can be bought now; discontinued: no longer sold new (see discontinued_date); "
        "announced: not yet shipping (see available_from).",
    )
    available_from: DateText | None = Field(
        default=None, description="First day it could be bought (launch or first shipments), where known."
    )
    discontinued_date: DateText | None = Field(
        default=None, description="When the vendor stopped selling it (required when discontinued)."
    )
    availability_source: SourceUrl | None = Field(
        default=None, description="Where the availability (discontinuation, shipping date) is reported."
    )

    _price_fields: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="after")
    def _dated_price_and_availability(self) -> Any:
        if any(getattr(self, f) is not None for f in self._price_fields) and self.price_date is None:
            raise ValueError(f"{'/'.join(self._price_fields)} needs a price_date (every price carries its date)")
        if self.availability == "discontinued" and self.discontinued_date is None:
            raise ValueError("availability discontinued needs a discontinued_date")
        if self.availability != "discontinued" and self.discontinued_date is not None:
            raise ValueError(f"discontinued_date given but availability is {self.availability}")
        if self.discontinued_date is not None and self.availability_source is None:
            raise ValueError("a discontinued_date needs an availability_source")
        if (self.available_from and self.discontinued_date
                and date_key(self.discontinued_date) < date_key(self.available_from)):
            raise ValueError("discontinued_date is before available_from")
        return self

    def purchasable(self, as_of: str) -> bool:
        """Could it be bought new on `as_of` (YYYY-MM-DD)? Announced parts count from `available_from`."""
        day = date_key(as_of)
        if self.available_from is not None and day < date_key(self.available_from):
            return False
        if self.availability == "announced" and self.available_from is None:
            return False
        return not (self.discontinued_date is not None and day >= date_key(self.discontinued_date))
