"""``/api/dashboard-layouts``: named dashboard layouts shared between the users of a catalog.

Any signed-in user may list, read and apply them, and share one of their own (they own it);
its owner may replace or delete it, and so may a curator or an admin (docs/auth.md). A
user's current layout is part of their own settings (``dashboard`` in ``/api/settings``);
applying a shared one copies it there (docs/ui.md, "Dashboard layouts").
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from radcurate.auth import Permission
from radcurate.catalog.layout_store import SharedLayout
from radcurate.catalog.result_types import iso_time
from radcurate.server.auth import READ, ReaderDep
from radcurate.server.deps import CatalogDep
from radcurate.server.errors import ERROR_RESPONSES

router = APIRouter(prefix="/dashboard-layouts", tags=["settings"], responses=ERROR_RESPONSES)


class LayoutBody(BaseModel):
    """``PUT /api/dashboard-layouts/{name}``."""

    layout: dict[str, Any] = Field(
        description='{"charts": [{"field", "zoom", "height"}], "width"}: the dashboard'
    )
    description: str = ""


class LayoutPublic(BaseModel):
    """A shared layout."""

    name: str
    owner: str
    description: str
    layout: dict[str, Any]
    created_at: str
    updated_at: str


class LayoutList(BaseModel):
    """Every shared layout, by name."""

    items: list[LayoutPublic]


def _public(found: SharedLayout) -> LayoutPublic:
    return LayoutPublic(
        name=found.name,
        owner=found.owner,
        description=found.description,
        layout=found.layout,
        created_at=iso_time(found.created_at),
        updated_at=iso_time(found.updated_at),
    )


@router.get("", operation_id="list_dashboard_layouts", name="list_dashboard_layouts",
            dependencies=[READ])  # fmt: skip
def list_dashboard_layouts(catalog: CatalogDep) -> LayoutList:
    """The shared dashboard layouts."""
    return LayoutList(items=[_public(found) for found in catalog.layouts.list()])


@router.get("/{name}", operation_id="get_dashboard_layout", name="get_dashboard_layout",
            dependencies=[READ])  # fmt: skip
def get_dashboard_layout(name: str, catalog: CatalogDep) -> LayoutPublic:
    """One shared layout (its name in any case)."""
    return _public(catalog.layouts.get(name))


@router.put("/{name}", operation_id="put_dashboard_layout", name="put_dashboard_layout")
def put_dashboard_layout(
    name: str, body: LayoutBody, catalog: CatalogDep, principal: ReaderDep
) -> LayoutPublic:
    """Share a layout under ``name``, or replace it (its owner, a curator or an admin: 403
    for anyone else)."""
    saved = catalog.layouts.save(
        name,
        body.layout,
        actor=principal.name,
        description=body.description,
        may_replace_others=principal.can(Permission.CURATE),
    )
    return _public(saved)


@router.delete(
    "/{name}", operation_id="delete_dashboard_layout", name="delete_dashboard_layout",
    status_code=204,
)  # fmt: skip
def delete_dashboard_layout(name: str, catalog: CatalogDep, principal: ReaderDep) -> Response:
    """Delete a shared layout (its owner, a curator or an admin: 403 for anyone else)."""
    catalog.layouts.delete(
        name, actor=principal.name, may_delete_others=principal.can(Permission.CURATE)
    )
    return Response(status_code=204)
