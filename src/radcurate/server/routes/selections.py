"""``/api/selections``: server-side selections (a query plus explicit includes and excludes)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from radcurate.server.auth import READ
from radcurate.server.deps import CatalogDep
from radcurate.server.errors import ERROR_RESPONSES
from radcurate.server.schemas_curation import SelectionBody, SelectionResponse, request_user
from radcurate.server.scope import ProjectsDep, scoped_selection

router = APIRouter(prefix="/selections", tags=["selections"], responses=ERROR_RESPONSES)


@router.post(
    "",
    operation_id="create_selection",
    name="create_selection",
    status_code=201,
    dependencies=[READ],
)
def create_selection(
    body: SelectionBody, request: Request, catalog: CatalogDep, projects: ProjectsDep
) -> SelectionResponse:
    """Store a selection; pass its ``id`` as ``selection_id`` to any bulk action. A user
    restricted to projects stores it restricted (``server/scope.py``)."""
    selection = scoped_selection(catalog, body.to_selection(), projects)
    stored = catalog.create_selection(selection, actor=request_user(request))
    return SelectionResponse.of(stored)


@router.get(
    "/{selection_id}", operation_id="get_selection", name="get_selection", dependencies=[READ]
)
def get_selection(selection_id: str, catalog: CatalogDep) -> SelectionResponse:
    """A stored selection, counted now."""
    return SelectionResponse.of(catalog.selection(selection_id))
