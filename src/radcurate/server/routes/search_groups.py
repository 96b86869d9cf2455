"""``/api/search/groups``: a query's matches by patient, then by study (the structured gallery).

Patients come page by page with how many of their studies and series match; the studies of
one patient on demand; the series of a study are an ordinary ``/api/search`` of
``(query) (term)``. Every group names the ``term`` that selects its series, so the UI turns
a ticked patient or study into a server-side selection (``catalog/groups.py``). The query is
scoped to the request's projects like every other (``server/scope.py``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from radcurate.catalog.groups import MAX_GROUP_PAGE, GroupPage, PatientGroup, StudyGroup
from radcurate.server.auth import READ
from radcurate.server.deps import CatalogDep, KnownFieldsDep
from radcurate.server.errors import ERROR_RESPONSES

router = APIRouter(tags=["search"], responses=ERROR_RESPONSES)

Level = Literal["patients", "studies"]


class GroupsRequest(BaseModel):
    """``POST /api/search/groups``."""

    query: str | dict[str, Any] = Field(default="", description="Query text or its JSON tree.")
    level: Level = Field(
        default="patients",
        description="patients: the query's patients; studies: the studies of patient_id.",
    )
    patient_id: str | None = Field(
        default=None,
        description="level=studies: the patient (null: the series without a PatientID).",
    )
    limit: int = Field(default=100, ge=1, le=MAX_GROUP_PAGE)
    cursor: str | None = Field(default=None, description="next_cursor of the previous page.")


class PatientGroupItem(BaseModel):
    """A patient with matching series."""

    patient_id: str | None = Field(description="null: the series without a PatientID")
    studies: int = Field(description="its studies with a matching series")
    series: int = Field(description="its matching series")
    term: str = Field(description="query term selecting its series: send (query) (term)")


class StudyGroupItem(BaseModel):
    """A study of one patient with matching series."""

    study_uid: str
    patient_id: str | None
    series: int = Field(description="its matching series")
    study_date: str | None
    study_description: str | None
    modalities: list[str]
    term: str = Field(description="query term selecting its series: send (query) (term)")


class GroupsResponse(BaseModel):
    """One page of groups."""

    level: Level
    total: int = Field(description="groups at this level (patients, or the patient's studies)")
    series: int = Field(description="matching series of every group at this level")
    studies: int = Field(description="matching studies of every group at this level")
    items: list[PatientGroupItem] | list[StudyGroupItem]
    next_cursor: str | None


def _answer(
    catalog: CatalogDep,
    known: KnownFieldsDep,
    query: str | dict[str, Any],
    level: Level,
    patient_id: str | None,
    limit: int,
    cursor: str | None,
) -> GroupsResponse:
    tree = known.parse(catalog, query)
    page: GroupPage
    items: list[PatientGroupItem] | list[StudyGroupItem]
    if level == "patients":
        page = catalog.patient_groups(tree, limit=limit, after=cursor or None)
        items = [_patient(g) for g in page.items]
    else:
        page = catalog.study_groups(tree, patient_id, limit=limit, after=cursor or None)
        items = [_study(g) for g in page.items]
    return GroupsResponse(
        level=level,
        total=page.total,
        series=page.series,
        studies=page.studies,
        items=items,
        next_cursor=page.next_cursor,
    )


def _patient(group: PatientGroup) -> PatientGroupItem:
    return PatientGroupItem(
        patient_id=group.patient_id, studies=group.studies, series=group.series, term=group.term
    )


def _study(group: StudyGroup) -> StudyGroupItem:
    return StudyGroupItem(
        study_uid=group.study_uid,
        patient_id=group.patient_id,
        series=group.series,
        study_date=group.study_date,
        study_description=group.study_description,
        modalities=list(group.modalities),
        term=group.term,
    )


@router.post(
    "/search/groups", operation_id="search_groups", name="search_groups", dependencies=[READ]
)
def search_groups(
    catalog: CatalogDep, known: KnownFieldsDep, body: GroupsRequest
) -> GroupsResponse:
    """A page of the query's patients (with matching study and series counts), or of one
    patient's studies, each with the query term that selects its series."""
    return _answer(catalog, known, body.query, body.level, body.patient_id, body.limit, body.cursor)


@router.get(
    "/search/groups",
    operation_id="search_groups_get",
    name="search_groups_get",
    dependencies=[READ],
)
def search_groups_get(
    catalog: CatalogDep,
    known: KnownFieldsDep,
    q: Annotated[str, Query(description="Query text (docs/query-language.md).")] = "",
    level: Annotated[Level, Query(description="patients, or studies of patient_id")] = "patients",
    patient_id: Annotated[
        str | None, Query(description="level=studies: the patient (absent: without PatientID)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_GROUP_PAGE)] = 100,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page.")] = None,
) -> GroupsResponse:
    """Like ``POST /api/search/groups``, the query as text."""
    return _answer(catalog, known, q, level, patient_id, limit, cursor)
