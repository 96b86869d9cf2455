"""The review status of series: ``accepted``, ``rejected``, ``questionable`` or ``pending``.

One row per reviewed series in ``reviews`` (status, reviewer, time, note), keyed by
SeriesInstanceUID with no foreign key: re-ingest never touches it, and a series that is
deleted and ingested again finds its review where it left it. A series without a row is
``pending``; setting ``pending`` is how a review is reset.

Every write is one transaction that locks the rows of the series it reviews (PostgreSQL
``FOR UPDATE``, in UID order; SQLite serialises writers anyway) before reading their current
status, so two reviewers on the same series never lose a change: the later write wins, and
each change is one ``review.set`` audit entry with the status before and after. Writing the
status and note a series already has changes nothing and writes no audit entry. Rows carry
the transaction's change number (``seq``), which the search index follows as it follows
results, so ``review:`` terms see a write at once (docs/curation.md, "Review").

Examples
--------
>>> from radcurate.query import parse, to_text
>>> to_text(exclude_rejected(parse("Modality:CT")))
'Modality:CT NOT review:rejected'
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from radcurate.catalog.aggregations import AggregateResult, AggregationRequest
from radcurate.catalog.curation_types import (
    AuditEntry,
    BulkResult,
    CurationError,
    CurationNotFoundError,
    Selection,
    actor_name,
    chunks,
)
from radcurate.catalog.result_types import iso_time
from radcurate.catalog.rows import dumps
from radcurate.query.ast import REVIEW_FIELD, REVIEW_STATUSES, All, Node, Not, Review, conjoin

#: the status of a series never reviewed (or reset)
PENDING = "pending"
#: the longest note kept with a review
MAX_NOTE = 4000
#: the audit action of one series' status change
AUDIT_ACTION = "review.set"

_AUDIT_INSERT = (
    "INSERT INTO audit_log (at, actor, action, target, selection, series_count, detail) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)


class ReviewError(CurationError):
    """Bad review input (an unknown status, a note too long)."""

    code = "invalid_review"


@dataclass(frozen=True)
class SeriesReview:
    """The review of one series (``reviewer``/``reviewed_at`` None: never reviewed)."""

    series_uid: str
    status: str
    reviewer: str | None
    note: str
    reviewed_at: float | None

    def to_dict(self) -> dict[str, Any]:
        """The API's shape: no note is ``None``, the time ISO 8601 UTC (``None``: never).

        Examples
        --------
        >>> SeriesReview("1.2.3", "accepted", "ana", "", 0.0).to_dict()["reviewed_at"]
        '1970-01-01T00:00:00+00:00'
        """
        return {
            "series_uid": self.series_uid,
            "status": self.status,
            "reviewer": self.reviewer,
            "note": self.note or None,
            "reviewed_at": None if self.reviewed_at is None else iso_time(self.reviewed_at),
        }


@dataclass(frozen=True)
class ReviewProgress:
    """How far the review of a query's series is: per-status counts of its ``total`` series."""

    total: int
    accepted: int
    rejected: int
    questionable: int
    pending: int

    @property
    def reviewed(self) -> int:
        """Series with a status other than ``pending``."""
        return self.total - self.pending

    def to_dict(self) -> dict[str, int]:
        """``{total, reviewed, accepted, rejected, questionable, pending}``."""
        return {
            "total": self.total,
            "reviewed": self.reviewed,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "questionable": self.questionable,
            "pending": self.pending,
        }


def check_status(status: str) -> str:
    """A review status in its canonical (lowercase) spelling; :class:`ReviewError` otherwise.

    Examples
    --------
    >>> check_status("Accepted")
    'accepted'
    """
    canonical = status.strip().lower() if isinstance(status, str) else ""
    if canonical not in REVIEW_STATUSES:
        raise ReviewError(
            f"not a review status: {status!r} (use one of {', '.join(REVIEW_STATUSES)})",
            code="invalid_review_status",
        )
    return canonical


def check_note(note: str | None) -> str:
    """A review note, stripped (None is the empty note); :class:`ReviewError` when too long."""
    text = (note or "").strip()
    if len(text) > MAX_NOTE:
        raise ReviewError(f"a review note holds at most {MAX_NOTE} characters, not {len(text)}")
    return text


def exclude_rejected(query: Node, *, include_rejected: bool = False) -> Node:
    """``query`` without the rejected series, as dataset exports take it (``-review:rejected``).

    ``include_rejected``: the query unchanged (an export asked for them).
    """
    if include_rejected:
        return query
    rejected = Not(Review("rejected"))
    return rejected if isinstance(query, All) else conjoin([query, rejected])


class ReviewSession(Protocol):
    """What the store needs of a SQL catalog: statements, transactions, change numbers,
    selections and aggregations (``SQLCatalog`` provides them)."""

    dialect: str
    #: `` FOR UPDATE`` where writers must lock the rows they read (PostgreSQL), else empty
    row_lock: str

    def _sql(self, sql: str) -> str: ...

    def _transaction(self) -> AbstractContextManager[Any]: ...

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def _change_seq(self, cur: Any) -> int: ...

    def resolve_selection(self, selection: Selection) -> list[str]: ...

    def aggregate(
        self, query: str | Node, requests: Sequence[AggregationRequest]
    ) -> AggregateResult: ...

    def audit_log(
        self, limit: int = 100, action: str | None = None, target: str | None = None
    ) -> list[AuditEntry]: ...


class ReviewStore(Protocol):
    """Review statuses of series (one implementation, both SQL engines)."""

    def review(self, series_uid: str) -> SeriesReview:
        """The review of a series (``pending`` when never reviewed; 404 for an unknown one)."""

    def reviews_of(self, series_uids: Sequence[str]) -> dict[str, SeriesReview]:
        """The reviews of many series (``pending`` for those never reviewed)."""

    def set_review(
        self, series_uid: str, status: str, note: str | None = None, *, actor: str | None = None
    ) -> SeriesReview:
        """Set one series' status and note; returns the review as stored."""

    def set_reviews(
        self,
        selection: Selection,
        status: str,
        note: str | None = None,
        *,
        actor: str | None = None,
    ) -> BulkResult:
        """Set the status and note of every series of a selection, in one transaction."""

    def progress(self, query: str | Node = "*") -> ReviewProgress:
        """Per-status counts of the series matching ``query``."""

    def history(self, series_uid: str, limit: int = 100) -> list[AuditEntry]:
        """The status changes of a series, newest first (its ``review.set`` audit entries)."""

    def changed_reviews(self, since: int) -> list[tuple[str, str]]:
        """``(series_uid, status)`` written at or after change number ``since`` (the index)."""


class SQLReviewStore:
    """:class:`ReviewStore` over a SQL catalog's connection (composed into ``SQLCatalog``)."""

    def __init__(self, session: ReviewSession) -> None:
        self._db = session

    # -- reading -------------------------------------------------------------------------------
    def reviews_of(self, series_uids: Sequence[str]) -> dict[str, SeriesReview]:
        """The reviews of many series (``pending`` for those never reviewed)."""
        out = {uid: SeriesReview(uid, PENDING, None, "", None) for uid in series_uids}
        for chunk in chunks(list(out)):
            marks = ",".join("?" * len(chunk))
            for uid, status, reviewer, note, at in self._db._read(
                "SELECT series_uid, status, reviewer, note, reviewed_at FROM reviews "
                f"WHERE series_uid IN ({marks})",
                tuple(chunk),
            ):
                out[uid] = SeriesReview(uid, status, reviewer, note, float(at))
        return out

    def review(self, series_uid: str) -> SeriesReview:
        """The review of a series (``pending`` when never reviewed).

        Raises
        ------
        CurationNotFoundError
            The series is not in the catalog.
        """
        if not self._db._read("SELECT 1 FROM series WHERE series_uid = ?", (series_uid,)):
            raise CurationNotFoundError(
                f"no series {series_uid!r} in the catalog", code="series_not_found"
            )
        return self.reviews_of([series_uid])[series_uid]

    def history(self, series_uid: str, limit: int = 100) -> list[AuditEntry]:
        """The status changes of a series, newest first (its ``review.set`` audit entries)."""
        return self._db.audit_log(limit, action=AUDIT_ACTION, target=series_uid)

    def changed_reviews(self, since: int) -> list[tuple[str, str]]:
        """``(series_uid, status)`` written at or after change number ``since`` (the index)."""
        rows = self._db._read("SELECT series_uid, status FROM reviews WHERE seq >= ?", (since,))
        return [(str(uid), str(status)) for uid, status in rows]

    def progress(self, query: str | Node = "*") -> ReviewProgress:
        """Per-status counts of the series matching ``query`` (a bad query raises
        ``QueryError``): the search index's ``review`` column, as facets count it."""
        request = AggregationRequest(REVIEW_FIELD, "terms", size=len(REVIEW_STATUSES))
        result = self._db.aggregate(query, [request])
        counts = {str(b.key): b.count for b in result.aggregations[0].buckets}
        return ReviewProgress(
            result.counts.series,
            counts.get("accepted", 0),
            counts.get("rejected", 0),
            counts.get("questionable", 0),
            counts.get(PENDING, 0),
        )

    # -- writing -------------------------------------------------------------------------------
    def set_review(
        self, series_uid: str, status: str, note: str | None = None, *, actor: str | None = None
    ) -> SeriesReview:
        """Set one series' status and note; returns the review as stored.

        Raises
        ------
        ReviewError
            An unknown status or a note too long.
        CurationNotFoundError
            The series is not in the catalog.
        """
        status, text = check_status(status), check_note(note)
        _, found = self._write([series_uid], status, text, actor_name(actor))
        if not found:
            raise CurationNotFoundError(
                f"no series {series_uid!r} in the catalog", code="series_not_found"
            )
        return self.reviews_of([series_uid])[series_uid]

    def set_reviews(
        self,
        selection: Selection,
        status: str,
        note: str | None = None,
        *,
        actor: str | None = None,
    ) -> BulkResult:
        """Set the status and note of every series of a selection, in one transaction.

        ``changed`` counts the series whose status or note changed (each one audit entry);
        ``series_count`` the selection's series. The selection is resolved (and a bad query
        or an unknown included UID raised) before anything is written.
        """
        status, text = check_status(status), check_note(note)
        uids = self._db.resolve_selection(selection)
        changed, _ = self._write(uids, status, text, actor_name(actor))
        return BulkResult(changed, len(uids))

    def _write(self, uids: Sequence[str], status: str, note: str, who: str) -> tuple[int, int]:
        """Write ``status``/``note`` where it changes something; (changed, series found)."""
        db = self._db
        now = time.time()
        changed = found = 0
        with db._transaction() as cur:
            seq: int | None = None
            for chunk in chunks(sorted(set(uids))):
                present = self._lock_series(cur, chunk)
                found += len(present)
                current = self._current(cur, present)
                rows: list[tuple[Any, ...]] = []
                audits: list[tuple[Any, ...]] = []
                for uid in present:
                    before, before_note = current.get(uid, (PENDING, ""))
                    if (before, before_note) == (status, note):
                        continue  # idempotent: nothing changes, nothing is audited
                    if seq is None:
                        seq = db._change_seq(cur)
                    rows.append((uid, status, who, note, now, seq))
                    detail = {"before": before, "after": status, "note": note}
                    if before_note != note:
                        detail["before_note"] = before_note
                    audits.append((now, who, AUDIT_ACTION, uid, None, 1, dumps(detail)))
                if rows:
                    cur.executemany(
                        db._sql(
                            "INSERT INTO reviews (series_uid, status, reviewer, note, "
                            "reviewed_at, seq) VALUES (?, ?, ?, ?, ?, ?) "
                            "ON CONFLICT (series_uid) DO UPDATE SET status = excluded.status, "
                            "reviewer = excluded.reviewer, note = excluded.note, "
                            "reviewed_at = excluded.reviewed_at, seq = excluded.seq"
                        ),
                        rows,
                    )
                    cur.executemany(db._sql(_AUDIT_INSERT), audits)
                    changed += len(rows)
        return changed, found

    def _lock_series(self, cur: Any, chunk: Sequence[str]) -> list[str]:
        """The series of ``chunk`` the catalog holds, locked until the transaction ends.

        The lock serialises reviewers of a series: without it, two PostgreSQL transactions
        read the same status and both audit it as their "before". Chunks come in UID order,
        so writers lock in the same order (as the result store does).
        """
        marks = ",".join("?" * len(chunk))
        cur.execute(
            self._db._sql(
                f"SELECT series_uid FROM series WHERE series_uid IN ({marks}) "
                "ORDER BY series_uid" + self._db.row_lock
            ),
            tuple(chunk),
        )
        return [str(r[0]) for r in cur.fetchall()]

    def _current(self, cur: Any, uids: Sequence[str]) -> dict[str, tuple[str, str]]:
        if not uids:
            return {}
        marks = ",".join("?" * len(uids))
        cur.execute(
            self._db._sql(
                f"SELECT series_uid, status, note FROM reviews WHERE series_uid IN ({marks})"
            ),
            tuple(uids),
        )
        return {str(r[0]): (str(r[1]), str(r[2])) for r in cur.fetchall()}
