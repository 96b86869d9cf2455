"""Response (and request) bodies of the API, separate from the catalog's own types."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

#: the largest page a search may ask for
MAX_PAGE_SIZE = 1000


class ErrorDetail(BaseModel):
    """What went wrong; ``position``/``expected`` for query syntax, ``suggestions`` for fields."""

    code: str
    message: str
    position: int | None = None
    expected: str | None = None
    suggestions: list[str] = Field(default_factory=list)
    details: list[dict[str, Any]] | None = None


class ErrorResponse(BaseModel):
    """The body of every error response."""

    error: ErrorDetail


class SearchRequest(BaseModel):
    """``POST /api/search``: the query as text or as the JSON tree of docs/query-language.md."""

    query: str | dict[str, Any] = ""
    fields: list[str] | None = None
    sort: str | None = None
    limit: int = Field(default=50, ge=1, le=MAX_PAGE_SIZE)
    cursor: str | None = None
    explain: bool = Field(
        default=False, description="Give each item the values its free-text terms matched."
    )


class MatchedValue(BaseModel):
    """A value a free-text term of the query was found in (``explain``)."""

    term: str
    field: str = Field(description="The field, or tag, dataset")
    value: str = Field(description="The value, cut to 160 characters around the match")
    start: int = Field(description="Where the term matches in value (characters)")
    end: int


class SeriesItem(BaseModel):
    """One series of a results page: the requested fields and where its thumbnail is."""

    series_uid: str
    fields: dict[str, Any]
    thumbnail_url: str
    tags: list[str] = Field(default_factory=list)
    datasets: list[str] = Field(default_factory=list)
    review: str = Field(
        default="pending", description="Review status: accepted, rejected, questionable, pending"
    )
    matched: list[MatchedValue] | None = Field(
        default=None, description="With explain: the values its free-text terms matched"
    )


class SearchResponse(BaseModel):
    """One page of results; pass ``next_cursor`` as ``cursor`` for the next (null: last page)."""

    total: int
    studies: int
    patients: int
    items: list[SeriesItem]
    next_cursor: str | None


class CountResponse(BaseModel):
    """How many series, studies and patients match."""

    series: int
    studies: int
    patients: int


class AggregationSpec(BaseModel):
    """One aggregation of ``POST /api/aggregate`` (see catalog/aggregations.py for the rules)."""

    field: str
    type: Literal["terms", "histogram", "date_histogram"] = "terms"
    size: int = Field(default=10, ge=1, le=1000)
    bins: int = Field(default=20, ge=1, le=200)
    interval: Literal["year", "month", "day"] | None = None


class AggregateBody(BaseModel):
    """``POST /api/aggregate``: a query (text or JSON tree) and the aggregations wanted."""

    query: str | dict[str, Any] = ""
    aggregations: list[AggregationSpec] = Field(default_factory=list, max_length=50)


class BucketPublic(BaseModel):
    """One bar: ``key`` is the value, the bin's low edge, or the period."""

    key: Any
    count: int
    low: float | None = None
    high: float | None = None


class AggregationPublic(BaseModel):
    """The buckets of one aggregation; ``other`` beyond the top values, ``missing`` no value."""

    field: str
    type: str
    buckets: list[BucketPublic]
    other: int
    missing: int
    interval: str | None = None


class AggregateResponse(BaseModel):
    """Counts of the matches and each aggregation, in request order."""

    counts: CountResponse
    aggregations: list[AggregationPublic]


class ValueSuggestion(BaseModel):
    """A value and how many series have it."""

    value: Any
    count: int


class ValuesResponse(BaseModel):
    """Suggested values of a field, most frequent first."""

    field: str
    items: list[ValueSuggestion]


class SeriesResponse(BaseModel):
    """A series' full document and its ``ai``/``qc`` results."""

    series_uid: str
    document: dict[str, Any]
    results: dict[str, dict[str, Any]]
    tags: list[str] = Field(default_factory=list)
    datasets: list[str] = Field(default_factory=list)


class InstancesResponse(BaseModel):
    """The instance rows of a series."""

    series_uid: str
    items: list[dict[str, Any]]


class FieldPublic(BaseModel):
    """One field of the registry."""

    name: str
    type: str
    series_count: int


class FieldsResponse(BaseModel):
    """Fields of the registry, most common first."""

    items: list[FieldPublic]


class InfoResponse(BaseModel):
    """Counts of what the catalog holds."""

    patients: int
    studies: int
    series: int
    instances: int
    files: int
    errors: int
    dirty_series: int
    by_modality: dict[str, int]


class FileErrorPublic(BaseModel):
    """A file that could not be ingested, and why."""

    path: str
    size: int
    mtime_ns: int
    reason: str


class ErrorsResponse(BaseModel):
    """Skipped files, by path."""

    items: list[FileErrorPublic]
