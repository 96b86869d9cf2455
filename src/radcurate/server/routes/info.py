"""``/api/info`` and ``/api/errors``: what the catalog holds and what it skipped."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from radcurate.server.auth import READ
from radcurate.server.deps import CatalogDep
from radcurate.server.errors import ERROR_RESPONSES
from radcurate.server.paths import PathViewDep
from radcurate.server.schemas import ErrorsResponse, FileErrorPublic, InfoResponse

router = APIRouter(tags=["catalog"], responses=ERROR_RESPONSES)


@router.get("/info", operation_id="get_info", name="get_info", dependencies=[READ])
def get_info(catalog: CatalogDep) -> InfoResponse:
    """Counts of patients, studies, series, instances, files and skipped files."""
    return InfoResponse(**catalog.info().to_dict())


@router.get("/errors", operation_id="list_errors", name="list_errors", dependencies=[READ])
def list_errors(
    catalog: CatalogDep,
    paths: PathViewDep,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 1000,
) -> ErrorsResponse:
    """Files that could not be ingested, by path (an admin's; others: the file name or the
    path below the store), with a one-line reason."""
    return ErrorsResponse(
        items=[
            FileErrorPublic(
                path=paths.path(e.source),
                size=e.size,
                mtime_ns=e.mtime_ns,
                reason=paths.text(e.reason),
            )
            for e in catalog.errors(limit)
        ]
    )
