"""Search SQL for SQLite: JSON1 (``json_tree``, ``->``) and a Unicode ``lower``.

The values of a field path ``A.B.C`` are walked with one ``json_tree`` per
segment over the value wrapped in an array (``'[' || value || ']'``); rows
whose ``fullkey`` has no ``.`` are exactly the elements reached through
arrays only (lists flattened at any depth, not entering objects), objects
among them are the items the next segment reads. SQLite's ``lower()`` folds
ASCII only, so every connection gets :data:`LOWER_FUNCTION`, Python's
``str.lower`` (the one the reference uses). ``->`` needs SQLite 3.38+.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from radcurate.catalog.search import LIKE_ESCAPE, Frag, SearchDialect
from radcurate.query.errors import QueryError
from radcurate.query.fields import NAMESPACES, split_path
from radcurate.query.limits import budget_spent

#: the SQL name of the Unicode lowercasing function registered on every connection
LOWER_FUNCTION = "rc_lower"


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


#: SQLite virtual machine steps between two checks of the query's time budget
BUDGET_CHECK_STEPS = 20_000


def _budget_spent() -> int:
    # runs in the thread executing the statement: it sees that thread's query budget
    return 1 if budget_spent() else 0


def register_functions(conn: sqlite3.Connection) -> None:
    """Register the functions search SQL uses on one connection, and the progress handler
    that interrupts a statement once the running query's time budget is spent
    (``radcurate.query.limits``; the statement fails with ``interrupted``)."""
    conn.create_function(LOWER_FUNCTION, 1, _lower, deterministic=True)
    conn.set_progress_handler(_budget_spent, BUDGET_CHECK_STEPS)


def json_path(key: str) -> str:
    """The SQLite JSON path of one object key.

    Examples
    --------
    >>> json_path("ProcedureCodeSequence")
    '$."ProcedureCodeSequence"'
    """
    if '"' in key or "\\" in key:
        raise QueryError(f"field name {key!r} cannot be searched")
    return f'$."{key}"'


_LEAF = "{t}.type NOT IN ('null', 'array') AND instr({t}.fullkey, '.') = 0"
_ITEM = "{t}.type = 'object' AND instr({t}.fullkey, '.') = 0"


class SQLiteSearch(SearchDialect):
    """The SQLite dialect; the current value is the ``json_tree`` row ``v``."""

    is_number = "v.type IN ('integer', 'real')"
    number = "v.atom"
    is_text = "v.type = 'text'"
    lowered = f"{LOWER_FUNCTION}(v.atom)"
    is_true = "v.type = 'true'"
    is_false = "v.type = 'false'"

    def _walk(self, field: str) -> tuple[Frag, list[str]]:
        """``FROM … WHERE …`` (with parameters) making every value of ``field`` a row ``v``.

        Also returns the ``json_tree`` aliases in walking order (for document order).
        """
        segments = split_path(field)
        params: tuple[Any, ...]
        where_params: tuple[Any, ...] = ()
        if segments[0] in NAMESPACES:
            # every producer's result set of the series (a key lives in one of them)
            sources = ["result_sets r"]
            conditions = ["r.series_uid = s.series_uid"]
            params = (json_path(segments[0]) + json_path(segments[1])[1:],)
            root = "(r.payload -> ?)"
            rest = segments[2:]
        else:
            path = json_path(segments[0])
            sources, conditions = [], []
            # a key present in facts wins over the header, as in series_document
            root = "COALESCE(s.facts -> ?, s.header -> ?)"
            params = (path, path)
            if segments[0] == "header_problems":
                root = "COALESCE(NULLIF(s.header_problems, '[]'), s.facts -> ?, s.header -> ?)"
            rest = segments[1:]
        aliases = [f"v{i}" for i in range(len(rest) + 1)]
        aliases[-1] = "v"
        sources.append(f"json_tree('[' || {root} || ']') AS {aliases[0]}")
        for i, segment in enumerate(rest, start=1):
            prev = aliases[i - 1]
            sources.append(f"json_tree('[' || ({prev}.value -> ?) || ']') AS {aliases[i]}")
            params += (json_path(segment),)
            conditions.append(_ITEM.format(t=prev))
        conditions.append(_LEAF.format(t="v"))
        sql = f"FROM {', '.join(sources)} WHERE {' AND '.join(conditions)}"
        return (sql, params + where_params), aliases

    def _select(self, field: str, what: str, predicate: Frag, tail: str = "") -> Frag:
        (body, params), _ = self._walk(field)
        return f"SELECT {what} {body} AND {predicate[0]}{tail}", params + predicate[1]

    def values_exist(self, field: str, predicate: Frag) -> Frag:
        sql, params = self._select(field, "1", predicate)
        return f"EXISTS ({sql})", params

    def ai_strings_like(self, like: str) -> Frag:
        return (
            "EXISTS (SELECT 1 FROM result_sets r, json_tree(r.payload, '$.ai') AS a "
            "WHERE r.series_uid = s.series_uid AND a.type = 'text' "
            f"AND {LOWER_FUNCTION}(a.atom) LIKE ? {LIKE_ESCAPE})",
            (like,),
        )

    def sort_items(self, field: str) -> Frag:
        _, aliases = self._walk(field)
        order = " ORDER BY " + ", ".join(f"{a}.id" for a in aliases) + " LIMIT 1"
        kind = self._select(field, "v.type", ("TRUE", ()), order)
        atom = self._select(field, "v.atom", ("TRUE", ()), order)
        return f"({kind[0]}) AS fv_type, ({atom[0]}) AS fv_atom", kind[1] + atom[1]

    def sort_keys(self) -> tuple[str, str, str]:
        rank = (
            "CASE fv_type WHEN 'integer' THEN 0 WHEN 'real' THEN 0 WHEN 'text' THEN 1 "
            "WHEN 'true' THEN 2 WHEN 'false' THEN 2 ELSE 3 END"
        )
        number = (
            "CASE WHEN fv_type IN ('integer', 'real') THEN fv_atom "
            "WHEN fv_type = 'true' THEN 1 WHEN fv_type = 'false' THEN 0 END"
        )
        text = f"CASE WHEN fv_type = 'text' THEN {LOWER_FUNCTION}(fv_atom) END"
        return rank, number, text
