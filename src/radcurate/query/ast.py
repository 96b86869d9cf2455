"""The query tree: frozen dataclasses, one per construct of the language.

Patterns (``Text``, ``FieldMatch``, ``FieldIn``, ``Tag``, ``Dataset``, ``Job``) are in
the form of :mod:`radcurate.query.patterns` (``*``/``?`` wildcards,
backslash-escaped literals). Comparison and range values are plain strings,
interpreted by the type of the field they are compared with. Field names are
resolved document paths (``ConvolutionKernel``, ``00091001``,
``ProcedureCodeSequence.CodeMeaning``, ``ai.bodypart``).

A tree is *normal* when ``And``/``Or`` have at least two children and none of
the same kind (``normalize`` flattens); the parser only builds normal trees.

Examples
--------
>>> And((FieldMatch("Modality", "CT"), Not(Tag("excluded"))))
And(children=(FieldMatch(field='Modality', pattern='CT'), Not(child=Tag(pattern='excluded'))))
>>> normalize(And((And((Text("a"), Text("b"))), Text("c"))))
And(children=(Text(pattern='a'), Text(pattern='b'), Text(pattern='c')))
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal, TypeAlias

CompareOp: TypeAlias = Literal["<", "<=", ">", ">="]
COMPARE_OPS: tuple[CompareOp, ...] = ("<", "<=", ">", ">=")

#: the review statuses of a series; ``pending``: never reviewed, or set back
REVIEW_STATUSES: tuple[str, ...] = ("accepted", "rejected", "questionable", "pending")
#: the pseudo-field whose one value is a series' review status (``has:review``, facets)
REVIEW_FIELD = "review"


@dataclass(frozen=True, slots=True)
class All:
    """Every record (the empty query, or ``*``)."""


@dataclass(frozen=True, slots=True)
class Text:
    """Free text: the pattern matches a substring of any free-text value."""

    pattern: str


@dataclass(frozen=True, slots=True)
class FieldMatch:
    """``field:pattern``: some value of the field equals the pattern (whole value)."""

    field: str
    pattern: str


@dataclass(frozen=True, slots=True)
class FieldIn:
    """``field:(a OR b …)``: some value of the field matches one of the patterns."""

    field: str
    patterns: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Compare:
    """``field:<=value``: some value of the field compares true with ``value``."""

    field: str
    op: CompareOp
    value: str


@dataclass(frozen=True, slots=True)
class Range:
    """``field:[low TO high]``: some single value lies in the range (None = open end)."""

    field: str
    low: str | None
    high: str | None
    include_low: bool = True
    include_high: bool = True


@dataclass(frozen=True, slots=True)
class Has:
    """``has:field``: the field has at least one value."""

    field: str


@dataclass(frozen=True, slots=True)
class Missing:
    """``missing:field``: the field has no value (absent, null or an empty list)."""

    field: str


@dataclass(frozen=True, slots=True)
class Tag:
    """``tag:pattern``: one of the record's tags matches (whole value)."""

    pattern: str


@dataclass(frozen=True, slots=True)
class Dataset:
    """``dataset:pattern``: one of the datasets the record belongs to matches."""

    pattern: str


@dataclass(frozen=True, slots=True)
class Project:
    """``project:pattern``: one of the projects the record belongs to matches (whole name).

    The server ANDs the projects of a signed-in non-admin to every query (docs/auth.md)."""

    pattern: str


@dataclass(frozen=True, slots=True)
class Job:
    """``job:id``: a job (e.g. a workflow run) wrote the record's current results."""

    pattern: str


@dataclass(frozen=True, slots=True)
class Review:
    """``review:status``: the record's review status is ``status`` (one of
    :data:`REVIEW_STATUSES`; ``pending`` also holds for records never reviewed)."""

    status: str

    def __post_init__(self) -> None:
        if self.status not in REVIEW_STATUSES:
            raise ValueError(
                f"not a review status: {self.status!r} (one of {', '.join(REVIEW_STATUSES)})"
            )


@dataclass(frozen=True, slots=True)
class Not:
    """``NOT x`` / ``-x``."""

    child: Node


@dataclass(frozen=True, slots=True)
class And:
    """``a b`` / ``a AND b`` (two or more children)."""

    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    """``a OR b`` (two or more children)."""

    children: tuple[Node, ...]


Node: TypeAlias = (
    All
    | Text
    | FieldMatch
    | FieldIn
    | Compare
    | Range
    | Has
    | Missing
    | Tag
    | Dataset
    | Project
    | Job
    | Review
    | Not
    | And
    | Or
)
#: nodes that name a document field
FieldNode: TypeAlias = FieldMatch | FieldIn | Compare | Range | Has | Missing


def _combine(kind: type[And] | type[Or], children: list[Node]) -> Node:
    flat: list[Node] = []
    for child in children:
        if isinstance(child, kind):
            flat.extend(child.children)
        else:
            flat.append(child)
    if len(flat) == 1:
        return flat[0]
    return kind(tuple(flat))


def conjoin(children: list[Node]) -> Node:
    """``And`` of the children, flattened (one child is returned as is).

    Examples
    --------
    >>> conjoin([Text("a")])
    Text(pattern='a')
    """
    return _combine(And, children)


def disjoin(children: list[Node]) -> Node:
    """``Or`` of the children, flattened (one child is returned as is)."""
    return _combine(Or, children)


def normalize(node: Node) -> Node:
    """The normal form: nested ``And``/``Or`` of the same kind flattened, single children unwrapped.

    Examples
    --------
    >>> normalize(Or((Text("a"),)))
    Text(pattern='a')
    """
    if isinstance(node, And):
        return conjoin([normalize(c) for c in node.children])
    if isinstance(node, Or):
        return disjoin([normalize(c) for c in node.children])
    if isinstance(node, Not):
        return Not(normalize(node.child))
    return node


def walk(node: Node) -> Iterator[Node]:
    """Every node of the tree, parents before children.

    Examples
    --------
    >>> [type(n).__name__ for n in walk(Not(Has("Rows")))]
    ['Not', 'Has']
    """
    stack: list[Node] = [node]
    while stack:
        current = stack.pop()
        yield current
        if isinstance(current, (And, Or)):
            stack.extend(reversed(current.children))
        elif isinstance(current, Not):
            stack.append(current.child)


def fields_of(node: Node) -> list[str]:
    """The fields a tree refers to, in order of first appearance.

    Examples
    --------
    >>> fields_of(And((FieldMatch("Modality", "CT"), Has("Rows"), Text("x"))))
    ['Modality', 'Rows']
    """
    seen: dict[str, None] = {}
    for n in walk(node):
        if isinstance(n, (FieldMatch, FieldIn, Compare, Range, Has, Missing)):
            seen.setdefault(n.field, None)
    return list(seen)


def depth(node: Node) -> int:
    """The nesting depth of a tree (an atom has depth 1).

    Examples
    --------
    >>> depth(Not(Not(Text("a"))))
    3
    """
    best = 0
    stack: list[tuple[Node, int]] = [(node, 1)]
    while stack:
        current, level = stack.pop()
        best = max(best, level)
        if isinstance(current, (And, Or)):
            stack.extend((c, level + 1) for c in current.children)
        elif isinstance(current, Not):
            stack.append((current.child, level + 1))
    return best
