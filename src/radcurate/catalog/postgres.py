"""The server catalog: PostgreSQL (``postgresql://user:pass@host/db``)."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from typing import Any

from radcurate.catalog.base import CatalogError
from radcurate.catalog.search import SearchDialect
from radcurate.catalog.search_postgres import ICU_COLLATION, PostgresSearch
from radcurate.catalog.sql import SQLCatalog
from radcurate.optional import import_optional
from radcurate.query.cancel import current_token
from radcurate.query.limits import check_budget, in_query, remaining_budget

#: any constant: all radcurate processes serialise schema migrations on it
_MIGRATION_LOCK_ID = 0x7261_6463  # "radc"


class PostgresCatalog(SQLCatalog):
    """A catalog in a PostgreSQL database; many processes may read and write at once."""

    dialect = "postgresql"
    placeholder = "%s"
    uid_collation = ' COLLATE "C"'
    json_decoded = True
    row_lock = " FOR UPDATE"

    def __init__(self, url: str) -> None:
        self._psycopg = import_optional("psycopg", "a PostgreSQL catalog")
        self._search: PostgresSearch | None = None
        super().__init__(url)

    def _connect(self) -> Any:
        dsn = "postgresql://" + self.url.split("://", 1)[1]
        try:
            return self._psycopg.connect(dsn, autocommit=True)
        except self._psycopg.OperationalError as exc:
            raise CatalogError(
                f"cannot connect to PostgreSQL catalog {_redact(self.url)}: "
                f"{str(exc).strip().splitlines()[0]}. "
                "Is the server running and the database created?"
            ) from exc

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        conn = self._conn()
        with conn.transaction(), conn.cursor() as cur:
            yield cur

    def _search_dialect(self) -> SearchDialect:
        if self._search is None:
            # ICU's root collation lowercases like Python; without ICU, lower() may be ASCII-only
            icu = self._read("SELECT 1 FROM pg_collation WHERE collname = ?", (ICU_COLLATION,))
            self._search = PostgresSearch(icu=bool(icu))
        return self._search

    def _search_read(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        try:
            return self._search_once(sql, params)
        except self._psycopg.errors.QueryCanceled:
            check_budget()  # the budget is spent or the work cancelled: QueryTimeoutError
            # a cancel sent for an earlier statement of this thread's connection that had
            # just finished when it arrived: this statement was not meant, run it again
            return self._search_once(sql, params)

    def _search_once(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        # The planner prices each jsonb_path_query high, so even a small catalog's search
        # crosses jit_above_cost and spends ~1 s compiling (measured: 900 ms of JIT for a
        # 3 ms query). Searches are interactive: no JIT, for this transaction only.
        with self._transaction() as cur:
            cur.execute("SET LOCAL jit = off")
            left = remaining_budget()
            if left is not None:
                # the request's time budget (radcurate serve --query-budget) bounds the statement
                milliseconds = str(max(1, int(left * 1000)))
                cur.execute("SELECT set_config('statement_timeout', %s, true)", (milliseconds,))
            token = current_token() if in_query() else None
            # the request's client went away or the server stops: cancel the backend's statement
            # (from another thread: cancel_safe waits for the server's answer)
            conn = cur.connection
            cancel = getattr(conn, "cancel_safe", None) or conn.cancel  # psycopg < 3.2: cancel
            watch = (
                token.on_cancel(lambda: threading.Thread(target=cancel, daemon=True).start())
                if token is not None
                else nullcontext()
            )
            with watch:
                check_budget()
                cur.execute(self._sql(sql), tuple(params))
            return [tuple(r) for r in cur.fetchall()]

    def _change_seq(self, cur: Any) -> int:
        # the writing transaction's id: no counter row for concurrent writers to queue on
        cur.execute("SELECT pg_current_xact_id()::text::bigint")
        return int(cur.fetchone()[0])

    def change_watermark(self) -> int:
        # every transaction still running (or not yet started) has an id >= the snapshot's xmin
        rows = self._read("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
        return int(rows[0][0])

    def _lock_for_migration(self, cur: Any) -> None:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK_ID,))


def _redact(url: str) -> str:
    """The URL without its password."""
    scheme, _, rest = url.partition("://")
    if "@" in rest:
        creds, _, host = rest.rpartition("@")
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return url
