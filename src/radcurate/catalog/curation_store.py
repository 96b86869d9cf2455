"""The shared half of curation storage: selections, the audit log, set operations on members."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from radcurate.catalog.curation_types import (
    AuditEntry,
    CurationError,
    CurationNotFoundError,
    Selection,
    StoredSelection,
    actor_name,
    chunks,
)
from radcurate.catalog.rows import dumps
from radcurate.query import Node, from_json, parse, to_json


class CurationStore:
    """What tags and datasets share (same SQL on both engines)."""

    if TYPE_CHECKING:
        dialect: str
        json_decoded: bool
        row_lock: str

        def _sql(self, sql: str) -> str: ...

        def _transaction(self) -> AbstractContextManager[Any]: ...

        def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

        def series_uids(self, query: str | Node) -> list[str]: ...

        def fields(self) -> Any: ...

    def _on_curation_change(self) -> None:
        """Called after every committed curation write (a hook for caches of query results)."""

    def _json(self, value: Any) -> Any:
        if value is None or self.json_decoded:
            return value
        return json.loads(value)

    # -- selections --------------------------------------------------------------------
    def _tree(self, query: str | dict[str, Any] | Node) -> Node:
        if isinstance(query, Node):
            return query
        names = [f.name for f in self.fields()]
        if isinstance(query, str):
            return parse(query, fields=names)
        if isinstance(query, dict):
            return from_json(query, fields=names)
        raise CurationError(
            f"a selection's query must be text, a JSON tree or null, not {type(query).__name__}",
            code="invalid_selection",
        )

    def resolve_selection(self, selection: Selection) -> list[str]:
        """The UIDs a selection stands for, sorted; raises before anything is written.

        Raises
        ------
        QueryError
            The query is invalid (syntax, unknown field).
        CurationNotFoundError
            An included UID is not in the catalog.
        """
        for name in ("include", "exclude"):
            uids = getattr(selection, name)
            if not all(isinstance(u, str) and u for u in uids):
                raise CurationError(
                    f"selection {name} must be a list of non-empty SeriesInstanceUIDs",
                    code="invalid_selection",
                )
        chosen: set[str] = set()
        if selection.query is not None:
            chosen.update(self.series_uids(self._tree(selection.query)))
        extra = sorted(set(selection.include) - chosen)
        if extra:
            unknown = self._unknown_series(extra)
            if unknown:
                shown = ", ".join(unknown[:5]) + (" ..." if len(unknown) > 5 else "")
                raise CurationNotFoundError(
                    f"{len(unknown)} included series not in the catalog: {shown}",
                    code="series_not_found",
                )
            chosen.update(extra)
        chosen.difference_update(selection.exclude)
        return sorted(chosen)

    def _unknown_series(self, uids: Sequence[str]) -> list[str]:
        known: set[str] = set()
        for chunk in chunks(uids):
            marks = ",".join("?" * len(chunk))
            rows = self._read(
                f"SELECT series_uid FROM series WHERE series_uid IN ({marks})", tuple(chunk)
            )
            known.update(r[0] for r in rows)
        return [u for u in uids if u not in known]

    def create_selection(
        self, selection: Selection, *, actor: str | None = None
    ) -> StoredSelection:
        """Store a selection server-side (its query is checked, its count taken now)."""
        uids = self.resolve_selection(selection)
        given = selection.as_given()
        sel_id = uuid.uuid4().hex
        now = time.time()
        who = actor_name(actor)
        with self._transaction() as cur:
            cur.execute(
                self._sql(
                    "INSERT INTO selections "
                    "(id, query, include_uids, exclude_uids, created_at, created_by) "
                    "VALUES (?, ?, ?, ?, ?, ?)"
                ),
                (
                    sel_id,
                    None if given["query"] is None else dumps(given["query"]),
                    dumps(given["include"]),
                    dumps(given["exclude"]),
                    now,
                    who,
                ),
            )
            self._audit(cur, who, "selection.create", sel_id, given, len(uids))
        return StoredSelection(
            sel_id,
            given["query"],
            tuple(given["include"]),
            tuple(given["exclude"]),
            len(uids),
            now,
            who,
        )

    def selection(self, selection_id: str) -> StoredSelection:
        """A stored selection, its series count taken now."""
        rows = self._read(
            "SELECT query, include_uids, exclude_uids, created_at, created_by "
            "FROM selections WHERE id = ?",
            (selection_id,),
        )
        if not rows:
            raise CurationNotFoundError(
                f"no selection {selection_id!r}", code="selection_not_found"
            )
        query, include, exclude, created_at, created_by = rows[0]
        sel = Selection(self._json(query), tuple(self._json(include)), tuple(self._json(exclude)))
        count = len(self.resolve_selection(sel))
        return StoredSelection(
            selection_id,
            sel.query if not isinstance(sel.query, Node) else to_json(sel.query),
            sel.include,
            sel.exclude,
            count,
            float(created_at),
            str(created_by),
        )

    def stored_selection(self, selection_id: str) -> Selection:
        """The :class:`Selection` of a stored one (to hand to a bulk action)."""
        stored = self.selection(selection_id)
        return Selection(stored.query, stored.include, stored.exclude)

    # -- audit -------------------------------------------------------------------------
    def record_event(
        self,
        action: str,
        target: str | None,
        *,
        actor: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Add an entry to the audit log for an action outside curation (e.g. an original
        replaced by a C-STORE); ``actor`` defaults to this process's user."""
        with self._transaction() as cur:
            self._audit(cur, actor_name(actor), action, target, None, None, detail)

    def _audit(
        self,
        cur: Any,
        actor: str,
        action: str,
        target: str | None,
        selection: dict[str, Any] | None,
        series_count: int | None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        cur.execute(
            self._sql(
                "INSERT INTO audit_log (at, actor, action, target, selection, series_count, "
                "detail) VALUES (?, ?, ?, ?, ?, ?, ?)"
            ),
            (
                time.time(),
                actor,
                action,
                target,
                None if selection is None else dumps(selection),
                series_count,
                dumps(detail or {}),
            ),
        )

    def audit_log(
        self, limit: int = 100, action: str | None = None, target: str | None = None
    ) -> list[AuditEntry]:
        """The most recent curation actions first (``action`` and ``target`` filter exactly)."""
        if limit < 1:
            raise CurationError(f"limit must be at least 1, not {limit}")
        where, params = [], []
        if action:
            where.append("action = ?")
            params.append(action)
        if target:
            where.append("target = ?")
            params.append(target)
        sql = "SELECT id, at, actor, action, target, selection, series_count, detail FROM audit_log"
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self._read(sql + " ORDER BY id DESC LIMIT ?", (*params, limit))
        return [
            AuditEntry(
                int(r[0]),
                float(r[1]),
                r[2],
                r[3],
                r[4],
                self._json(r[5]),
                None if r[6] is None else int(r[6]),
                self._json(r[7]) or {},
            )
            for r in rows
        ]

    # -- set operations ----------------------------------------------------------------
    def _insert_members(self, cur: Any, table: str, key: str, owner: int, uids: list[str]) -> int:
        """Add (owner, uid) rows, keeping those present; returns how many were new."""
        if not uids:
            return 0
        now = time.time()
        if self.dialect == "postgresql":
            cur.execute(
                f"INSERT INTO {table} ({key}, series_uid, added_at) "
                "SELECT %s, u, %s FROM unnest(%s::text[]) AS u "
                f"ON CONFLICT ({key}, series_uid) DO NOTHING",
                (owner, now, uids),
            )
            return int(cur.rowcount)
        cur.executemany(
            f"INSERT INTO {table} ({key}, series_uid, added_at) VALUES (?, ?, ?) "
            f"ON CONFLICT ({key}, series_uid) DO NOTHING",
            [(owner, u, now) for u in uids],
        )
        return int(cur.rowcount)

    def _delete_members(self, cur: Any, table: str, key: str, owner: int, uids: list[str]) -> int:
        if not uids:
            return 0
        if self.dialect == "postgresql":
            cur.execute(
                f"DELETE FROM {table} WHERE {key} = %s AND series_uid = ANY(%s::text[])",
                (owner, uids),
            )
            return int(cur.rowcount)
        cur.executemany(
            f"DELETE FROM {table} WHERE {key} = ? AND series_uid = ?",
            [(owner, u) for u in uids],
        )
        return int(cur.rowcount)

    def _id_of(
        self, cur: Any, table: str, name: str, what: str, *, lock: bool = False, share: bool = False
    ) -> int:
        """The id of a tag/dataset by name; ``lock`` for update, ``share`` while adding members.

        A share lock (PostgreSQL; SQLite serialises writers anyway) lets concurrent bulk
        adds proceed together but keeps a delete from removing the row under them.
        """
        suffix = self.row_lock if lock else ""
        if share and not lock and self.dialect == "postgresql":
            suffix = " FOR SHARE"
        cur.execute(
            self._sql(f"SELECT id FROM {table} WHERE name_lower = ?") + suffix,
            (name.lower(),),
        )
        row = cur.fetchone()
        if row is None:
            raise CurationNotFoundError(f"no {what} {name!r}", code=f"{what}_not_found")
        return int(row[0])
