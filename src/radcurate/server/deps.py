"""Dependencies of the routes, as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from radcurate.catalog import CatalogBackend
from radcurate.server.fieldnames import KnownFields
from radcurate.server.settings import ServerSettings


def get_catalog(request: Request) -> CatalogBackend:
    """The catalog the app opened in its lifespan (or was given)."""
    catalog: CatalogBackend = request.app.state.catalog
    return catalog


def get_settings(request: Request) -> ServerSettings:
    """The settings the app was created with."""
    settings: ServerSettings = request.app.state.settings
    return settings


def get_known_fields(request: Request) -> KnownFields:
    """The app's cached field registry, used to parse queries."""
    known: KnownFields = request.app.state.known_fields
    return known


CatalogDep = Annotated[CatalogBackend, Depends(get_catalog)]
SettingsDep = Annotated[ServerSettings, Depends(get_settings)]
KnownFieldsDep = Annotated[KnownFields, Depends(get_known_fields)]
