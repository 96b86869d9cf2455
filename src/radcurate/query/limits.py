"""Bounds on the size of a query, and the time budget of running one.

A query is refused (:class:`QueryTooLargeError`, a :class:`~radcurate.query.errors.QueryError`,
so HTTP 400) when its text is longer than :data:`MAX_QUERY_CHARS` or its tree has more than
:data:`MAX_QUERY_TERMS` terms once identical terms under one ``AND``/``OR`` are merged
(``x x x`` is one term). Running a query may be given a time budget
(:func:`query_budget`): engines call :func:`check_budget` between terms (and from SQLite's
progress handler), which raises :class:`QueryTimeoutError` once it is spent, or
:class:`QueryCancelledError` once the work's cancel token (``radcurate.query.cancel``) is
cancelled: its client went away, or the server is stopping.

Examples
--------
>>> from radcurate.query.ast import And, Text
>>> count_terms(And((Text("a"), Text("b"))))
2
>>> check_budget()  # no budget: never raises
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from radcurate.query.ast import And, FieldIn, Node, Not, Or, conjoin, disjoin, walk
from radcurate.query.cancel import current_token
from radcurate.query.errors import QueryError

#: longest query text accepted, in characters
MAX_QUERY_CHARS = 10_000
#: most terms (leaves of the tree, each value of ``field:(a OR b)`` counted) accepted
MAX_QUERY_TERMS = 200

_deadline: ContextVar[tuple[float, float] | None] = ContextVar(
    "radcurate_query_deadline", default=None
)
_querying: ContextVar[bool] = ContextVar("radcurate_querying", default=False)


class QueryTooLargeError(QueryError):
    """A query over :data:`MAX_QUERY_CHARS` characters or :data:`MAX_QUERY_TERMS` terms."""


class QueryTimeoutError(RuntimeError):
    """A query that ran past its time budget (the server answers 503).

    Parameters
    ----------
    seconds
        The budget that was spent.
    """

    def __init__(self, seconds: float) -> None:
        super().__init__(
            f"the query took more than its time budget of {seconds:g} s and was stopped; "
            "simplify it (fewer terms, fewer wildcards)"
        )
        self.seconds = seconds


class QueryCancelledError(QueryTimeoutError):
    """A query stopped because its cancel token was cancelled (``radcurate.query.cancel``).

    Parameters
    ----------
    reason
        Why (the client closed the connection, the server is stopping).
    """

    def __init__(self, reason: str) -> None:
        RuntimeError.__init__(self, f"the query was stopped: {reason}")
        self.seconds = 0.0
        self.reason = reason


def check_length(text: str) -> None:
    """Raise :class:`QueryTooLargeError` when ``text`` is over :data:`MAX_QUERY_CHARS`."""
    if len(text) > MAX_QUERY_CHARS:
        raise QueryTooLargeError(
            f"query text is {len(text)} characters long; the limit is {MAX_QUERY_CHARS}"
        )


def dedupe(node: Node) -> Node:
    """The same query with identical children of each ``AND``/``OR`` merged (``x x`` is ``x``).

    What engines evaluate: ``x x … x`` costs one term, not hundreds.

    Examples
    --------
    >>> from radcurate.query.ast import Text
    >>> dedupe(And((Text("a"), Text("b"), Text("a"))))
    And(children=(Text(pattern='a'), Text(pattern='b')))
    >>> dedupe(Or((Text("a"), Text("a"))))
    Text(pattern='a')
    """
    if isinstance(node, Not):
        return Not(dedupe(node.child))
    if isinstance(node, (And, Or)):
        unique = dict.fromkeys(dedupe(c) for c in node.children)
        merged = conjoin(list(unique)) if isinstance(node, And) else disjoin(list(unique))
        if isinstance(merged, type(node)) and len(merged.children) != len(unique):
            return dedupe(merged)  # flattening brought identical children together
        return merged
    if isinstance(node, FieldIn):
        patterns = tuple(dict.fromkeys(node.patterns))
        return FieldIn(node.field, patterns) if len(patterns) > 1 else node
    return node


def count_terms(node: Node) -> int:
    """The distinct terms of a tree (:func:`dedupe`), each pattern of a ``FieldIn`` counted."""
    total = 0
    for current in walk(dedupe(node)):
        if isinstance(current, FieldIn):
            total += len(current.patterns)
        elif not isinstance(current, (And, Or, Not)):
            total += 1
    return total


def check_terms(node: Node) -> Node:
    """``node``, or :class:`QueryTooLargeError` when it has over :data:`MAX_QUERY_TERMS` terms."""
    terms = count_terms(node)
    if terms > MAX_QUERY_TERMS:
        raise QueryTooLargeError(
            f"query has {terms} distinct terms; the limit is {MAX_QUERY_TERMS}"
        )
    return node


@contextmanager
def query_budget(seconds: float | None) -> Iterator[None]:
    """Run the ``with`` block as a query, under a time budget of ``seconds`` (None or <= 0:
    no budget). Inside it a cancelled token (``radcurate.query.cancel``) stops the query;
    outside, statements (a write of the same request) are never interrupted.

    A budget already running (an outer call) is kept: nested calls do not extend it.
    """
    mark = _querying.set(True)
    try:
        if seconds is None or seconds <= 0 or _deadline.get() is not None:
            yield
            return
        token = _deadline.set((time.monotonic() + seconds, seconds))
        try:
            yield
        finally:
            _deadline.reset(token)
    finally:
        _querying.reset(mark)


@contextmanager
def outside_query() -> Iterator[None]:
    """Run the ``with`` block as shared upkeep, not as the running query: no budget, no
    cancel, statements never interrupted. For work that serves every later query and is
    lost when cut short (building the search index, loading one of its columns): one
    request's budget must not stop it, or a catalog whose index takes longer to build than
    the budget would never get one (every query would time out and start again). The
    running query's budget is extended by the time the block took."""
    outer = _deadline.get()
    mark = _querying.set(False)
    token = _deadline.set(None)
    started = time.monotonic()
    try:
        yield
    finally:
        _deadline.reset(token)
        _querying.reset(mark)
        if outer is not None:  # the running query's budget does not pay for the upkeep
            _deadline.set((outer[0] + time.monotonic() - started, outer[1]))


def in_query() -> bool:
    """Whether this context runs inside :func:`query_budget` (a query, not a write)."""
    return _querying.get()


def _cancel_reason() -> str | None:
    token = current_token() if _querying.get() else None
    return None if token is None else token.reason


def budget_spent() -> bool:
    """Whether the running budget (if any) is spent, or the running query was cancelled."""
    if _cancel_reason() is not None:
        return True
    found = _deadline.get()
    return found is not None and time.monotonic() > found[0]


def check_budget() -> None:
    """Raise :class:`QueryCancelledError` when the running query was cancelled, or
    :class:`QueryTimeoutError` when the running budget is spent."""
    reason = _cancel_reason()
    if reason is not None:
        raise QueryCancelledError(reason)
    found = _deadline.get()
    if found is not None and time.monotonic() > found[0]:
        raise QueryTimeoutError(found[1])


def remaining_budget() -> float | None:
    """Seconds left of the running budget (None: no budget)."""
    found = _deadline.get()
    return None if found is None else max(0.0, found[0] - time.monotonic())
