"""The parser: every construct of DESIGN.md section 5, canonical text, and error positions."""

from __future__ import annotations

import pytest

from radcurate.query import QuerySyntaxError, UnknownFieldError, parse, to_text
from radcurate.query.ast import (
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
)

CASES: list[tuple[str, Node]] = [
    ("", All()),
    ("   ", All()),
    ("*", All()),
    ("lung", Text("lung")),
    ("lung* ?ung", And((Text("lung*"), Text("?ung")))),
    ('"chest ct"', Text("chest ct")),
    ('"a*b"', Text("a\\*b")),
    ("a\\*b", Text("a\\*b")),
    ("a\\ b", Text("a b")),
    ("10:30", Text("10:30")),
    ("lidc-train", Text("lidc-train")),
    ("and or", And((Text("and"), Text("or")))),
    ("Modality:CT", FieldMatch("Modality", "CT")),
    ("Manufacturer:SIEM*", FieldMatch("Manufacturer", "SIEM*")),
    ('SeriesDescription:"t1 se"', FieldMatch("SeriesDescription", "t1 se")),
    ("Modality:*", FieldMatch("Modality", "*")),
    ("Modality:(CT OR MR)", FieldIn("Modality", ("CT", "MR"))),
    ("Modality:(CT MR PT)", FieldIn("Modality", ("CT", "MR", "PT"))),
    ('Modality:( CT OR "M R" )', FieldIn("Modality", ("CT", "M R"))),
    ("Modality:(CT)", FieldMatch("Modality", "CT")),
    ("SliceThickness:<=1.5", Compare("SliceThickness", "<=", "1.5")),
    ("SliceThickness:<1.5", Compare("SliceThickness", "<", "1.5")),
    ("SliceThickness:>1.5", Compare("SliceThickness", ">", "1.5")),
    ("SliceThickness:>=1.5", Compare("SliceThickness", ">=", "1.5")),
    ('PatientName:>="Smith J"', Compare("PatientName", ">=", "Smith J")),
    ("age_years:[40 TO 60]", Range("age_years", "40", "60", True, True)),
    ("age_years:{40 TO 60}", Range("age_years", "40", "60", False, False)),
    ("age_years:[40 TO 60}", Range("age_years", "40", "60", True, False)),
    ("age_years:[ 40 TO * ]", Range("age_years", "40", None, True, True)),
    ("age_years:{* TO 60]", Range("age_years", None, "60", False, True)),
    ('x:["a b" TO "*"]', Range("x", "a b", "*", True, True)),
    ("StudyDate:2019-01-01..2020-12-31", Range("StudyDate", "2019-01-01", "2020-12-31")),
    ("StudyDate:2019..", Range("StudyDate", "2019", None)),
    ("StudyDate:..2019", Range("StudyDate", None, "2019")),
    ("StudyDate:>=2019-01-01", Compare("StudyDate", ">=", "2019-01-01")),
    ("StudyDate:2019", FieldMatch("StudyDate", "2019")),
    ("StudyTime:10:36:40", FieldMatch("StudyTime", "10:36:40")),
    ("SliceLocation:-214.7", FieldMatch("SliceLocation", "-214.7")),
    ("x:1\\..2", FieldMatch("x", "1..2")),
    ("(0018,1210):B30*", FieldMatch("ConvolutionKernel", "B30*")),
    ("(0009,1001):abc", FieldMatch("00091001", "abc")),
    ("(0009,10aa):abc", FieldMatch("000910AA", "abc")),
    ("00180050:<2", Compare("SliceThickness", "<", "2")),
    ("(6000,0010):512", FieldMatch("60000010", "512")),
    ("Seq.Keyword:value", FieldMatch("Seq.Keyword", "value")),
    ("ProcedureCodeSequence.(0008,0104):x", FieldMatch("ProcedureCodeSequence.CodeMeaning", "x")),
    ("has:ConvolutionKernel", Has("ConvolutionKernel")),
    ("has:(0018,1210)", Has("ConvolutionKernel")),
    ("missing:PatientSex", Missing("PatientSex")),
    ("tag:excluded", Tag("excluded")),
    ("tag:(a OR b)", Or((Tag("a"), Tag("b")))),
    ("dataset:lidc-train", Dataset("lidc-train")),
    ("review:accepted", Review("accepted")),
    ("review:PENDING", Review("pending")),
    ("review:(accepted OR questionable)", Or((Review("accepted"), Review("questionable")))),
    ("-review:rejected", Not(Review("rejected"))),
    ("review:*ED", Or((Review("accepted"), Review("rejected")))),
    ("has:review", Has("review")),
    ('dataset:"my set"', Dataset("my set")),
    ("ai.bodypart:chest", FieldMatch("ai.bodypart", "chest")),
    ("qc.missing_slices:true", FieldMatch("qc.missing_slices", "true")),
    ("ai.scores.nodule:>0.5", Compare("ai.scores.nodule", ">", "0.5")),
    ("-tag:excluded", Not(Tag("excluded"))),
    ("NOT Modality:SR", Not(FieldMatch("Modality", "SR"))),
    ("NOT(a)", Not(Text("a"))),
    ("--a", Not(Not(Text("a")))),
    ("-(a b)", Not(And((Text("a"), Text("b"))))),
    ("a OR b", Or((Text("a"), Text("b")))),
    ("a AND b", And((Text("a"), Text("b")))),
    ("a b c", And((Text("a"), Text("b"), Text("c")))),
    ("(a b) c", And((Text("a"), Text("b"), Text("c")))),
    ("a OR b c", Or((Text("a"), And((Text("b"), Text("c")))))),
    ("a b OR c", Or((And((Text("a"), Text("b"))), Text("c")))),
    ("NOT a b", And((Not(Text("a")), Text("b")))),
    ("NOT a OR b", Or((Not(Text("a")), Text("b")))),
    ("(a OR b) c", And((Or((Text("a"), Text("b"))), Text("c")))),
    ("a OR (b OR c)", Or((Text("a"), Text("b"), Text("c")))),
    ("(Modality:CT)", FieldMatch("Modality", "CT")),
    ("NOT *", Not(All())),
]


@pytest.mark.parametrize(("text", "tree"), CASES, ids=[c[0] or "empty" for c in CASES])
def test_parse(text: str, tree: Node) -> None:
    assert parse(text) == tree
    assert parse(to_text(tree)) == tree


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("Modality:(CT MR)", "Modality:(CT OR MR)"),
        ("-tag:excluded", "NOT tag:excluded"),
        ("-review:Rejected", "NOT review:rejected"),
        ("a AND b", "a b"),
        ("StudyDate:2019..2020", "StudyDate:[2019 TO 2020]"),
        ("(0018,1210):B30*", "ConvolutionKernel:B30*"),
        ('"lung"', "lung"),
        ('"chest ct"', '"chest ct"'),
        ('"Modality:CT"', '"Modality:CT"'),
        ('"OR"', '"OR"'),
        ('"-5"', '"-5"'),
        ("a\\ b*", "a\\ b*"),
        ("NOT (a OR b)", "NOT (a OR b)"),
        ("(a OR b) (c OR d)", "(a OR b) (c OR d)"),
    ],
)
def test_canonical_text(text: str, canonical: str) -> None:
    assert to_text(parse(text)) == canonical


ERRORS: list[tuple[str, int, str, str | None]] = [
    ("lung Modality:", 14, "a value", "expected a value after 'Modality:'"),
    ("Modality: CT", 9, "a value", "expected a value after 'Modality:'"),
    ("(Modality:)", 10, "a value", "expected a value after 'Modality:'"),
    ("a AND", 5, "a term", "expected a term after AND"),
    ("a OR", 4, "a term", "expected a term after OR"),
    ("a AND OR b", 6, "a term", "expected a term after AND"),
    ("OR a", 0, "a term", "expected a term, not OR"),
    ("NOT", 3, "a term", "expected a term after NOT"),
    ("a -", 3, "a term", "expected a term after '-'"),
    ("- a", 1, "a term", "expected a term after '-'"),
    ("(a", 2, "')'", "expected ')' to close the '(' at position 0"),
    ("a)", 1, "a term or the end of the query", "unexpected ')'"),
    ("()", 1, "a term", "expected a term inside '()'"),
    ('say "hi', 7, "'\"'", "unterminated phrase"),
    ('""', 0, "text", "empty phrase"),
    ("abc\\", 4, "a character", "expected a character after '\\'"),
    ("Modality:(CT AND MR)", 13, "a value or ')'", "only OR can join"),
    ("Modality:(CT OR)", 15, "a value", "expected a value after OR"),
    ("Modality:()", 10, "a value", "expected a value inside"),
    ("Modality:(CT", 12, "')'", "expected ')'"),
    ("Modality:([1 TO 2])", 10, "a value", "expected a value inside"),
    ("x:[1 5]", 5, "'TO'", "expected TO"),
    ("x:[1 TO 5", 9, "']' or '}'", "expected ']' or '}'"),
    ("x:[1 TO ]", 8, "a value or '*'", "expected a value or '*' after 'TO'"),
    ("x:[* TO *]", 9, "a value", "a range needs at least one bound"),
    ("x:[1* TO 5]", 3, "a value or '*'", "wildcards are not allowed in a range"),
    ("x:1..2..3", 2, "one '..'", "a range has one '..'"),
    ("x:..", 2, "a value", "a range needs at least one bound"),
    ("x:1*..2", 2, "a value", "wildcards are not allowed in a range"),
    ("x:<", 3, "a value", "expected a value after 'x:<'"),
    ("x:>= 3", 4, "a value", "expected a value after 'x:>='"),
    ("x:<1*", 3, "a value", "wildcards are not allowed in a comparison"),
    ("has:", 4, "a field name", "expected a field name after 'has:'"),
    ("has:a b:c", 4, "a field name", None),
    ("missing:x:y", 8, "a field name", "expected a field name after 'missing:'"),
    ("tag:<3", 4, "a name", "not a comparison"),
    ("review:ok", 7, "a review status", "not a review status: 'ok'"),
    ("review:x*", 7, "a review status", "use one of accepted, rejected, questionable, pending"),
    ("review:<a", 7, "a status", "expected a review status"),
    ("review: x", 7, "a status", "expected a review status"),
    ("ai:chest", 0, "a name", "expected a name after 'ai.'"),
    ("a " + "(" * 70 + "b" + ")" * 70, 66, "a simpler query", "nested deeper"),
    ("NOT " * 80 + "a", 256, "a simpler query", "nested deeper"),
]


@pytest.mark.parametrize(("text", "position", "expected", "message"), ERRORS)
def test_syntax_errors(text: str, position: int, expected: str, message: str | None) -> None:
    if message is None:  # 'has:a b:c' is fine: has:a then b:c
        parse(text)
        return
    with pytest.raises(QuerySyntaxError) as info:
        parse(text)
    assert info.value.position == position, str(info.value)
    assert info.value.expected == expected
    assert message in str(info.value)
    assert str(info.value).startswith(f"at position {position}: ")


def test_error_message_format() -> None:
    with pytest.raises(QuerySyntaxError, match=r"^at position 14: expected a value after"):
        parse("lung Modality:")


FIELDS = ["Modality", "Manufacturer", "SliceThickness", "age_years", "Seq.Keyword"]


def test_unknown_field_with_suggestions() -> None:
    with pytest.raises(UnknownFieldError) as info:
        parse("lung Modalty:CT", fields=FIELDS)
    assert info.value.suggestions[0] == "Modality"
    assert info.value.position == 5
    assert "did you mean Modality" in str(info.value)
    with pytest.raises(UnknownFieldError) as info:
        parse("modality:CT", fields=FIELDS)
    assert info.value.suggestions == ["Modality"]
    with pytest.raises(UnknownFieldError) as info:
        parse("has:age_year", fields=FIELDS)
    assert info.value.suggestions == ["age_years"]
    assert info.value.position == 4


def test_known_fields_accepted() -> None:
    for text in [
        "Modality:CT",
        "Seq.Keyword:x",
        "ai.anything:x",
        "qc.whatever:true",
        "ConvolutionKernel:B30*",  # a DICOM keyword no series has yet
        "(0009,1001):x",  # tag numbers are never typos
        "tag:x dataset:y has:Modality",
        "lung",
    ]:
        parse(text, fields=FIELDS)
    with pytest.raises(UnknownFieldError):
        parse("Seq.Keywrd:x", fields=FIELDS)
    with pytest.raises(UnknownFieldError):
        parse("age:40", fields=FIELDS)


def test_non_string_input_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        parse(None)  # type: ignore[arg-type]
