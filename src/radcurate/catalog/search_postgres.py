"""Search SQL for PostgreSQL: JSONB and SQL/JSON paths.

The values of a field path ``A.B.C`` are one ``jsonb_path_query`` in lax
mode: ``$[*]…[*]."B"[*]…[*]."C"[*]…[*]`` over the value of ``A``. In lax mode
``[*]`` unwraps one level of array and passes any other value through, so
:data:`FLATTEN_DEPTH` of them flatten lists nested that deep (multi-valued
elements, sequence items, lists of lists); ``."B"`` reads a key of objects and
skips everything else. Strings are lowercased with ``lower(… COLLATE
"und-x-icu")`` when the server has ICU (full Unicode case mapping, as
Python's ``str.lower``); otherwise with the database's ``lower()``, which in
a ``C``-locale database folds ASCII only. Comparisons and ORDER BY use
``COLLATE "C"`` (code-point order, as Python compares strings).
"""

from __future__ import annotations

from radcurate.catalog.search import LIKE_ESCAPE, Frag, SearchDialect
from radcurate.query.errors import QueryError
from radcurate.query.fields import NAMESPACES, split_path

#: nesting depth of lists (within one field value) flattened; deeper lists are not values
FLATTEN_DEPTH = 6
_FLAT = "[*]" * FLATTEN_DEPTH
#: the ICU root collation: full Unicode lowercasing
ICU_COLLATION = "und-x-icu"


def json_path(segments: list[str]) -> str:
    """The lax SQL/JSON path reading ``segments`` below an already taken first value.

    Examples
    --------
    >>> json_path(["CodeValue"]).count("[*]") == 2 * FLATTEN_DEPTH
    True
    """
    path = "$" + _FLAT
    for segment in segments:
        if '"' in segment or "\\" in segment:
            raise QueryError(f"field name {segment!r} cannot be searched")
        path += f'."{segment}"' + _FLAT
    return path


class PostgresSearch(SearchDialect):
    """The PostgreSQL dialect; the current value is the jsonb ``t.v``."""

    is_number = "jsonb_typeof(t.v) = 'number'"
    number = "(CASE WHEN jsonb_typeof(t.v) = 'number' THEN (t.v)::float8 END)"
    is_text = "jsonb_typeof(t.v) = 'string'"
    is_true = "t.v = 'true'::jsonb"
    is_false = "t.v = 'false'::jsonb"

    def __init__(self, *, icu: bool) -> None:
        self.icu = icu
        self.lowered = self.lower("(t.v #>> '{}')")

    def lower(self, text: str) -> str:
        """Unicode lowercasing of a text expression, in code-point collation."""
        if self.icu:
            return f'(lower({text} COLLATE "{ICU_COLLATION}") COLLATE "C")'
        return f'(lower({text}) COLLATE "C")'

    def binary(self, expr: str) -> str:
        return f'{expr} COLLATE "C"'

    def _walk(self, field: str, ordinality: bool = False) -> Frag:
        """``FROM … WHERE …`` making every value of ``field`` a row ``t(v)``."""
        segments = split_path(field)
        alias = "t(v, i)" if ordinality else "t(v)"
        ordinal = " WITH ORDINALITY" if ordinality else ""
        leaf = "jsonb_typeof(t.v) NOT IN ('null', 'array')"
        if segments[0] in NAMESPACES:
            # every producer's result set of the series (a key lives in one of them)
            return (
                f"FROM result_sets r, jsonb_path_query(r.payload -> ? -> ?, ?::jsonpath)"
                f"{ordinal} AS {alias} WHERE r.series_uid = s.series_uid AND {leaf}",
                (segments[0], segments[1], json_path(segments[2:])),
            )
        # a key present in facts wins over the header, as in series_document
        root = "COALESCE(s.facts -> ?, s.header -> ?)"
        if segments[0] == "header_problems":
            root = "COALESCE(NULLIF(s.header_problems, '[]'::jsonb), s.facts -> ?, s.header -> ?)"
        return (
            f"FROM jsonb_path_query({root}, ?::jsonpath){ordinal} AS {alias} WHERE {leaf}",
            (segments[0], segments[0], json_path(segments[1:])),
        )

    def values_exist(self, field: str, predicate: Frag) -> Frag:
        body, params = self._walk(field)
        return f"EXISTS (SELECT 1 {body} AND {predicate[0]})", params + predicate[1]

    def ai_strings_like(self, like: str) -> Frag:
        lowered = self.lower("(a.v #>> '{}')")
        return (
            "EXISTS (SELECT 1 FROM result_sets r, "
            "jsonb_path_query(r.payload -> 'ai', 'strict $.**') AS a(v) "
            "WHERE r.series_uid = s.series_uid "
            "AND jsonb_typeof(a.v) = 'string' "
            f"AND {lowered} LIKE ? {LIKE_ESCAPE})",
            (like,),
        )

    def sort_items(self, field: str) -> Frag:
        body, params = self._walk(field, ordinality=True)
        return f"(SELECT t.v {body} ORDER BY t.i LIMIT 1) AS fv", params

    def sort_keys(self) -> tuple[str, str, str]:
        rank = (
            "CASE jsonb_typeof(fv) WHEN 'number' THEN 0 WHEN 'string' THEN 1 "
            "WHEN 'boolean' THEN 2 ELSE 3 END"
        )
        number = (
            "CASE WHEN jsonb_typeof(fv) = 'number' THEN (fv)::float8 "
            "WHEN fv = 'true'::jsonb THEN 1 WHEN fv = 'false'::jsonb THEN 0 END"
        )
        lowered = self.lower("(fv #>> '{}')")
        text = f"CASE WHEN jsonb_typeof(fv) = 'string' THEN {lowered} END"
        return rank, number, text
