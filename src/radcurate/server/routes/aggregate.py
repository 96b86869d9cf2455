"""``/api/aggregate``: counts and per-field distributions of a query's matches (the dashboard)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from radcurate.catalog.aggregations import AggregationError, AggregationRequest
from radcurate.server.auth import READ
from radcurate.server.deps import CatalogDep, KnownFieldsDep
from radcurate.server.errors import ERROR_RESPONSES
from radcurate.server.schemas import AggregateBody, AggregateResponse

router = APIRouter(tags=["aggregate"], responses=ERROR_RESPONSES)


def _names(text: str | None) -> list[str]:
    return [n.strip() for n in (text or "").split(",") if n.strip()]


def _answer(
    catalog: CatalogDep,
    known: KnownFieldsDep,
    query: str | dict[str, Any],
    requests: list[AggregationRequest],
) -> AggregateResponse:
    tree = known.parse(catalog, query)
    for request in requests:
        known.parse(catalog, f"has:{request.field}")  # an unknown field: 400 naming near ones
    result = catalog.aggregate(tree, requests)
    return AggregateResponse.model_validate(result.to_dict())


@router.post("/aggregate", operation_id="aggregate", name="aggregate", dependencies=[READ])
def aggregate_post(
    catalog: CatalogDep, known: KnownFieldsDep, body: AggregateBody
) -> AggregateResponse:
    """Series/study/patient counts and several aggregations of the matching series at once."""
    try:
        requests = [AggregationRequest(**a.model_dump()) for a in body.aggregations]
    except AggregationError as exc:
        raise _bad(exc) from exc
    return _answer(catalog, known, body.query, requests)


@router.get("/aggregate", operation_id="aggregate_get", name="aggregate_get", dependencies=[READ])
def aggregate_get(
    catalog: CatalogDep,
    known: KnownFieldsDep,
    q: Annotated[str, Query(description="Query text (docs/query-language.md).")] = "",
    terms: Annotated[str | None, Query(description="Comma-separated fields: top values.")] = None,
    histogram: Annotated[str | None, Query(description="Comma-separated numeric fields.")] = None,
    date_histogram: Annotated[str | None, Query(description="Comma-separated date fields.")] = None,
    size: Annotated[int, Query(ge=1, le=1000, description="Values per terms aggregation.")] = 10,
    bins: Annotated[int, Query(ge=1, le=200, description="Bins per histogram.")] = 20,
) -> AggregateResponse:
    """Like ``POST /api/aggregate``, with the fields named per aggregation type."""
    try:
        requests = [AggregationRequest(f, "terms", size=size) for f in _names(terms)]
        requests += [AggregationRequest(f, "histogram", bins=bins) for f in _names(histogram)]
        requests += [AggregationRequest(f, "date_histogram") for f in _names(date_histogram)]
    except AggregationError as exc:
        raise _bad(exc) from exc
    return _answer(catalog, known, q, requests)


def _bad(exc: Exception) -> HTTPException:
    return HTTPException(status_code=400, detail=str(exc))
