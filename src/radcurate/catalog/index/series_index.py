"""The in-memory search index: indexed fields of every series as numpy columns.

The catalog (SQLite or PostgreSQL) stays the source of truth. The index
loads each series' ``search_doc`` (its document cut down to
:data:`~radcurate.catalog.projection.INDEXED_FIELDS`) once, then follows the
catalog by change numbers: before answering, it reads the series written
since its watermark (and tombstones of deleted ones) — one indexed query
that returns nothing when nothing changed. Rows are append-only; a deleted
series is only marked dead.

Why in memory: at a million series a facet is a ``bincount`` over a code
array (milliseconds) where SQL needs a full scan per facet (DESIGN.md §8:
25–45 ms each in SQLite with covering indexes, ~100 ms in PostgreSQL).
docs/architecture.md has the measurements.
"""

from __future__ import annotations

import gc
import json
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from radcurate.catalog.index.answers import AnswerCache
from radcurate.catalog.index.column import BoolArray, Column, IntArray, flatten
from radcurate.catalog.index.sort_orders import SortOrders
from radcurate.catalog.projection import INDEXED_FIELDS, search_document
from radcurate.query.ast import REVIEW_FIELD
from radcurate.query.fields import split_path
from radcurate.query.reference import SearchRecord, field_values

#: dtype of value codes (-1: no value)
CODE = np.int32


@dataclass
class _Batch:
    """One decoded page: target rows, study/patient codes, and codes per present field."""

    targets: IntArray
    studies: IntArray
    patients: IntArray
    codes: dict[str, IntArray]


class ChangeSource(Protocol):
    """What the index reads from a catalog (``SQLCatalog`` provides it)."""

    def change_watermark(self) -> int: ...

    def changed_series(
        self, since: int, page_size: int = ...
    ) -> tuple[Iterator[list[tuple[Any, ...]]], list[str]]: ...

    def changed_results(
        self, since: int, page_size: int = ...
    ) -> Iterator[list[tuple[str, dict[str, dict[str, Any]]]]]: ...

    def membership_version(self) -> int: ...

    def memberships(self) -> Iterator[tuple[str, str, str]]: ...

    def top_level_values(
        self, key: str, uids: Sequence[str] | None
    ) -> Iterator[tuple[str, Any]]: ...


#: on-demand columns kept at most (least recently used ones are dropped)
MAX_DEMAND_COLUMNS = 64
#: the membership columns' names (not field names: they hold a series' tags and datasets)
MEMBERSHIP = ("tag", "dataset", "project")
#: the review status of a series never reviewed
PENDING = "pending"


class ReviewFeed(Protocol):
    """What the index reads of the review store (``catalog.reviews``)."""

    def changed_reviews(self, since: int) -> list[tuple[str, str]]: ...


def result_fields(results: dict[str, dict[str, Any]]) -> Iterator[tuple[str, Any, bool]]:
    """``(field, value, raw)`` for every field path of a series' results.

    ``raw`` values are stored JSON values (a scalar or list, coded with
    ``Column.code_of_raw``); otherwise ``value`` is the already flattened tuple of
    values found at a path below a list of objects, exactly as the reference's
    ``field_values`` walks it. Every path is a field: ``ai.range`` (an object) and
    ``ai.range.chest`` alike.

    Examples
    --------
    >>> [(f, v) for f, v, _ in result_fields({"ai": {"a": 1, "r": {"x": [0, 2]}}})]
    [('ai.a', 1), ('ai.r', {'x': [0, 2]}), ('ai.r.x', [0, 2])]
    """
    for namespace, keyed in results.items():
        for key, value in keyed.items():
            yield from _result_paths(f"{namespace}.{key}", value)


def _result_paths(path: str, value: Any) -> Iterator[tuple[str, Any, bool]]:
    if isinstance(value, dict):
        yield path, value, True
        for key, item in value.items():
            yield from _result_paths(f"{path}.{key}", item)
        return
    if not isinstance(value, list):
        if value is not None:
            yield path, value, True
        return
    items = flatten(value)
    if not items:
        return
    yield path, value, True
    yield from _below_objects(path, items)


def _nested_paths(path: str, items: tuple[Any, ...]) -> Iterator[tuple[str, Any, bool]]:
    """Paths below a list of objects: values already flattened (``raw`` False)."""
    if not items:
        return
    yield path, items, False
    yield from _below_objects(path, items)


def _below_objects(path: str, items: tuple[Any, ...]) -> Iterator[tuple[str, Any, bool]]:
    """The paths under the objects among ``items`` (as the reference walks them)."""
    objects = [item for item in items if isinstance(item, dict)]
    for key in dict.fromkeys(k for item in objects for k in item):
        found: list[Any] = []
        for item in objects:
            if key in item:
                found.extend(flatten(item[key]))
        yield from _nested_paths(f"{path}.{key}", tuple(found))


def _loads(value: Any) -> Any:
    if value is None or isinstance(value, (dict, list)):
        return value
    return json.loads(value)


class SeriesIndex:
    """Rows (one per series ever seen), an ``alive`` mask, and one :class:`Column` per field."""

    def __init__(self, fields: Sequence[str] = INDEXED_FIELDS) -> None:
        self.columns: dict[str, Column] = {name: Column(name) for name in fields}
        #: names of the ``ai.*``/``qc.*``/``clin.*`` columns among ``columns`` (grown on demand)
        self.result_fields: set[str] = set()
        #: DICOM fields outside INDEXED_FIELDS loaded when a query first asked (name -> last use)
        self.demand_fields: dict[str, float] = {}
        #: per series, the names of its tags and datasets; rebuilt when curation changed
        self.membership: dict[str, Column] = {}
        self.membership_seen = -1
        #: the ``review`` pseudo-field: one status per row (``pending`` until one is read);
        #: followed by change numbers like results (:meth:`apply_reviews`)
        self.columns[REVIEW_FIELD] = Column(REVIEW_FIELD)
        #: statuses read for series the index has no row for (yet): a deleted series' review
        #: comes back with it
        self.review_orphans: dict[str, str] = {}
        self.uids: list[str] = []
        self.row_of: dict[str, int] = {}
        self.alive: BoolArray = np.zeros(0, np.bool_)
        self.study: IntArray = np.zeros(0, CODE)
        self.patient: IntArray = np.zeros(0, CODE)
        self._study_codes: dict[str, int] = {}
        self._patient_codes: dict[str | None, int] = {None: -1}
        self.watermark = 0
        self.lock = threading.RLock()
        #: demand fields being read from the catalog now, each with the lock its readers share
        self._demand_reading: dict[str, threading.Lock] = {}
        #: rows in each sort order asked for, repaired when rows change
        self.sorts = SortOrders()
        #: answers computed from the index as it is now (emptied by every change)
        self.answers = AnswerCache()

    def __len__(self) -> int:
        return len(self.uids)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        for transient in ("lock", "sorts", "row_of", "_demand_reading", "answers"):
            state.pop(transient)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.lock = threading.RLock()
        self._demand_reading = {}
        self.sorts = SortOrders()
        self.answers = AnswerCache()
        self.row_of = {uid: row for row, uid in enumerate(self.uids)}

    # -- following the catalog -----------------------------------------------------------------
    def refresh(self, source: ChangeSource) -> int:
        """Apply the catalog's changes since the last refresh; returns how many rows changed."""
        with self.lock:
            watermark = source.change_watermark()
            pages, deleted = source.changed_series(self.watermark)
            for uid in deleted:
                row = self.row_of.get(uid)
                if row is not None:
                    self.alive[row] = False
            batches = [self._decode(rows) for rows in pages]
            self._commit(batches)
            changed = len(deleted) + sum(len(b.targets) for b in batches)
            for page in source.changed_results(self.watermark):
                changed += self.apply_results(page)
            reviews: ReviewFeed | None = getattr(source, "reviews", None)
            if reviews is not None:
                changed += self.apply_reviews(reviews.changed_reviews(self.watermark))
            if self.demand_fields and batches:
                rows = np.unique(np.concatenate([b.targets for b in batches]))
                uids = [self.uids[r] for r in rows.tolist()]
                for name in list(self.demand_fields):
                    self._load_demand(source, name, uids, rows)
            version = source.membership_version()
            if version != self.membership_seen:
                self._load_membership(source)
                self.membership_seen = version
                self.answers.clear()
            if changed or watermark != self.watermark:
                self.answers.clear()
            self.watermark = watermark
            if changed >= 10_000:
                for column in self.columns.values():
                    column.forget_raw()  # a loading accelerator: not worth its memory after
                # millions of long-lived objects (UIDs, values): keep the cyclic GC from
                # walking them on every full collection (~100 ms pauses at 1M series)
                gc.freeze()
            return changed

    # -- columns loaded on demand ------------------------------------------------------------
    def demand_column(self, source: ChangeSource, field: str) -> Column:
        """The column of a DICOM field outside the indexed ones, read from the catalog the
        first time a query asks for it and kept fresh by :meth:`refresh` after that.

        The catalog is read (a million rows: seconds) without the index lock, so the other
        queries go on meanwhile (they waited for it: the load benchmark's p99 of 3-5 s);
        queries for the same field wait for the one reading it. If a refresh ran during the
        read, the series it changed are read again under the lock (it did not know the
        column)."""
        with self.lock:
            column = self._known_demand(field)
            if column is not None:
                return column
            reading = self._demand_reading.setdefault(field, threading.Lock())
        with reading:
            with self.lock:
                column = self._known_demand(field)
                if column is not None:
                    return column
                watermark = self.watermark
            values = list(source.top_level_values(split_path(field)[0], None))
            with self.lock:
                self._demand_reading.pop(field, None)
                if len(self.demand_fields) >= MAX_DEMAND_COLUMNS:
                    oldest = min(self.demand_fields, key=self.demand_fields.__getitem__)
                    del self.demand_fields[oldest], self.columns[oldest]
                    self.sorts.forget(oldest)
                self.answers.clear()
                column = self.columns[field] = Column(field)
                column.codes = np.full(len(self.uids), -1, CODE)
                self.sorts.forget(field)
                self.demand_fields[field] = time.monotonic()
                try:
                    self._load_demand(source, field, None, None, values)
                    if self.watermark != watermark:  # refreshed meanwhile, without the column
                        self._reload_changed(source, field, watermark)
                except BaseException:  # half loaded would match too little: load it next time
                    del self.demand_fields[field], self.columns[field]
                    raise
                return column

    def _reload_changed(self, source: ChangeSource, field: str, since: int) -> None:
        """Read ``field`` again for the series changed since the watermark ``since`` (the
        refreshes that ran while the column was read did not know it)."""
        pages, _ = source.changed_series(since)
        uids = [row[0] for page in pages for row in page if row[0] in self.row_of]
        if uids:
            rows = np.asarray([self.row_of[uid] for uid in uids], np.int64)
            self._load_demand(source, field, uids, rows)

    def _known_demand(self, field: str) -> Column | None:
        """The loaded column of ``field`` (its use noted), or None."""
        column = self.columns.get(field)
        if column is not None and field in self.demand_fields:
            self.demand_fields[field] = time.monotonic()
        return column

    def _load_demand(
        self, source: ChangeSource, field: str, uids: list[str] | None, rows: Any,
        values: list[tuple[str, Any]] | None = None,
    ) -> None:  # fmt: skip
        """(Re)read a demand column for ``uids`` (their ``rows``), or for every series;
        ``values``: the catalog's ``(uid, stored value)`` pairs, read already."""
        column = self.columns[field]
        column.codes = _grown(column.codes, len(self.uids), -1)
        if rows is not None:
            column.codes[rows] = -1
        head = split_path(field)[0]
        targets: list[int] = []
        codes: list[int] = []
        row_of = self.row_of
        simple = head == field
        # JSON text repeats (a million series, a few distinct values): decoded once per text
        text = not getattr(source, "json_decoded", False)
        seen: dict[Any, int] = {}
        pairs = source.top_level_values(head, uids) if values is None else values
        for uid, stored in pairs:
            row = row_of.get(uid)
            if row is None:
                continue
            code = seen.get(stored) if text else None
            if code is None:
                raw = json.loads(stored) if text else stored
                if simple:
                    code = column.code_of_raw(raw)
                else:
                    code = column.code_of(tuple(field_values(SearchRecord({head: raw}), field)))
                if text and len(seen) < 100_000:
                    seen[stored] = code
            if code >= 0:
                targets.append(row)
                codes.append(code)
        if targets:
            column.codes[np.asarray(targets, np.int64)] = np.asarray(codes, CODE)
        column.changed()
        if rows is None:
            self.sorts.forget(field)
        else:
            self.sorts.changed(np.asarray(rows, np.int64), (field,))

    def _load_membership(self, source: ChangeSource) -> None:
        """Rebuild the tag and dataset membership columns (curation changed since)."""
        names: dict[str, dict[int, list[str]]] = {kind: {} for kind in MEMBERSHIP}
        for uid, kind, name in source.memberships():
            row = self.row_of.get(uid)
            if row is not None:
                names[kind].setdefault(row, []).append(name)
        for kind in MEMBERSHIP:
            column = Column(kind)
            codes = np.full(len(self.uids), -1, CODE)
            for row, found in names[kind].items():
                codes[row] = column.code_of(tuple(sorted(found)))
            column.codes = codes
            self.membership[kind] = column

    def apply(self, rows: Iterable[tuple[Any, ...]]) -> None:
        """Insert or replace series: ``(uid, study_uid, patient_id, search_doc, header, facts)``."""
        with self.lock:
            self._commit([self._decode(rows)])

    def apply_results(self, page: Iterable[tuple[str, dict[str, dict[str, Any]]]]) -> int:
        """Replace the result columns of the given series (``(uid, results)``; unknown UIDs are
        skipped: results are only written for series the catalog holds, which a later refresh
        brings in); returns how many rows changed."""
        rows: list[int] = []
        found: dict[str, tuple[list[int], list[int]]] = {}
        columns = self.columns
        for uid, results in page:
            row = self.row_of.get(uid)
            if row is None:
                continue
            rows.append(row)
            for name, value, raw in result_fields(results):
                column = columns.get(name)
                if column is None:
                    column = columns[name] = Column(name)
                    column.codes = np.full(len(self.uids), -1, CODE)
                    self.result_fields.add(name)
                code = column.code_of_raw(value) if raw else column.code_of(value)
                targets = found.get(name)
                if targets is None:
                    targets = found[name] = ([], [])
                targets[0].append(row)
                targets[1].append(code)
        if not rows:
            return 0
        self.answers.clear()
        changed = np.asarray(rows, np.int64)
        for name in self.result_fields:
            column = columns[name]
            if not column.codes.flags.writeable:
                column.codes = np.array(column.codes)
            column.codes = _grown(column.codes, len(self.uids), -1)
            column.codes[changed] = -1
            targets = found.get(name)
            if targets is not None:
                column.codes[np.asarray(targets[0], np.int64)] = np.asarray(targets[1], CODE)
            column.changed()
        self.sorts.changed(changed, self.result_fields)
        return len(rows)

    def apply_reviews(self, changes: Iterable[tuple[str, str]]) -> int:
        """Set the review status of the given series (``(uid, status)``); statuses of series
        without a row are kept until the series arrives; returns how many rows changed."""
        column = self.columns[REVIEW_FIELD]
        column.codes = _grown(column.codes, len(self.uids), column.code_of((PENDING,)))
        rows: list[int] = []
        codes: list[int] = []
        orphans = self.review_orphans
        for uid in [u for u in orphans if u in self.row_of]:  # series that arrived since
            rows.append(self.row_of[uid])
            codes.append(column.code_of((orphans.pop(uid),)))
        for uid, status in changes:
            row = self.row_of.get(uid)
            if row is None:
                orphans[uid] = status
                continue
            orphans.pop(uid, None)
            rows.append(row)
            codes.append(column.code_of((status,)))
        if rows:
            self.answers.clear()
            column.codes[np.asarray(rows, np.int64)] = np.asarray(codes, CODE)
            column.changed()
            self.sorts.changed(np.asarray(rows, np.int64), (REVIEW_FIELD,))
        return len(rows)

    def _decode(self, rows: Iterable[tuple[Any, ...]]) -> _Batch:
        """Codes of a page of rows (new series get their row numbers here)."""
        targets: list[int] = []
        studies: list[int] = []
        patients: list[int] = []
        docs: list[dict[str, Any]] = []
        for uid, study_uid, patient_id, doc_json, header, facts in rows:
            doc = _loads(doc_json)
            if doc is None:
                doc = search_document(_loads(header) or {}, _loads(facts))
            row = self.row_of.get(uid)
            if row is None:
                row = len(self.uids)
                self.uids.append(uid)
                self.row_of[uid] = row
            targets.append(row)
            docs.append(doc)
            studies.append(self._study_codes.setdefault(study_uid, len(self._study_codes)))
            patients.append(
                self._patient_codes.setdefault(patient_id, len(self._patient_codes) - 1)
            )
        codes: dict[str, list[int]] = {}
        columns = self.columns
        for position, doc in enumerate(docs):
            for name, value in doc.items():
                column = columns.get(name)
                if column is not None:
                    found = codes.get(name)
                    if found is None:
                        found = codes[name] = [-1] * len(docs)
                    found[position] = column.code_of_raw(value)
        return _Batch(
            np.asarray(targets, np.int64),
            np.asarray(studies, CODE),
            np.asarray(patients, CODE),
            {name: np.asarray(values, CODE) for name, values in codes.items()},
        )

    def _commit(self, batches: list[_Batch]) -> None:
        """Write decoded pages into the arrays (grown once for all of them)."""
        if not batches or not any(len(b.targets) for b in batches):
            return
        self.answers.clear()
        size = len(self.uids)
        index = np.concatenate([b.targets for b in batches])
        self.alive = _grown(self.alive, size, False)
        self.alive[index] = True
        self.study = _grown(self.study, size, -1)
        self.study[index] = np.concatenate([b.studies for b in batches])
        self.patient = _grown(self.patient, size, -1)
        self.patient[index] = np.concatenate([b.patients for b in batches])
        for name, column in self.columns.items():
            if name == REVIEW_FIELD or name in self.result_fields or name in self.demand_fields:
                # reviews and results follow their own changes (apply_reviews, apply_results),
                # demand columns are re-read; new rows: pending, or no value
                if column.codes.shape[0] < size:
                    fill = column.code_of((PENDING,)) if name == REVIEW_FIELD else -1
                    column.codes = _grown(column.codes, size, fill)
                    column.changed()  # its sort ordinals (if kept) are rows short
                continue
            if not any(name in b.codes for b in batches):
                if not column.values:  # a field no series has: one shared read-only -1
                    column.codes = np.broadcast_to(np.asarray(-1, CODE), (size,))
                    continue
                values = None
            else:
                values = np.concatenate(
                    [b.codes.get(name, np.full(len(b.targets), -1, CODE)) for b in batches]
                )
            if not column.codes.flags.writeable:
                column.codes = np.array(column.codes)
            column.codes = _grown(column.codes, size, -1)
            column.codes[index] = -1 if values is None else values
            column.changed()
        for column in self.membership.values():  # new series: no tags yet until rebuilt
            column.codes = _grown(column.codes, size, -1)
        self.sorts.changed(index)

    # -- reading -------------------------------------------------------------------------------
    @property
    def uid_rank(self) -> IntArray:
        """Per row, its position in SeriesInstanceUID (code point) order."""
        return self.sorts.uid_rank(self.uids)

    def rows_of_studies(self, study_uids: Iterable[str]) -> BoolArray:
        """The rows of the series of the given studies (unknown ones ignored)."""
        codes = [self._study_codes[u] for u in study_uids if u in self._study_codes]
        return np.isin(self.study, np.asarray(codes, CODE)) & self.alive

    def rows_of(self, uids: Iterable[str]) -> BoolArray:
        """The rows of the given series UIDs (unknown ones ignored)."""
        mask = np.zeros(len(self.uids), np.bool_)
        found = [self.row_of[u] for u in uids if u in self.row_of]
        if found:
            mask[np.asarray(found, np.int64)] = True
        return mask & self.alive

    def counts(self, mask: BoolArray) -> dict[str, int]:
        """Series, studies and patients among the rows of ``mask``."""
        series = int(np.count_nonzero(mask))
        if not series:
            return {"series": 0, "studies": 0, "patients": 0}
        studies = np.bincount(self.study[mask], minlength=len(self._study_codes))
        patients = self.patient[mask]
        patients = patients[patients >= 0]
        people = (
            np.bincount(patients, minlength=len(self._patient_codes)) if patients.size else None
        )
        return {
            "series": series,
            "studies": int(np.count_nonzero(studies)),
            "patients": 0 if people is None else int(np.count_nonzero(people)),
        }


def _grown(array: Any, size: int, fill: Any) -> Any:
    """``array`` extended to ``size`` rows with ``fill``.

    The rows live at the start of a buffer with room for a quarter more: while an ingest
    runs, each refresh adds a few rows, and copying every column's million rows for each
    (``np.concatenate``) was 6 % of a loaded server's time (bench/load.py, session 12). The
    array returned is a view of that buffer; one that is not (a snapshot's, a read-only
    one) is copied into a new buffer once."""
    have = array.shape[0]
    if have >= size:
        return array
    base = array.base
    if (
        isinstance(base, np.ndarray)
        and base.ndim == 1
        and base.dtype == array.dtype
        and base.shape[0] >= size
        and array.flags.writeable
        and array.flags.c_contiguous
        and array.ctypes.data == base.ctypes.data
    ):
        grown = base[:size]
    else:
        grown = np.empty(size + max(size // 4, 1024), array.dtype)[:size]
        grown[:have] = array
    grown[have:] = fill
    return grown
