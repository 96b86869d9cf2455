"""Query trees evaluated on the search index: a boolean per row.

Boolean structure (AND, OR, NOT) is numpy logic. A term on an indexed field
is decided on its column (:mod:`~radcurate.catalog.index.terms`); any other
term (a field outside the index, a path into a sequence, ``ai.*``/``qc.*``,
``tag:``, ``dataset:``, and the tag/dataset/``ai`` part of free text) is
handed to ``sql_rows``, which answers with the series UIDs for which that
one term holds. ``review:`` terms (and terms on the ``review`` pseudo-field)
read the index's review column, which always exists. ``NOT`` is always taken
here, so fallbacks only ever answer positive terms.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np

from radcurate.catalog.index.column import BoolArray, Column
from radcurate.catalog.index.series_index import MEMBERSHIP, SeriesIndex
from radcurate.catalog.index.terms import accepted_codes, text_codes
from radcurate.dicom.values import FieldType
from radcurate.query.ast import (
    REVIEW_FIELD,
    All,
    And,
    Compare,
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
from radcurate.query.fields import NAMESPACES, declared_type
from radcurate.query.patterns import fullmatch, has_wildcards, search, unescape

#: answers one term the index cannot: the UIDs of the series for which it holds.
#: ``Text`` nodes are asked only for their tag, dataset and ``ai`` part
#: (and for text fields outside the index, listed in the second argument).
#: A third argument, when given, limits the answer to those series.
SqlRows = Callable[..., Iterable[str]]


class Evaluator:
    """Evaluates trees over one index (the caller holds ``index.lock``)."""

    def __init__(
        self,
        index: SeriesIndex,
        sql_rows: SqlRows,
        field_types: Mapping[str, FieldType],
        text_fields: Sequence[str],
        load_column: Callable[[str], Column | None] | None = None,
    ) -> None:
        self.index = index
        self.sql_rows = sql_rows
        self.field_types = field_types
        self.text_fields = text_fields
        #: loads a column the index does not hold yet (None: such terms go to ``sql_rows``)
        self.load_column = load_column
        #: whether a term was answered in SQL (the mask then depends on more than the index)
        self.asked_sql = False

    def _sql_rows(self, *args: object) -> Iterable[str]:
        self.asked_sql = True
        return self.sql_rows(*args)

    def mask(self, node: Node) -> BoolArray:
        """Rows (alive series) matching ``node``."""
        return self._eval(node) & self.index.alive

    def _eval(self, node: Node) -> BoolArray:
        index = self.index
        if isinstance(node, All):
            return index.alive.copy()
        if isinstance(node, Not):
            return ~self._eval(node.child)
        if isinstance(node, And):
            result = self._eval(node.children[0])
            for child in node.children[1:]:
                if not result.any():
                    break
                result &= self._eval(child)
            return result
        if isinstance(node, Or):
            result = self._eval(node.children[0])
            for child in node.children[1:]:
                result |= self._eval(child)
            return result
        if isinstance(node, Text):
            return self._text(node)
        if isinstance(node, (Tag, Dataset, Project)) and node_kind(node) in index.membership:
            members = index.membership[node_kind(node)]
            return members.rows_with(_named_codes(members, node.pattern, fullmatch))
        if isinstance(node, (Tag, Dataset, Project, Job)):
            return index.rows_of(self._sql_rows(node, ()))
        if isinstance(node, Review):
            statuses = index.columns[REVIEW_FIELD]
            wanted = (node.status,)
            return statuses.rows_with(c for c, v in enumerate(statuses.values) if v == wanted)
        assert isinstance(node, (FieldMatch, FieldIn, Compare, Range, Has, Missing))
        field = node.field
        column: Column | None = index.columns.get(field)
        if isinstance(node, Missing):
            return ~self._eval(Has(field))
        if column is None and is_result_path(field):
            # the index holds a column for every result path any series has: none has this one
            return np.zeros(len(index), np.bool_)
        if column is None and self.load_column is not None:
            column = self.load_column(field)
        if column is None:
            keyed = field in ("SeriesInstanceUID", "StudyInstanceUID")
            uids = _exact_uids(node) if keyed else None
            if uids is not None:
                # rows are keyed by these UIDs: look the few candidates up, let SQL confirm
                found = index.rows_of(uids) if field == "SeriesInstanceUID" else None
                if found is None:
                    found = index.rows_of_studies(uids)
                candidates = [index.uids[r] for r in np.flatnonzero(found).tolist()]
                return index.rows_of(self._sql_rows(node, (), candidates) if candidates else ())
            return index.rows_of(self._sql_rows(node, ()))
        if isinstance(node, Has):
            return column.present()
        codes = accepted_codes(column, node, declared_type(field, self.field_types))
        return column.rows_with(codes)

    def _text(self, node: Text) -> BoolArray:
        index = self.index
        result = np.zeros(len(index), np.bool_)
        outside: list[str] = []
        for field in self.text_fields:
            column = index.columns.get(field)
            if column is None:
                outside.append(field)
                continue
            codes = text_codes(column, node.pattern)
            if codes:
                result |= column.rows_with(codes)
        for field in index.result_fields:  # every string anywhere in the ai results
            if field.startswith("ai."):
                column = index.columns[field]
                codes = text_codes(column, node.pattern)
                if codes:
                    result |= column.rows_with(codes)
        if len(index.membership) == len(MEMBERSHIP):  # tag and dataset names, from memory
            for column in (index.membership["tag"], index.membership["dataset"]):
                codes = _named_codes(column, node.pattern, search)
                if codes:
                    result |= column.rows_with(codes)
            if outside:
                result |= index.rows_of(self._sql_rows(node, outside))
            return result
        result |= index.rows_of(self._sql_rows(node, outside))
        return result


def node_kind(node: Tag | Dataset | Project) -> str:
    """The membership column a tag/dataset/project term reads."""
    if isinstance(node, Project):
        return "project"
    return "tag" if isinstance(node, Tag) else "dataset"


def _named_codes(column: Column, pattern: str, test: Callable[[str, str], bool]) -> list[int]:
    """Codes of membership tuples with a name ``test(pattern, name)`` accepts."""
    return [c for c, names in enumerate(column.values) if any(test(pattern, n) for n in names)]


def is_result_path(field: str) -> bool:
    """``ai.x``, ``qc.x.y``, ``clin.t.c``: a path into a series' results (not a bare namespace)."""
    head, _, rest = field.partition(".")
    return head in NAMESPACES and bool(rest)


def _exact_uids(node: Node) -> list[str] | None:
    """The UIDs a Series/StudyInstanceUID term names exactly (None: not such a term).

    Only patterns without wildcards or cased letters qualify: for them the
    case-insensitive match of the language is plain equality.
    """
    if isinstance(node, FieldMatch):
        patterns: tuple[str, ...] = (node.pattern,)
    elif isinstance(node, FieldIn):
        patterns = node.patterns
    else:
        return None
    out = []
    for pattern in patterns:
        if has_wildcards(pattern):
            return None
        literal = unescape(pattern)
        if literal.lower() != literal.upper():
            return None
        out.append(literal)
    return out
