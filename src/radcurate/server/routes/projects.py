"""``/api/projects`` (projects, their members and series) and ``/api/access-log``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from radcurate.catalog.project_store import ProjectInfo
from radcurate.catalog.result_types import iso_time
from radcurate.server.auth import ADMIN, AdminDep, ReaderDep
from radcurate.server.deps import CatalogDep
from radcurate.server.errors import ERROR_RESPONSES
from radcurate.server.schemas_curation import BulkRequest, BulkResponse, request_user

router = APIRouter(tags=["projects"], responses=ERROR_RESPONSES)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProjectItem(BaseModel):
    """A project as the API shows it."""

    name: str
    description: str
    ae_title: str | None
    created_at: str
    members: list[str]
    series_count: int

    @classmethod
    def of(cls, info: ProjectInfo) -> ProjectItem:
        """The API shape of a stored project."""
        return cls(
            name=info.name,
            description=info.description,
            ae_title=info.ae_title,
            created_at=iso_time(info.created_at),
            members=list(info.members),
            series_count=info.series_count,
        )


class ProjectList(BaseModel):
    """Projects, by name."""

    items: list[ProjectItem]


class ProjectCreate(_Strict):
    """``POST /api/projects``."""

    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    ae_title: str | None = None


class ProjectUpdate(_Strict):
    """``PATCH /api/projects/{name}``: ``ae_title`` null removes it, absent keeps it."""

    description: str | None = None
    ae_title: str | None = None


class MembersBody(_Strict):
    """``POST /api/projects/{name}/members``: users to add and to remove."""

    add: list[str] = Field(default_factory=list)
    remove: list[str] = Field(default_factory=list)


class AccessItem(BaseModel):
    """One recorded view of a series' images."""

    at: str
    user: str
    action: str
    patient_id: str | None
    study_uid: str | None
    series_uid: str | None


class AccessList(BaseModel):
    """Recorded views, newest first."""

    items: list[AccessItem]


@router.get("/projects", operation_id="list_projects", name="list_projects")
def list_projects(principal: ReaderDep, catalog: CatalogDep) -> ProjectList:
    """Projects: an admin sees all, anyone else the ones they are a member of."""
    mine = None if principal.is_admin else set(catalog.projects.of_user(principal.name))
    items = [
        ProjectItem.of(p) for p in catalog.projects.list_all() if mine is None or p.name in mine
    ]
    return ProjectList(items=items)


@router.post(
    "/projects",
    status_code=201,
    operation_id="create_project",
    name="create_project",
    dependencies=[ADMIN],
)
def create_project(body: ProjectCreate, request: Request, catalog: CatalogDep) -> ProjectItem:
    """A new project (409 when the name or AE title is taken). Once a project exists,
    non-admins see only the series of their projects."""
    info = catalog.projects.create(
        body.name,
        actor=request_user(request),
        description=body.description,
        ae_title=body.ae_title,
    )
    return ProjectItem.of(info)


@router.patch(
    "/projects/{name}", operation_id="update_project", name="update_project", dependencies=[ADMIN]
)
def update_project(
    name: str, body: ProjectUpdate, request: Request, catalog: CatalogDep
) -> ProjectItem:
    """Change the description or AE title."""
    clear = "ae_title" in body.model_fields_set and body.ae_title is None
    info = catalog.projects.update(
        name,
        actor=request_user(request),
        description=body.description,
        ae_title=body.ae_title,
        clear_ae_title=clear,
    )
    return ProjectItem.of(info)


@router.delete(
    "/projects/{name}",
    status_code=204,
    operation_id="delete_project",
    name="delete_project",
    dependencies=[ADMIN],
)
def delete_project(name: str, request: Request, catalog: CatalogDep) -> Response:
    """Delete a project (its series stay in the catalog)."""
    catalog.projects.delete(name, actor=request_user(request))
    return Response(status_code=204)


@router.post(
    "/projects/{name}/members",
    operation_id="set_project_members",
    name="set_project_members",
    dependencies=[ADMIN],
)
def set_members(name: str, body: MembersBody, request: Request, catalog: CatalogDep) -> ProjectItem:
    """Add and remove members."""
    info = catalog.projects.set_members(
        name, add=body.add, remove=body.remove, actor=request_user(request)
    )
    return ProjectItem.of(info)


@router.post(
    "/projects/{name}/add",
    operation_id="add_to_project",
    name="add_to_project",
    dependencies=[ADMIN],
)
def add_to_project(
    name: str, body: BulkRequest, request: Request, catalog: CatalogDep
) -> BulkResponse:
    """Put every series of a selection into the project."""
    result = catalog.projects.assign(name, body.resolve(catalog), actor=request_user(request))
    return BulkResponse(changed=result.changed, series_count=result.series_count)


@router.post(
    "/projects/{name}/remove",
    operation_id="remove_from_project",
    name="remove_from_project",
    dependencies=[ADMIN],
)
def remove_from_project(
    name: str, body: BulkRequest, request: Request, catalog: CatalogDep
) -> BulkResponse:
    """Take every series of a selection out of the project."""
    result = catalog.projects.unassign(name, body.resolve(catalog), actor=request_user(request))
    return BulkResponse(changed=result.changed, series_count=result.series_count)


@router.get("/access-log", operation_id="list_access_log", name="list_access_log")
def access_log(
    _: AdminDep,
    catalog: CatalogDep,
    user: Annotated[str | None, Query(max_length=64)] = None,
    patient_id: Annotated[str | None, Query(max_length=200)] = None,
    series_uid: Annotated[str | None, Query(max_length=64)] = None,
    since: Annotated[datetime | None, Query(description="ISO 8601 time")] = None,
    until: Annotated[datetime | None, Query(description="ISO 8601 time")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> AccessList:
    """Who viewed which series' images (admins: a privacy officer's view), newest first."""
    entries = catalog.access_log.entries(
        user=user,
        patient_id=patient_id,
        series_uid=series_uid,
        since=None if since is None else since.timestamp(),
        until=None if until is None else until.timestamp(),
        limit=limit,
    )
    return AccessList(
        items=[
            AccessItem(
                at=iso_time(e.at),
                user=e.user,
                action=e.action,
                patient_id=e.patient_id,
                study_uid=e.study_uid,
                series_uid=e.series_uid,
            )
            for e in entries
        ]
    )
