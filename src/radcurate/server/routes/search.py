"""``/api/search`` and ``/api/count``: the query language over HTTP."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request

from radcurate.catalog.search import SortSpec
from radcurate.query.ast import Node
from radcurate.query.explain import explain as explain_match
from radcurate.query.reference import DEFAULT_TEXT_FIELDS, SearchRecord
from radcurate.server.auth import READ
from radcurate.server.deps import CatalogDep, KnownFieldsDep
from radcurate.server.errors import ERROR_RESPONSES
from radcurate.server.schemas import (
    MAX_PAGE_SIZE,
    CountResponse,
    MatchedValue,
    SearchRequest,
    SearchResponse,
    SeriesItem,
)

router = APIRouter(tags=["search"], responses=ERROR_RESPONSES)

#: stands for the series UID in the thumbnail URL template of a page
_UID_SLOT = "__series_uid__"

#: fields of each result when the request names none
DEFAULT_FIELDS = (
    "SeriesInstanceUID",
    "Modality",
    "StudyDate",
    "SeriesDescription",
    "instance_count",
)


def _field_names(text: str | None) -> list[str] | None:
    """``a,b`` -> [a, b]; ``*`` -> None (whole documents); nothing -> the defaults."""
    if text is None or not text.strip():
        return list(DEFAULT_FIELDS)
    names = [name.strip() for name in text.split(",") if name.strip()]
    return None if names == ["*"] else names


def _page(
    request: Request,
    catalog: CatalogDep,
    known: KnownFieldsDep,
    query: str | dict[str, Any],
    names: list[str] | None,
    sort: str | None,
    limit: int,
    cursor: str | None,
    explain: bool = False,
) -> SearchResponse:
    tree = known.parse(catalog, query)
    spec = SortSpec.parse(sort)  # "cannot sort by 'a b': not a field name"
    if spec.field is not None:
        # an unknown sort field is a 400 naming the near fields, like an unknown query field
        known.parse(catalog, f"has:{spec.field}")
    # one catalog round trip per page: documents and total come back together
    page = catalog.search(tree, limit=limit, after=cursor or None, sort=sort or None)
    root = request.scope.get("root_path", "")  # behind a proxy that mounts the app under a path
    # one route lookup per page, not per card (url_path_for walks every route)
    template = root + request.app.url_path_for("get_thumbnail", series_uid=_UID_SLOT)
    items = []
    text_fields = tuple(getattr(catalog, "search_text_fields", DEFAULT_TEXT_FIELDS))
    for doc in page.documents:
        uid = str(doc.get("SeriesInstanceUID", ""))
        selected = doc if names is None else {n: doc.get(n) for n in names}
        url = template.replace(_UID_SLOT, quote(uid, safe=""))
        marks = page.curation.get(uid, {})
        tags, datasets = marks.get("tags", []), marks.get("datasets", [])
        items.append(
            SeriesItem(
                series_uid=uid,
                fields=selected,
                thumbnail_url=url,
                tags=tags,
                datasets=datasets,
                review=str(doc.get("review") or "pending"),
                matched=_matched(tree, doc, tags, datasets, text_fields) if explain else None,
            )
        )
    return SearchResponse(
        total=page.total,
        studies=page.studies,
        patients=page.patients,
        items=items,
        next_cursor=page.next_cursor,
    )


def _matched(
    tree: Node, doc: dict[str, Any], tags: list[str], datasets: list[str], fields: tuple[str, ...]
) -> list[MatchedValue]:
    record = SearchRecord(doc, tags=list(tags), datasets=list(datasets))
    return [MatchedValue(**vars(m)) for m in explain_match(tree, record, text_fields=fields)]


@router.get("/search", operation_id="search_series", name="search_series", dependencies=[READ])
def search_series(
    request: Request,
    catalog: CatalogDep,
    known: KnownFieldsDep,
    q: Annotated[str, Query(description="Query text (docs/query-language.md).")] = "",
    fields: Annotated[
        str | None, Query(description="Comma-separated fields of each item; * for all.")
    ] = None,
    sort: Annotated[str | None, Query(description="Sort field, '-' in front to descend.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page.")] = None,
    explain: Annotated[
        bool, Query(description="Give each item the values its free-text terms matched.")
    ] = False,
) -> SearchResponse:
    """One page of the series matching a query."""
    return _page(request, catalog, known, q, _field_names(fields), sort, limit, cursor, explain)


@router.post(
    "/search", operation_id="search_series_post", name="search_series_post", dependencies=[READ]
)
def search_series_post(
    request: Request, catalog: CatalogDep, known: KnownFieldsDep, body: SearchRequest
) -> SearchResponse:
    """Like ``GET /api/search``, the query given as text or as its JSON tree."""
    names: list[str] | None = list(DEFAULT_FIELDS) if body.fields is None else body.fields
    if names == ["*"]:
        names = None
    return _page(
        request, catalog, known, body.query, names, body.sort, body.limit, body.cursor,
        body.explain,
    )  # fmt: skip


@router.get("/count", operation_id="count_series", name="count_series", dependencies=[READ])
def count_series(
    catalog: CatalogDep,
    known: KnownFieldsDep,
    q: Annotated[str, Query(description="Query text (docs/query-language.md).")] = "",
) -> CountResponse:
    """How many series, studies and patients match a query."""
    counts = catalog.counts(known.parse(catalog, q))
    return CountResponse(series=counts.series, studies=counts.studies, patients=counts.patients)
