"""Query text to tree: a recursive-descent parser over :class:`~radcurate.query.lexer.Scanner`.

Grammar (precedence NOT > AND > OR; adjacent terms are ANDed)::

    query   := or? END                      (empty or '*' matches everything)
    or      := and ('OR' and)*
    and     := unary (['AND'] unary)*
    unary   := 'NOT' unary | '-' unary | primary      ('-' directly before the term)
    primary := '(' or ')' | field ':' value | 'has:' path | 'missing:' path
             | 'review:' status | 'review:(' status ('OR' status)* ')'
             | '"phrase"' | word
    value   := word | '"phrase"' | '(' item (['OR'] item)* ')'
             | ('<' | '<=' | '>' | '>=') literal
             | ('[' | '{') bound 'TO' bound (']' | '}') | [literal] '..' [literal]

Every failure is a :class:`~radcurate.query.errors.QuerySyntaxError` with the
position of the problem (or an :class:`~radcurate.query.errors.UnknownFieldError`
when ``fields`` is given); nesting deeper than :data:`MAX_DEPTH` is refused, and so is
text over :data:`~radcurate.query.limits.MAX_QUERY_CHARS` characters or a tree of over
:data:`~radcurate.query.limits.MAX_QUERY_TERMS` distinct terms
(:class:`~radcurate.query.limits.QueryTooLargeError`).

Examples
--------
>>> parse("Modality:(CT OR MR) -tag:excluded")
And(children=(FieldIn(field='Modality', patterns=('CT', 'MR')), Not(child=Tag(pattern='excluded'))))
>>> parse("lung Modality:")
Traceback (most recent call last):
  ...
radcurate.query.errors.QuerySyntaxError: at position 14: expected a value after 'Modality:'
"""

from __future__ import annotations

from collections.abc import Iterable

from radcurate.query.ast import (
    REVIEW_FIELD,
    REVIEW_STATUSES,
    All,
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
    Project,
    Range,
    Review,
    Tag,
    Text,
    conjoin,
    disjoin,
)
from radcurate.query.fields import NAMESPACES, check_field, resolve_field
from radcurate.query.lexer import RANGE_STOPS, WORD_STOPS, Scanner, Word, raw_to_pattern, split_raw
from radcurate.query.limits import check_length, check_terms
from radcurate.query.patterns import fullmatch, has_wildcards, matches_everything, unescape

#: deepest nesting of parentheses and negations accepted
MAX_DEPTH = 64
_STATUSES = ", ".join(REVIEW_STATUSES)


def parse(text: str, *, fields: Iterable[str] | None = None) -> Node:
    """Parse query text into a (normal) tree.

    Parameters
    ----------
    text
        The query. Empty, blank or ``*`` gives :class:`~radcurate.query.ast.All`.
    fields
        Known field names (the catalog's field registry). When given, a field
        that is neither known, ``ai.*``/``qc.*`` nor made of DICOM keywords
        raises :class:`~radcurate.query.errors.UnknownFieldError`.

    Examples
    --------
    >>> parse("")
    All()
    >>> parse("SliceThickness:<=1.5")
    Compare(field='SliceThickness', op='<=', value='1.5')
    >>> parse("StudyDate:2019..2020")
    Range(field='StudyDate', low='2019', high='2020', include_low=True, include_high=True)
    """
    if not isinstance(text, str):
        raise TypeError(f"query text must be a str, not {type(text).__name__}")
    check_length(text)
    names = None if fields is None else frozenset(fields)
    return check_terms(_Parser(text, names).parse())


class _Parser:
    def __init__(self, text: str, fields: frozenset[str] | None) -> None:
        self.s = Scanner(text)
        self.fields = fields

    def parse(self) -> Node:
        s = self.s
        s.skip_space()
        if s.at_end():
            return All()
        node = self.or_expr(0)
        s.skip_space()
        if not s.at_end():  # or_expr stops only at the end or at ')'
            raise s.error("unexpected ')' without a matching '('", "a term or the end of the query")
        return node

    def or_expr(self, depth: int) -> Node:
        s = self.s
        parts = [self.and_expr(depth)]
        while True:
            s.skip_space()
            if s.keyword_ahead() != "OR":
                return disjoin(parts)
            s.pos += 2
            self.expect_term("OR")
            parts.append(self.and_expr(depth))

    def and_expr(self, depth: int) -> Node:
        s = self.s
        parts = [self.unary(depth)]
        while True:
            s.skip_space()
            if s.at_end() or s.peek() == ")":
                return conjoin(parts)
            keyword = s.keyword_ahead()
            if keyword == "OR":
                return conjoin(parts)
            if keyword == "AND":
                s.pos += 3
                self.expect_term("AND")
            parts.append(self.unary(depth))

    def expect_term(self, after: str) -> None:
        s = self.s
        s.skip_space()
        if s.at_end() or s.peek() == ")" or s.keyword_ahead() in ("AND", "OR"):
            raise s.error(f"expected a term after {after}", "a term")

    def unary(self, depth: int) -> Node:
        s = self.s
        if depth >= MAX_DEPTH:
            raise s.error(f"query nested deeper than {MAX_DEPTH} levels", "a simpler query")
        s.skip_space()
        if s.keyword_ahead() == "NOT":
            s.pos += 3
            self.expect_term("NOT")
            return Not(self.unary(depth + 1))
        if s.peek() == "-":
            if s.at_boundary(1):
                raise s.error("expected a term after '-'", "a term", s.pos + 1)
            s.pos += 1
            return Not(self.unary(depth + 1))
        return self.primary(depth)

    def primary(self, depth: int) -> Node:
        s = self.s
        char = s.peek()
        if char == "" or char == ")":
            raise s.error("expected a term", "a term")
        keyword = s.keyword_ahead()
        if keyword is not None:
            raise s.error(f"expected a term, not {keyword}", "a term")
        name = s.field_ahead()
        if name is not None:
            return self.field_term(name)
        if char == "(":
            start = s.pos
            s.pos += 1
            s.skip_space()
            if s.peek() == ")":
                raise s.error("expected a term inside '()'", "a term")
            node = self.or_expr(depth + 1)
            s.skip_space()
            if s.peek() != ")":
                raise s.error(f"expected ')' to close the '(' at position {start}", "')'")
            s.pos += 1
            return node
        if char == '"':
            quoted = s.read_phrase()
            if not quoted.pattern:
                raise s.error(
                    "empty phrase: expected text between the quotes", "text", quoted.start
                )
            return Text(quoted.pattern)
        word = s.read_word()
        if word is None:  # unreachable: the cursor is on a word character
            raise s.error("expected a term", "a term")
        return All() if matches_everything(word.pattern) else Text(word.pattern)

    # -- fields -------------------------------------------------------------------------

    def field_term(self, name: str) -> Node:
        s = self.s
        start = s.pos
        s.pos += len(name) + 1
        if name in ("has", "missing"):
            path = s.field_path_ahead()
            if path is None:
                raise s.error(f"expected a field name after '{name}:'", "a field name")
            target = self.field(path, s.pos)
            s.pos += len(path)
            return Has(target) if name == "has" else Missing(target)
        if name in NAMESPACES:
            raise s.error(
                f"expected a name after '{name}.' (e.g. {name}.bodypart)", "a name", start
            )
        if name == REVIEW_FIELD:
            return self.review_term()
        field = None if name in ("tag", "dataset", "project", "job") else self.field(name, start)
        if s.at_boundary():
            raise s.error(f"expected a value after '{name}:'", "a value")
        char = s.peek()
        if field is None:  # tag: / dataset: / project: / job:
            kinds: dict[str, type[Tag] | type[Dataset] | type[Project] | type[Job]] = {
                "tag": Tag,
                "dataset": Dataset,
                "project": Project,
                "job": Job,
            }
            kind = kinds[name]
            if char in "<>[{":
                raise s.error(f"expected a name after '{name}:', not a comparison", "a name")
            if char == "(":
                return disjoin([kind(p) for p in self.value_list(name)])
            return kind(self.value_pattern(name))
        if char == "(":
            patterns = self.value_list(name)
            return (
                FieldMatch(field, patterns[0]) if len(patterns) == 1 else FieldIn(field, patterns)
            )
        if char in "[{":
            return self.bracket_range(field, name)
        if char in "<>":
            op: CompareOp = ">" if char == ">" else "<"
            s.pos += 1
            if s.peek() == "=":
                op = ">=" if op == ">" else "<="
                s.pos += 1
            return Compare(field, op, self.literal(f"{name}:{op}", WORD_STOPS))
        if char == '"':
            return FieldMatch(field, s.read_phrase().pattern)
        word = s.read_word()
        if word is None:  # unreachable: not at a boundary nor at a stop character
            raise s.error(f"expected a value after '{name}:'", "a value")
        parts = split_raw(word.raw, "..")
        if len(parts) == 1:
            return FieldMatch(field, word.pattern)
        return self.dotted_range(field, word, parts)

    def review_term(self) -> Node:
        """``review:accepted``, ``review:(accepted OR questionable)``, ``review:*ed`` (any case;
        a wildcard stands for the statuses it matches)."""
        s = self.s
        if s.at_boundary() or s.peek() in "<>[{":
            raise s.error(f"expected a review status after 'review:' ({_STATUSES})", "a status")
        if s.peek() == "(":
            start = s.pos + 1
            return disjoin([self.review_status(p, start) for p in self.value_list(REVIEW_FIELD)])
        start = s.pos
        return self.review_status(self.value_pattern(REVIEW_FIELD), start)

    def review_status(self, pattern: str, position: int) -> Node:
        found = [Review(status) for status in REVIEW_STATUSES if fullmatch(pattern, status)]
        if not found:
            raise self.s.error(
                f"not a review status: {unescape(pattern)!r} (use one of {_STATUSES})",
                "a review status",
                position,
            )
        return disjoin(list(found))

    def field(self, written: str, position: int) -> str:
        field = resolve_field(written)
        check_field(field, self.fields, position)
        return field

    def value_pattern(self, name: str) -> str:
        s = self.s
        if s.peek() == '"':
            return s.read_phrase().pattern
        word = s.read_word()
        if word is None:
            raise s.error(f"expected a value after '{name}:'", "a value")
        return word.pattern

    def value_list(self, name: str) -> tuple[str, ...]:
        s = self.s
        open_at = s.pos
        s.pos += 1
        patterns: list[str] = []
        while True:
            s.skip_space()
            if s.at_end():
                raise s.error(f"expected ')' to close the '(' at position {open_at}", "')'")
            if s.peek() == ")":
                if not patterns:
                    raise s.error(f"expected a value inside '{name}:(…)'", "a value")
                s.pos += 1
                return tuple(patterns)
            keyword = s.keyword_ahead()
            if keyword == "OR" and patterns:
                s.pos += 2
                s.skip_space()
                if s.at_end() or s.peek() == ")":
                    raise s.error("expected a value after OR", "a value")
                keyword = s.keyword_ahead()
            if keyword is not None:
                raise s.error(
                    f"only OR can join the values of '{name}:(…)'; write separate terms instead",
                    "a value or ')'",
                )
            if s.peek() in "([{<>":
                raise s.error(f"expected a value inside '{name}:(…)'", "a value")
            patterns.append(self.value_pattern(name))

    def literal(self, after: str, stops: str) -> str:
        """A value without wildcards (comparison operand); a phrase is taken as is."""
        s = self.s
        if s.peek() == '"':
            return unescape(s.read_phrase().pattern)
        word = s.read_word(stops)
        if word is None:
            raise s.error(f"expected a value after '{after}'", "a value")
        if has_wildcards(word.pattern):
            raise s.error("wildcards are not allowed in a comparison", "a value", word.start)
        return unescape(word.pattern)

    def bound(self, after: str) -> str | None:
        s = self.s
        s.skip_space()
        if s.peek() == '"':
            return unescape(s.read_phrase().pattern)
        word = s.read_word(RANGE_STOPS)
        if word is None:
            raise s.error(f"expected a value or '*' after '{after}'", "a value or '*'")
        if matches_everything(word.pattern):
            return None
        if has_wildcards(word.pattern):
            raise s.error("wildcards are not allowed in a range", "a value or '*'", word.start)
        return unescape(word.pattern)

    def bracket_range(self, field: str, name: str) -> Range:
        s = self.s
        include_low = s.peek() == "["
        s.pos += 1
        low = self.bound(f"{name}:{'[' if include_low else '{'}")
        s.skip_space()
        to = s.read_word(RANGE_STOPS)
        if to is None or to.raw != "TO":
            position = s.pos if to is None else to.start
            raise s.error("expected TO between the bounds of a range", "'TO'", position)
        high = self.bound("TO")
        s.skip_space()
        close = s.peek()
        if close not in ("]", "}") or close == "":
            raise s.error("expected ']' or '}' to close the range", "']' or '}'")
        s.pos += 1
        return self.make_range(field, low, high, include_low, close == "]", s.pos - 1)

    def dotted_range(self, field: str, word: Word, parts: list[str]) -> Range:
        s = self.s
        if len(parts) != 2:
            raise s.error("a range has one '..'", "one '..'", word.start)
        bounds: list[str | None] = []
        for part in parts:
            pattern = raw_to_pattern(part)
            if has_wildcards(pattern):
                raise s.error("wildcards are not allowed in a range", "a value", word.start)
            bounds.append(unescape(pattern) if part else None)
        return self.make_range(field, bounds[0], bounds[1], True, True, word.start)

    def make_range(
        self,
        field: str,
        low: str | None,
        high: str | None,
        include_low: bool,
        include_high: bool,
        position: int,
    ) -> Range:
        if low is None and high is None:
            raise self.s.error("a range needs at least one bound", "a value", position)
        return Range(field, low, high, include_low, include_high)
