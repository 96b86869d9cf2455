"""The embedded catalog: SQLite in WAL mode.

One writer and any number of reading processes at once (``radcurate serve``
keeps answering while ``radcurate ingest`` writes); readers see each commit
as soon as it lands. See docs/architecture.md for why SQLite and not DuckDB.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from radcurate.catalog.base import CatalogError
from radcurate.catalog.search import SearchDialect
from radcurate.catalog.search_sqlite import SQLiteSearch, register_functions
from radcurate.catalog.sql import SQLCatalog

#: how long a writer waits for another writer's transaction before giving up
BUSY_TIMEOUT_MS = 60_000


def sqlite_path(url: str) -> str:
    """The file path of a ``sqlite:///`` URL (``sqlite:////abs`` or ``sqlite:///rel``).

    Examples
    --------
    >>> sqlite_path("sqlite:////tmp/c.sqlite")
    '/tmp/c.sqlite'
    >>> sqlite_path("sqlite:///:memory:")
    ':memory:'
    """
    if not url.startswith("sqlite:///"):
        raise CatalogError(f"not a SQLite URL: {url!r} (expected sqlite:///path)")
    return url[len("sqlite:///") :]


class SQLiteCatalog(SQLCatalog):
    """The embedded default catalog."""

    dialect = "sqlite"
    placeholder = "?"

    def __init__(self, url: str) -> None:
        self.path = sqlite_path(url)
        # an in-memory database is private to its connection: all threads share one
        self._memory_conn: sqlite3.Connection | None = None
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        super().__init__(url)

    def _connect(self) -> sqlite3.Connection:
        if self.path == ":memory:":
            if self._memory_conn is None:
                self._memory_conn = self._open(":memory:")
            return self._memory_conn
        return self._open(self.path)

    def _open(self, path: str) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise CatalogError(f"cannot open SQLite catalog {path}: {exc}") from exc
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if path != ":memory:":
            conn.execute("PRAGMA journal_mode = WAL")
        # WAL + NORMAL survives a killed process; only an OS crash can drop the last commits
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA cache_size = -65536")
        register_functions(conn)  # search: Unicode lowercasing (SQLite's lower() is ASCII-only)
        return conn

    def _search_dialect(self) -> SearchDialect:
        return SQLiteSearch()

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        conn = self._conn()
        cur = conn.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            yield cur
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        else:
            cur.execute("COMMIT")
        finally:
            cur.close()
