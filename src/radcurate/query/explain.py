"""Why a series matched: the values its free-text terms were found in, with where.

The search engines answer *whether* a series matches; for the cards of a results page
(``GET /api/search?explain=true``) this module says *why*, by the reference semantics of
free text (:mod:`radcurate.query.reference`): a term matches a substring, ignoring case, of
a free-text field's value, a tag, a dataset name or a string of the AI results. Terms under
a ``NOT`` explain nothing (they matched by not being there). Only the series of one page
are explained, so the cost is a few microseconds a card.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from radcurate.query.ast import And, Node, Not, Or, Text
from radcurate.query.patterns import tokens
from radcurate.query.reference import DEFAULT_TEXT_FIELDS, SearchRecord, field_values

__all__ = ["Matched", "explain", "free_text_terms"]

#: longest value returned (a longer one is cut around the match)
MAX_VALUE = 160


@dataclass(frozen=True)
class Matched:
    """One value a free-text term was found in.

    Attributes
    ----------
    term
        The term's pattern, as in the query.
    field
        The field (``SeriesDescription``…), or ``tag``, ``dataset``, ``ai``.
    value
        The value (cut to :data:`MAX_VALUE` characters around the match; ``…`` marks a cut).
    start, end
        Where the term matches inside ``value`` (character offsets), for highlighting.
    """

    term: str
    field: str
    value: str
    start: int
    end: int


def free_text_terms(node: Node) -> list[str]:
    """The free-text patterns of a tree outside any ``NOT``, each once, in query order."""
    found: list[str] = []

    def walk(current: Node) -> None:
        if isinstance(current, Text) and current.pattern not in found:
            found.append(current.pattern)
        elif isinstance(current, And | Or):
            for child in current.children:
                walk(child)
        # Not: its terms matched by being absent; other nodes are field terms

    if not isinstance(node, Not):
        walk(node)
    return found


@lru_cache(maxsize=1024)
def _shortest(pattern: str) -> re.Pattern[str]:
    """The pattern as a lazy regex (``*`` -> ``.*?``, outer ``*`` dropped): the shortest
    matching substring is what a highlight should cover."""
    parts = tokens(pattern.lower().strip("*") or "*")
    body = "".join((".*?" if c == "*" else ".") if wild else re.escape(c) for wild, c in parts)
    return re.compile(body, re.DOTALL)


def _span(pattern: str, value: str) -> tuple[int, int] | None:
    lowered = value.lower()
    found = _shortest(pattern).search(lowered)
    if found is None:
        return None
    if len(lowered) != len(value):  # case folding changed the length: mark the whole value
        return 0, len(value)
    return found.start(), found.end()


def _cut(value: str, start: int, end: int) -> tuple[str, int, int]:
    if len(value) <= MAX_VALUE:
        return value, start, end
    left = max(0, min(start - 40, len(value) - MAX_VALUE))
    right = min(len(value), max(left + MAX_VALUE, end))
    text = value[left:right]
    prefix = "…" if left else ""
    suffix = "…" if right < len(value) else ""
    return prefix + text + suffix, start - left + len(prefix), end - left + len(prefix)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _sources(record: SearchRecord, text_fields: Sequence[str]) -> Iterator[tuple[str, str]]:
    for name in text_fields:
        for value in field_values(record, name):
            if isinstance(value, str):
                yield name, value
    yield from (("tag", t) for t in record.tags)
    yield from (("dataset", d) for d in record.datasets)
    yield from (("ai", s) for s in _strings(record.ai))


def explain(
    node: Node,
    record: SearchRecord | dict[str, Any],
    *,
    text_fields: Sequence[str] = DEFAULT_TEXT_FIELDS,
    limit: int = 8,
) -> list[Matched]:
    """The values of ``record`` its free-text terms match (at most ``limit``; per term the
    fields in ``text_fields`` order, then tags, datasets, AI strings).

    Examples
    --------
    >>> from radcurate.query.parser import parse
    >>> doc = {"SeriesDescription": "CT Lung 1.0 B70f", "BodyPartExamined": "CHEST"}
    >>> [(m.field, m.value[m.start:m.end]) for m in explain(parse("lung ches*"), doc)]
    [('SeriesDescription', 'Lung'), ('BodyPartExamined', 'CHES')]
    >>> explain(parse("NOT lung"), doc)
    []
    """
    rec = SearchRecord.of(record)
    out: list[Matched] = []
    for term in free_text_terms(node):
        for name, value in _sources(rec, text_fields):
            span = _span(term, value)
            if span is None:
                continue
            text, start, end = _cut(value, *span)
            out.append(Matched(term, name, text, start, end))
            if len(out) >= limit:
                return out
    return out
