"""Search in the catalog: query trees compiled to SQL, the same semantics as the reference.

:func:`compile_where` turns a tree from :func:`radcurate.query.parse` into a
SQL boolean expression over one row of ``series`` aliased ``s`` (with its
parameters, ``?`` placeholders); :func:`page_query` wraps it into a sorted,
keyset-paginated ``SELECT``. What differs between engines (walking JSON,
lowercasing, collations) sits behind :class:`SearchDialect`
(:mod:`~radcurate.catalog.search_sqlite`, :mod:`~radcurate.catalog.search_postgres`).

The semantics are those of :mod:`radcurate.query.reference` (the oracle the
tests compare every backend with), rule by rule:

* the values of a field are the document's values along the path, lists
  flattened at every step (multi-valued elements, sequence items), nulls
  dropped; a term matches when one single value does;
* the document is ``header`` overlaid with ``facts`` (a key present in
  ``facts`` wins, as in ``series_document``), plus ``header_problems``;
  ``ai.*``/``qc.*``/``clin.*`` come from ``result_sets`` payloads (``payload -> ns -> key``);
* a value is compared according to its stored JSON type: numbers
  numerically, booleans only with ``true``/``false``, strings lowercased
  (Unicode rules) with LIKE or code-point comparison, periods on date/time
  fields as ISO prefixes, sequence items only by ``*``;
* tags and datasets: see :func:`curation_match` (names matched through
  their lowercased copy in ``tags``/``datasets``);
* review statuses: see :func:`review_match` (``reviews``; ``pending`` is every
  series without another status); terms on the ``review`` pseudo-field become
  ``review:`` terms (:func:`~radcurate.query.reference.review_statuses_matching`).

Examples
--------
>>> from radcurate.query import parse
>>> where, params = compile_where(parse("Rows:512"), _DocDialect())
>>> print(where)
EXISTS[Rows](((v IS NUMBER AND v.num = ?) OR (v IS TEXT AND v.lower LIKE ? ESCAPE '\\')))
>>> params
(512.0, '512')
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from radcurate.dicom.values import FieldType
from radcurate.query.ast import (
    REVIEW_FIELD,
    REVIEW_STATUSES,
    All,
    And,
    Compare,
    CompareOp,
    Dataset,
    FieldIn,
    FieldMatch,
    Has,
    Job,
    Missing,
    Node,
    Not,
    Or,
    Project,
    Range,
    Review,
    Tag,
    Text,
)
from radcurate.query.errors import QueryError
from radcurate.query.fields import NAMESPACES, declared_type, is_field_path, resolve_field
from radcurate.query.patterns import (
    escape,
    has_wildcards,
    matches_everything,
    to_like,
    unescape,
)
from radcurate.query.reference import DEFAULT_TEXT_FIELDS, review_statuses_matching
from radcurate.query.values import TEMPORAL, boolean_literal, parse_number, temporal_prefix

#: a piece of SQL and its parameters, in placeholder order
Frag = tuple[str, tuple[Any, ...]]

TRUE: Frag = ("TRUE", ())
#: the LIKE escape clause every pattern from :func:`~radcurate.query.patterns.to_like` needs
LIKE_ESCAPE = "ESCAPE '\\'"


class SearchDialect:
    """What one engine supplies to the compiler.

    Value expressions (``is_number``, ``number``, ``is_text``, ``lowered``,
    ``is_true``, ``is_false``) name the current value inside the subquery that
    :meth:`values_exist` builds; ``lowered`` is the Unicode-lowercased string
    in code-point (binary) collation.
    """

    is_number = "v IS NUMBER"
    number = "v.num"
    is_text = "v IS TEXT"
    lowered = "v.lower"
    is_true = "v IS TRUE"
    is_false = "v IS FALSE"

    def values_exist(self, field: str, predicate: Frag) -> Frag:
        """``EXISTS`` one value of ``field`` (flattened, non-null) for which ``predicate`` holds."""
        raise NotImplementedError

    def ai_strings_like(self, like: str) -> Frag:
        """``EXISTS`` a string in the series' ``ai`` results whose lowercase is LIKE ``like``."""
        raise NotImplementedError

    def sort_items(self, field: str) -> Frag:
        """Select-list items computing the first value of ``field`` (read by :meth:`sort_keys`)."""
        raise NotImplementedError

    def sort_keys(self) -> tuple[str, str, str]:
        """Expressions over :meth:`sort_items` columns: (rank, number, lowered text).

        Rank 0 numbers, 1 strings, 2 booleans (number 0/1), 3 anything else or missing.
        """
        raise NotImplementedError

    def binary(self, expr: str) -> str:
        """``expr`` in code-point (binary) collation, for ORDER BY and comparisons."""
        return expr


class _DocDialect(SearchDialect):
    """A readable stand-in dialect, for examples and tests of the compiler alone."""

    def values_exist(self, field: str, predicate: Frag) -> Frag:
        return f"EXISTS[{field}]({predicate[0]})", predicate[1]

    def ai_strings_like(self, like: str) -> Frag:
        return "AI LIKE ?", (like,)


# -- tags and datasets ------------------------------------------------------------------------
def curation_match(
    kind: Literal["tag", "dataset", "project"], pattern: str, *, substring: bool
) -> Frag:
    """Whether one of the series' tags (or datasets, or projects) matches ``pattern``.

    Names are compared through their stored Python-lowercased copy
    (``name_lower``), so the same SQL serves both engines and matches the
    reference's case-insensitive ``fullmatch`` (``substring``: ``search``, for
    free text). A non-correlated ``IN`` lets each engine read the few tagged
    UIDs once instead of probing per series.
    """
    if kind == "tag":
        members = "SELECT g.series_uid FROM series_tags g JOIN tags t ON t.id = g.tag_id"
    elif kind == "project":
        members = "SELECT g.series_uid FROM project_series g JOIN projects t ON t.name = g.project"
    else:
        members = "SELECT g.series_uid FROM dataset_series g JOIN datasets t ON t.id = g.dataset_id"
    like = to_like(pattern, anchored=not substring)
    return f"s.series_uid IN ({members} WHERE t.name_lower LIKE ? {LIKE_ESCAPE})", (like,)


def job_match(pattern: str) -> Frag:
    """Whether a job (``pattern``, e.g. its id) wrote one of the series' current result sets.

    A pattern without wildcards is an indexed equality on ``result_sets.job_id`` (ids are
    lowercase hex, so the language's case-insensitive match is equality on the lowercase).
    """
    if not has_wildcards(pattern):
        return (
            "s.series_uid IN (SELECT r.series_uid FROM result_sets r WHERE r.job_id = ?)",
            (unescape(pattern).lower(),),
        )
    like = to_like(pattern, anchored=True)
    return (
        "s.series_uid IN (SELECT r.series_uid FROM result_sets r "
        f"WHERE LOWER(r.job_id) LIKE ? {LIKE_ESCAPE})",
        (like,),
    )


def review_match(status: str) -> Frag:
    """Whether the series' review status is ``status`` (``pending``: no other status stored).

    Reviews live in ``reviews`` keyed by SeriesInstanceUID (catalog/review_store.py); a
    series never reviewed has no row and is ``pending``.
    """
    if status == "pending":
        return (
            "s.series_uid NOT IN (SELECT v.series_uid FROM reviews v WHERE v.status <> ?)",
            (status,),
        )
    return "s.series_uid IN (SELECT v.series_uid FROM reviews v WHERE v.status = ?)", (status,)


def _review_field(node: Node) -> Frag:
    """A term on the ``review`` pseudo-field: the statuses it accepts, as ``review:`` terms."""
    statuses = review_statuses_matching(node)
    if len(statuses) == len(REVIEW_STATUSES):
        return TRUE
    return _any([review_match(s) for s in statuses]) or ("FALSE", ())


# -- combinators -------------------------------------------------------------------------------
def _join(op: str, frags: Sequence[Frag]) -> Frag:
    if len(frags) == 1:
        return frags[0]
    params: tuple[Any, ...] = ()
    for frag in frags:
        params += frag[1]
    return "(" + f" {op} ".join(f[0] for f in frags) + ")", params


def _any(frags: Sequence[Frag | None]) -> Frag | None:
    """OR of the fragments that are not None (None: nothing can match)."""
    kept = [f for f in frags if f is not None]
    return _join("OR", kept) if kept else None


@dataclass(frozen=True)
class Compiler:
    """Compiles trees for one dialect, field registry and set of free-text fields."""

    dialect: SearchDialect
    field_types: Mapping[str, FieldType] | None = None
    text_fields: Sequence[str] = DEFAULT_TEXT_FIELDS
    #: free text also searches every string of the ``ai`` results (the search index does that
    #: part itself from its result columns and turns it off here)
    ai_text: bool = True

    def where(self, node: Node) -> Frag:
        """The SQL boolean (never NULL) that is true for the rows ``node`` matches."""
        if isinstance(node, All):
            return TRUE
        if isinstance(node, Not):
            inner = self.where(node.child)
            return f"(NOT {inner[0]})", inner[1]
        if isinstance(node, (And, Or)):
            op = "AND" if isinstance(node, And) else "OR"
            return _join(op, [self.where(c) for c in node.children])
        if isinstance(node, Text):
            return self._text(node.pattern)
        if isinstance(node, Tag):
            return curation_match("tag", node.pattern, substring=False)
        if isinstance(node, Dataset):
            return curation_match("dataset", node.pattern, substring=False)
        if isinstance(node, Project):
            return curation_match("project", node.pattern, substring=False)
        if isinstance(node, Job):
            return job_match(node.pattern)
        if isinstance(node, Review):
            return review_match(node.status)
        if node.field == REVIEW_FIELD:
            return _review_field(node)
        if isinstance(node, Has):
            return self._exists(node.field, TRUE)
        if isinstance(node, Missing):
            has = self._exists(node.field, TRUE)
            return f"(NOT {has[0]})", has[1]
        field_type = declared_type(node.field, self.field_types)
        predicate: Frag | None
        if isinstance(node, FieldMatch):
            predicate = self._value_matches(node.pattern, field_type)
        elif isinstance(node, FieldIn):
            predicate = _any([self._value_matches(p, field_type) for p in node.patterns])
        elif isinstance(node, Compare):
            predicate = self._value_compares(node.op, node.value, field_type)
        else:
            predicate = self._value_in_range(node, field_type)
        if predicate is None:
            return ("FALSE", ())
        return self._exists(node.field, predicate)

    def _exists(self, field: str, predicate: Frag) -> Frag:
        if field in NAMESPACES:
            # the whole ai/qc mapping is the one value (even when empty): only ``*`` matches it
            return TRUE if predicate == TRUE else ("FALSE", ())
        return self.dialect.values_exist(field, predicate)

    # -- free text -------------------------------------------------------------------------
    def _text(self, pattern: str) -> Frag:
        d = self.dialect
        like = to_like(pattern, anchored=False)
        string: Frag = (f"({d.is_text} AND {d.lowered} LIKE ? {LIKE_ESCAPE})", (like,))
        parts = [d.values_exist(f, string) for f in dict.fromkeys(self.text_fields)]
        if self.ai_text:
            parts.append(d.ai_strings_like(like))
        parts.append(curation_match("tag", pattern, substring=True))
        parts.append(curation_match("dataset", pattern, substring=True))
        return _join("OR", parts)

    # -- one value ---------------------------------------------------------------------------
    def _value_matches(self, pattern: str, field_type: FieldType | None) -> Frag | None:
        """Mirror of ``reference.value_matches`` as a predicate on the current value."""
        d = self.dialect
        if matches_everything(pattern):
            return TRUE
        literal = None if has_wildcards(pattern) else unescape(pattern)
        parts: list[Frag | None] = []
        if literal is not None:
            flag = boolean_literal(literal)
            if flag is not None:
                parts.append((d.is_true if flag else d.is_false, ()))
            number = parse_number(literal)
            if number is not None:
                parts.append((f"({d.is_number} AND {d.number} = ?)", (number,)))
        prefix = None
        if literal is not None and field_type in TEMPORAL:
            prefix = temporal_prefix(literal, field_type)
        like = to_like(pattern if prefix is None else escape(prefix) + "*", anchored=True)
        parts.append((f"({d.is_text} AND {d.lowered} LIKE ? {LIKE_ESCAPE})", (like,)))
        return _any(parts)

    def _number_cond(self, op: CompareOp, query: str) -> Frag | None:
        number = parse_number(query)
        if number is None:
            return None
        return f"{self.dialect.number} {op} ?", (number,)

    def _string_cond(self, op: CompareOp, query: str, field_type: FieldType | None) -> Frag:
        low = self.dialect.lowered
        prefix = temporal_prefix(query, field_type) if field_type in TEMPORAL else None
        if prefix is None:
            return f"{low} {op} ?", (query.lower(),)
        prefix = prefix.lower()
        inside = f"{low} LIKE ? {LIKE_ESCAPE}"
        starts = to_like(escape(prefix) + "*", anchored=True)
        if op == "<":
            return f"{low} < ?", (prefix,)
        if op == ">=":
            return f"{low} >= ?", (prefix,)
        if op == "<=":
            return f"({low} < ? OR {inside})", (prefix, starts)
        return f"({low} > ? AND NOT {inside})", (prefix, starts)

    def _typed(self, numbers: list[Frag | None], strings: list[Frag]) -> Frag | None:
        d = self.dialect
        parts: list[Frag | None] = []
        if numbers and all(n is not None for n in numbers):
            parts.append(_join("AND", [(d.is_number, ()), *[n for n in numbers if n]]))
        parts.append(_join("AND", [(d.is_text, ()), *strings]))
        return _any(parts)

    def _value_compares(
        self, op: CompareOp, query: str, field_type: FieldType | None
    ) -> Frag | None:
        """Mirror of ``reference.value_compares``."""
        return self._typed(
            [self._number_cond(op, query)], [self._string_cond(op, query, field_type)]
        )

    def _value_in_range(self, node: Range, field_type: FieldType | None) -> Frag | None:
        """Mirror of ``reference.value_in_range``: both bounds hold for the same value."""
        bounds: list[tuple[CompareOp, str]] = []
        if node.low is not None:
            bounds.append((">=" if node.include_low else ">", node.low))
        if node.high is not None:
            bounds.append(("<=" if node.include_high else "<", node.high))
        if not bounds:
            return None
        return self._typed(
            [self._number_cond(op, q) for op, q in bounds],
            [self._string_cond(op, q, field_type) for op, q in bounds],
        )


def compile_where(
    node: Node,
    dialect: SearchDialect,
    *,
    field_types: Mapping[str, FieldType] | None = None,
    text_fields: Sequence[str] = DEFAULT_TEXT_FIELDS,
) -> Frag:
    """The SQL condition (over ``series s``) and parameters of a query tree."""
    return Compiler(dialect, field_types, text_fields).where(node)


# -- sorting and keyset pagination --------------------------------------------------------------
@dataclass(frozen=True)
class SortSpec:
    """``field`` (a resolved path) or None for SeriesInstanceUID order; ``descending``."""

    field: str | None = None
    descending: bool = False

    @classmethod
    def parse(cls, sort: str | None) -> SortSpec:
        """``"SliceThickness"``, ``"-StudyDate"``, ``"(0018,0050)"``; None or ``""``: UID order.

        Examples
        --------
        >>> SortSpec.parse("-(0018,0050)")
        SortSpec(field='SliceThickness', descending=True)
        """
        if not sort:
            return cls()
        descending = sort.startswith("-")
        name = sort[1:] if descending else sort
        if not is_field_path(name):
            raise QueryError(f"cannot sort by {sort!r}: not a field name")
        return cls(resolve_field(name), descending)

    def text(self) -> str:
        """The canonical spelling, stored in cursors."""
        if self.field is None:
            return ""
        return ("-" if self.descending else "") + self.field


@dataclass(frozen=True)
class Cursor:
    """Where a page ended: the sort key of its last series."""

    sort: str
    rank: int
    number: float | None
    text: str | None
    uid: str

    def encode(self) -> str:
        """The opaque string handed to clients."""
        raw = json.dumps([self.sort, self.rank, self.number, self.text, self.uid])
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str, sort: SortSpec) -> Cursor:
        """Read a cursor back; it must come from a page with the same sort."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            sort_text, rank, number, text, uid = json.loads(raw)
        except (ValueError, TypeError, binascii.Error) as exc:
            raise QueryError(f"invalid page cursor {token[:40]!r}") from exc
        if sort_text != sort.text():
            raise QueryError(f"the page cursor belongs to sort {sort_text!r}, not {sort.text()!r}")
        ok = (
            rank in (0, 1, 2, 3)
            and (number is None or isinstance(number, (int, float)))
            and (text is None or isinstance(text, str))
            and isinstance(uid, str)
        )
        if not ok:
            raise QueryError(f"invalid page cursor {token[:40]!r}")
        return cls(sort_text, int(rank), number, text, uid)


def page_query(
    dialect: SearchDialect, where: Frag, sort: SortSpec, after: Cursor | None, limit: int
) -> Frag:
    """``SELECT uid, header, facts, header_problems, rank, num, txt`` of one page.

    Order: rank (numbers, strings, booleans, then missing — also when
    descending), the value in the asked direction, then SeriesInstanceUID.
    """
    inner = (
        "SELECT s.series_uid AS uid, s.header, s.facts, s.header_problems{items} "
        f"FROM series s WHERE {where[0]}"
    )
    params: tuple[Any, ...] = ()
    uid = dialect.binary("k.uid")
    if sort.field is None:
        sql = inner.replace("{items}", "")
        params = where[1]
        keyed = f"SELECT q.*, 3 AS rnk, NULL AS num, NULL AS txt FROM ({sql}) q"
    else:
        items = dialect.sort_items(sort.field)
        sql = inner.replace("{items}", ", " + items[0])
        params = items[1] + where[1]
        rank, number, text = dialect.sort_keys()
        keyed = f"SELECT q.*, {rank} AS rnk, {number} AS num, {text} AS txt FROM ({sql}) q"
    direction = "DESC" if sort.descending else "ASC"
    txt = dialect.binary("k.txt")
    order = f"k.rnk ASC, k.num {direction}, {txt} {direction}, {uid} ASC"
    condition = "TRUE"
    if after is not None:
        beyond = "<" if sort.descending else ">"
        if after.rank in (0, 2):
            within = f"(k.num {beyond} ? OR (k.num = ? AND {uid} > ?))"
            within_params: tuple[Any, ...] = (after.number, after.number, after.uid)
        elif after.rank == 1:
            within = f"({txt} {beyond} ? OR ({txt} = ? AND {uid} > ?))"
            within_params = (after.text, after.text, after.uid)
        else:
            within = f"{uid} > ?"
            within_params = (after.uid,)
        condition = f"(k.rnk > ? OR (k.rnk = ? AND {within}))"
        params += (after.rank, after.rank, *within_params)
    return (
        "SELECT k.uid, k.header, k.facts, k.header_problems, k.rnk, k.num, k.txt "
        f"FROM ({keyed}) k WHERE {condition} ORDER BY {order} LIMIT ?",
        (*params, limit),
    )
