"""Who viewed which patient's images: the access log a privacy officer reads (schema 10).

The server records one row when a signed-in user opens a series' images (thumbnails,
viewer slices, WADO-RS instances, frames, rendered images); the same user on the same
series and action is recorded once per :data:`COALESCE_SECONDS` (a gallery page asks for
a hundred thumbnails; scrolling a stack for hundreds of slices). Rows carry the PatientID
so an officer can ask "who saw patient X", and are shown to admins only. They are never
written to a log file.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

#: one row per user, series and action in this many seconds
COALESCE_SECONDS = 600.0


@dataclass(frozen=True)
class AccessEntry:
    """One recorded view."""

    id: int
    at: float
    user: str
    action: str
    patient_id: str | None
    study_uid: str | None
    series_uid: str | None


class AccessSession(Protocol):
    """What the log needs of a SQL catalog."""

    def _transaction(self) -> AbstractContextManager[Any]: ...

    def _read(self, sql: str, params: Any = ()) -> list[tuple[Any, ...]]: ...

    def _sql(self, sql: str) -> str: ...


class SQLAccessLog:
    """The access log over a SQL catalog's connection."""

    def __init__(self, session: AccessSession) -> None:
        self._db = session
        self._recent: dict[tuple[str, str, str], float] = {}
        self._lock = threading.Lock()

    def recorded_lately(self, user: str, action: str, target: str) -> bool:
        """Whether this view was recorded in the last :data:`COALESCE_SECONDS` (a caller can
        skip looking up what to record)."""
        with self._lock:
            return time.time() - self._recent.get((user, action, target), 0.0) < COALESCE_SECONDS

    def record(
        self,
        user: str,
        action: str,
        *,
        patient_id: str | None,
        study_uid: str | None,
        series_uid: str | None,
    ) -> bool:
        """Record a view; False when the same one was recorded in the last
        :data:`COALESCE_SECONDS`."""
        now = time.time()
        key = (user, action, series_uid or study_uid or "")
        with self._lock:
            if now - self._recent.get(key, 0.0) < COALESCE_SECONDS:
                return False
            if len(self._recent) > 50_000:
                self._recent.clear()
            self._recent[key] = now
        with self._db._transaction() as cur:
            cur.execute(
                self._db._sql(
                    "INSERT INTO access_log (at, user_name, action, patient_id, study_uid, "
                    "series_uid) VALUES (?, ?, ?, ?, ?, ?)"
                ),
                (now, user, action, patient_id, study_uid, series_uid),
            )
        return True

    def entries(
        self,
        *,
        user: str | None = None,
        patient_id: str | None = None,
        series_uid: str | None = None,
        since: float | None = None,
        until: float | None = None,
        limit: int = 100,
    ) -> list[AccessEntry]:
        """Recorded views, newest first, filtered by any of the arguments."""
        where: list[str] = []
        params: list[Any] = []
        for column, value in (
            ("user_name", user),
            ("patient_id", patient_id),
            ("series_uid", series_uid),
        ):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if since is not None:
            where.append("at >= ?")
            params.append(since)
        if until is not None:
            where.append("at < ?")
            params.append(until)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = self._db._read(
            "SELECT id, at, user_name, action, patient_id, study_uid, series_uid FROM access_log "
            f"{clause} ORDER BY id DESC LIMIT ?",
            (*params, int(limit)),
        )
        return [_entry(r) for r in rows]


def _entry(row: Sequence[Any]) -> AccessEntry:
    id_, at, user, action, patient, study, series = row
    return AccessEntry(int(id_), float(at), user, action, patient, study, series)
