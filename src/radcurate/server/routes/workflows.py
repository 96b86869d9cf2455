"""``/api/workflows``: the registered workflows and runs of them on a selection."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from radcurate.catalog import CatalogBackend
from radcurate.jobs.workflows import WORKFLOW_KIND, workflow_job
from radcurate.server.auth import CURATE, READ, CuratorDep
from radcurate.server.deps import CatalogDep, SettingsDep
from radcurate.server.errors import ERROR_RESPONSES
from radcurate.server.routes.jobs import ExecutorDep, Job, thumbnail_workers
from radcurate.server.schemas import ErrorResponse
from radcurate.server.scope import ProjectsDep, visible_uids
from radcurate.workflow import WorkflowRequestError, WorkflowSelection
from radcurate.workflow.registry import default_registry

router = APIRouter(prefix="/workflows", tags=["workflows"], responses=ERROR_RESPONSES)


class WorkflowDescription(BaseModel):
    """A registered workflow and the JSON Schema of its parameters."""

    name: str
    title: str
    description: str
    version: str
    group: str = Field(description="Entry-point group: workflows, annotators or qc_checks")
    params_schema: dict[str, Any]


class SelectionBody(BaseModel):
    """Series matching ``query``, plus ``include``, minus ``exclude``."""

    model_config = ConfigDict(extra="forbid")

    query: str | dict[str, Any] | None = None
    include: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)


class WorkflowRunRequest(BaseModel):
    """What to run a workflow on (one of selection, selection_id, dataset, uids) and how."""

    model_config = ConfigDict(extra="forbid")

    selection: SelectionBody | None = None
    selection_id: str | None = Field(default=None, description="A stored selection")
    dataset: str | None = None
    dataset_version: int | None = Field(default=None, ge=1)
    uids: list[str] | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    force: bool = Field(default=False, description="Also process series that are up to date")


@router.get(
    "", operation_id="list_workflows", response_model=list[WorkflowDescription], dependencies=[READ]
)
def list_workflows() -> list[dict[str, Any]]:
    """Every loadable workflow (annotators and QC checks too) with its parameter schema."""
    return [info.to_dict() for info in default_registry().infos()]


@router.post(
    "/{name}/runs",
    operation_id="start_workflow_run",
    response_model=Job,
    status_code=202,
    responses={404: {"model": ErrorResponse, "description": "No such workflow"}},
    dependencies=[CURATE],
)
def start_workflow_run(
    name: str,
    body: WorkflowRunRequest,
    catalog: CatalogDep,
    settings: SettingsDep,
    executor: ExecutorDep,
    principal: CuratorDep,
    projects: ProjectsDep,
) -> Any:
    """Start a workflow on a selection; answers at once with the queued job
    (follow it with ``GET /api/jobs/{id}``, its errors with ``/api/jobs/{id}/errors``)."""
    step = default_registry().get(name)
    step.parse_params(body.params)  # bad parameters: 422 now, not a failed job later
    selection = _selection(body, catalog)
    uids = selection.resolve(catalog)  # a bad query or unknown dataset: 4xx now
    if projects is not None:  # a user restricted to projects runs on what they may see
        selection = WorkflowSelection(uids=tuple(sorted(visible_uids(catalog, uids, projects))))
    function = workflow_job(
        step,
        selection,
        body.params,
        force=body.force,
        workers=thumbnail_workers(),
        home=str(settings.home),
    )
    params = {
        "workflow": step.name,
        "params": step.parse_params(body.params).model_dump(mode="json"),
        "selection": selection.as_given(),
        "force": body.force,
        "trigger": "api",
        "started_by": principal.name,
    }
    return executor.submit(WORKFLOW_KIND, function, params).to_dict()


def _selection(body: WorkflowRunRequest, catalog: CatalogBackend) -> WorkflowSelection:
    given = [
        body.selection is not None,
        body.selection_id is not None,
        body.dataset is not None,
        body.uids is not None,
    ]
    if sum(given) != 1:
        raise WorkflowRequestError("give exactly one of selection, selection_id, dataset or uids")
    if body.dataset_version is not None and body.dataset is None:
        raise WorkflowRequestError("dataset_version needs dataset")
    if body.selection is not None:
        s = body.selection
        return WorkflowSelection(s.query, tuple(s.include), tuple(s.exclude))
    if body.selection_id is not None:
        stored = catalog.stored_selection(body.selection_id)
        return WorkflowSelection(stored.query, stored.include, stored.exclude)
    if body.dataset is not None:
        return WorkflowSelection(dataset=body.dataset, version=body.dataset_version)
    return WorkflowSelection(uids=tuple(body.uids or ()))
