"""``/api/series/{uid}``: one series' document, results and instances."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from radcurate.dicom.dictionary import document_entries
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


class HeaderElement(BaseModel):
    """One document key's data dictionary entry."""

    tag: str = Field(description='8 hex digits, "00180050"; "" for a fact radcurate derives')
    vr: str = Field(description='The dictionary\'s VR ("DS", "OB or OW"); "" when unknown')
    name: str = Field(description='The standard\'s name, "Slice Thickness"')
    private: bool


class SeriesHeader(BaseModel):
    """The tag, VR and name of every key of a series document (sequence items' included)."""

    series_uid: str
    elements: dict[str, HeaderElement]


@router.get(
    "/{series_uid}/header",
    operation_id="get_series_header",
    name="get_series_header",
    dependencies=[READ, SEE_SERIES],
)
def get_series_header(series_uid: str, catalog: CatalogDep) -> SeriesHeader:
    """The data dictionary entries of a series document's keys (the header table's Tag and VR)."""
    document = catalog.series_document(series_uid)
    if document is None:
        raise SeriesNotFoundError(series_uid)
    entries = document_entries(document)
    return SeriesHeader(
        series_uid=series_uid,
        elements={
            key: HeaderElement(tag=e.tag, vr=e.vr, name=e.name, private=e.private)
            for key, e in sorted(entries.items())
        },
    )
