"""Review statuses: one series (``/api/series/{uid}/review``), a selection (``/api/review``)
and a query's progress (``/api/review/progress``). The reviewer is the request's user."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from radcurate.server.auth import CURATE, READ
from radcurate.server.deps import CatalogDep, KnownFieldsDep
from radcurate.server.errors import ERROR_RESPONSES
from radcurate.server.schemas_curation import (
    ReviewBody,
    ReviewBulkRequest,
    ReviewBulkResponse,
    ReviewProgressResponse,
    ReviewResponse,
    request_user,
)
from radcurate.server.scope import SEE_SERIES, ProjectsDep

router = APIRouter(tags=["review"], responses=ERROR_RESPONSES)


@router.get(
    "/series/{series_uid}/review",
    operation_id="get_review",
    name="get_review",
    dependencies=[READ, SEE_SERIES],
)
def get_review(series_uid: str, catalog: CatalogDep) -> ReviewResponse:
    """The review of a series (``pending`` with no reviewer when never reviewed)."""
    return ReviewResponse.of(catalog.reviews.review(series_uid))


@router.put(
    "/series/{series_uid}/review",
    operation_id="set_review",
    name="set_review",
    dependencies=[CURATE, SEE_SERIES],
)
def set_review(
    series_uid: str, body: ReviewBody, request: Request, catalog: CatalogDep
) -> ReviewResponse:
    """Set a series' status and note (404 for an unknown series); the same status and note
    again change nothing."""
    review = catalog.reviews.set_review(
        series_uid, body.status, body.note, actor=request_user(request)
    )
    return ReviewResponse.of(review)


@router.post(
    "/review", operation_id="review_selection", name="review_selection", dependencies=[CURATE]
)
def review_selection(
    body: ReviewBulkRequest, request: Request, catalog: CatalogDep, projects: ProjectsDep
) -> ReviewBulkResponse:
    """Set the status and note of every series of a selection (one transaction)."""
    result = catalog.reviews.set_reviews(
        body.resolve(catalog, projects), body.status, body.note, actor=request_user(request)
    )
    return ReviewBulkResponse(changed=result.changed, total=result.series_count)


@router.get(
    "/review/progress", operation_id="review_progress", name="review_progress", dependencies=[READ]
)
def review_progress(
    catalog: CatalogDep,
    known: KnownFieldsDep,
    q: Annotated[str, Query(description="Query text (docs/query-language.md).")] = "",
) -> ReviewProgressResponse:
    """How many of the query's series are reviewed, per status."""
    return ReviewProgressResponse.of(catalog.reviews.progress(known.parse(catalog, q)))
