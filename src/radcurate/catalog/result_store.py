"""The result store: ``ai.*``, ``qc.*`` and ``clin.*`` values of series, with provenance.

One row per (series, producer) in ``result_sets`` holds that producer's whole
result set as one JSON payload plus its provenance (producer version, parameter
hash, job, input hash, actor, time). A write replaces a producer's set for a
series atomically; the replaced set moves to ``result_history``; every write
call is one transaction and one audit entry; every row written carries the
transaction's change number (``seq``), which the search index follows exactly
as it follows ingest (docs/architecture.md, "Results").

A key belongs to the producer that wrote it last: when producer B writes
``ai.bodypart`` on a series where producer A had it, the key leaves A's set.
Results live apart from the DICOM document, so re-ingest never touches them.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from radcurate.catalog.curation_types import actor_name
from radcurate.catalog.result_feed import changed_results
from radcurate.catalog.result_types import (
    Provenance,
    ResultError,
    ResultRow,
    ResultSet,
    StoredInput,
    WriteSummary,
    check_key,
    check_producer,
    check_values,
    merge_payloads,
    params_hash,
)
from radcurate.catalog.rows import dumps, loads

#: series per IN (...) list
_CHUNK = 500
#: the producer of values set by hand (``set_results``; the CLI and API's manual edits)
MANUAL = "manual"

_SET_COLUMNS = (
    "series_uid, producer, version, params, params_hash, job_id, input_hash, actor, "
    "written_at, payload"
)


class SQLSession(Protocol):
    """What the store needs of a SQL catalog: statements, transactions, change numbers."""

    json_decoded: bool
    #: ``sqlite`` or ``postgresql``
    dialect: str
    #: `` FOR UPDATE`` where writers must lock the rows they read (PostgreSQL), else empty
    row_lock: str

    def _sql(self, sql: str) -> str: ...

    def _transaction(self) -> AbstractContextManager[Any]: ...

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def _change_seq(self, cur: Any) -> int: ...


class ResultStore(Protocol):
    """Results of series with provenance (one implementation, both SQL engines)."""

    def write_results(
        self,
        rows: Iterable[ResultRow],
        *,
        producer: str,
        version: str = "",
        params: Mapping[str, Any] | None = None,
        job: str | None = None,
        actor: str | None = None,
        rewrite: bool = False,
    ) -> WriteSummary:
        """Replace ``producer``'s result set on every series of ``rows`` in one transaction."""

    def delete_results(
        self, series_uids: Sequence[str] | None, producer: str, *, actor: str | None = None
    ) -> int:
        """Remove ``producer``'s result sets (of the given series, or all); history keeps them."""

    def results(self, series_uid: str) -> dict[str, dict[str, Any]]:
        """``{"ai": {...}, "qc": {...}, "clin": {...}}`` for a series (empty dicts when none)."""

    def result_sets(self, series_uid: str) -> list[ResultSet]:
        """Each producer's current result set of a series, with provenance."""

    def result_history(self, series_uid: str, producer: str | None = None) -> list[ResultSet]:
        """Replaced result sets of a series, newest first."""

    def stored_inputs(self, series_uids: Sequence[str], producer: str) -> dict[str, StoredInput]:
        """Version, parameter hash and input hash of ``producer``'s current sets."""

    def job_series(self, job_id: str) -> list[str]:
        """The series a job wrote results to, in UID order."""

    def results_of(self, series_uids: Sequence[str]) -> dict[str, dict[str, dict[str, Any]]]:
        """The merged results of many series (those without results are left out)."""


class SQLResultStore:
    """:class:`ResultStore` over a SQL catalog's connection (composed into ``SQLCatalog``)."""

    def __init__(self, session: SQLSession, audit: Any) -> None:
        self._db = session
        #: ``audit(cur, actor, action, target, selection, series_count, detail)``
        self._audit = audit

    def _loads(self, value: Any) -> Any:
        return value if self._db.json_decoded else loads(value)

    # -- writing -----------------------------------------------------------------------------
    def write_results(
        self,
        rows: Iterable[ResultRow],
        *,
        producer: str,
        version: str = "",
        params: Mapping[str, Any] | None = None,
        job: str | None = None,
        actor: str | None = None,
        rewrite: bool = False,
    ) -> WriteSummary:
        """Replace ``producer``'s result set on every series of ``rows``, in one transaction.

        A series whose stored set already has the same values, version, parameters
        and input hash is left alone (``unchanged``); UIDs the catalog does not hold
        are reported in ``unknown_series`` and skipped; ``rewrite`` (a forced re-run) writes
        such a set anyway, so its provenance names this run. Bad values raise
        :class:`ResultError` before anything is written.
        """
        check_producer(producer)
        params = dict(params or {})
        phash = params_hash(params)
        latest: dict[str, tuple[dict[str, dict[str, Any]], str | None]] = {}
        for row in rows:
            if not isinstance(row, ResultRow):
                raise ResultError(f"expected ResultRow objects, got {type(row).__name__}")
            latest[row.series_uid] = (check_values(row.values), row.input_hash)
        who = actor_name(actor)
        now = time.time()
        params_json = dumps(params)
        uids = sorted(latest)
        written = unchanged = replaced = 0
        unknown: list[str] = []
        with self._db._transaction() as cur:
            seq = self._db._change_seq(cur)
            for start in range(0, len(uids), _CHUNK):
                chunk = uids[start : start + _CHUNK]
                known = self._existing_series(cur, chunk)
                unknown += [u for u in chunk if u not in known]
                chunk = [u for u in chunk if u in known]
                if not chunk:
                    continue
                current = self._current_sets(cur, chunk, producer)
                upserts: list[tuple[Any, ...]] = []
                history: list[tuple[Any, ...]] = []
                for uid in chunk:
                    values, input_hash = latest[uid]
                    old = current.get(uid)
                    if old is not None:
                        same = (
                            old[0] == version
                            and old[2] == phash
                            and old[4] == input_hash
                            and self._loads(old[7]) == values
                        )
                        if same and not rewrite:
                            unchanged += 1
                            continue
                        history.append((uid, producer, *old, now))
                    upserts.append(
                        (
                            uid,
                            producer,
                            version,
                            params_json,
                            phash,
                            job,
                            input_hash,
                            who,
                            now,
                            dumps(values),
                            seq,
                        )
                    )
                if history:
                    cur.executemany(
                        self._db._sql(
                            f"INSERT INTO result_history ({_SET_COLUMNS}, replaced_at) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                        ),
                        [self._history_row(h) for h in history],
                    )
                    replaced += len(history)
                if upserts:
                    self._take_keys(cur, [u[0] for u in upserts], latest, producer, seq, now)
                    self._upsert(cur, upserts)
                    written += len(upserts)
            if written or replaced:
                self._audit(
                    cur,
                    who,
                    "results.write",
                    producer,
                    None,
                    written,
                    {
                        "version": version,
                        "params_hash": phash,
                        "params": params,
                        "job": job,
                        "replaced": replaced,
                        "unchanged": unchanged,
                        "unknown_series": len(unknown),
                    },
                )
        return WriteSummary(producer, written, unchanged, tuple(unknown), replaced)

    def _upsert(self, cur: Any, rows: list[tuple[Any, ...]]) -> None:
        """Insert or replace result sets: one statement per chunk on PostgreSQL (arrays
        through ``unnest``: a row-by-row upsert was 3.6x SQLite's time at 200 k series),
        ``executemany`` on SQLite."""
        conflict = (
            "ON CONFLICT (series_uid, producer) DO UPDATE SET "
            "version = excluded.version, params = excluded.params, "
            "params_hash = excluded.params_hash, job_id = excluded.job_id, "
            "input_hash = excluded.input_hash, actor = excluded.actor, "
            "written_at = excluded.written_at, payload = excluded.payload, seq = excluded.seq"
        )
        if self._db.dialect == "postgresql":
            columns = list(zip(*rows, strict=True))
            cur.execute(
                f"INSERT INTO result_sets ({_SET_COLUMNS}, seq) SELECT * FROM unnest("
                "%s::text[], %s::text[], %s::text[], %s::text[]::jsonb[], %s::text[], "
                "%s::text[], %s::text[], %s::text[], %s::float8[], %s::text[]::jsonb[], "
                f"%s::bigint[]) {conflict}",
                [list(column) for column in columns],
            )
            return
        cur.executemany(
            self._db._sql(
                f"INSERT INTO result_sets ({_SET_COLUMNS}, seq) "
                f"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) {conflict}"
            ),
            rows,
        )

    def _history_row(self, entry: tuple[Any, ...]) -> tuple[Any, ...]:
        """A ``result_history`` row from ``(uid, producer, *stored set, replaced_at)``."""
        uid, producer, version, params, phash, job, input_hash, who, at, payload, replaced_at = (
            entry
        )
        if self._db.json_decoded:  # PostgreSQL hands JSONB over decoded: store it as text again
            params, payload = dumps(params), dumps(payload)
        return (
            uid,
            producer,
            version,
            params,
            phash,
            job,
            input_hash,
            who,
            at,
            payload,
            replaced_at,
        )

    def _existing_series(self, cur: Any, chunk: Sequence[str]) -> set[str]:
        """The series of ``chunk`` the catalog holds, locked until the transaction ends.

        The lock serialises result writers of a series: without it, two PostgreSQL
        transactions read the same current set and the later one overwrote the
        earlier one's set without moving it to the history (or took keys from a
        stale copy of another producer's set). Chunks come in UID order, so
        writers lock in the same order. SQLite's writers are serialised already.
        """
        marks = ",".join("?" * len(chunk))
        cur.execute(
            self._db._sql(
                f"SELECT series_uid FROM series WHERE series_uid IN ({marks}) "
                "ORDER BY series_uid" + self._db.row_lock
            ),
            tuple(chunk),
        )
        return {str(r[0]) for r in cur.fetchall()}

    def _current_sets(
        self, cur: Any, chunk: Sequence[str], producer: str
    ) -> dict[str, tuple[Any, ...]]:
        marks = ",".join("?" * len(chunk))
        cur.execute(
            self._db._sql(
                "SELECT series_uid, version, params, params_hash, job_id, input_hash, actor, "
                f"written_at, payload FROM result_sets WHERE producer = ? "
                f"AND series_uid IN ({marks})"
            ),
            (producer, *chunk),
        )
        return {str(r[0]): tuple(r[1:]) for r in cur.fetchall()}

    def _take_keys(
        self,
        cur: Any,
        uids: Sequence[str],
        latest: Mapping[str, tuple[dict[str, dict[str, Any]], str | None]],
        producer: str,
        seq: int,
        now: float,
    ) -> None:
        """Remove the keys this write takes over from other producers' sets of the same series."""
        marks = ",".join("?" * len(uids))
        cur.execute(
            self._db._sql(
                f"SELECT series_uid, producer, payload FROM result_sets "
                f"WHERE producer <> ? AND series_uid IN ({marks})"
            ),
            (producer, *uids),
        )
        for uid, other, payload in cur.fetchall():
            theirs = self._loads(payload)
            mine = latest[uid][0]
            kept = {
                ns: {k: v for k, v in keyed.items() if k not in mine.get(ns, {})}
                for ns, keyed in theirs.items()
            }
            kept = {ns: keyed for ns, keyed in kept.items() if keyed}
            if kept != theirs:
                cur.execute(
                    self._db._sql(
                        "UPDATE result_sets SET payload = ?, seq = ? "
                        "WHERE series_uid = ? AND producer = ?"
                    ),
                    (dumps(kept), seq, uid, other),
                )

    def delete_results(
        self, series_uids: Sequence[str] | None, producer: str, *, actor: str | None = None
    ) -> int:
        """Remove ``producer``'s result sets (of ``series_uids``, or every series).

        The removed sets move to the history; the search index drops their fields.
        """
        check_producer(producer)
        now = time.time()
        who = actor_name(actor)
        removed = 0
        with self._db._transaction() as cur:
            seq = self._db._change_seq(cur)
            if series_uids is None:
                cur.execute(
                    self._db._sql("SELECT series_uid FROM result_sets WHERE producer = ?"),
                    (producer,),
                )
                targets = sorted(str(r[0]) for r in cur.fetchall())
            else:
                targets = sorted(set(series_uids))
            for start in range(0, len(targets), _CHUNK):
                chunk = targets[start : start + _CHUNK]
                self._existing_series(cur, chunk)  # locks them (see _existing_series)
                current = self._current_sets(cur, chunk, producer)
                if not current:
                    continue
                cur.executemany(
                    self._db._sql(
                        f"INSERT INTO result_history ({_SET_COLUMNS}, replaced_at) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    ),
                    [self._history_row((u, producer, *old, now)) for u, old in current.items()],
                )
                marks = ",".join("?" * len(current))
                cur.execute(
                    self._db._sql(
                        f"DELETE FROM result_sets WHERE producer = ? AND series_uid IN ({marks})"
                    ),
                    (producer, *current),
                )
                cur.executemany(
                    self._db._sql("INSERT INTO result_deletions (series_uid, seq) VALUES (?, ?)"),
                    [(u, seq) for u in current],
                )
                removed += len(current)
            if removed:
                self._audit(cur, who, "results.delete", producer, None, removed, {})
        return removed

    # -- the per-key API of the first wave (values set by hand) ------------------------------
    def set_results(
        self, series_uid: str, namespace: str, values: dict[str, Any], *, actor: str | None = None
    ) -> None:
        """Set keys of a namespace by hand (other keys kept), as the ``manual`` producer."""
        check_values({namespace: values})
        current = self._manual_payload(series_uid)
        current.setdefault(namespace, {}).update(values)
        summary = self.write_results([ResultRow(series_uid, current)], producer=MANUAL, actor=actor)
        if summary.unknown_series:
            raise ResultError(f"no series {series_uid} in the catalog")

    def clear_results(
        self,
        series_uid: str,
        namespace: str,
        keys: Sequence[str] | None = None,
        *,
        actor: str | None = None,
    ) -> int:
        """Remove keys (all of a namespace, or the given ones) of a series; returns how many.

        Keys set by hand go from the ``manual`` set; a key written by another
        producer is removed from that producer's set (its history keeps it).
        """
        check_values({namespace: {}})
        for key in keys or ():
            check_key(key)
        removed = 0
        for result_set in self.result_sets(series_uid):
            keyed = result_set.values.get(namespace, {})
            gone = [k for k in keyed if keys is None or k in keys]
            if not gone:
                continue
            removed += len(gone)
            payload = {ns: dict(v) for ns, v in result_set.values.items()}
            for key in gone:
                del payload[namespace][key]
            payload = {ns: v for ns, v in payload.items() if v}
            producer = result_set.provenance.producer
            if not payload and producer == MANUAL:
                self.delete_results([series_uid], producer, actor=actor)
                continue
            p = result_set.provenance
            self.write_results(
                [ResultRow(series_uid, payload, p.input_hash)],
                producer=producer,
                version=p.version,
                params=p.params,
                job=p.job_id,
                actor=actor,
            )
        return removed

    def _manual_payload(self, series_uid: str) -> dict[str, dict[str, Any]]:
        rows = self._db._read(
            "SELECT payload FROM result_sets WHERE series_uid = ? AND producer = ?",
            (series_uid, MANUAL),
        )
        return {ns: dict(v) for ns, v in self._loads(rows[0][0]).items()} if rows else {}

    # -- reading ------------------------------------------------------------------------------
    def results(self, series_uid: str) -> dict[str, dict[str, Any]]:
        """``{"ai": {...}, "qc": {...}, "clin": {...}}`` for a series (empty dicts when none)."""
        out: dict[str, dict[str, Any]] = {"ai": {}, "qc": {}, "clin": {}}
        for namespace, keyed in merge_payloads(
            s.values for s in self.result_sets(series_uid)
        ).items():
            out.setdefault(namespace, {}).update(keyed)
        return out

    def result_sets(self, series_uid: str) -> list[ResultSet]:
        """Each producer's current set of a series, oldest write first."""
        rows = self._db._read(
            f"SELECT {_SET_COLUMNS} FROM result_sets WHERE series_uid = ? "
            "ORDER BY written_at, producer",
            (series_uid,),
        )
        return [self._result_set(r) for r in rows]

    def result_history(self, series_uid: str, producer: str | None = None) -> list[ResultSet]:
        """Replaced (and deleted) sets of a series, newest first."""
        sql = f"SELECT {_SET_COLUMNS}, replaced_at FROM result_history WHERE series_uid = ?"
        params: tuple[Any, ...] = (series_uid,)
        if producer is not None:
            sql += " AND producer = ?"
            params += (producer,)
        rows = self._db._read(sql + " ORDER BY id DESC", params)
        return [self._result_set(r[:10], replaced_at=float(r[10])) for r in rows]

    def _result_set(self, row: Sequence[Any], replaced_at: float | None = None) -> ResultSet:
        uid, producer, version, params, phash, job, input_hash, who, at, payload = row
        provenance = Provenance(
            producer=str(producer),
            version=str(version),
            params=loads(params) or {},
            params_hash=str(phash),
            job_id=job,
            input_hash=input_hash,
            actor=str(who),
            written_at=float(at),
        )
        return ResultSet(str(uid), provenance, loads(payload) or {}, replaced_at)

    def stored_inputs(self, series_uids: Sequence[str], producer: str) -> dict[str, StoredInput]:
        """Version, parameter hash and input hash of ``producer``'s current sets."""
        out: dict[str, StoredInput] = {}
        for start in range(0, len(series_uids), _CHUNK):
            chunk = tuple(series_uids[start : start + _CHUNK])
            marks = ",".join("?" * len(chunk))
            for uid, version, phash, input_hash in self._db._read(
                "SELECT series_uid, version, params_hash, input_hash FROM result_sets "
                f"WHERE producer = ? AND series_uid IN ({marks})",
                (producer, *chunk),
            ):
                out[str(uid)] = StoredInput(str(version), str(phash), input_hash)
        return out

    def job_series(self, job_id: str) -> list[str]:
        """The series whose current result sets a job wrote, in UID order."""
        rows = self._db._read(
            "SELECT DISTINCT series_uid FROM result_sets WHERE job_id = ? ORDER BY series_uid",
            (job_id,),
        )
        return [str(r[0]) for r in rows]

    def results_of(self, series_uids: Sequence[str]) -> dict[str, dict[str, dict[str, Any]]]:
        """The merged results of many series (a page of search results), one query per 500."""
        payloads: dict[str, list[Any]] = {}
        for start in range(0, len(series_uids), _CHUNK):
            chunk = tuple(series_uids[start : start + _CHUNK])
            marks = ",".join("?" * len(chunk))
            for uid, payload in self._db._read(
                "SELECT series_uid, payload FROM result_sets "
                f"WHERE series_uid IN ({marks}) ORDER BY series_uid, written_at, producer",
                chunk,
            ):
                payloads.setdefault(str(uid), []).append(self._loads(payload))
        return {uid: merge_payloads(found) for uid, found in payloads.items()}

    # -- what the search index follows ----------------------------------------------------------
    def changed_results(
        self, since: int, page_size: int = 20_000
    ) -> Iterator[list[tuple[str, dict[str, dict[str, Any]]]]]:
        """Pages of ``(series_uid, merged results)`` for series whose results changed at or
        after change number ``since`` (``catalog/result_feed.py``)."""
        return changed_results(self._db, since, page_size)
