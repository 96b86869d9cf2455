"""Field terms decided on a column: which value tuples a term accepts.

Every rule mirrors :mod:`radcurate.query.reference` (the oracle the
differential tests hold this to): strings through the column's sorted
string table, numbers through its number table, everything else (tuples of
several values, booleans, sequence items) through the reference's own
per-value functions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from radcurate.catalog.index.column import Column, StringTable, pattern_regex, prefix_end
from radcurate.dicom.values import FieldType
from radcurate.query.ast import Compare, CompareOp, FieldIn, FieldMatch, Node, Range, Text
from radcurate.query.patterns import has_wildcards, matches_everything, search, tokens, unescape
from radcurate.query.reference import value_compares, value_in_range, value_matches
from radcurate.query.values import TEMPORAL, parse_number, temporal_prefix

_NUMPY_OPS: dict[str, Callable[[Any, float], Any]] = {
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
}


def accepted_codes(column: Column, node: Node, field_type: FieldType | None) -> list[int]:
    """Codes of the value tuples of ``column`` for which the field term ``node`` holds."""
    if isinstance(node, FieldIn):
        found: set[int] = set()
        for pattern in node.patterns:
            found.update(accepted_codes(column, FieldMatch(node.field, pattern), field_type))
        return sorted(found)
    one = _one_value_test(node, field_type)
    codes = [c for c in column.others if any(one(v) for v in column.values[c])]
    codes += _string_codes(column.strings, node, field_type)
    codes += _number_codes(column, node)
    return codes


def text_codes(column: Column, pattern: str) -> list[int]:
    """Codes of tuples holding a string in which free-text ``pattern`` occurs."""
    codes = [
        c
        for c in column.others
        if any(isinstance(v, str) and search(pattern, v) for v in column.values[c])
    ]
    table = column.strings
    core = _strip_outer_stars(pattern)
    if not core:
        return codes + table.span(0, len(table.keys))
    return codes + table.regex(pattern_regex(core, anchored=False))


def _strip_outer_stars(pattern: str) -> str:
    """A substring pattern without its leading/trailing unescaped stars (same matches)."""
    parts = tokens(pattern)
    while parts and parts[0] == (True, "*"):
        parts.pop(0)
    while parts and parts[-1] == (True, "*"):
        parts.pop()
    return "".join(("\\" + c if c in "*?\\" else c) if not wild else c for wild, c in parts)


def _one_value_test(node: Node, field_type: FieldType | None) -> Callable[[Any], bool]:
    if isinstance(node, FieldMatch):
        return lambda v: value_matches(v, node.pattern, field_type)
    if isinstance(node, Compare):
        return lambda v: value_compares(v, node.op, node.value, field_type)
    if isinstance(node, Range):
        return lambda v: value_in_range(v, node, field_type)
    if isinstance(node, Text):
        return lambda v: isinstance(v, str) and search(node.pattern, v)
    raise TypeError(f"not a field term: {node!r}")


# -- strings ------------------------------------------------------------------------------
def _string_codes(table: StringTable, node: Node, field_type: FieldType | None) -> list[int]:
    if isinstance(node, FieldMatch):
        return _string_match(table, node.pattern, field_type)
    if isinstance(node, Compare):
        return table.span(*_string_compare(table, node.op, node.value, field_type))
    if isinstance(node, Range):
        if node.low is None and node.high is None:
            return []
        start, stop = 0, len(table.keys)
        if node.low is not None:
            low = _string_compare(table, ">=" if node.include_low else ">", node.low, field_type)
            start, stop = max(start, low[0]), min(stop, low[1])
        if node.high is not None:
            high = _string_compare(table, "<=" if node.include_high else "<", node.high, field_type)
            start, stop = max(start, high[0]), min(stop, high[1])
        return table.span(start, stop) if start < stop else []
    raise TypeError(f"not a field term: {node!r}")


def _string_match(table: StringTable, pattern: str, field_type: FieldType | None) -> list[int]:
    if matches_everything(pattern):
        return table.span(0, len(table.keys))
    if has_wildcards(pattern):
        return table.regex(pattern_regex(pattern, anchored=True))
    literal = unescape(pattern)
    if field_type in TEMPORAL:
        prefix = temporal_prefix(literal, field_type)
        if prefix is not None:
            return table.span(*_prefix_bounds(table, prefix.lower()))
    return list(table.equal(unescape(pattern.lower())))


def _prefix_bounds(table: StringTable, prefix: str) -> tuple[int, int]:
    start, stop = table.bounds(prefix, prefix_end(prefix))
    while stop < len(table.keys) and table.keys[stop].startswith(prefix):
        stop += 1  # only when the prefix ends in the highest code point
    return start, stop


def _string_compare(
    table: StringTable, op: CompareOp, query: str, field_type: FieldType | None
) -> tuple[int, int]:
    """Key positions ``[start, stop)`` of strings ``s`` with ``s op query``."""
    size = len(table.keys)
    prefix = temporal_prefix(query, field_type) if field_type in TEMPORAL else None
    if prefix is None:
        q = query.lower()
        if op == "<":
            return 0, table.after(q, inclusive=True)
        if op == "<=":
            return 0, table.after(q, inclusive=False)
        if op == ">":
            return table.after(q, inclusive=False), size
        return table.after(q, inclusive=True), size
    p = prefix.lower()
    start, stop = _prefix_bounds(table, p)
    if op == "<":
        return 0, start
    if op == ">=":
        return start, size
    if op == "<=":
        return 0, stop
    return stop, size


# -- numbers ------------------------------------------------------------------------------
def _number_codes(column: Column, node: Node) -> list[int]:
    table = column.numbers
    if not table.values.size:
        return []
    if isinstance(node, FieldMatch):
        if matches_everything(node.pattern):
            return table.codes.tolist()  # type: ignore[no-any-return]
        if has_wildcards(node.pattern):
            return []
        number = parse_number(unescape(node.pattern))
        if number is None:
            return []
        return table.where(lambda v: v == number).tolist()  # type: ignore[no-any-return]
    if isinstance(node, Compare):
        bound = parse_number(node.value)
        if bound is None:
            return []
        compare = _NUMPY_OPS[node.op]
        limit: float = bound
        return table.where(lambda v: compare(v, limit)).tolist()  # type: ignore[no-any-return]
    if isinstance(node, Range):
        if node.low is None and node.high is None:
            return []
        mask = np.ones(table.values.size, np.bool_)
        for value, op_name in (
            (node.low, ">=" if node.include_low else ">"),
            (node.high, "<=" if node.include_high else "<"),
        ):
            if value is None:
                continue
            edge = parse_number(value)
            if edge is None:
                return []
            mask &= _NUMPY_OPS[op_name](table.values, edge)
        return table.codes[mask].tolist()  # type: ignore[no-any-return]
    raise TypeError(f"not a field term: {node!r}")
