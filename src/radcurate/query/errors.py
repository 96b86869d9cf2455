"""The errors of the query language: every bad query raises a :class:`QueryError`."""

from __future__ import annotations

from collections.abc import Sequence


class QueryError(ValueError):
    """A query that cannot be understood (bad syntax, unknown field, bad JSON tree).

    Examples
    --------
    >>> issubclass(QuerySyntaxError, QueryError)
    True
    """


class QuerySyntaxError(QueryError):
    """Query text that does not follow the grammar.

    Parameters
    ----------
    message
        What is wrong, e.g. ``"expected a value after 'Modality:'"``.
    position
        0-based character offset in the query text where the problem is.
    expected
        What the parser wanted at ``position`` (``"a value"``, ``"')'"``, ...).

    Examples
    --------
    >>> err = QuerySyntaxError("expected ')'", position=3, expected="')'")
    >>> str(err)
    "at position 3: expected ')'"
    >>> err.position, err.expected
    (3, "')'")
    """

    def __init__(self, message: str, *, position: int, expected: str) -> None:
        super().__init__(f"at position {position}: {message}")
        self.detail = message
        self.position = position
        self.expected = expected


class UnknownFieldError(QueryError):
    """A field name that is not in the field registry.

    Parameters
    ----------
    field
        The field as resolved (``(0008,0060)`` becomes ``Modality``).
    suggestions
        Known names close to it, best first (may be empty).
    position
        0-based offset of the field in the query text, or None for a JSON tree.

    Examples
    --------
    >>> err = UnknownFieldError("Modalty", ["Modality"], position=0)
    >>> str(err)
    "at position 0: unknown field 'Modalty'; did you mean Modality?"
    >>> err.suggestions
    ['Modality']
    """

    def __init__(
        self, field: str, suggestions: Sequence[str] = (), *, position: int | None = None
    ) -> None:
        message = f"unknown field {field!r}"
        if suggestions:
            message += f"; did you mean {' or '.join(suggestions)}?"
        if position is not None:
            message = f"at position {position}: {message}"
        super().__init__(message)
        self.field = field
        self.suggestions = list(suggestions)
        self.position = position
