"""``/api/jobs``: background work and its progress; the server's own thumbnail filling."""

from __future__ import annotations

import os
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from radcurate.catalog import CatalogBackend
from radcurate.catalog.jobs import JobRecord
from radcurate.jobs import LocalExecutor
from radcurate.jobs.thumbnails import THUMBNAILS, thumbnails_job
from radcurate.query import parse, to_text
from radcurate.query.ast import All
from radcurate.render.cache import ThumbnailCache
from radcurate.server.auth import CURATE, READ, CuratorDep, Principal, ReaderDep
from radcurate.server.deps import CatalogDep, SettingsDep
from radcurate.server.errors import ERROR_RESPONSES, error_response
from radcurate.server.schemas import ErrorDetail, ErrorResponse
from radcurate.server.scope import Projects, ProjectsDep, scoped
from radcurate.server.settings import ServerSettings

__all__ = ["router", "start_jobs"]

router = APIRouter(prefix="/jobs", tags=["jobs"], responses=ERROR_RESPONSES)

JobStateName = Literal["queued", "running", "done", "failed", "cancelled"]


def thumbnail_workers() -> int:
    """Processes a server thumbnail job renders in: all cores but one, so requests are
    still answered (1: in the job's thread)."""
    return max(1, (os.cpu_count() or 1) - 1)


def start_jobs(catalog: CatalogBackend, settings: ServerSettings) -> LocalExecutor:
    """The app's job executor; when ``settings.background_thumbnails``, a job filling the
    missing thumbnails of every series starts at once (progress in ``/api/jobs``)."""
    executor = LocalExecutor(catalog, max_workers=2)
    if settings.background_thumbnails:
        cache = ThumbnailCache(settings.thumbnail_root, settings.thumbnail_size)
        executor.submit(
            THUMBNAILS,
            thumbnails_job(cache, workers=thumbnail_workers()),
            {"query": None, "force": False, "trigger": "server startup"},
        )
    return executor


def get_executor(request: Request) -> LocalExecutor:
    """The executor the app started in its lifespan."""
    executor: LocalExecutor = request.app.state.jobs
    return executor


ExecutorDep = Annotated[LocalExecutor, Depends(get_executor)]


class Job(BaseModel):
    """One job and its progress (times in ISO 8601 UTC)."""

    model_config = ConfigDict(extra="allow")

    id: str
    kind: str
    state: JobStateName
    done: int
    total: int | None
    message: str
    started_at: str | None
    finished_at: str | None
    created_at: str | None
    error: str | None = None
    interrupted: bool = False
    result: dict[str, Any] | None = None
    params: dict[str, Any] = Field(default_factory=dict)


class JobList(BaseModel):
    """Jobs, newest first."""

    items: list[Job]


class ThumbnailJobRequest(BaseModel):
    """What a thumbnail job renders."""

    model_config = ConfigDict(extra="forbid")

    query: str | None = Field(
        default=None, description="Search language; empty or null: every series"
    )
    force: bool = Field(default=False, description="Re-render thumbnails already cached")


_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "No such job"}
}


def _not_found(job_id: str) -> JSONResponse:
    return error_response(404, ErrorDetail(code="job_not_found", message=f"no job {job_id}"))


@router.get("", operation_id="list_jobs", response_model=JobList, dependencies=[READ])
def list_jobs(
    catalog: CatalogDep,
    principal: ReaderDep,
    projects: ProjectsDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    state: JobStateName | None = None,
    kind: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, Any]:
    """Jobs, newest first; a job whose process died reads ``failed`` with ``interrupted``.
    A user restricted to projects sees the jobs they started."""
    found = catalog.jobs(limit=limit, state=state, kind=kind)
    return {"items": [j.to_dict() for j in found if _mine(j, principal, projects)]}


def _mine(record: JobRecord | None, principal: Principal, projects: Projects) -> bool:
    """Whether the request may see the job: unrestricted, or it started it."""
    if record is None:
        return False
    return projects is None or record.params.get("started_by") == principal.name


@router.get(
    "/{job_id}",
    operation_id="get_job",
    response_model=Job,
    responses=_NOT_FOUND,
    dependencies=[READ],
)
def get_job(job_id: str, catalog: CatalogDep, principal: ReaderDep, projects: ProjectsDep) -> Any:
    """One job and its progress."""
    record = catalog.job(job_id)
    return record.to_dict() if record and _mine(record, principal, projects) else _not_found(job_id)


@router.post(
    "/thumbnails",
    operation_id="start_thumbnail_job",
    response_model=Job,
    status_code=202,
    dependencies=[CURATE],
)
def start_thumbnail_job(
    catalog: CatalogDep,
    principal: CuratorDep,
    projects: ProjectsDep,
    settings: SettingsDep,
    executor: ExecutorDep,
    body: ThumbnailJobRequest | None = None,
) -> Any:
    """Start rendering the thumbnails of the series matching ``query`` (default: all).

    Answers at once with the queued job; follow it with ``GET /api/jobs/{id}``.
    """
    request = body or ThumbnailJobRequest()
    query = (request.query or "").strip() or None
    if query is not None:
        tree = parse(query, fields=[f.name for f in catalog.fields()])  # a bad query: 400 now
        query = to_text(scoped(tree, projects)) if projects is not None else query
    elif projects is not None:
        query = to_text(scoped(All(), projects))
    cache = ThumbnailCache(settings.thumbnail_root, settings.thumbnail_size)
    record = executor.submit(
        THUMBNAILS,
        thumbnails_job(cache, query=query, workers=thumbnail_workers(), force=request.force),
        {"query": query, "force": request.force, "trigger": "api", "started_by": principal.name},
    )
    return record.to_dict()


class JobSeriesError(BaseModel):
    """A series a job could not process, and why."""

    series_uid: str
    error: str


class JobErrors(BaseModel):
    """Per-series errors of a job (a page of them, and how many in all)."""

    total: int
    errors: list[JobSeriesError]


@router.get(
    "/{job_id}/errors",
    operation_id="get_job_errors",
    response_model=JobErrors,
    responses=_NOT_FOUND,
    dependencies=[READ],
)
def get_job_errors(
    job_id: str,
    catalog: CatalogDep,
    principal: ReaderDep,
    projects: ProjectsDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Any:
    """The series a job could not process, with the reason, in UID order."""
    if not _mine(catalog.job(job_id), principal, projects):
        return _not_found(job_id)
    total, errors = catalog.job_errors(job_id, limit=limit, offset=offset)
    return {"total": total, "errors": [{"series_uid": u, "error": e} for u, e in errors]}


@router.post(
    "/{job_id}/cancel",
    operation_id="cancel_job",
    response_model=Job,
    responses=_NOT_FOUND,
    dependencies=[CURATE],
)
def cancel_job(
    job_id: str, catalog: CatalogDep, principal: CuratorDep, projects: ProjectsDep
) -> Response | dict[str, Any]:
    """Ask a job to stop: a queued one is cancelled at once, a running one soon after."""
    if not _mine(catalog.job(job_id), principal, projects):
        return _not_found(job_id)
    return catalog.cancel_job(job_id).to_dict()
