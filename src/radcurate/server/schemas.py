"""Response (and request) bodies of the API, separate from the catalog's own types."""

from __future__ import annotations

from typing import Any

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


class SeriesItem(BaseModel):
    """One series of a results page: the requested fields and where its thumbnail is."""

    series_uid: str
    fields: dict[str, Any]
    thumbnail_url: str


class SearchResponse(BaseModel):
    """One page of results; pass ``next_cursor`` as ``cursor`` for the next (null: last page)."""

    total: int
    items: list[SeriesItem]
    next_cursor: str | None


class CountResponse(BaseModel):
    """How many series match."""

    series: int


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
