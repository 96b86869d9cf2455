"""Canonical query text of a tree: ``parse(to_text(tree)) == normalize(tree)``.

The printer quotes or backslash-escapes whatever the lexer would otherwise
read differently, writes ranges as ``[low TO high]`` (``*`` for an open end),
negation as ``NOT``, and parenthesises only where precedence
(NOT > AND > OR) requires it.

Examples
--------
>>> from radcurate.query.ast import And, FieldIn, Not, Or, Range, Tag, Text
>>> to_text(And((Or((Text("lung"), Text("chest ct"))), Not(Tag("excluded")))))
'(lung OR "chest ct") NOT tag:excluded'
>>> to_text(Range("age_years", "40", None, True, False))
'age_years:[40 TO *}'
>>> to_text(FieldIn("Modality", ("CT", "MR")))
'Modality:(CT OR MR)'
"""

from __future__ import annotations

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
from radcurate.query.patterns import has_wildcards, matches_everything, tokens, unescape
from radcurate.query.reference import review_statuses_matching

#: words that are operators where a term or a value-list item is expected
KEYWORDS = frozenset({"AND", "OR", "NOT"})
_SAFE_PUNCTUATION = frozenset("_.,+-/@#$%&=!~^';")


def _safe(char: str, *, value: bool) -> bool:
    return char.isalnum() or char in _SAFE_PUNCTUATION or (value and char == ":")


def phrase(literal: str) -> str:
    """A double-quoted phrase holding exactly ``literal``.

    Examples
    --------
    >>> print(phrase('say "hi"'))
    "say \\"hi\\""
    """
    return '"' + literal.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _bare(literal: str, *, value: bool) -> bool:
    return (
        bool(literal)
        and all(_safe(c, value=value) for c in literal)
        and literal not in KEYWORDS
        and literal != "TO"
        and ".." not in literal
        and not literal.startswith("=")
        and (value or not literal.startswith("-"))
    )


def literal_text(literal: str, *, value: bool = True) -> str:
    """A literal as one word when the lexer reads it back unchanged, else as a phrase.

    Examples
    --------
    >>> literal_text("1.5"), literal_text("chest ct"), literal_text("OR")
    ('1.5', '"chest ct"', '"OR"')
    """
    return literal if _bare(literal, value=value) else phrase(literal)


def pattern_text(pattern: str, *, value: bool = True) -> str:
    """A pattern as query text: a phrase when it has no wildcards and needs quoting.

    Examples
    --------
    >>> pattern_text("SIEM*"), pattern_text("a b*"), pattern_text("a\\\\*")
    ('SIEM*', 'a\\\\ b*', '"a*"')
    """
    if not has_wildcards(pattern):
        return literal_text(unescape(pattern), value=value)
    out: list[str] = []
    previous = ""
    for wild, char in tokens(pattern):
        if wild:
            out.append(char)
        elif char in "*?\\" or not _safe(char, value=value) or (char == "." and previous == "."):
            out.append("\\" + char)
        else:
            out.append(char)
        previous = "" if wild else char
    text = "".join(out)
    return "\\" + text if text.startswith("-") and not value else text


def _bound(value: str | None) -> str:
    return "*" if value is None else literal_text(value)


def _review_field(node: Node) -> str:
    """A value term on the ``review`` pseudo-field, as the ``review:`` terms it stands for."""
    statuses = review_statuses_matching(node)
    if not statuses:
        return "(NOT *)"
    if len(statuses) == 1:
        return f"review:{statuses[0]}"
    return f"review:({' OR '.join(statuses)})"


def _atom(node: Node) -> str:
    if isinstance(node, (FieldMatch, FieldIn, Compare, Range)) and node.field == REVIEW_FIELD:
        return _review_field(node)
    if isinstance(node, All):
        return "*"
    if isinstance(node, Text):
        return "*" if matches_everything(node.pattern) else pattern_text(node.pattern, value=False)
    if isinstance(node, FieldMatch):
        return f"{node.field}:{pattern_text(node.pattern)}"
    if isinstance(node, FieldIn):
        return f"{node.field}:({' OR '.join(pattern_text(p) for p in node.patterns)})"
    if isinstance(node, Compare):
        return f"{node.field}:{node.op}{literal_text(node.value)}"
    if isinstance(node, Range):
        low = "[" if node.include_low else "{"
        high = "]" if node.include_high else "}"
        return f"{node.field}:{low}{_bound(node.low)} TO {_bound(node.high)}{high}"
    if isinstance(node, Has):
        return f"has:{node.field}"
    if isinstance(node, Missing):
        return f"missing:{node.field}"
    if isinstance(node, Tag):
        return f"tag:{pattern_text(node.pattern)}"
    if isinstance(node, Dataset):
        return f"dataset:{pattern_text(node.pattern)}"
    if isinstance(node, Project):
        return f"project:{pattern_text(node.pattern)}"
    if isinstance(node, Job):
        return f"job:{pattern_text(node.pattern)}"
    if isinstance(node, Review):
        return f"review:{node.status}"
    raise TypeError(f"not a query node: {node!r}")


def _precedence(node: Node) -> int:
    if isinstance(node, Or):
        return 1
    if isinstance(node, And):
        return 2
    if isinstance(node, Not):
        return 3
    return 4


def _wrap(node: Node, minimum: int) -> str:
    text = to_text(node)
    return f"({text})" if _precedence(node) < minimum else text


def to_text(node: Node) -> str:
    """The canonical query text of a tree.

    Examples
    --------
    >>> from radcurate.query.ast import Compare, Or, Not, And, Text
    >>> to_text(Not(And((Text("a"), Or((Text("b"), Compare("Rows", ">=", "512")))))))
    'NOT (a (b OR Rows:>=512))'
    """
    if isinstance(node, Or):
        return " OR ".join(_wrap(c, 1) for c in node.children)
    if isinstance(node, And):
        return " ".join(_wrap(c, 2) for c in node.children)
    if isinstance(node, Not):
        return "NOT " + _wrap(node.child, 3)
    return _atom(node)
