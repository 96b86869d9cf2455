"""The application factory."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from radcurate.catalog import CatalogBackend, open_catalog
from radcurate.server.auth import install_auth, stamp_permissions
from radcurate.server.disconnect import CancelOnDisconnect
from radcurate.server.errors import install_error_handlers
from radcurate.server.fieldnames import KnownFields
from radcurate.server.request_guard import RequestGuard
from radcurate.server.routes import (
    aggregate,
    audit,
    auth,
    autocomplete,
    bias,
    clinical,
    dashboard_layouts,
    dataset_card,
    datasets,
    dicomweb,
    dicomweb_stow,
    exports,
    fields,
    info,
    jobs,
    oidc,
    projects,
    qc,
    review,
    search,
    search_groups,
    selections,
    series,
    tags,
    thumbnails,
    user_settings,
    users,
    viewer,
    webui,
    workflows,
)
from radcurate.server.schemas_curation import install_curation_errors
from radcurate.server.settings import ServerSettings

API_PREFIX = "/api"


#: seconds a shutdown waits for the index build started with the server
WARM_JOIN_S = 10.0


def _warm_index(catalog: CatalogBackend) -> threading.Thread | None:
    """Build (or load and refresh) the search index in the background from the start, so
    the first searches need not wait for it (about a minute at 1,000,000 series); a search
    that comes earlier waits for this build instead of starting its own. The thread, which
    the shutdown waits for before it closes the catalog (closing a SQLite connection under
    a running read crashed the process)."""
    build = getattr(catalog, "search_index", None)
    if build is None:
        return None

    def run() -> None:
        try:
            build()
        except Exception:  # noqa: BLE001 - the first query builds it then, and says why
            logging.getLogger(__name__).warning("the search index could not be built at start")

    thread = threading.Thread(target=run, name="radcurate-index-warmup", daemon=True)
    thread.start()
    return thread


def create_app(
    settings: ServerSettings | None = None, catalog: CatalogBackend | None = None
) -> FastAPI:
    """Build the API.

    Parameters
    ----------
    settings
        Default: :meth:`ServerSettings.from_env`.
    catalog
        An open catalog to serve (the caller keeps and closes it); by default
        the app opens ``settings.catalog_url`` at startup and closes it on shutdown.
    """
    settings = settings or ServerSettings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = catalog is None
        app.state.catalog = (
            open_catalog(settings.catalog_url, index_dir=settings.home / "index")
            if catalog is None
            else catalog
        )
        app.state.jobs = jobs.start_jobs(app.state.catalog, settings)
        warming = _warm_index(app.state.catalog) if owned else None
        try:
            yield
        finally:
            app.state.jobs.shutdown()
            if warming is not None:
                warming.join(WARM_JOIN_S)
            if owned and warming is not None and warming.is_alive():
                # still building (a large catalog): the process exit ends the thread and the
                # connections; closing them under its read would crash the process
                logging.getLogger(__name__).warning(
                    "the search index was still being built: the catalog is left to the exit"
                )
            elif owned:
                app.state.catalog.close()

    app = FastAPI(
        title="radcurate",
        summary="Search and browse a catalog of DICOM series.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.known_fields = KnownFields()
    install_error_handlers(app)
    install_curation_errors(app)
    install_auth(app)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["*"],
            expose_headers=["ETag"],
        )
    # outermost: a foreign Host or a cross-origin write never reaches a route
    app.add_middleware(
        RequestGuard,
        allowed_hosts=settings.allowed_hosts,
        trusted_origins=settings.cors_origins,
    )
    # around everything: a request whose client is gone stops its query work (server/disconnect.py)
    app.add_middleware(CancelOnDisconnect)
    for module in (auth, oidc, users, projects):  # sign-in, users, tokens (docs/auth.md)
        app.include_router(stamp_permissions(module.router), prefix=API_PREFIX)
    for module in (search, aggregate, autocomplete, series, thumbnails, viewer, fields, info, qc):
        app.include_router(stamp_permissions(module.router), prefix=API_PREFIX)
    app.include_router(stamp_permissions(search_groups.router), prefix=API_PREFIX)  # by patient
    app.include_router(
        stamp_permissions(bias.router), prefix=API_PREFIX
    )  # bias metrics and dataset shift
    for module in (jobs, workflows):  # background work
        app.include_router(stamp_permissions(module.router), prefix=API_PREFIX)
    for module in (tags, datasets, selections, review, audit, user_settings):  # curation
        app.include_router(stamp_permissions(module.router), prefix=API_PREFIX)
    app.include_router(stamp_permissions(dashboard_layouts.router), prefix=API_PREFIX)  # shared
    app.include_router(stamp_permissions(clinical.router), prefix=API_PREFIX)  # clinical tables
    app.include_router(stamp_permissions(dataset_card.router), prefix=API_PREFIX)  # dataset cards
    app.include_router(stamp_permissions(exports.router), prefix=API_PREFIX)  # exports (jobs)
    app.include_router(stamp_permissions(dicomweb.router))  # /dicomweb: QIDO-RS, WADO-RS
    app.include_router(stamp_permissions(dicomweb_stow.router))  # /dicomweb: STOW-RS
    # last: its catch-all answers every other GET with the single-page app
    app.include_router(stamp_permissions(webui.router))
    return app
