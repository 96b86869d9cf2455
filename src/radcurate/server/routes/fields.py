"""``/api/fields``: the field registry, for autocompletion."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from radcurate.server.auth import READ
from radcurate.server.deps import CatalogDep
from radcurate.server.errors import ERROR_RESPONSES
from radcurate.server.schemas import FieldPublic, FieldsResponse

router = APIRouter(tags=["fields"], responses=ERROR_RESPONSES)


@router.get("/fields", operation_id="list_fields", name="list_fields", dependencies=[READ])
def list_fields(
    catalog: CatalogDep,
    prefix: Annotated[str, Query(description="Only names starting with this (any case).")] = "",
    limit: Annotated[int | None, Query(ge=1)] = None,
) -> FieldsResponse:
    """Fields the catalog's series have, most common first, with their type: the DICOM
    and derived fields of the registry, then the ``ai.*``/``qc.*``/``clin.*`` results."""
    start = prefix.casefold()
    items = [
        FieldPublic(name=f.name, type=str(f.type), series_count=f.series_count)
        for f in [*catalog.fields(), *catalog.result_fields()]
        if f.name.casefold().startswith(start)
    ]
    return FieldsResponse(items=items if limit is None else items[:limit])
