"""Job records: background work (thumbnails, ...) with its progress, kept in the catalog.

A running job's owner writes a heartbeat every few seconds. A job whose owner was
killed never finishes its record; readers see it as ``failed`` (``interrupted``)
once its heartbeat is older than :data:`STALE_AFTER` seconds, or at once when its
owner was a process on this host that no longer exists. Nothing is written on read.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from radcurate.catalog.rows import dumps

__all__ = [
    "HEARTBEAT_INTERVAL",
    "JOB_STATES",
    "STALE_AFTER",
    "JobRecord",
    "JobState",
    "JobsMixin",
    "this_owner",
]

JobState = Literal["queued", "running", "done", "failed", "cancelled"]
JOB_STATES: tuple[JobState, ...] = ("queued", "running", "done", "failed", "cancelled")
FINISHED_STATES = frozenset({"done", "failed", "cancelled"})
#: seconds between heartbeats of a running job
HEARTBEAT_INTERVAL = 5.0
#: a running job whose last heartbeat is older than this is shown as interrupted
STALE_AFTER = 60.0

_COLUMNS = (
    "id, kind, state, params, done, total, message, result, error, owner, cancel_requested, "
    "created_at, started_at, finished_at, heartbeat_at"
)


def this_owner() -> str:
    """``host:pid`` of this process, recorded on the jobs it runs."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _owner_is_dead(owner: str | None) -> bool:
    """True when ``owner`` was a process on this host that no longer exists."""
    if not owner:
        return False
    host, _, pid_text = owner.rpartition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # exists, owned by someone else
        return False
    return False


def _iso(at: float | None) -> str | None:
    return None if at is None else datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class JobRecord:
    """One job as its record says, its state as readers should see it.

    Attributes
    ----------
    state
        ``queued``, ``running``, ``done``, ``failed`` or ``cancelled``; a running job
        whose owner stopped heartbeating reads ``failed`` with ``interrupted`` True.
    done, total
        Progress (``total`` None while unknown).
    cancel_requested
        Someone asked a running job to stop; its owner ends it as ``cancelled``.
    """

    id: str
    kind: str
    state: JobState
    params: dict[str, Any] = field(default_factory=dict)
    done: int = 0
    total: int | None = None
    message: str = ""
    result: dict[str, Any] | None = None
    error: str | None = None
    owner: str | None = None
    cancel_requested: bool = False
    created_at: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None
    heartbeat_at: float | None = None
    interrupted: bool = False

    @property
    def finished(self) -> bool:
        """True once the job is done, failed (interrupted included) or cancelled."""
        return self.state in FINISHED_STATES

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of the API (times as ISO 8601 UTC)."""
        return {
            "id": self.id,
            "kind": self.kind,
            "state": self.state,
            "done": self.done,
            "total": self.total,
            "message": self.message,
            "params": self.params,
            "result": self.result,
            "error": self.error,
            "interrupted": self.interrupted,
            "cancel_requested": self.cancel_requested,
            "owner": self.owner,
            "created_at": _iso(self.created_at),
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "heartbeat_at": _iso(self.heartbeat_at),
        }


def _seen(record: JobRecord, now: float, stale_after: float) -> JobRecord:
    """The record as readers see it: a running job without a live owner is interrupted."""
    if record.state != "running":
        return record
    last = record.heartbeat_at or record.started_at or record.created_at
    if now - last <= stale_after and not _owner_is_dead(record.owner):
        return record
    ago = max(0.0, now - last)
    return replace(
        record,
        state="failed",
        interrupted=True,
        error=record.error or f"interrupted: its process stopped (last heartbeat {ago:.0f} s ago)",
        finished_at=last,
    )


class JobsMixin:
    """Job storage for :class:`~radcurate.catalog.sql.SQLCatalog` (same SQL on both engines)."""

    if TYPE_CHECKING:
        json_decoded: bool

        def _sql(self, sql: str) -> str: ...

        def _transaction(self) -> AbstractContextManager[Any]: ...

        def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    #: seconds without a heartbeat after which a running job reads as interrupted
    job_stale_after: float = STALE_AFTER

    def _job_from_row(self, row: Sequence[Any]) -> JobRecord:
        def decoded(value: Any) -> Any:
            if value is None or self.json_decoded:
                return value
            return json.loads(value)

        return JobRecord(
            id=str(row[0]),
            kind=str(row[1]),
            state=row[2],
            params=decoded(row[3]) or {},
            done=int(row[4]),
            total=None if row[5] is None else int(row[5]),
            message=str(row[6] or ""),
            result=decoded(row[7]),
            error=row[8],
            owner=row[9],
            cancel_requested=bool(row[10]),
            created_at=float(row[11]),
            started_at=None if row[12] is None else float(row[12]),
            finished_at=None if row[13] is None else float(row[13]),
            heartbeat_at=None if row[14] is None else float(row[14]),
        )

    def create_job(
        self, kind: str, params: dict[str, Any] | None = None, *, total: int | None = None
    ) -> JobRecord:
        """Record a new ``queued`` job of ``kind`` and return it."""
        if not kind or not kind.replace("_", "").replace("-", "").isalnum():
            raise ValueError(f"job kind must be a short word like 'thumbnails', not {kind!r}")
        job_id = uuid.uuid4().hex
        now = time.time()
        with self._transaction() as cur:
            cur.execute(
                self._sql(
                    "INSERT INTO jobs (id, kind, state, params, done, total, message, "
                    "cancel_requested, created_at) VALUES (?, ?, 'queued', ?, 0, ?, '', 0, ?)"
                ),
                (job_id, kind, dumps(params or {}), total, now),
            )
        record = self.job(job_id)
        assert record is not None
        return record

    def start_job(self, job_id: str, owner: str | None = None) -> JobRecord:
        """Mark a queued job ``running`` by ``owner`` (default: this process).

        A job cancelled while queued stays cancelled; the returned record says so.

        Raises
        ------
        KeyError
            No such job.
        """
        now = time.time()
        with self._transaction() as cur:
            cur.execute(
                self._sql(
                    "UPDATE jobs SET state = 'running', owner = ?, started_at = ?, "
                    "heartbeat_at = ? WHERE id = ? AND state = 'queued'"
                ),
                (owner or this_owner(), now, now, job_id),
            )
        return self._job_or_raise(job_id)

    def update_job(
        self,
        job_id: str,
        *,
        done: int | None = None,
        total: int | None = None,
        message: str | None = None,
    ) -> bool:
        """Record progress (and a heartbeat) of a running job.

        Returns
        -------
        bool
            True when someone asked the job to stop (see :meth:`cancel_job`).
        """
        sets = ["heartbeat_at = ?"]
        params: list[Any] = [time.time()]
        for column, value in (("done", done), ("total", total), ("message", message)):
            if value is not None:
                sets.append(f"{column} = ?")
                params.append(value)
        with self._transaction() as cur:
            cur.execute(
                self._sql(f"UPDATE jobs SET {', '.join(sets)} WHERE id = ? AND state = 'running'"),
                (*params, job_id),
            )
            cur.execute(self._sql("SELECT cancel_requested FROM jobs WHERE id = ?"), (job_id,))
            row = cur.fetchone()
        return bool(row and row[0])

    def _end_job(
        self,
        job_id: str,
        state: JobState,
        *,
        result: dict[str, Any] | None = None,
        error: str | None = None,
        message: str | None = None,
    ) -> JobRecord:
        now = time.time()
        with self._transaction() as cur:
            cur.execute(
                self._sql(
                    "UPDATE jobs SET state = ?, result = ?, error = ?, "
                    "message = COALESCE(?, message), finished_at = ?, heartbeat_at = ? "
                    "WHERE id = ? AND state IN ('queued', 'running')"
                ),
                (
                    state,
                    None if result is None else dumps(result),
                    error,
                    message,
                    now,
                    now,
                    job_id,
                ),
            )
        return self._job_or_raise(job_id)

    def finish_job(
        self, job_id: str, result: dict[str, Any] | None = None, *, message: str | None = None
    ) -> JobRecord:
        """Mark a job ``done`` with its result (a finished job is left as it is)."""
        return self._end_job(job_id, "done", result=result, message=message)

    def fail_job(
        self, job_id: str, error: str, *, result: dict[str, Any] | None = None
    ) -> JobRecord:
        """Mark a job ``failed`` with the reason."""
        return self._end_job(job_id, "failed", error=error, result=result)

    def cancelled_job(self, job_id: str, result: dict[str, Any] | None = None) -> JobRecord:
        """Mark a job ``cancelled`` (its owner stopped on request)."""
        return self._end_job(job_id, "cancelled", result=result, message="cancelled")

    def cancel_job(self, job_id: str) -> JobRecord:
        """Ask a job to stop: a queued (or interrupted) one is cancelled at once, a running
        one when its owner next reports progress; a finished one is left as it is.

        Raises
        ------
        KeyError
            No such job.
        """
        record = self._job_or_raise(job_id)
        if record.finished and not record.interrupted:
            return record
        if record.state == "queued" or record.interrupted:
            with self._transaction() as cur:
                cur.execute(
                    self._sql(
                        "UPDATE jobs SET state = 'cancelled', cancel_requested = 1, "
                        "finished_at = ?, message = 'cancelled' "
                        "WHERE id = ? AND state IN ('queued', 'running')"
                    ),
                    (time.time(), job_id),
                )
        else:
            with self._transaction() as cur:
                cur.execute(
                    self._sql("UPDATE jobs SET cancel_requested = 1 WHERE id = ?"), (job_id,)
                )
        return self._job_or_raise(job_id)

    def record_job_errors(self, job_id: str, errors: Sequence[tuple[str, str]]) -> None:
        """Record ``(series_uid, error)`` pairs of a job (a series' later error replaces its
        earlier one)."""
        if not errors:
            return
        now = time.time()
        with self._transaction() as cur:
            cur.executemany(
                self._sql(
                    "INSERT INTO job_errors (job_id, series_uid, error, at) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (job_id, series_uid) DO UPDATE SET error = excluded.error, "
                    "at = excluded.at"
                ),
                [(job_id, uid, error[:2000], now) for uid, error in errors],
            )

    def job_errors(
        self, job_id: str, *, limit: int = 100, offset: int = 0
    ) -> tuple[int, list[tuple[str, str]]]:
        """How many series a job could not process, and a page of ``(series_uid, error)``."""
        total = int(
            self._read("SELECT COUNT(*) FROM job_errors WHERE job_id = ?", (job_id,))[0][0]
        )
        rows = self._read(
            "SELECT series_uid, error FROM job_errors WHERE job_id = ? "
            "ORDER BY series_uid LIMIT ? OFFSET ?",
            (job_id, limit, offset),
        )
        return total, [(str(r[0]), str(r[1])) for r in rows]

    def job(self, job_id: str) -> JobRecord | None:
        """One job, or None."""
        rows = self._read(f"SELECT {_COLUMNS} FROM jobs WHERE id = ?", (job_id,))
        if not rows:
            return None
        return _seen(self._job_from_row(rows[0]), time.time(), self.job_stale_after)

    def _job_or_raise(self, job_id: str) -> JobRecord:
        record = self.job(job_id)
        if record is None:
            raise KeyError(f"no job {job_id!r}")
        return record

    def jobs(
        self, *, limit: int = 50, state: str | None = None, kind: str | None = None
    ) -> list[JobRecord]:
        """Jobs, newest first, optionally of one ``state`` (as readers see it) or ``kind``."""
        if state is not None and state not in JOB_STATES:
            raise ValueError(f"job state must be one of {', '.join(JOB_STATES)}, not {state!r}")
        where, params = [], []
        if kind is not None:
            where.append("kind = ?")
            params.append(kind)
        if state is not None:
            # interrupted jobs are stored as running and read as failed
            stored = ("running", "failed") if state == "failed" else (state,)
            where.append(f"state IN ({', '.join('?' for _ in stored)})")
            params.extend(stored)
        sql = f"SELECT {_COLUMNS} FROM jobs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at DESC, id"
        now = time.time()
        out: list[JobRecord] = []
        for row in self._read(sql, params):
            record = _seen(self._job_from_row(row), now, self.job_stale_after)
            if state is None or record.state == state:
                out.append(record)
                if len(out) >= limit:
                    break
        return out
