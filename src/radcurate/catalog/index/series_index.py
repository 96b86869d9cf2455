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

import json
import threading
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

import numpy as np

from radcurate.catalog.index.column import BoolArray, Column, IntArray
from radcurate.catalog.projection import INDEXED_FIELDS, search_document


class ChangeSource(Protocol):
    """What the index reads from a catalog (``SQLCatalog`` provides it)."""

    def change_watermark(self) -> int: ...

    def changed_series(self, since: int) -> tuple[list[tuple[Any, ...]], list[str]]: ...


def _loads(value: Any) -> Any:
    if value is None or isinstance(value, (dict, list)):
        return value
    return json.loads(value)


class SeriesIndex:
    """Rows (one per series ever seen), an ``alive`` mask, and one :class:`Column` per field."""

    def __init__(self, fields: Sequence[str] = INDEXED_FIELDS) -> None:
        self.columns: dict[str, Column] = {name: Column(name) for name in fields}
        self.uids: list[str] = []
        self.row_of: dict[str, int] = {}
        self.alive: BoolArray = np.zeros(0, np.bool_)
        self.study: IntArray = np.zeros(0, np.int64)
        self.patient: IntArray = np.zeros(0, np.int64)
        self._study_codes: dict[str, int] = {}
        self._patient_codes: dict[str | None, int] = {None: -1}
        self._uid_rank: IntArray | None = None
        self.watermark = 0
        self.lock = threading.RLock()
        #: sort permutations by (field, descending), dropped whenever rows change
        self.sort_cache: dict[tuple[str | None, bool], tuple[IntArray, IntArray]] = {}

    def __len__(self) -> int:
        return len(self.uids)

    # -- following the catalog -----------------------------------------------------------------
    def refresh(self, source: ChangeSource) -> int:
        """Apply the catalog's changes since the last refresh; returns how many rows changed."""
        with self.lock:
            watermark = source.change_watermark()
            rows, deleted = source.changed_series(self.watermark)
            for uid in deleted:
                row = self.row_of.get(uid)
                if row is not None:
                    self.alive[row] = False
            self.apply(rows)
            self.watermark = watermark
            return len(rows) + len(deleted)

    def apply(self, rows: Iterable[tuple[Any, ...]]) -> None:
        """Insert or replace series: ``(uid, study_uid, patient_id, search_doc, header, facts)``."""
        targets: list[int] = []
        studies: list[int] = []
        patients: list[int] = []
        docs: list[dict[str, Any]] = []
        appended = 0
        for uid, study_uid, patient_id, doc_json, header, facts in rows:
            doc = _loads(doc_json)
            if doc is None:
                doc = search_document(_loads(header) or {}, _loads(facts))
            row = self.row_of.get(uid)
            if row is None:
                row = len(self.uids)
                self.uids.append(uid)
                self.row_of[uid] = row
                appended += 1
            targets.append(row)
            docs.append(doc)
            studies.append(self._study_codes.setdefault(study_uid, len(self._study_codes)))
            patients.append(
                self._patient_codes.setdefault(patient_id, len(self._patient_codes) - 1)
            )
        codes: dict[str, list[int]] = {name: [-1] * len(docs) for name in self.columns}
        columns = self.columns
        for position, doc in enumerate(docs):
            for name, value in doc.items():
                column = columns.get(name)
                if column is not None:
                    codes[name][position] = column.code_of_raw(value)
        if not targets:
            return
        size = len(self.uids)
        index = np.asarray(targets, np.int64)
        self.alive = _grown(self.alive, size, False)
        self.alive[index] = True
        self.study = _grown(self.study, size, -1)
        self.study[index] = studies
        self.patient = _grown(self.patient, size, -1)
        self.patient[index] = patients
        for name, column in self.columns.items():
            column.codes = _grown(column.codes, size, -1)
            column.codes[index] = codes[name]
            column.changed()
        self.sort_cache.clear()
        if appended:
            self._uid_rank = None

    # -- reading -------------------------------------------------------------------------------
    @property
    def uid_rank(self) -> IntArray:
        """Per row, its position in SeriesInstanceUID (code point) order."""
        if self._uid_rank is None:
            order = sorted(range(len(self.uids)), key=self.uids.__getitem__)
            rank = np.empty(len(self.uids), np.int64)
            rank[np.asarray(order, np.int64)] = np.arange(len(order), dtype=np.int64)
            self._uid_rank = rank
        return self._uid_rank

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
        studies = self.study[mask]
        patients = self.patient[mask]
        patients = patients[patients >= 0]
        return {
            "series": series,
            "studies": int(np.unique(studies).size) if series else 0,
            "patients": int(np.unique(patients).size) if patients.size else 0,
        }


def _grown(array: Any, size: int, fill: Any) -> Any:
    """``array`` extended to ``size`` rows with ``fill``."""
    if array.shape[0] >= size:
        return array
    extra = np.full(size - array.shape[0], fill, dtype=array.dtype)
    return np.concatenate((array, extra))
