"""What the result store lacks for clinical tables: replacing a producer's sets everywhere in
one transaction, and counting a producer's series.

``write_results`` replaces a producer's set on the series it is given and
``delete_results`` removes sets; each is its own transaction. A table that is
imported again must do both at once (the series that lost their row lose its
fields in the same commit that writes the others), and record what it did in
the audit log in that commit too. :class:`JoinedSession` lends the result store
a catalog transaction that is already open, so the store's own code (history,
key ownership, change numbers, audit of ``results.*``) runs unchanged inside it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from radcurate.catalog.base import CatalogBackend
from radcurate.catalog.clinical_read import ClinicalError
from radcurate.catalog.curation_types import actor_name
from radcurate.catalog.result_store import SQLResultStore
from radcurate.catalog.result_types import ResultRow
from radcurate.catalog.sql import SQLCatalog

#: ``audit(cur, actor, action, target, selection, series_count, detail)`` of the catalog
Audit = Callable[..., None]


class JoinedSession:
    """A catalog's SQL session whose ``_transaction()`` joins one already open.

    Built inside ``with catalog._transaction() as cur``; every statement the
    result store runs through it goes to ``cur``, so they commit or roll back together.
    """

    def __init__(self, catalog: SQLCatalog, cur: Any) -> None:
        self._catalog = catalog
        self._cur = cur
        self.json_decoded = catalog.json_decoded
        self.dialect = catalog.dialect
        self.row_lock = catalog.row_lock

    def _sql(self, sql: str) -> str:
        return self._catalog._sql(sql)

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        yield self._cur

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self._cur.execute(self._sql(sql), tuple(params))
        return [tuple(r) for r in self._cur.fetchall()]

    def _change_seq(self, cur: Any) -> int:
        return self._catalog._change_seq(cur)


@dataclass(frozen=True)
class Replaced:
    """What :func:`replace_producer` did: series written, left unchanged and removed."""

    written: int
    unchanged: int
    removed: int
    #: series of the catalog when it committed
    catalog_series: int


def sql_catalog(catalog: CatalogBackend) -> SQLCatalog:
    """The SQL catalog behind ``catalog`` (clinical tables need its transactions)."""
    if not isinstance(catalog, SQLCatalog):
        raise ClinicalError(
            f"clinical tables need a SQL catalog (SQLite or PostgreSQL), not "
            f"{type(catalog).__name__}",
            code="unsupported_catalog",
            status=501,
        )
    return catalog


def replace_producer(
    catalog: CatalogBackend,
    rows: Sequence[ResultRow],
    *,
    producer: str,
    version: str,
    params: dict[str, Any],
    actor: str | None,
    audit_action: str,
    audit_target: str,
    audit_detail: Callable[[Replaced], dict[str, Any]],
) -> Replaced:
    """Make ``rows`` the producer's only result sets, in one transaction with its audit entry.

    Series in ``rows`` get their set replaced (identical ones are left alone); every
    other series that has a set of ``producer`` loses it. ``audit_detail`` builds the
    audit entry's detail from what was done (it runs inside the transaction).
    """
    sql = sql_catalog(catalog)
    who = actor_name(actor)
    wanted = {row.series_uid for row in rows}
    with sql._transaction() as cur:
        session = JoinedSession(sql, cur)
        store = SQLResultStore(session, sql._audit)
        summary = store.write_results(
            rows, producer=producer, version=version, params=params, actor=who
        )
        held = [
            str(r[0])
            for r in session._read(
                "SELECT series_uid FROM result_sets WHERE producer = ?", (producer,)
            )
        ]
        gone = sorted(uid for uid in held if uid not in wanted)
        removed = store.delete_results(gone, producer, actor=who) if gone else 0
        total = int(session._read("SELECT COUNT(*) FROM series")[0][0])
        done = Replaced(summary.written, summary.unchanged, removed, total)
        sql._audit(cur, who, audit_action, audit_target, None, len(wanted), audit_detail(done))
    return done


def remove_producer(
    catalog: CatalogBackend,
    producer: str,
    *,
    actor: str | None,
    audit_action: str,
    audit_target: str,
) -> int:
    """Remove every result set of ``producer`` and record it, in one transaction."""
    sql = sql_catalog(catalog)
    who = actor_name(actor)
    with sql._transaction() as cur:
        store = SQLResultStore(JoinedSession(sql, cur), sql._audit)
        removed = store.delete_results(None, producer, actor=who)
        sql._audit(cur, who, audit_action, audit_target, None, removed, {"series_removed": removed})
    return removed


def producer_counts(catalog: CatalogBackend, prefix: str) -> dict[str, int]:
    """Series holding a set of each producer whose name starts with ``prefix``."""
    sql = sql_catalog(catalog)
    pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    rows = sql._read(
        "SELECT producer, COUNT(*) FROM result_sets WHERE producer LIKE ? ESCAPE '\\' "
        "GROUP BY producer",
        (pattern,),
    )
    return {str(p): int(n) for p, n in rows}
