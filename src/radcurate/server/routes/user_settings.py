"""``/api/settings``: per-user settings kept server-side (cards, shortcuts, saved searches,
the dashboard's layout)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from radcurate.catalog.layout_store import check_layout
from radcurate.server.auth import READ
from radcurate.server.deps import CatalogDep
from radcurate.server.errors import ERROR_RESPONSES
from radcurate.server.schemas_curation import SettingsBody, SettingsResponse, request_user

router = APIRouter(prefix="/settings", tags=["settings"], responses=ERROR_RESPONSES)


@router.get("", operation_id="get_user_settings", name="get_user_settings", dependencies=[READ])
def get_user_settings(request: Request, catalog: CatalogDep) -> SettingsResponse:
    """The settings of the acting user (``X-Radcurate-User``), ``{}`` when none were saved."""
    user = request_user(request)
    return SettingsResponse(user=user, settings=catalog.user_settings(user))


@router.put("", operation_id="put_user_settings", name="put_user_settings", dependencies=[READ])
def put_user_settings(
    body: SettingsBody, request: Request, catalog: CatalogDep
) -> SettingsResponse:
    """Replace the acting user's settings (``dashboard``: their dashboard layout, checked
    as a shared one is, ``catalog/layout_store.py``)."""
    user = request_user(request)
    settings = dict(body.settings)
    if settings.get("dashboard") is not None:
        settings["dashboard"] = check_layout(settings["dashboard"])
    return SettingsResponse(user=user, settings=catalog.set_user_settings(settings, user))
