"""``/api/qc``: the registered quality checks with their counts in a query (the QC panel)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from radcurate.server.auth import READ
from radcurate.server.deps import CatalogDep, KnownFieldsDep
from radcurate.server.errors import ERROR_RESPONSES
from radcurate.workflow.qc_summary import check_counts

router = APIRouter(prefix="/qc", tags=["qc"], responses=ERROR_RESPONSES)


class QCCheckCount(BaseModel):
    """A check (docs/qc.md), its workflow, and how many series of the query fail it."""

    field: str = Field(description="The qc.* result path the check writes")
    title: str
    meaning: str
    tolerance: str
    fails: str = Field(description="Query text selecting the failing series")
    family: str
    severity: str = Field(description="error, warning or info")
    workflow: str = Field(description="The registered workflow that computes it")
    count: int = Field(description="Series of the query failing the check")
    checked: int = Field(description="Series of the query the check ran on")


class QCChecksResponse(BaseModel):
    """Every check with its counts within ``query`` (``total`` series match the query)."""

    query: str
    total: int
    checks: list[QCCheckCount]


@router.get("/checks", operation_id="list_qc_checks", name="list_qc_checks", dependencies=[READ])
def list_qc_checks(
    catalog: CatalogDep,
    known: KnownFieldsDep,
    q: Annotated[str, Query(description="Query text (docs/query-language.md).")] = "",
) -> QCChecksResponse:
    """The registered QC checks, each with the number of series of ``q`` failing it."""
    node = known.parse(catalog, q)
    counts = check_counts(catalog, node, lambda text: known.parse(catalog, text))
    return QCChecksResponse(
        query=q,
        total=catalog.count(node),
        checks=[QCCheckCount(**c.to_dict()) for c in counts],
    )
