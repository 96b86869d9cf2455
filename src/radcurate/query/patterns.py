"""Wildcard patterns: the one string form used for free text, field values, tags and datasets.

A pattern is a string in which ``*`` stands for any run of characters (also
none) and ``?`` for exactly one character; ``\\*``, ``\\?`` and ``\\\\`` are a
literal star, question mark and backslash. No other backslash sequences occur
in a canonical pattern (:func:`canonical` removes them). Matching is
case-insensitive: both sides are lowercased with :meth:`str.lower` (SQL
backends use a matching ``lower``), so ``to_like`` lowercases the pattern.

Examples
--------
>>> has_wildcards("SIEM*"), has_wildcards(escape("a*b"))
(True, False)
>>> fullmatch("SIEM*", "Siemens Healthineers")
True
>>> search("?ung", "LUNG window"), search("?ung", "ung")
(True, False)
>>> to_like("b30*", anchored=False)
'%b30%%'
"""

from __future__ import annotations

import re
from functools import lru_cache

#: the characters a backslash keeps literal in a pattern
SPECIAL = frozenset("*?\\")


def tokens(pattern: str) -> list[tuple[bool, str]]:
    """Split a pattern into ``(is_wildcard, char)`` pairs.

    Examples
    --------
    >>> tokens("a\\\\*?")
    [(False, 'a'), (False, '*'), (True, '?')]
    """
    out: list[tuple[bool, str]] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            out.append((False, pattern[i + 1]))
            i += 2
            continue
        out.append((char in "*?", char))
        i += 1
    return out


def escape(literal: str) -> str:
    """The pattern that matches exactly ``literal`` (no wildcards).

    Examples
    --------
    >>> escape("1*2?")
    '1\\\\*2\\\\?'
    """
    return "".join("\\" + c if c in SPECIAL else c for c in literal)


def canonical(pattern: str) -> str:
    """Drop needless backslashes: ``\\x`` becomes ``x`` unless x is ``*``, ``?`` or ``\\``.

    Examples
    --------
    >>> canonical("\\\\a\\\\*")
    'a\\\\*'
    """
    return "".join(c if wild else escape(c) for wild, c in tokens(pattern))


def has_wildcards(pattern: str) -> bool:
    """Whether the pattern holds an unescaped ``*`` or ``?``."""
    return any(wild for wild, _ in tokens(pattern))


def unescape(pattern: str) -> str:
    """The literal text of a pattern (wildcards kept as plain characters).

    Examples
    --------
    >>> unescape(escape("a*b"))
    'a*b'
    """
    return "".join(c for _, c in tokens(pattern))


def matches_everything(pattern: str) -> bool:
    """Whether the pattern is one or more unescaped ``*`` and nothing else.

    Examples
    --------
    >>> matches_everything("**"), matches_everything("\\\\*"), matches_everything("")
    (True, False, False)
    """
    parts = tokens(pattern)
    return bool(parts) and all(wild and c == "*" for wild, c in parts)


def split_unescaped(pattern: str, separator: str) -> list[str]:
    """Split a pattern on unescaped occurrences of a literal separator.

    Examples
    --------
    >>> split_unescaped("2019..2020", "..")
    ['2019', '2020']
    >>> split_unescaped("a\\\\..b", "..")
    ['a\\\\..b']
    """
    parts: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern[i] == "\\" and i + 1 < len(pattern):
            current.append(pattern[i : i + 2])
            i += 2
        elif pattern.startswith(separator, i):
            parts.append("".join(current))
            current = []
            i += len(separator)
        else:
            current.append(pattern[i])
            i += 1
    parts.append("".join(current))
    return parts


@lru_cache(maxsize=4096)
def _regex(pattern: str) -> re.Pattern[str]:
    body = "".join(
        (".*" if c == "*" else ".") if wild else re.escape(c) for wild, c in tokens(pattern.lower())
    )
    return re.compile(body, re.DOTALL)


def fullmatch(pattern: str, value: str) -> bool:
    """Whether the whole value matches the pattern, ignoring case."""
    return _regex(pattern).fullmatch(value.lower()) is not None


def search(pattern: str, value: str) -> bool:
    """Whether some substring of the value matches the pattern, ignoring case."""
    return _regex(pattern).search(value.lower()) is not None


def to_like(pattern: str, *, anchored: bool, escape_char: str = "\\") -> str:
    """The lowercased SQL ``LIKE`` pattern (use with ``ESCAPE '\\'`` on ``lower(value)``).

    ``anchored=False`` wraps the pattern in ``%`` for a substring match.

    Examples
    --------
    >>> to_like("50%_x*", anchored=True)
    '50\\\\%\\\\_x%'
    """
    out = []
    for wild, c in tokens(pattern.lower()):
        if wild:
            out.append("%" if c == "*" else "_")
        elif c in ("%", "_", escape_char):
            out.append(escape_char + c)
        else:
            out.append(c)
    body = "".join(out)
    return body if anchored else f"%{body}%"
