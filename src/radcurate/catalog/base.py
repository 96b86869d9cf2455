"""The catalog contract: what every backend (embedded SQLite, PostgreSQL) provides."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from radcurate.catalog.aggregations import (
    AggregateResult,
    AggregationRequest,
    Counts,
    ValueSuggestion,
)
from radcurate.catalog.lookup import SeriesKey
from radcurate.dicom.instance import InstanceRecord
from radcurate.dicom.values import FieldType
from radcurate.optional import import_optional
from radcurate.query.ast import Node

if TYPE_CHECKING:
    from radcurate.catalog.access_log import SQLAccessLog
    from radcurate.catalog.auth_store import SQLAuthStore
    from radcurate.catalog.curation import (
        AuditEntry,
        BulkResult,
        DatasetInfo,
        DatasetVersion,
        Selection,
        StoredSelection,
        TagInfo,
    )
    from radcurate.catalog.groups import GroupPage
    from radcurate.catalog.jobs import JobRecord
    from radcurate.catalog.layout_store import SQLLayoutStore
    from radcurate.catalog.project_store import SQLProjectStore
    from radcurate.catalog.result_store import ResultStore
    from radcurate.catalog.review_store import ReviewStore


class CatalogError(Exception):
    """A catalog cannot be opened or used; the message says what to do."""


@dataclass(frozen=True)
class SeriesHeader:
    """The header document of one representative instance of a series."""

    series_uid: str
    study_uid: str
    patient_id: str | None
    modality: str | None
    source_location: str
    fields: dict[str, Any]
    types: dict[str, FieldType]
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class FileError:
    """A file that could not be ingested, and why."""

    source: str
    size: int
    mtime_ns: int
    reason: str


@dataclass
class IngestBatch:
    """What one catalog transaction writes during ingest."""

    instances: list[InstanceRecord] = field(default_factory=list)
    headers: list[SeriesHeader] = field(default_factory=list)
    errors: list[FileError] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.instances) + len(self.errors)


@dataclass(frozen=True)
class BatchResult:
    """What a batch changed: new or changed instance files, new series."""

    new_instances: int
    changed_instances: int
    new_series: int
    new_errors: int


@dataclass(frozen=True)
class FieldInfo:
    """One entry of the field registry."""

    name: str
    type: FieldType
    series_count: int


@dataclass(frozen=True)
class CatalogInfo:
    """Counts of what a catalog holds."""

    patients: int
    studies: int
    series: int
    instances: int
    files: int
    errors: int
    dirty_series: int
    by_modality: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "patients": self.patients,
            "studies": self.studies,
            "series": self.series,
            "instances": self.instances,
            "files": self.files,
            "errors": self.errors,
            "dirty_series": self.dirty_series,
            "by_modality": dict(self.by_modality),
        }


@dataclass(frozen=True)
class KnownFile:
    """A file the catalog already has (as an instance or as an error), by its stat."""

    size: int
    mtime_ns: int
    is_error: bool


@dataclass(frozen=True)
class SearchPage:
    """One page of search results.

    ``documents`` are series documents (as :meth:`CatalogBackend.series_document`
    gives them); ``next_cursor`` is the opaque ``after`` of the next page, None
    on the last page; ``total`` counts every match of the query.
    """

    documents: list[dict[str, Any]]
    next_cursor: str | None
    total: int
    #: studies and patients among every match (``total`` counts the series)
    studies: int = 0
    patients: int = 0
    #: tags and datasets of the page's series: ``{uid: {"tags": [...], "datasets": [...]}}``
    curation: dict[str, dict[str, list[str]]] = field(default_factory=dict, compare=False)
    #: reads the page after a cursor (set by the catalog; lets a page iterate every match)
    following: Callable[[str], SearchPage] | None = field(default=None, compare=False, repr=False)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        """Every matching document: this page's, then the following pages' (read on demand)."""
        page: SearchPage = self
        while True:
            yield from page.documents
            if page.next_cursor is None or page.following is None:
                return
            page = page.following(page.next_cursor)

    def to_pandas(self, fields: Sequence[str] | None = None) -> Any:
        """Every match as a ``pandas.DataFrame``, one row per series (needs ``radcurate[pandas]``).

        ``fields``: the columns (default: every top-level field any match has).
        """
        pandas = import_optional("pandas", "a DataFrame of search results")
        documents = list(self)
        if fields is None:
            names = list(dict.fromkeys(k for doc in documents for k in doc))
        else:
            names = list(fields)
        return pandas.DataFrame.from_records(
            [[doc.get(n) for n in names] for doc in documents], columns=names
        )


class SeriesBackend(Protocol):
    """Series and instances: ingest writes, documents, the field registry, counts."""

    url: str

    def close(self) -> None:
        """Release connections."""

    def schema_version(self) -> int:
        """The applied schema version."""

    def known_files(self, directory: str) -> dict[str, KnownFile]:
        """Files directly inside ``directory`` already in the catalog, by source path."""

    def write_batch(self, batch: IngestBatch) -> BatchResult:
        """Write instances, candidate headers and errors in one transaction; mark series dirty."""

    def known_folders(self, root: str) -> list[str]:
        """Folders at or below ``root`` holding files the catalog knows (kept in place)."""

    def forget_files(self, sources: Sequence[str]) -> int:
        """Forget files no longer on disk (in-place instances, errors); their series go dirty."""

    def dirty_series(self, limit: int = 1000) -> list[str]:
        """Series whose facts must be recomputed (after writes or an interrupted ingest)."""

    def finalize_series(self, series_uids: Sequence[str]) -> int:
        """Recompute series facts from their instance rows; returns how many were updated."""

    def instances(self, series_uid: str) -> list[InstanceRecord]:
        """The instance rows of one series."""

    def series_document(self, series_uid: str) -> dict[str, Any] | None:
        """The full document of a series (header + derived facts), or None."""

    def series_keys(
        self,
        keyword: str,
        values: Sequence[str],
        *,
        after: str | None = None,
        limit: int | None = None,
    ) -> list[SeriesKey]:
        """Series whose StudyInstanceUID, SeriesInstanceUID, PatientID or Modality (``keyword``)
        is one of ``values``, from indexed columns, in SeriesInstanceUID order (``after`` a UID,
        at most ``limit``)."""

    def iter_series_documents(self, batch_size: int = 500) -> Iterator[dict[str, Any]]:
        """Every series document, in SeriesInstanceUID order."""

    def errors(self, limit: int | None = None) -> list[FileError]:
        """Files that could not be ingested."""

    def fields(self) -> list[FieldInfo]:
        """The field registry: every field name seen, its type and how many series have it."""

    def info(self) -> CatalogInfo:
        """Counts."""


class ResultsBackend(Protocol):
    """``ai.*``/``qc.*``/``clin.*`` results: the composed result store and per-series calls."""

    #: ai/qc/clin results with provenance (``catalog/result_store.py``)
    result_store: ResultStore

    def results(self, series_uid: str) -> dict[str, dict[str, Any]]:
        """``{"ai": {...}, "qc": {...}}`` for a series (empty dicts when none)."""

    def set_results(self, series_uid: str, namespace: str, values: dict[str, Any]) -> None:
        """Store ``ai`` or ``qc`` results of a series (keys replaced one by one, others kept)."""

    def clear_results(
        self, series_uid: str, namespace: str, keys: Sequence[str] | None = None
    ) -> int:
        """Remove results (all of a namespace, or the given keys); returns how many."""


class SearchBackend(Protocol):
    """Queries over the series: counts, pages, aggregations, suggestions (docs/search.md)."""

    def count(self, query: str | Node) -> int:
        """How many series match a query (text is parsed; a bad one raises ``QueryError``)."""

    def series_uids(self, query: str | Node) -> list[str]:
        """The SeriesInstanceUIDs of every series matching a query, in UID order."""

    def counts(self, query: str | Node = "*") -> Counts:
        """Series, studies and patients matching a query."""

    def aggregate(
        self, query: str | Node, requests: Sequence[AggregationRequest]
    ) -> AggregateResult:
        """Counts and one aggregation per request over a query's matches."""

    def suggest_values(
        self, field: str, prefix: str = "", query: str | Node = "*", limit: int = 10
    ) -> list[ValueSuggestion]:
        """Values of a field by prefix, with counts, over the query minus its terms on it."""

    def search(
        self,
        query: str | Node,
        *,
        limit: int = 50,
        after: str | None = None,
        sort: str | None = None,
    ) -> SearchPage:
        """One page of matching series, ordered by ``sort`` (``-`` for descending), then UID.

        ``after`` is the ``next_cursor`` of the previous page (same query and sort).
        """

    def iter_search(
        self, query: str | Node, *, sort: str | None = None, page_size: int = 500
    ) -> Iterator[dict[str, Any]]:
        """Every matching series document, page by page, in the order of :meth:`search`."""

    def result_fields(self) -> list[FieldInfo]:
        """The ``ai.*``/``qc.*``/``clin.*`` fields series have, most common first."""

    def patient_groups(
        self, query: str | Node, *, limit: int = 100, after: str | None = None
    ) -> GroupPage:
        """A page of the patients whose series match a query, with their matching studies
        and series counted (``catalog/grouping.py``)."""

    def study_groups(
        self,
        query: str | Node,
        patient_id: str | None,
        *,
        limit: int = 100,
        after: str | None = None,
    ) -> GroupPage:
        """A page of one patient's studies whose series match a query, newest first."""


class JobsBackend(Protocol):
    """Job records, progress and per-series errors (docs/jobs.md)."""

    def create_job(
        self, kind: str, params: dict[str, Any] | None = None, *, total: int | None = None
    ) -> JobRecord:
        """Record a new ``queued`` job (see :mod:`radcurate.catalog.jobs`)."""

    def start_job(self, job_id: str, owner: str | None = None) -> JobRecord:
        """Mark a queued job ``running`` by ``owner`` (``host:pid``, default this process)."""

    def update_job(
        self,
        job_id: str,
        *,
        done: int | None = None,
        total: int | None = None,
        message: str | None = None,
    ) -> bool:
        """Record progress and a heartbeat; True when the job was asked to stop."""

    def finish_job(
        self, job_id: str, result: dict[str, Any] | None = None, *, message: str | None = None
    ) -> JobRecord:
        """Mark a job ``done``."""

    def fail_job(
        self, job_id: str, error: str, *, result: dict[str, Any] | None = None
    ) -> JobRecord:
        """Mark a job ``failed`` with the reason."""

    def cancelled_job(self, job_id: str, result: dict[str, Any] | None = None) -> JobRecord:
        """Mark a job ``cancelled`` (its owner stopped on request)."""

    def cancel_job(self, job_id: str) -> JobRecord:
        """Ask a job to stop (a queued one is cancelled at once)."""

    def record_job_errors(self, job_id: str, errors: Sequence[tuple[str, str]]) -> None:
        """Record ``(series_uid, error)`` pairs of a job."""

    def job_errors(
        self, job_id: str, *, limit: int = 100, offset: int = 0
    ) -> tuple[int, list[tuple[str, str]]]:
        """How many series a job could not process, and a page of ``(series_uid, error)``."""

    def job(self, job_id: str) -> JobRecord | None:
        """One job (a running one without a live owner reads ``failed``, interrupted)."""

    def jobs(
        self, *, limit: int = 50, state: str | None = None, kind: str | None = None
    ) -> list[JobRecord]:
        """Jobs, newest first."""


class CurationBackend(Protocol):
    """Selections, tags, datasets and their versions, the audit log (docs/curation.md)."""

    def resolve_selection(self, selection: Selection) -> list[str]:
        """The sorted UIDs a selection stands for (query ∪ include − exclude)."""

    def create_selection(
        self, selection: Selection, *, actor: str | None = None
    ) -> StoredSelection:
        """Store a selection server-side."""

    def selection(self, selection_id: str) -> StoredSelection:
        """A stored selection, counted now."""

    def stored_selection(self, selection_id: str) -> Selection:
        """The selection of a stored one, to hand to a bulk action."""

    def tags(self, prefix: str = "", limit: int | None = None) -> list[TagInfo]:
        """Tags starting with ``prefix`` (any case), most used first."""

    def tag(self, name: str) -> TagInfo:
        """One tag."""

    def create_tag(
        self, name: str, color: str | None = None, *, actor: str | None = None
    ) -> TagInfo:
        """A new tag."""

    def update_tag(
        self,
        name: str,
        *,
        new_name: str | None = None,
        color: str | None = None,
        clear_color: bool = False,
        actor: str | None = None,
    ) -> TagInfo:
        """Rename and/or recolour a tag."""

    def delete_tag(self, name: str, *, actor: str | None = None) -> int:
        """Delete a tag; returns how many series carried it."""

    def tag_series(
        self, name: str, selection: Selection, *, create: bool = True, actor: str | None = None
    ) -> BulkResult:
        """Tag every series of a selection."""

    def untag_series(
        self, name: str, selection: Selection, *, actor: str | None = None
    ) -> BulkResult:
        """Untag every series of a selection."""

    def datasets(self) -> list[DatasetInfo]:
        """Every dataset with its counts."""

    def dataset(self, name: str) -> DatasetInfo:
        """One dataset."""

    def create_dataset(
        self, name: str, description: str = "", *, actor: str | None = None
    ) -> DatasetInfo:
        """A new, empty dataset."""

    def update_dataset(
        self,
        name: str,
        *,
        new_name: str | None = None,
        description: str | None = None,
        actor: str | None = None,
    ) -> DatasetInfo:
        """Rename and/or describe a dataset."""

    def delete_dataset(self, name: str, *, force: bool = False, actor: str | None = None) -> int:
        """Delete a dataset; returns how many series it held."""

    def add_to_dataset(
        self, name: str, selection: Selection, *, actor: str | None = None
    ) -> BulkResult:
        """Add every series of a selection to a dataset."""

    def remove_from_dataset(
        self, name: str, selection: Selection, *, actor: str | None = None
    ) -> BulkResult:
        """Remove every series of a selection from a dataset."""

    def freeze_dataset(
        self, name: str, note: str | None = None, *, actor: str | None = None
    ) -> DatasetVersion:
        """Freeze the membership into an immutable version."""

    def dataset_versions(self, name: str) -> list[DatasetVersion]:
        """The frozen versions, oldest first."""

    def dataset_version(self, name: str, version: int) -> DatasetVersion:
        """One frozen version with its member UIDs."""

    def version_members(self, name: str, version: int) -> dict[str, list[str]]:
        """SeriesInstanceUID -> SOP Instance UIDs of a frozen version."""

    def diff_dataset_versions(self, name: str, a: int, b: int) -> tuple[list[str], list[str]]:
        """(added, removed) series from version ``a`` to ``b``."""

    def curation_of(self, series_uids: Sequence[str]) -> dict[str, dict[str, list[str]]]:
        """``{uid: {"tags": [...], "datasets": [...]}}`` for a page of series, in one query."""

    def audit_log(
        self, limit: int = 100, action: str | None = None, target: str | None = None
    ) -> list[AuditEntry]:
        """Curation actions, newest first."""

    def record_event(
        self,
        action: str,
        target: str | None,
        *,
        actor: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Add an audit entry for an action outside curation (an original replaced)."""


class SettingsBackend(Protocol):
    """Per-user settings."""

    def user_settings(self, user: str | None = None) -> dict[str, Any]:
        """A user's settings."""

    def set_user_settings(
        self, settings: dict[str, Any], user: str | None = None
    ) -> dict[str, Any]:
        """Replace a user's settings."""


@runtime_checkable
class CatalogBackend(
    SeriesBackend,
    ResultsBackend,
    SearchBackend,
    JobsBackend,
    CurationBackend,
    SettingsBackend,
    Protocol,
):
    """The index of series, instances and fields; one implementation per engine.

    Composed of small Protocols, one per concern, so code that needs one concern can ask
    for just that one (e.g. a job runner only needs :class:`JobsBackend`).
    """

    #: review statuses of series (``catalog/review_store.py``)
    reviews: ReviewStore
    #: users, API tokens and login sessions (``catalog/auth_store.py``)
    auth: SQLAuthStore
    #: projects of series and users (``catalog/project_store.py``)
    projects: SQLProjectStore
    #: who viewed which series' images (``catalog/access_log.py``)
    access_log: SQLAccessLog
    #: shared dashboard layouts (``catalog/layout_store.py``)
    layouts: SQLLayoutStore

    def __enter__(self) -> CatalogBackend: ...

    def __exit__(self, *exc: object) -> None: ...
