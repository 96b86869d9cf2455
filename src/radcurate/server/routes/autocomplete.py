"""``/api/autocomplete``: field names, then values of a field, with how many series have them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from radcurate.server.auth import READ
from radcurate.server.deps import CatalogDep, KnownFieldsDep
from radcurate.server.errors import ERROR_RESPONSES
from radcurate.server.schemas import FieldPublic, FieldsResponse, ValuesResponse, ValueSuggestion

router = APIRouter(prefix="/autocomplete", tags=["autocomplete"], responses=ERROR_RESPONSES)


@router.get(
    "/fields", operation_id="autocomplete_fields", name="autocomplete_fields", dependencies=[READ]
)
def autocomplete_fields(
    catalog: CatalogDep,
    prefix: Annotated[str, Query(description="Start of the name (any case).")] = "",
    limit: Annotated[int, Query(ge=1, le=1000)] = 20,
) -> FieldsResponse:
    """Field names starting with ``prefix`` (then containing it), most common first."""
    start = prefix.casefold()
    fields = [*catalog.fields(), *catalog.result_fields()]
    first = [f for f in fields if f.name.casefold().startswith(start)]
    inner = [f for f in fields if start in f.name.casefold() and f not in first] if start else []
    items = [
        FieldPublic(name=f.name, type=str(f.type), series_count=f.series_count)
        for f in (first + inner)[:limit]
    ]
    return FieldsResponse(items=items)


@router.get(
    "/values", operation_id="autocomplete_values", name="autocomplete_values", dependencies=[READ]
)
def autocomplete_values(
    catalog: CatalogDep,
    known: KnownFieldsDep,
    field: Annotated[str, Query(description="The field whose values to suggest.")],
    prefix: Annotated[str, Query(description="Start of the value (any case).")] = "",
    q: Annotated[
        str, Query(description="The current query; its own terms on the field are ignored.")
    ] = "",
    limit: Annotated[int, Query(ge=1, le=1000)] = 10,
) -> ValuesResponse:
    """Values of ``field`` among the series ``q`` matches, most frequent first."""
    tree = known.parse(catalog, q)
    known.parse(catalog, f"has:{field}")  # an unknown field: 400 naming near ones
    found = catalog.suggest_values(field, prefix, tree, limit)
    return ValuesResponse(
        field=field, items=[ValueSuggestion(value=s.value, count=s.count) for s in found]
    )
