"""The JSON Schema of catalog files, generated from the pydantic models (for editors; the models are the
authority). One document per kind of entry (a file holds a list of them) and `catalog.schema.json` for an
overlay mixing kinds, where each entry names its `kind`. `sizer catalog schema` prints them; the committed
copies live in gpu_catalog/schemas/.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Union

from pydantic import Field, TypeAdapter

from sizer.catalog.loading import KIND_MODELS

__all__ = ["ANY_KIND_FILE", "schema_documents", "schema_file_name", "schema_text"]

ANY_KIND_FILE = "catalog.schema.json"


def schema_file_name(kind: str | None) -> str:
    """`accelerator.schema.json` for one kind, `catalog.schema.json` for entries of any kind."""
    return f"{kind}.schema.json" if kind else ANY_KIND_FILE


def schema_documents() -> dict[str, dict[str, Any]]:
    """File name -> JSON Schema: one per kind (a file holds a list of entries) and `catalog` (any kind)."""
    documents: dict[str, dict[str, Any]] = {}
    for kind, model in KIND_MODELS.items():
        schema = TypeAdapter(list[model]).json_schema()  # type: ignore[valid-type]
        documents[schema_file_name(kind)] = {"title": f"sizer catalog: {kind} entries", **schema}
    any_entry = Annotated[Union[tuple(KIND_MODELS.values())], Field(discriminator="kind")]  # type: ignore[valid-type]  # noqa: UP007
    schema = TypeAdapter(list[any_entry]).json_schema()  # type: ignore[valid-type]
    documents[ANY_KIND_FILE] = {
        "title": "sizer catalog overlay: entries of any kind (each names its kind)",
        **schema,
    }
    return documents


def schema_text(document: dict[str, Any]) -> str:
    """The text written for one schema document: indented JSON with a trailing newline."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
