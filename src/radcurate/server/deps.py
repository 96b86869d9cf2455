"""Dependencies of the routes, as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from radcurate.catalog import CatalogBackend
from radcurate.server.fieldnames import KnownFields, ScopedFields
from radcurate.server.scope import request_projects
from radcurate.server.settings import ServerSettings


def get_catalog(request: Request) -> CatalogBackend:
    """The catalog the app opened in its lifespan (or was given)."""
    catalog: CatalogBackend = request.app.state.catalog
    return catalog


def get_settings(request: Request) -> ServerSettings:
    """The settings the app was created with."""
    settings: ServerSettings = request.app.state.settings
    return settings


def get_known_fields(request: Request) -> ScopedFields:
    """The app's cached field registry, used to parse queries, scoped to the request's
    projects (``server/scope.py``)."""
    known: KnownFields = request.app.state.known_fields
    return ScopedFields(known, request_projects(request))


CatalogDep = Annotated[CatalogBackend, Depends(get_catalog)]
SettingsDep = Annotated[ServerSettings, Depends(get_settings)]
KnownFieldsDep = Annotated[ScopedFields, Depends(get_known_fields)]
