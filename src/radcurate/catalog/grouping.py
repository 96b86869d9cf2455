"""A query's matches grouped by patient, then by study: the structured gallery.

``patient_groups`` pages the patients (PatientID, lowercased, in code-point
order; the series without a PatientID last) with how many of their studies
and series match. PatientIDs group as the query language matches them
(case-insensitively; an empty one counts as none), so a group's ``term``
(``catalog/groups.py``) selects exactly its series. On the search index the
counting is numpy over the match mask and the PatientID column (fast on a
million series); without it, one ``GROUP BY`` in SQL.

``study_groups`` lists one patient's studies (newest StudyDate first) with
their matching series' count and modalities: the query and the patient's
term evaluated together, the study rows of those series read in SQL. Part of
``SQLCatalog``; see docs/ui-gallery.md.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

import numpy as np

from radcurate.catalog.groups import (
    MAX_GROUP_PAGE,
    GroupCursor,
    GroupPage,
    PatientGroup,
    StudyGroup,
    patient_term,
)
from radcurate.catalog.querying import within_budget
from radcurate.query import parse
from radcurate.query.ast import Node, conjoin
from radcurate.query.errors import QueryError
from radcurate.query.limits import check_budget, dedupe

if TYPE_CHECKING:
    from radcurate.catalog.index.column import BoolArray, Column
    from radcurate.catalog.index.series_index import SeriesIndex

#: the sort key of the group of series without a PatientID (after every PatientID)
_NO_PATIENT_KEY: tuple[int, str] = (1, "")


def _group_key(patient_id: str | None) -> tuple[int, str]:
    return _NO_PATIENT_KEY if not patient_id else (0, patient_id.lower())


def _page_size(limit: int) -> int:
    if not 1 <= limit <= MAX_GROUP_PAGE:
        raise ValueError(f"limit must be between 1 and {MAX_GROUP_PAGE}, not {limit}")
    return limit


def _chunks(items: Sequence[str], size: int = 500) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class GroupingMixin:
    """The grouping half of ``SQLCatalog``'s search."""

    json_decoded: bool

    if TYPE_CHECKING:

        def _search_read(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]: ...

        def _compile(self, query: str | Node) -> tuple[str, tuple[Any, ...]]: ...

        def _index_mask(
            self, tree: Node
        ) -> AbstractContextManager[tuple[SeriesIndex, BoolArray] | None]: ...

        def _column_for(self, index: SeriesIndex, field: str) -> Column: ...

        def top_level_values(
            self, key: str, uids: Sequence[str] | None
        ) -> Iterator[tuple[str, Any]]: ...

    # -- patients --------------------------------------------------------------------------
    @within_budget
    def patient_groups(
        self, query: str | Node, *, limit: int = 100, after: str | None = None
    ) -> GroupPage:
        """One page of the patients whose series match ``query``, each with how many of its
        studies and series match; ``after`` is the previous page's ``next_cursor``.

        ``total`` counts the groups (patients, plus one for the series without a
        PatientID), ``series`` and ``studies`` every match.
        """
        limit = _page_size(limit)
        start = _start_key(after)
        tree = dedupe(parse(query) if isinstance(query, str) else query)
        with self._index_mask(tree) as found:
            if found is not None:
                index, mask = found
                groups = _patients_on_index(index, mask, self._column_for(index, "PatientID"))
        if found is None:
            groups = self._patients_in_sql(tree)
        groups.sort(key=lambda g: _group_key(g.patient_id))
        series = sum(g.series for g in groups)
        studies = sum(g.studies for g in groups)
        rest = groups if start is None else [g for g in groups if _group_key(g.patient_id) > start]
        page = rest[:limit]
        token = GroupCursor(_group_key(page[-1].patient_id)).encode() if len(rest) > limit else None
        return GroupPage(page, len(groups), token, series=series, studies=studies)

    def _patients_in_sql(self, tree: Node) -> list[PatientGroup]:
        where, params = self._compile(tree)
        rows = self._search_read(
            "SELECT s.patient_id, s.study_uid, COUNT(*) FROM series s "
            f"WHERE {where} GROUP BY s.patient_id, s.study_uid",
            params,
        )
        spellings: dict[tuple[int, str], Counter[str]] = {}
        studies: dict[tuple[int, str], set[str]] = {}
        for patient, study, count in rows:
            key = _group_key(patient)
            spellings.setdefault(key, Counter())[patient or ""] += int(count)
            studies.setdefault(key, set()).add(str(study))
        return [
            PatientGroup(_spelling(spellings[key]), len(studies[key]), spellings[key].total())
            for key in spellings
        ]

    # -- studies of one patient ----------------------------------------------------------------
    @within_budget
    def study_groups(
        self,
        query: str | Node,
        patient_id: str | None,
        *,
        limit: int = 100,
        after: str | None = None,
    ) -> GroupPage:
        """One page of the studies of ``patient_id`` (None: the series without a PatientID)
        whose series match ``query``, newest StudyDate first (studies without a date
        last, ties by StudyInstanceUID), each with its matching series' count and modalities.
        """
        limit = _page_size(limit)
        offset = _offset(after)
        tree = dedupe(parse(query) if isinstance(query, str) else query)
        mine = dedupe(conjoin([tree, parse(patient_term(patient_id))]))
        rows: list[tuple[Any, ...]] = []
        with self._index_mask(mine) as found:
            if found is not None:
                index, mask = found
                uids = [index.uids[r] for r in np.flatnonzero(mask).tolist()]
        if found is not None:
            for chunk in _chunks(uids):
                check_budget()
                marks = ",".join("?" * len(chunk))
                rows += self._search_read(
                    "SELECT s.study_uid, s.modality, COUNT(*), MIN(s.series_uid) FROM series s "
                    f"WHERE s.series_uid IN ({marks}) GROUP BY s.study_uid, s.modality",
                    tuple(chunk),
                )
        else:
            where, params = self._compile(mine)
            rows = self._search_read(
                "SELECT s.study_uid, s.modality, COUNT(*), MIN(s.series_uid) FROM series s "
                f"WHERE {where} GROUP BY s.study_uid, s.modality",
                params,
            )
        studies = self._studies_of(rows, patient_id or None)
        page = studies[offset : offset + limit]
        more = len(studies) > offset + limit
        token = GroupCursor((offset + limit,)).encode() if more else None
        series = sum(s.series for s in studies)
        return GroupPage(page, len(studies), token, series=series, studies=len(studies))

    def _studies_of(self, rows: list[tuple[Any, ...]], patient_id: str | None) -> list[StudyGroup]:
        """``(study_uid, modality, count, first series)`` rows -> studies, newest first."""
        counted: dict[str, tuple[int, set[str], str]] = {}
        for study_uid, modality, count, first in rows:
            total, modalities, lowest = counted.get(str(study_uid), (0, set(), str(first)))
            if modality:
                modalities.add(str(modality))
            counted[str(study_uid)] = (total + int(count), modalities, min(lowest, str(first)))
        check_budget()
        firsts = {entry[2]: uid for uid, entry in counted.items()}
        dates = self._study_values("StudyDate", firsts)
        descriptions = self._study_values("StudyDescription", firsts)
        studies = [
            StudyGroup(
                uid, patient_id, total, dates.get(uid), descriptions.get(uid), tuple(sorted(mods))
            )
            for uid, (total, mods, _) in counted.items()
        ]
        # newest first: ascending by UID, then stably by date descending (no date last)
        studies.sort(key=lambda s: s.study_uid)
        studies.sort(key=lambda s: s.study_date or "", reverse=True)
        return studies

    def _study_values(self, key: str, firsts: dict[str, str]) -> dict[str, str]:
        """Per study, the text of a study-level attribute, read from one of its series."""
        out: dict[str, str] = {}
        for series_uid, raw in self.top_level_values(key, list(firsts)):
            value = json.loads(raw) if not self.json_decoded and isinstance(raw, str) else raw
            if isinstance(value, list):
                value = value[0] if value else None
            if value is not None and value != "":
                out[firsts[series_uid]] = str(value)
        return out


def _spelling(counts: Counter[str]) -> str | None:
    """A group's PatientID as shown: its most common spelling (None: no PatientID)."""
    best = max(counts.items(), key=lambda kv: (kv[1], kv[0]))[0]
    return best or None


def _patients_on_index(index: SeriesIndex, mask: BoolArray, column: Column) -> list[PatientGroup]:
    """Patients among the rows of ``mask``, counted with numpy (Python only per distinct
    PatientID present, never per series)."""
    rows = np.flatnonzero(mask)
    if not rows.size:
        return []
    codes = column.codes[rows].astype(np.int64)
    present, inverse, per_code = np.unique(codes, return_inverse=True, return_counts=True)
    # each distinct PatientID value -> its group (lowercased), -1 and "" -> the no-ID group
    keys: dict[tuple[int, str], int] = {}
    spellings: list[Counter[str]] = []
    group_of = np.empty(present.size, np.int64)
    for i, (code, count) in enumerate(zip(present.tolist(), per_code.tolist(), strict=True)):
        values = column.values[code] if code >= 0 else ()
        text = str(values[0]) if values else ""
        key = _group_key(text)
        group = keys.setdefault(key, len(keys))
        if group == len(spellings):
            spellings.append(Counter())
        spellings[group][text] += int(count)
        group_of[i] = group
    groups = group_of[inverse.reshape(-1)]
    studies = index.study[rows].astype(np.int64)
    width = int(studies.max()) + 1
    pairs = np.unique(groups * width + studies)
    study_counts = np.bincount(pairs // width, minlength=len(keys))
    series_counts = np.bincount(groups, minlength=len(keys))
    return [
        PatientGroup(_spelling(spellings[g]), int(study_counts[g]), int(series_counts[g]))
        for g in range(len(keys))
    ]


def _start_key(after: str | None) -> tuple[int, str] | None:
    if not after:
        return None
    key = GroupCursor.decode(after).key
    if len(key) != 2 or key[0] not in (0, 1) or not isinstance(key[1], str):
        raise QueryError(f"invalid group cursor {after[:40]!r}")
    return (int(key[0]), str(key[1]))


def _offset(after: str | None) -> int:
    if not after:
        return 0
    key = GroupCursor.decode(after).key
    if len(key) != 1 or not isinstance(key[0], int) or key[0] < 0:
        raise QueryError(f"invalid group cursor {after[:40]!r}")
    return int(key[0])
