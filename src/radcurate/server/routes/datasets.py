"""``/api/datasets``: datasets, bulk membership of a selection, frozen versions and diffs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from radcurate.catalog.curation import DatasetInfo, DatasetVersion
from radcurate.server.auth import ADMIN, CURATE, READ
from radcurate.server.deps import CatalogDep
from radcurate.server.errors import ERROR_RESPONSES
from radcurate.server.schemas_curation import (
    BulkRequest,
    BulkResponse,
    DatasetCreate,
    DatasetItem,
    DatasetList,
    DatasetUpdate,
    DeletedResponse,
    DiffResponse,
    FreezeRequest,
    VersionItem,
    VersionList,
    request_user,
)
from radcurate.server.scope import ProjectsDep, visible_uids

router = APIRouter(prefix="/datasets", tags=["datasets"], responses=ERROR_RESPONSES)


def _item(info: DatasetInfo) -> DatasetItem:
    return DatasetItem(
        name=info.name,
        description=info.description,
        series=info.series,
        studies=info.studies,
        patients=info.patients,
        versions=info.versions,
    )


def _version(v: DatasetVersion) -> VersionItem:
    return VersionItem(
        version=v.version,
        content_hash=v.content_hash,
        series_count=v.series_count,
        instance_count=v.instance_count,
        created_at=v.created_at,
        created_by=v.created_by,
        note=v.note,
        created=v.created,
        series_uids=None if v.series_uids is None else list(v.series_uids),
    )


@router.get("", operation_id="list_datasets", name="list_datasets", dependencies=[READ])
def list_datasets(catalog: CatalogDep) -> DatasetList:
    """Every dataset with its series, study and patient counts."""
    return DatasetList(items=[_item(d) for d in catalog.datasets()])


@router.post(
    "", operation_id="create_dataset", name="create_dataset", status_code=201, dependencies=[CURATE]
)
def create_dataset(body: DatasetCreate, request: Request, catalog: CatalogDep) -> DatasetItem:
    """A new, empty dataset (409 when the name is taken in any case)."""
    return _item(catalog.create_dataset(body.name, body.description, actor=request_user(request)))


@router.get("/{name}", operation_id="get_dataset", name="get_dataset", dependencies=[READ])
def get_dataset(name: str, catalog: CatalogDep) -> DatasetItem:
    """One dataset."""
    return _item(catalog.dataset(name))


@router.patch(
    "/{name}", operation_id="update_dataset", name="update_dataset", dependencies=[CURATE]
)
def update_dataset(
    name: str, body: DatasetUpdate, request: Request, catalog: CatalogDep
) -> DatasetItem:
    """Rename and/or describe a dataset."""
    info = catalog.update_dataset(
        name, new_name=body.name, description=body.description, actor=request_user(request)
    )
    return _item(info)


@router.delete(
    "/{name}", operation_id="delete_dataset", name="delete_dataset", dependencies=[ADMIN]
)
def delete_dataset(
    name: str,
    request: Request,
    catalog: CatalogDep,
    force: Annotated[bool, Query(description="Also delete its frozen versions.")] = False,
) -> DeletedResponse:
    """Delete a dataset (one with frozen versions only with ``force=true``)."""
    removed = catalog.delete_dataset(name, force=force, actor=request_user(request))
    return DeletedResponse(name=name, series_count=removed)


@router.post(
    "/{name}/add", operation_id="add_to_dataset", name="add_to_dataset", dependencies=[CURATE]
)
def add_to_dataset(
    name: str, body: BulkRequest, request: Request, catalog: CatalogDep, projects: ProjectsDep
) -> BulkResponse:
    """Add every series of a selection."""
    result = catalog.add_to_dataset(
        name, body.resolve(catalog, projects), actor=request_user(request)
    )
    return BulkResponse(changed=result.changed, series_count=result.series_count)


@router.post(
    "/{name}/remove",
    operation_id="remove_from_dataset",
    name="remove_from_dataset",
    dependencies=[CURATE],
)
def remove_from_dataset(
    name: str, body: BulkRequest, request: Request, catalog: CatalogDep, projects: ProjectsDep
) -> BulkResponse:
    """Remove every series of a selection (frozen versions keep them)."""
    result = catalog.remove_from_dataset(
        name, body.resolve(catalog, projects), actor=request_user(request)
    )
    return BulkResponse(changed=result.changed, series_count=result.series_count)


@router.post(
    "/{name}/versions", operation_id="freeze_dataset", name="freeze_dataset", dependencies=[CURATE]
)
def freeze_dataset(
    name: str, request: Request, catalog: CatalogDep, body: FreezeRequest | None = None
) -> VersionItem:
    """Freeze the current membership (``created`` is false when it equals the latest version)."""
    note = body.note if body is not None else None
    return _version(catalog.freeze_dataset(name, note, actor=request_user(request)))


@router.get(
    "/{name}/versions",
    operation_id="list_dataset_versions",
    name="list_dataset_versions",
    dependencies=[READ],
)
def list_versions(name: str, catalog: CatalogDep) -> VersionList:
    """The frozen versions, oldest first."""
    return VersionList(items=[_version(v) for v in catalog.dataset_versions(name)])


@router.get(
    "/{name}/versions/{version}",
    operation_id="get_dataset_version",
    name="get_dataset_version",
    dependencies=[READ],
)
def get_version(name: str, version: int, catalog: CatalogDep, projects: ProjectsDep) -> VersionItem:
    """One frozen version with its member SeriesInstanceUIDs (a user restricted to
    projects gets those of their projects only)."""
    item = _version(catalog.dataset_version(name, version))
    if projects is not None and item.series_uids is not None:
        seen = visible_uids(catalog, item.series_uids, projects)
        item.series_uids = [u for u in item.series_uids if u in seen]
    return item


@router.get(
    "/{name}/diff",
    operation_id="diff_dataset_versions",
    name="diff_dataset_versions",
    dependencies=[READ],
)
def diff_versions(
    name: str,
    catalog: CatalogDep,
    a: Annotated[int, Query(ge=1, description="The older version.")],
    b: Annotated[int, Query(ge=1, description="The newer version.")],
    projects: ProjectsDep,
) -> DiffResponse:
    """Series added and removed from version ``a`` to version ``b`` (those a user restricted
    to projects may see)."""
    added, removed = catalog.diff_dataset_versions(name, a, b)
    if projects is not None:
        seen = visible_uids(catalog, [*added, *removed], projects)
        added, removed = [u for u in added if u in seen], [u for u in removed if u in seen]
    return DiffResponse(a=a, b=b, added=added, removed=removed)
