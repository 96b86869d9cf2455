"""Bodies of the curation API (tags, datasets, selections, reviews, audit, user settings), and
the JSON errors of curation input."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from radcurate.catalog import CatalogBackend
from radcurate.catalog.curation import (
    MAX_NAME,
    CurationError,
    Selection,
    StoredSelection,
)
from radcurate.catalog.review_store import MAX_NOTE, ReviewProgress, SeriesReview
from radcurate.server.auth import request_actor
from radcurate.server.errors import error_response
from radcurate.server.schemas import ErrorDetail
from radcurate.server.scope import scoped_selection

#: the request header naming the acting user (until users exist; default: the server's user)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SelectionBody(_Strict):
    """(series matching ``query``, none when null) ∪ ``include`` − ``exclude``."""

    query: str | dict[str, Any] | None = None
    include: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)

    def to_selection(self) -> Selection:
        """The catalog's :class:`Selection`."""
        return Selection.of(self.query, self.include, self.exclude)


class BulkRequest(_Strict):
    """A bulk action's target: a selection given inline, or the id of a stored one."""

    selection: SelectionBody | None = None
    selection_id: str | None = None

    def resolve(
        self, catalog: CatalogBackend, projects: tuple[str, ...] | None = None
    ) -> Selection:
        """The selection to act on (exactly one of ``selection``/``selection_id``), restricted
        to ``projects`` (None: unrestricted; ``server/scope.py``)."""
        return scoped_selection(catalog, self._given(catalog), projects)

    def _given(self, catalog: CatalogBackend) -> Selection:
        if (self.selection is None) == (self.selection_id is None):
            raise CurationError(
                "give exactly one of 'selection' or 'selection_id'", code="invalid_selection"
            )
        if self.selection is not None:
            return self.selection.to_selection()
        assert self.selection_id is not None
        return catalog.stored_selection(self.selection_id)


class BulkResponse(BaseModel):
    """Rows changed (series newly tagged/added, or untagged/removed) and the selection's size."""

    changed: int
    series_count: int


class SelectionResponse(BaseModel):
    """A stored selection, its count taken when read."""

    id: str
    query: str | dict[str, Any] | None
    include: list[str]
    exclude: list[str]
    series_count: int

    @classmethod
    def of(cls, stored: StoredSelection) -> SelectionResponse:
        """From the catalog's record."""
        return cls(
            id=stored.id,
            query=stored.query,
            include=list(stored.include),
            exclude=list(stored.exclude),
            series_count=stored.series_count,
        )


#: a series' review status (``pending``: never reviewed, or reset)
ReviewStatus = Literal["accepted", "rejected", "questionable", "pending"]


class ReviewBody(_Strict):
    """``PUT /api/series/{uid}/review``: the status and note (null or left out: no note)."""

    status: ReviewStatus
    note: str | None = Field(default=None, max_length=MAX_NOTE)


class ReviewBulkRequest(BulkRequest):
    """``POST /api/review``: a selection (inline or stored), the status and note to set."""

    status: ReviewStatus
    note: str | None = Field(default=None, max_length=MAX_NOTE)


class ReviewResponse(BaseModel):
    """The review of one series (``reviewer``/``reviewed_at`` null: never reviewed)."""

    series_uid: str
    status: ReviewStatus
    reviewer: str | None
    note: str | None
    reviewed_at: str | None = Field(description="ISO 8601 UTC")

    @classmethod
    def of(cls, review: SeriesReview) -> ReviewResponse:
        """From the catalog's record."""
        return cls.model_validate(review.to_dict())


class ReviewBulkResponse(BaseModel):
    """Series whose status or note changed, and the selection's size."""

    changed: int
    total: int


class ReviewProgressResponse(BaseModel):
    """Per-status counts of a query's series (``reviewed``: all but ``pending``)."""

    total: int
    reviewed: int
    accepted: int
    rejected: int
    questionable: int
    pending: int

    @classmethod
    def of(cls, progress: ReviewProgress) -> ReviewProgressResponse:
        """From the catalog's counts."""
        return cls.model_validate(progress.to_dict())


class TagItem(BaseModel):
    """A tag and how many series carry it."""

    name: str
    color: str | None
    series_count: int


class TagList(BaseModel):
    """Tags, most used first."""

    items: list[TagItem]


class TagCreate(_Strict):
    """``POST /api/tags``."""

    name: str = Field(max_length=MAX_NAME)
    color: str | None = None


class TagUpdate(_Strict):
    """``PATCH /api/tags/{name}``: a field left out is kept; ``color: null`` clears it."""

    name: str | None = Field(default=None, max_length=MAX_NAME)
    color: str | None = None


class DatasetItem(BaseModel):
    """A dataset with member counts and how many frozen versions it has."""

    name: str
    description: str
    series: int
    studies: int
    patients: int
    versions: int


class DatasetList(BaseModel):
    """Datasets by name."""

    items: list[DatasetItem]


class DatasetCreate(_Strict):
    """``POST /api/datasets``."""

    name: str = Field(max_length=MAX_NAME)
    description: str = ""


class DatasetUpdate(_Strict):
    """``PATCH /api/datasets/{name}``."""

    name: str | None = Field(default=None, max_length=MAX_NAME)
    description: str | None = None


class FreezeRequest(_Strict):
    """``POST /api/datasets/{name}/versions``."""

    note: str | None = None


class VersionItem(BaseModel):
    """A frozen version (``series_uids`` only when one version is read)."""

    version: int
    content_hash: str
    series_count: int
    instance_count: int
    created_at: float
    created_by: str
    note: str | None
    created: bool = True
    series_uids: list[str] | None = None


class VersionList(BaseModel):
    """Versions, oldest first."""

    items: list[VersionItem]


class DiffResponse(BaseModel):
    """Series added and removed from version ``a`` to version ``b``."""

    a: int
    b: int
    added: list[str]
    removed: list[str]


class DeletedResponse(BaseModel):
    """What a delete removed."""

    name: str
    series_count: int


class AuditItem(BaseModel):
    """One curation action."""

    id: int
    at: float
    actor: str
    action: str
    target: str | None
    selection: dict[str, Any] | None
    series_count: int | None
    detail: dict[str, Any]


class AuditList(BaseModel):
    """Newest first."""

    items: list[AuditItem]


class SettingsBody(_Strict):
    """``PUT /api/settings``: the whole settings object (it replaces the stored one)."""

    settings: dict[str, Any]


class SettingsResponse(BaseModel):
    """A user's settings."""

    user: str
    settings: dict[str, Any]


def request_user(request: Request) -> str:
    """The acting user the audit log records: the authenticated principal (auth off: the
    server's OS user). No header names it (``X-Radcurate-User`` is ignored)."""
    return request_actor(request)


def _on_curation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, CurationError)
    return error_response(exc.status, ErrorDetail(code=exc.code, message=str(exc)))


def install_curation_errors(app: FastAPI) -> None:
    """Answer bad curation input (unknown tag, taken name, ...) with its 4xx JSON error."""
    app.add_exception_handler(CurationError, _on_curation_error)
