"""``/api/tags``: tags with colours, autocomplete with counts, bulk tagging of a selection."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from radcurate.server.auth import CURATE, READ
from radcurate.server.deps import CatalogDep
from radcurate.server.errors import ERROR_RESPONSES
from radcurate.server.schemas_curation import (
    BulkRequest,
    BulkResponse,
    DeletedResponse,
    TagCreate,
    TagItem,
    TagList,
    TagUpdate,
    request_user,
)
from radcurate.server.scope import ProjectsDep

router = APIRouter(prefix="/tags", tags=["tags"], responses=ERROR_RESPONSES)


@router.get("", operation_id="list_tags", name="list_tags", dependencies=[READ])
def list_tags(
    catalog: CatalogDep,
    prefix: Annotated[str, Query(description="Names starting with this (any case).")] = "",
    limit: Annotated[int | None, Query(ge=1, le=10000)] = None,
) -> TagList:
    """Tags (autocomplete: give ``prefix``), most used first, with their series counts."""
    return TagList(
        items=[
            TagItem(name=t.name, color=t.color, series_count=t.series_count)
            for t in catalog.tags(prefix, limit)
        ]
    )


@router.post(
    "", operation_id="create_tag", name="create_tag", status_code=201, dependencies=[CURATE]
)
def create_tag(body: TagCreate, request: Request, catalog: CatalogDep) -> TagItem:
    """A new tag (409 when the name is taken in any case)."""
    tag = catalog.create_tag(body.name, body.color, actor=request_user(request))
    return TagItem(name=tag.name, color=tag.color, series_count=tag.series_count)


@router.get("/{name}", operation_id="get_tag", name="get_tag", dependencies=[READ])
def get_tag(name: str, catalog: CatalogDep) -> TagItem:
    """One tag."""
    tag = catalog.tag(name)
    return TagItem(name=tag.name, color=tag.color, series_count=tag.series_count)


@router.patch("/{name}", operation_id="update_tag", name="update_tag", dependencies=[CURATE])
def update_tag(name: str, body: TagUpdate, request: Request, catalog: CatalogDep) -> TagItem:
    """Rename and/or recolour (``"color": null`` removes the colour)."""
    clear = "color" in body.model_fields_set and body.color is None
    tag = catalog.update_tag(
        name,
        new_name=body.name,
        color=body.color,
        clear_color=clear,
        actor=request_user(request),
    )
    return TagItem(name=tag.name, color=tag.color, series_count=tag.series_count)


@router.delete("/{name}", operation_id="delete_tag", name="delete_tag", dependencies=[CURATE])
def delete_tag(name: str, request: Request, catalog: CatalogDep) -> DeletedResponse:
    """Delete a tag; every series loses it."""
    removed = catalog.delete_tag(name, actor=request_user(request))
    return DeletedResponse(name=name, series_count=removed)


@router.post(
    "/{name}/add", operation_id="tag_selection", name="tag_selection", dependencies=[CURATE]
)
def tag_selection(
    name: str, body: BulkRequest, request: Request, catalog: CatalogDep, projects: ProjectsDep
) -> BulkResponse:
    """Tag every series of a selection (the tag is created when missing)."""
    result = catalog.tag_series(name, body.resolve(catalog, projects), actor=request_user(request))
    return BulkResponse(changed=result.changed, series_count=result.series_count)


@router.post(
    "/{name}/remove", operation_id="untag_selection", name="untag_selection", dependencies=[CURATE]
)
def untag_selection(
    name: str, body: BulkRequest, request: Request, catalog: CatalogDep, projects: ProjectsDep
) -> BulkResponse:
    """Remove a tag from every series of a selection (404 for an unknown tag)."""
    result = catalog.untag_series(
        name, body.resolve(catalog, projects), actor=request_user(request)
    )
    return BulkResponse(changed=result.changed, series_count=result.series_count)
