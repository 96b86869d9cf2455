"""``/dicomweb/studies`` POST: STOW-RS (instances are copied into the store and ingested).

A body that is not ``multipart/related; type="application/dicom"`` is a 415, one over
``RADCURATE_MAX_STOW_BYTES`` a 413 (streamed to disk, never held in memory).

``?project=NAME`` puts the stored series into that project (an unknown one is a 404 before
anything is read). A request restricted to projects (a signed-in non-admin once projects
exist, ``server/scope.py``) may store only into one of its own (403 otherwise); without
``?project=`` a user of exactly one project stores into it, one of several must say which
(400).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from radcurate.catalog import CatalogBackend
from radcurate.catalog.curation_types import CurationNotFoundError, actor_name
from radcurate.dicomweb import multipart, stow
from radcurate.server.auth import CURATE, authenticate
from radcurate.server.deps import CatalogDep, SettingsDep
from radcurate.server.routes import dicomweb_common as web
from radcurate.server.routes.dicomweb_common import DICOM_JSON, PREFIX
from radcurate.server.scope import request_projects
from radcurate.storage import StorageError

router = APIRouter(prefix=PREFIX, tags=["dicomweb"])


def _too_large(limit: int) -> JSONResponse:
    return web.error(
        413,
        "request_too_large",
        f"a STOW-RS request may hold at most {limit} bytes (RADCURATE_MAX_STOW_BYTES): "
        "send the instances in several requests",
    )


def _target_project(
    request: Request, catalog: CatalogBackend, asked: str | None
) -> str | JSONResponse | None:
    """The project a STOW-RS request stores into (None: none), or the error answer."""
    mine = request_projects(request)  # None: unrestricted (admin, auth off, no projects)
    if asked is not None:
        try:
            name = catalog.projects.get(asked).name
        except CurationNotFoundError:
            return web.error(
                404,
                "project_not_found",
                f"no project {asked!r}: an admin makes it with `radcurate project create`",
            )
        if mine is not None and name not in mine:
            return web.error(
                403, "forbidden", f"you are not a member of project {name!r}; nothing was stored"
            )
        return name
    if mine is None:
        return None
    if len(mine) == 1:
        return mine[0]
    if not mine:
        return web.error(
            403, "forbidden", "you are a member of no project: ask an admin to add you to one"
        )
    return web.error(
        400,
        "project_required",
        f"you are a member of several projects ({', '.join(mine)}): say which one to store "
        "into with ?project=NAME",
    )


async def _stow(
    request: Request,
    catalog: CatalogBackend,
    settings: SettingsDep,
    study: str | None,
    asked_project: str | None = None,
) -> Response:
    project = _target_project(request, catalog, asked_project)
    if isinstance(project, JSONResponse):
        return project
    principal = authenticate(request)
    actor = principal.name if principal is not None else actor_name(None)
    media, params = multipart.parse_header(request.headers.get("content-type", ""))
    part_type = params.get("type", "application/dicom").lower()
    if media != "multipart/related" or "boundary" not in params:
        return web.error(
            415,
            "unsupported_media_type",
            'STOW-RS takes multipart/related; type="application/dicom" with a boundary',
        )
    if part_type != "application/dicom":
        return web.error(
            415,
            "unsupported_media_type",
            f"only application/dicom parts are stored, not {part_type}",
        )
    store_url = web.store_url(request, settings.home)
    try:
        folder = stow.staging_folder(store_url)
    except (ValueError, StorageError) as exc:
        return web.error(501, "store_not_supported", str(exc))
    except OSError as exc:
        return web.cannot_store(request, store_url, exc)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > settings.max_stow_bytes:
        return _too_large(settings.max_stow_bytes)  # refused before a byte is read
    body = await stow.receive_body(request.stream(), folder, settings.max_stow_bytes)
    if body is None:
        return _too_large(settings.max_stow_bytes)
    parts: list[multipart.FilePart] = []
    try:
        parts = await run_in_threadpool(multipart.split_file, body, params["boundary"], folder)
        body.unlink(missing_ok=True)
        if not parts:
            return web.error(400, "invalid_multipart", "the request holds no instances")
        outcome = await run_in_threadpool(
            stow.store_parts,
            parts,
            catalog,
            store_url,
            study,
            settings.allow_replace,
            project=project,
            actor=actor,
        )
    except multipart.MultipartError as exc:
        return web.error(400, "invalid_multipart", str(exc))
    except (ValueError, StorageError) as exc:
        return web.error(501, "store_not_supported", str(exc))
    except OSError as exc:
        return web.cannot_store(request, store_url, exc)
    finally:
        body.unlink(missing_ok=True)
        for part in parts:
            part.path.unlink(missing_ok=True)
    return JSONResponse(
        outcome.to_json(web.base_url(request), study),
        status_code=outcome.status(),
        media_type=DICOM_JSON,
    )


#: ``?project=NAME``
ProjectQuery = Annotated[
    str | None,
    Query(description="Put the stored series into this project (you must be a member)."),
]


@router.post("/studies", operation_id="stow_studies", dependencies=[CURATE])
async def store_instances(
    request: Request, catalog: CatalogDep, settings: SettingsDep, project: ProjectQuery = None
) -> Response:
    """STOW-RS: store instances (they are copied into the store and ingested)."""
    return await _stow(request, catalog, settings, None, project)


@router.post("/studies/{study}", operation_id="stow_study", dependencies=[CURATE])
async def store_study_instances(
    study: str,
    request: Request,
    catalog: CatalogDep,
    settings: SettingsDep,
    project: ProjectQuery = None,
) -> Response:
    """STOW-RS: store instances of one study (others are refused)."""
    return await _stow(request, catalog, settings, study, project)
