"""``/api/series/{uid}``: one series' document, results and instances."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from radcurate.server.auth import READ
from radcurate.server.deps import CatalogDep
from radcurate.server.errors import ERROR_RESPONSES, SeriesNotFoundError
from radcurate.server.schemas import InstancesResponse, SeriesResponse
from radcurate.server.scope import SEE_SERIES

router = APIRouter(prefix="/series", tags=["series"], responses=ERROR_RESPONSES)


@router.get(
    "/{series_uid}", operation_id="get_series", name="get_series", dependencies=[READ, SEE_SERIES]
)
def get_series(series_uid: str, catalog: CatalogDep) -> SeriesResponse:
    """The full document of a series (header and derived facts) and its ai/qc results."""
    document = catalog.series_document(series_uid)
    if document is None:
        raise SeriesNotFoundError(series_uid)
    curation = catalog.curation_of([series_uid])[series_uid]
    return SeriesResponse(
        series_uid=series_uid,
        document=document,
        results=catalog.results(series_uid),
        tags=curation["tags"],
        datasets=curation["datasets"],
    )


class ResultProvenance(BaseModel):
    """Who and what wrote one producer's results on a series."""

    producer: str
    version: str
    params: dict[str, Any]
    params_hash: str
    job_id: str | None
    input_hash: str | None
    actor: str
    written_at: str
    keys: list[str] = Field(description='Full field names, e.g. "ai.bodypart"')


class SeriesResults(BaseModel):
    """A series' ai/qc/clin results and, per producer, their provenance."""

    results: dict[str, dict[str, Any]]
    provenance: list[ResultProvenance]


@router.get(
    "/{series_uid}/results",
    operation_id="get_series_results",
    name="get_series_results",
    dependencies=[READ, SEE_SERIES],
)
def get_series_results(series_uid: str, catalog: CatalogDep) -> SeriesResults:
    """The results of a series with the provenance of each producer's set (newest last)."""
    if catalog.series_document(series_uid) is None:
        raise SeriesNotFoundError(series_uid)
    sets = catalog.result_store.result_sets(series_uid)
    return SeriesResults(
        results=catalog.results(series_uid),
        provenance=[ResultProvenance(**s.provenance.to_dict(), keys=s.keys) for s in sets],
    )


@router.get(
    "/{series_uid}/instances",
    operation_id="list_instances",
    name="list_instances",
    dependencies=[READ, SEE_SERIES],
)
def list_instances(series_uid: str, catalog: CatalogDep) -> InstancesResponse:
    """The instance rows of a series (files, positions, per-instance attributes)."""
    rows = catalog.instances(series_uid)
    if not rows and catalog.series_document(series_uid) is None:
        raise SeriesNotFoundError(series_uid)
    return InstancesResponse(series_uid=series_uid, items=[r.to_dict() for r in rows])
