"""The scanner under the parser: words, phrases, field names and operators, with positions.

The language is context-sensitive (``:`` starts a value after a field name
but is an ordinary character in free text and in times like ``10:30``), so
the lexer is a cursor the parser drives rather than a token list:

* whitespace (:meth:`str.isspace`) separates terms;
* a *word* runs until whitespace, ``(``, ``)`` or ``"`` (inside ranges also
  ``[ ] { }``); ``\\x`` makes any character ``x`` literal;
* a *phrase* is ``"…"`` with ``\\"`` and ``\\\\`` escapes; everything in it is
  literal, wildcards and spaces included;
* a *field name* is a path (see :mod:`radcurate.query.fields`) followed
  directly by ``:``;
* ``AND``, ``OR``, ``NOT`` (upper case only, unescaped) are operators where
  a term may start, ``TO`` inside ranges.

Examples
--------
>>> s = Scanner('Modality:CT "chest ct"')
>>> s.field_ahead()
'Modality'
>>> s.pos = 12
>>> s.read_phrase()
Word(raw='"chest ct"', pattern='chest ct', start=12)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from radcurate.query.errors import QuerySyntaxError
from radcurate.query.fields import FIELD_PATH
from radcurate.query.patterns import escape

#: characters that end a word in terms and value lists
WORD_STOPS = '()"'
#: characters that end a word inside a range
RANGE_STOPS = '()"[]{}'
_FIELD_COLON = re.compile(f"({FIELD_PATH.pattern}):")


@dataclass(frozen=True, slots=True)
class Word:
    """A word or phrase: its text as written, its pattern form, and where it starts."""

    raw: str
    pattern: str
    start: int

    @property
    def end(self) -> int:
        """Offset just after the word."""
        return self.start + len(self.raw)


def raw_to_pattern(raw: str) -> str:
    """The pattern of a word as written: ``\\x`` is a literal x, bare ``*``/``?`` are wildcards.

    Examples
    --------
    >>> raw_to_pattern("a\\\\ b*"), raw_to_pattern("\\\\*x")
    ('a b*', '\\\\*x')
    """
    out: list[str] = []
    i = 0
    while i < len(raw):
        if raw[i] == "\\" and i + 1 < len(raw):
            out.append(escape(raw[i + 1]))
            i += 2
        else:
            out.append(raw[i])
            i += 1
    return "".join(out)


def split_raw(raw: str, separator: str) -> list[str]:
    """Split a word as written on unescaped occurrences of ``separator``.

    Examples
    --------
    >>> split_raw("2019..2020", ".."), split_raw("1.\\\\.2", "..")
    (['2019', '2020'], ['1.\\\\.2'])
    """
    parts: list[str] = []
    start = i = 0
    while i < len(raw):
        if raw[i] == "\\":
            i += 2
        elif raw.startswith(separator, i):
            parts.append(raw[start:i])
            i += len(separator)
            start = i
        else:
            i += 1
    parts.append(raw[start:])
    return parts


class Scanner:
    """A cursor over the query text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def error(self, message: str, expected: str, position: int | None = None) -> QuerySyntaxError:
        """A syntax error at ``position`` (default: the cursor)."""
        return QuerySyntaxError(
            message, position=self.pos if position is None else position, expected=expected
        )

    def skip_space(self) -> None:
        """Move past whitespace."""
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def at_end(self) -> bool:
        """Whether the cursor is past the last character."""
        return self.pos >= len(self.text)

    def peek(self, offset: int = 0) -> str:
        """The character at the cursor (plus offset), or ``""`` past the end."""
        index = self.pos + offset
        return self.text[index] if index < len(self.text) else ""

    def at_boundary(self, offset: int = 0) -> bool:
        """Whether a term ends here: end of text, whitespace or ``)``."""
        char = self.peek(offset)
        return char == "" or char.isspace() or char == ")"

    def startswith(self, prefix: str) -> bool:
        """Whether the text at the cursor starts with ``prefix``."""
        return self.text.startswith(prefix, self.pos)

    def keyword_ahead(self) -> str | None:
        """``AND``, ``OR`` or ``NOT`` when the next word is that operator (not consumed)."""
        for keyword in ("AND", "OR", "NOT"):
            if self.startswith(keyword):
                after = self.peek(len(keyword))
                if after == "" or after.isspace() or after in WORD_STOPS:
                    return keyword
        return None

    def field_ahead(self) -> str | None:
        """The field name as written when ``name:`` is at the cursor (not consumed)."""
        match = _FIELD_COLON.match(self.text, self.pos)
        return None if match is None else match.group(1)

    def field_path_ahead(self) -> str | None:
        """A field path ending at a term boundary, as for ``has:Path`` (not consumed)."""
        match = FIELD_PATH.match(self.text, self.pos)
        if match is None:
            return None
        after = match.end()
        char = self.text[after] if after < len(self.text) else ""
        return match.group(0) if char == "" or char.isspace() or char == ")" else None

    def read_word(self, stops: str = WORD_STOPS) -> Word | None:
        """Read a word (None when the cursor is at a stop character or whitespace)."""
        start = self.pos
        text = self.text
        while self.pos < len(text):
            char = text[self.pos]
            if char.isspace() or char in stops:
                break
            if char == "\\":
                if self.pos + 1 >= len(text):
                    raise self.error("expected a character after '\\'", "a character", self.pos + 1)
                self.pos += 2
            else:
                self.pos += 1
        if self.pos == start:
            return None
        raw = text[start : self.pos]
        return Word(raw, raw_to_pattern(raw), start)

    def read_phrase(self) -> Word:
        """Read ``"…"`` at the cursor; the pattern is the literal content, escaped."""
        start = self.pos
        text = self.text
        self.pos += 1
        chars: list[str] = []
        while self.pos < len(text):
            char = text[self.pos]
            if char == '"':
                self.pos += 1
                return Word(text[start : self.pos], escape("".join(chars)), start)
            if char == "\\" and self.pos + 1 < len(text):
                chars.append(text[self.pos + 1])
                self.pos += 2
            else:
                chars.append(char)
                self.pos += 1
        raise self.error("unterminated phrase: expected a closing '\"'", "'\"'", len(text))
