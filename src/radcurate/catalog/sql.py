"""The SQL catalog shared by the SQLite and PostgreSQL backends.

Subclasses supply connections, the dialect name and the placeholder style;
everything else (schema migrations, batched upserts, series finalisation,
the field registry) is the same SQL on both engines.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

from radcurate.catalog.access_log import SQLAccessLog
from radcurate.catalog.auth_store import SQLAuthStore
from radcurate.catalog.base import (
    BatchResult,
    CatalogBackend,
    CatalogInfo,
    FieldInfo,
    FileError,
    IngestBatch,
    KnownFile,
    SeriesHeader,
)
from radcurate.catalog.bulk import BulkImportMixin
from radcurate.catalog.curation import CurationMixin
from radcurate.catalog.fields import derived_types, field_paths
from radcurate.catalog.file_removal import FileRemovalMixin
from radcurate.catalog.grouping import GroupingMixin
from radcurate.catalog.indexed import IndexedSearchMixin
from radcurate.catalog.jobs import JobsMixin
from radcurate.catalog.layout_store import SQLLayoutStore
from radcurate.catalog.lookup import LookupMixin
from radcurate.catalog.project_store import SQLProjectStore
from radcurate.catalog.projection import search_document
from radcurate.catalog.querying import QueryMixin
from radcurate.catalog.result_store import ResultStore, SQLResultStore
from radcurate.catalog.review_store import ReviewStore, SQLReviewStore
from radcurate.catalog.rows import (
    INSTANCE_COLUMNS,
    best_headers,
    document_from_row,
    dumps,
    instance_row,
    loads,
    record_from_row,
)
from radcurate.catalog.schema import apply_migrations
from radcurate.catalog.search import (
    SearchDialect,
)
from radcurate.dicom.document import referenced_series
from radcurate.dicom.instance import InstanceRecord
from radcurate.dicom.series import derived_header_fields, series_facts
from radcurate.dicom.values import FieldType
from radcurate.query.reference import DEFAULT_TEXT_FIELDS

logger = logging.getLogger(__name__)

#: rows per IN (...) list
_CHUNK = 500


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class SQLCatalog(
    FileRemovalMixin,
    QueryMixin,
    GroupingMixin,
    IndexedSearchMixin,
    BulkImportMixin,
    JobsMixin,
    CurationMixin,
    LookupMixin,
):
    """Shared implementation of :class:`~radcurate.catalog.base.CatalogBackend`."""

    dialect: str = ""
    placeholder: str = "?"
    #: True when the driver returns JSON columns already decoded (PostgreSQL JSONB)
    json_decoded: bool = False
    #: the document fields free text searches (tags, datasets and ai strings always)
    search_text_fields: tuple[str, ...] = DEFAULT_TEXT_FIELDS
    #: appended to a SELECT whose rows a transaction is about to rewrite from what it read
    #: (SQLite needs none: BEGIN IMMEDIATE already serialises writers)
    row_lock: str = ""

    def __init__(self, url: str) -> None:
        self.url = url
        self._local = threading.local()
        self._connections: list[Any] = []
        self._lock = threading.Lock()
        self._migrate()
        #: ai/qc/clin results with provenance (catalog/result_store.py)
        self._results = SQLResultStore(self, self._audit)
        self.result_store: ResultStore = self._results
        #: review statuses of series (catalog/review_store.py)
        self.reviews: ReviewStore = SQLReviewStore(self)
        #: users, API tokens and login sessions (catalog/auth_store.py)
        self.auth = SQLAuthStore(self)
        #: projects of series and users (catalog/project_store.py)
        self.projects = SQLProjectStore(self)
        #: who viewed which series' images (catalog/access_log.py)
        self.access_log = SQLAccessLog(self)
        #: shared dashboard layouts (catalog/layout_store.py)
        self.layouts = SQLLayoutStore(self)

    # -- results: the first wave's per-series calls, kept as delegates of the result store ----
    def results(self, series_uid: str) -> dict[str, dict[str, Any]]:
        """``{"ai": {...}, "qc": {...}, "clin": {...}}`` for a series (empty dicts when none)."""
        return self._results.results(series_uid)

    def set_results(self, series_uid: str, namespace: str, values: dict[str, Any]) -> None:
        """Set result keys of a series by hand (the ``manual`` producer; other keys kept)."""
        self._results.set_results(series_uid, namespace, values)

    def clear_results(
        self, series_uid: str, namespace: str, keys: Sequence[str] | None = None
    ) -> int:
        """Remove result keys of a series (all of a namespace, or the given ones)."""
        return self._results.clear_results(series_uid, namespace, keys)

    def changed_results(
        self, since: int, page_size: int = 20_000
    ) -> Iterator[list[tuple[str, dict[str, dict[str, Any]]]]]:
        """Series whose results changed at or after ``since``, with their results (the index)."""
        return self._results.changed_results(since, page_size)

    # -- connections -------------------------------------------------------------------
    def _connect(self) -> Any:
        raise NotImplementedError

    def _conn(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None or getattr(self._local, "pid", None) != os.getpid():
            conn = self._connect()
            self._local.conn = conn
            self._local.pid = os.getpid()
            with self._lock:
                self._connections.append(conn)
        return conn

    def close(self) -> None:
        """Close every connection this object opened (saving the search index if it moved on)."""
        try:
            self._save_index_on_close()
        except Exception:
            logger.warning("could not save the search index snapshot", exc_info=True)
        with self._lock:
            for conn in self._connections:
                with suppress(Exception):
                    conn.close()
            self._connections.clear()
        self._local = threading.local()

    def __enter__(self) -> CatalogBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _sql(self, sql: str) -> str:
        return sql if self.placeholder == "?" else sql.replace("?", self.placeholder)

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        raise NotImplementedError
        yield  # pragma: no cover

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        conn = self._conn()
        cur = conn.cursor()
        try:
            cur.execute(self._sql(sql), tuple(params))
            rows = cur.fetchall()
        finally:
            cur.close()
        self._end_read(conn)
        return [tuple(r) for r in rows]

    def _end_read(self, conn: Any) -> None:
        """Finish an implicit read transaction so later reads see new commits."""

    # -- schema ------------------------------------------------------------------------
    def _lock_for_migration(self, cur: Any) -> None:
        """Serialise concurrent migrations (each engine has its own lock)."""

    def _migrate(self) -> None:
        with self._transaction() as cur:
            self._lock_for_migration(cur)
            apply_migrations(cur, self.dialect, self._sql, self.url)

    def schema_version(self) -> int:
        """The applied schema version."""
        return int(self._read("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")[0][0])

    # -- ingest ------------------------------------------------------------------------
    def known_files(self, directory: str) -> dict[str, KnownFile]:
        """Files directly inside ``directory`` already in the catalog."""
        known: dict[str, KnownFile] = {}
        for source, size, mtime in self._read(
            "SELECT source, size, mtime_ns FROM instances WHERE source_dir = ?", (directory,)
        ):
            known[source] = KnownFile(int(size), int(mtime), False)
        for source, size, mtime in self._read(
            "SELECT source, size, mtime_ns FROM ingest_errors WHERE source_dir = ?", (directory,)
        ):
            known.setdefault(source, KnownFile(int(size), int(mtime), True))
        return known

    def write_batch(self, batch: IngestBatch) -> BatchResult:
        """Write one batch atomically; series touched are marked dirty."""
        now = time.time()
        fields_delta: Counter[str] = Counter()
        field_types: dict[str, FieldType] = {}
        dirty: set[str] = set()
        new_instances = changed = new_series = 0
        with self._transaction() as cur:
            sources = [r.source for r in batch.instances] + [e.source for e in batch.errors]
            previous: dict[str, str] = {}
            for chunk in _chunks(sources):
                marks = ",".join("?" * len(chunk))
                cur.execute(
                    self._sql(
                        f"SELECT source, series_uid FROM instances WHERE source IN ({marks})"
                    ),
                    tuple(chunk),
                )
                previous.update({row[0]: row[1] for row in cur.fetchall()})
            dirty.update(previous.values())
            for record in batch.instances:
                if record.source in previous:
                    changed += 1
                else:
                    new_instances += 1
            if batch.instances:
                cur.executemany(
                    self._sql(
                        f"INSERT INTO instances ({INSTANCE_COLUMNS}) VALUES "
                        f"({','.join('?' * 19)}) ON CONFLICT (source) DO UPDATE SET "
                        + ", ".join(
                            f"{c.strip()} = excluded.{c.strip()}"
                            for c in INSTANCE_COLUMNS.split(",")[1:]
                        )
                    ),
                    [instance_row(r) for r in batch.instances],
                )
                dirty.update(r.series_uid for r in batch.instances)
            error_sources = [e.source for e in batch.errors]
            for chunk in _chunks(error_sources):
                marks = ",".join("?" * len(chunk))
                cur.execute(
                    self._sql(f"DELETE FROM instances WHERE source IN ({marks})"), tuple(chunk)
                )
            ok_sources = [r.source for r in batch.instances]
            for chunk in _chunks(ok_sources):
                marks = ",".join("?" * len(chunk))
                cur.execute(
                    self._sql(f"DELETE FROM ingest_errors WHERE source IN ({marks})"), tuple(chunk)
                )
            if batch.errors:
                cur.executemany(
                    self._sql(
                        "INSERT INTO ingest_errors "
                        "(source, source_dir, size, mtime_ns, reason, at) "
                        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (source) DO UPDATE SET "
                        "source_dir = excluded.source_dir, size = excluded.size, "
                        "mtime_ns = excluded.mtime_ns, reason = excluded.reason, at = excluded.at"
                    ),
                    [
                        (e.source, os.path.dirname(e.source), e.size, e.mtime_ns, e.reason, now)
                        for e in batch.errors
                    ],
                )
            for header in best_headers(batch.headers):
                new_series += self._put_header(cur, header, now, fields_delta, field_types)
            for chunk in _chunks(sorted(dirty)):
                marks = ",".join("?" * len(chunk))
                cur.execute(
                    self._sql(f"UPDATE series SET dirty = 1 WHERE series_uid IN ({marks})"),
                    tuple(chunk),
                )
            self._apply_field_delta(cur, fields_delta, field_types)
        return BatchResult(new_instances, changed, new_series, len(batch.errors))

    def _put_header(
        self,
        cur: Any,
        header: SeriesHeader,
        now: float,
        fields_delta: Counter[str],
        field_types: dict[str, FieldType],
    ) -> int:
        new_paths = field_paths(header.fields)
        field_types.update({p: t for p, t in header.types.items() if p in new_paths})
        values = (
            header.study_uid,
            header.patient_id,
            header.modality,
            dumps(header.fields),
            header.source_location,
            dumps(list(header.problems)) if header.problems else None,
        )
        # insert-or-nothing first: two ingests meeting the same new series never collide
        cur.execute(
            self._sql(
                "INSERT INTO series (series_uid, study_uid, patient_id, modality, header, "
                "header_source, header_problems, dirty, created_at, updated_at, seq, search_doc) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?) ON CONFLICT (series_uid) DO NOTHING"
            ),
            (
                header.series_uid,
                *values,
                now,
                now,
                self._change_seq(cur),
                dumps(search_document(header.fields, None)),
            ),
        )
        if cur.rowcount == 1:
            fields_delta.update(new_paths)
            return 1
        cur.execute(
            self._sql(
                "SELECT header, header_source, facts FROM series WHERE series_uid = ?"
                + self.row_lock
            ),
            (header.series_uid,),
        )
        row = cur.fetchone()
        if header.source_location > row[1]:
            return 0  # the representative is the instance with the smallest location
        old_paths = field_paths(loads(row[0]))
        fields_delta.update(new_paths - old_paths)
        fields_delta.subtract(old_paths - new_paths)
        cur.execute(
            self._sql(
                "UPDATE series SET study_uid = ?, patient_id = ?, modality = ?, header = ?, "
                "header_source = ?, header_problems = ?, dirty = 1, updated_at = ?, seq = ?, "
                "search_doc = ? WHERE series_uid = ?"
            ),
            (
                *values,
                now,
                self._change_seq(cur),
                dumps(search_document(header.fields, loads(row[2]))),
                header.series_uid,
            ),
        )
        return 0

    def _apply_field_delta(
        self, cur: Any, delta: Counter[str], types: dict[str, FieldType]
    ) -> None:
        rows = [
            (name, types.get(name, FieldType.KEYWORD).value, count)
            for name, count in sorted(delta.items())
            if count
        ]
        if rows:
            cur.executemany(
                self._sql(
                    "INSERT INTO fields (name, type, series_count) VALUES (?, ?, ?) "
                    "ON CONFLICT (name) DO UPDATE SET "
                    "series_count = fields.series_count + excluded.series_count"
                ),
                rows,
            )

    # -- change numbers (what the search index follows) ------------------------------------
    def _change_seq(self, cur: Any) -> int:
        """A change number for rows this write transaction touches (SQLite: a counter)."""
        cur.execute("UPDATE change_counter SET value = value + 1 WHERE id = 1 RETURNING value")
        return int(cur.fetchone()[0])

    def change_watermark(self) -> int:
        """A change number such that every change not yet visible will get one at least as high.

        Read it *before* reading changed rows; the next read asks for ``seq >= watermark``.
        """
        return int(self._read("SELECT value FROM change_counter WHERE id = 1")[0][0]) + 1

    def changed_series(
        self, since: int, page_size: int = 20_000
    ) -> tuple[Iterator[list[tuple[Any, ...]]], list[str]]:
        """Series changed at or after change number ``since`` (pages of rows), and deleted UIDs.

        Rows are ``(series_uid, study_uid, patient_id, search_doc, header, facts)``;
        ``header``/``facts`` are only read for rows written before ``search_doc`` existed.
        Pages are read one by one (keyset by UID), so a full load never holds every row.
        """
        deleted = [
            str(r[0])
            for r in self._read("SELECT series_uid FROM deleted_series WHERE seq >= ?", (since,))
        ]
        return self._changed_pages(since, page_size), deleted

    def _changed_pages(self, since: int, page_size: int) -> Iterator[list[tuple[Any, ...]]]:
        # keyset over the (seq, series_uid) index: a refresh with nothing new reads nothing
        seq, last = since, ""
        while True:
            rows = self._read(
                "SELECT series_uid, study_uid, patient_id, search_doc, "
                "CASE WHEN search_doc IS NULL THEN header END, "
                "CASE WHEN search_doc IS NULL THEN facts END, seq "
                "FROM series WHERE (seq, series_uid) > (?, ?) "
                "ORDER BY seq, series_uid LIMIT ?",
                (seq, last, page_size),
            )
            if not rows:
                return
            yield [row[:6] for row in rows]
            if len(rows) < page_size:
                return
            seq, last = int(rows[-1][6]), rows[-1][0]

    def dirty_series(self, limit: int = 1000) -> list[str]:
        """Series waiting for their facts to be recomputed."""
        return [
            r[0]
            for r in self._read(
                "SELECT series_uid FROM series WHERE dirty = 1 ORDER BY series_uid LIMIT ?",
                (limit,),
            )
        ]

    def finalize_series(self, series_uids: Sequence[str]) -> int:
        """Recompute facts of the given series from their instance rows, in one transaction."""
        updated = 0
        now = time.time()
        delta: Counter[str] = Counter()
        types: dict[str, FieldType] = {}
        with self._transaction() as cur:
            for uid in series_uids:
                cur.execute(
                    self._sql(
                        "SELECT header, facts FROM series WHERE series_uid = ?" + self.row_lock
                    ),
                    (uid,),
                )
                row = cur.fetchone()
                if row is None:
                    continue
                header, old_facts = loads(row[0]), loads(row[1]) or {}
                cur.execute(
                    self._sql(
                        f"SELECT {INSTANCE_COLUMNS} FROM instances WHERE series_uid = ? "
                        "ORDER BY source"
                    ),
                    (uid,),
                )
                records = [record_from_row(r) for r in cur.fetchall()]
                old_paths = field_paths(old_facts)
                if not records:
                    cur.execute(self._sql("DELETE FROM series WHERE series_uid = ?"), (uid,))
                    cur.execute(
                        self._sql(
                            "INSERT INTO deleted_series (series_uid, seq) VALUES (?, ?) "
                            "ON CONFLICT (series_uid) DO UPDATE SET seq = excluded.seq"
                        ),
                        (uid, self._change_seq(cur)),
                    )
                    delta.subtract(old_paths | field_paths(header))
                    continue
                facts = series_facts(records)
                facts.update(derived_header_fields(header))
                refs = referenced_series(header, uid)
                if refs:
                    facts["referenced_series"] = refs
                new_paths = field_paths(facts)
                types.update(derived_types(facts))
                delta.update(new_paths - old_paths)
                delta.subtract(old_paths - new_paths)
                cur.execute(
                    self._sql(
                        "UPDATE series SET facts = ?, instance_count = ?, dirty = 0, "
                        "updated_at = ?, seq = ?, search_doc = ? WHERE series_uid = ?"
                    ),
                    (
                        dumps(facts),
                        facts["instance_count"],
                        now,
                        self._change_seq(cur),
                        dumps(search_document(header, facts)),
                        uid,
                    ),
                )
                updated += 1
            self._apply_field_delta(cur, delta, types)
        return updated

    # -- reading -----------------------------------------------------------------------
    def instances(self, series_uid: str) -> list[InstanceRecord]:
        """Instance rows of a series, ordered by source path."""
        rows = self._read(
            f"SELECT {INSTANCE_COLUMNS} FROM instances WHERE series_uid = ? ORDER BY source",
            (series_uid,),
        )
        return [record_from_row(r) for r in rows]

    def series_document(self, series_uid: str) -> dict[str, Any] | None:
        """The document of one series."""
        rows = self._read(
            "SELECT header, facts, header_problems FROM series WHERE series_uid = ?", (series_uid,)
        )
        return document_from_row(rows[0]) if rows else None

    def iter_series_documents(self, batch_size: int = 500) -> Iterator[dict[str, Any]]:
        """Every series document, in SeriesInstanceUID order, read in keyset pages."""
        last = ""
        while True:
            rows = self._read(
                "SELECT series_uid, header, facts, header_problems FROM series "
                "WHERE series_uid > ? ORDER BY series_uid LIMIT ?",
                (last, batch_size),
            )
            if not rows:
                return
            for row in rows:
                yield document_from_row(row[1:])
            last = rows[-1][0]

    def errors(self, limit: int | None = None) -> list[FileError]:
        """Files that could not be ingested, by path."""
        sql = "SELECT source, size, mtime_ns, reason FROM ingest_errors ORDER BY source"
        params: tuple[Any, ...] = ()
        if limit is not None:
            sql += " LIMIT ?"
            params = (limit,)
        return [FileError(r[0], int(r[1]), int(r[2]), r[3]) for r in self._read(sql, params)]

    def fields(self) -> list[FieldInfo]:
        """The field registry, most common first."""
        rows = self._read(
            "SELECT name, type, series_count FROM fields WHERE series_count > 0 "
            "ORDER BY series_count DESC, name"
        )
        return [FieldInfo(r[0], FieldType(r[1]), int(r[2])) for r in rows]

    # -- search ------------------------------------------------------------------------
    def _search_dialect(self) -> SearchDialect:
        """The engine's search SQL (see ``catalog/search*.py``)."""
        raise NotImplementedError

    def _search_read(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """Run one search query (engines may tune the session for it)."""
        return self._read(sql, params)

    def info(self) -> CatalogInfo:
        """Counts of patients, studies, series, instances, files, errors."""
        (patients, studies, series, instances, dirty) = self._read(
            "SELECT COUNT(DISTINCT patient_id), COUNT(DISTINCT study_uid), COUNT(*), "
            "COALESCE(SUM(instance_count), 0), COALESCE(SUM(dirty), 0) FROM series"
        )[0]
        files = self._read("SELECT COUNT(*) FROM instances")[0][0]
        errors = self._read("SELECT COUNT(*) FROM ingest_errors")[0][0]
        modalities = self._read(
            "SELECT COALESCE(modality, ''), COUNT(*) FROM series GROUP BY 1 ORDER BY 2 DESC, 1"
        )
        return CatalogInfo(
            patients=int(patients),
            studies=int(studies),
            series=int(series),
            instances=int(instances),
            files=int(files),
            errors=int(errors),
            dirty_series=int(dirty),
            by_modality={m: int(c) for m, c in modalities},
        )
