"""Round trips (text and JSON) over generated trees, and fuzzing: only QueryError ever escapes."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from radcurate.query import QueryError, from_json, parse, to_json, to_text
from radcurate.query.ast import (
    COMPARE_OPS,
    REVIEW_STATUSES,
    All,
    And,
    Compare,
    Dataset,
    FieldIn,
    FieldMatch,
    Has,
    Missing,
    Node,
    Not,
    Or,
    Range,
    Review,
    Tag,
    Text,
    normalize,
)
from radcurate.query.patterns import escape, matches_everything

FIELDS = [
    "Modality",
    "SliceThickness",
    "StudyDate",
    "age_years",
    "Seq.Keyword",
    "ProcedureCodeSequence.CodeMeaning",
    "00091001",
    "ai.bodypart",
    "ai.body-part",
    "qc.missing_slices",
]
# characters that mean something somewhere in the grammar, and some that do not
ALPHABET = [*'aZ09 _.-:*?\\"(){}[]<>=,/é\t+', "OR", "AND", "NOT", "TO", "..", "(0008,0060)"]

literals = st.lists(st.sampled_from(ALPHABET), max_size=6).map("".join)
pattern_pieces = st.one_of(
    st.sampled_from(["*", "?"]), st.sampled_from(ALPHABET).map(lambda s: escape(s))
)
patterns = st.lists(pattern_pieces, max_size=6).map("".join)
fields = st.sampled_from(FIELDS)


def _range(field: str, low: str | None, high: str | None, il: bool, ih: bool) -> Range:
    return Range(field, low, high if low is not None or high is not None else "x", il, ih)


atoms: st.SearchStrategy[Node] = st.one_of(
    st.just(All()),
    patterns.filter(lambda p: p != "" and not matches_everything(p)).map(Text),
    st.builds(FieldMatch, fields, patterns),
    st.builds(FieldIn, fields, st.lists(patterns, min_size=2, max_size=3).map(tuple)),
    st.builds(Compare, fields, st.sampled_from(COMPARE_OPS), literals),
    st.builds(
        _range, fields, st.none() | literals, st.none() | literals, st.booleans(), st.booleans()
    ),
    st.builds(Has, fields),
    st.builds(Missing, fields),
    st.builds(Tag, patterns),
    st.builds(Dataset, patterns),
    st.builds(Review, st.sampled_from(REVIEW_STATUSES)),
)


def _extend(children: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    many = st.lists(children, min_size=2, max_size=3).map(tuple)
    return st.one_of(st.builds(Not, children), st.builds(And, many), st.builds(Or, many))


trees = st.recursive(atoms, _extend, max_leaves=8)


@settings(max_examples=300, deadline=None)
@given(trees)
def test_text_round_trip(tree: Node) -> None:
    text = to_text(tree)
    again = parse(text)
    assert again == normalize(tree), text
    assert to_text(again) == text


@settings(max_examples=200, deadline=None)
@given(trees)
def test_json_round_trip(tree: Node) -> None:
    obj = json.loads(json.dumps(to_json(tree)))
    assert from_json(obj) == normalize(tree)


HAND_WRITTEN = [
    'Modality:(CT OR MR) "chest ct" -tag:excluded',
    "SliceThickness:<=1.5 age_years:{40 TO *] StudyDate:2019-01-01..2020-12-31",
    "(0018,1210):B30* OR (0009,1001):x has:ConvolutionKernel missing:PatientSex",
    "ai.bodypart:chest qc.missing_slices:true dataset:lidc-* NOT (a OR b c)",
    "review:(accepted OR questionable) -review:rejected has:review",
    'x:"a*b" y:a\\ b* z:\\-1 "10:30" lung*',
]


@pytest.mark.parametrize("text", HAND_WRITTEN)
def test_hand_written_round_trips(text: str) -> None:
    tree = parse(text)
    assert parse(to_text(tree)) == tree
    assert from_json(json.loads(json.dumps(to_json(tree)))) == tree


query_chars = st.sampled_from(
    [
        *'ab Z9 \t\n:*?\\"(){}[]<>=.-,',
        *["OR ", "AND ", "NOT ", " TO ", "..", "has:", "tag:", "Modality:", "(0018,1210)", "ai."],
    ]
)
fuzz_text = st.one_of(st.lists(query_chars, max_size=30).map("".join), st.text(max_size=40))


@settings(max_examples=300, deadline=None)
@given(fuzz_text)
def test_fuzz_parse_only_raises_query_errors(text: str) -> None:
    try:
        tree = parse(text)
    except QueryError:
        return
    assert parse(to_text(tree)) == tree
    assert from_json(to_json(tree)) == tree


@settings(max_examples=100, deadline=None)
@given(fuzz_text)
def test_fuzz_parse_with_registry(text: str) -> None:
    with contextlib.suppress(QueryError):
        parse(text, fields=["Modality", "x"])


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.sampled_from(
        [
            "and",
            "or",
            "not",
            "text",
            "match",
            "in",
            "compare",
            "range",
            "has",
            "tag",
            "<=",
            "x",
            "Modality",
            "(0018,1210)",
            "tag",
            "*",
            "",
        ]
    ),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "op",
                    "args",
                    "arg",
                    "field",
                    "pattern",
                    "patterns",
                    "cmp",
                    "value",
                    "low",
                    "high",
                    "include_low",
                    "include_high",
                    "zz",
                ]
            ),
            inner,
            max_size=5,
        )
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_fuzz_from_json_only_raises_query_errors(obj: Any) -> None:
    try:
        tree = from_json(obj)
    except QueryError:
        return
    assert parse(to_text(tree)) == tree


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ([], "(root) must be an object"),
        ({"op": "nope"}, "(root) has no valid 'op'"),
        ({"op": "and", "args": []}, "(root).args must be a non-empty list"),
        ({"op": "and", "args": [{"op": "all"}, 3]}, "(root).args[1] must be an object"),
        ({"op": "match", "field": "tag", "pattern": "x"}, "is not a field name"),
        ({"op": "match", "field": "ai", "pattern": "x"}, "is not a field name"),
        ({"op": "match", "field": "a b", "pattern": "x"}, "is not a field name"),
        ({"op": "match", "field": "x", "pattern": 3}, "(root).pattern must be a string"),
        ({"op": "text", "pattern": ""}, "must not be empty"),
        ({"op": "compare", "field": "x", "cmp": "=", "value": "1"}, "cmp must be one of"),
        ({"op": "compare", "field": "x", "cmp": "<", "value": True}, "must be a string or"),
        ({"op": "compare", "field": "x", "cmp": "<", "value": float("nan")}, "finite number"),
        ({"op": "range", "field": "x"}, "needs 'low' or 'high'"),
        ({"op": "range", "field": "x", "low": 1, "include_low": "yes"}, "must be true or false"),
        ({"op": "has", "field": "x", "extra": 1}, "unexpected keys"),
        ({"op": "in", "field": "x", "patterns": "CT"}, "non-empty list of strings"),
        ({"op": "review", "status": "ok"}, "(root).status must be one of accepted, rejected"),
        ({"op": "review", "pattern": "accepted"}, "unexpected keys"),
    ],
)
def test_bad_json_trees(obj: Any, message: str) -> None:
    with pytest.raises(QueryError) as info:
        from_json(obj)
    assert message in str(info.value)


def test_json_normalizes_and_resolves() -> None:
    assert from_json({"op": "text", "pattern": "**"}) == All()
    assert from_json({"op": "match", "field": "(0018,1210)", "pattern": "\\B30"}) == FieldMatch(
        "ConvolutionKernel", "B30"
    )
    assert from_json({"op": "range", "field": "age_years", "low": 40, "high": 60.5}) == Range(
        "age_years", "40", "60.5"
    )
    nested: dict[str, Any] = {"op": "all"}
    for _ in range(100):
        nested = {"op": "not", "arg": nested}
    with pytest.raises(QueryError, match="nested deeper"):
        from_json(nested)


def test_json_field_registry() -> None:
    with pytest.raises(QueryError, match="did you mean Modality"):
        from_json({"op": "has", "field": "Modalty"}, fields=["Modality"])
