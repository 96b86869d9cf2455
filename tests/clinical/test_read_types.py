"""Reading clinical table files (CSV, TSV, Parquet) and typing their columns."""

from __future__ import annotations

import io
from datetime import date, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from radcurate.catalog.clinical_read import (
    ClinicalError,
    column_fields,
    key_kind,
    read_table,
    safe_name,
    table_name,
)
from radcurate.catalog.clinical_types import classify, type_column


def parquet_bytes(columns: dict[str, list[object]]) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(pa.table(columns), buffer)
    return buffer.getvalue()


def test_csv_keeps_cells_as_text_with_leading_zeros() -> None:
    table = read_table(b"PatientID,Age\n00123,61\n00124,\n", "t.csv")
    assert table.columns == ["PatientID", "Age"]
    assert table.rows == [["00123", "61"], ["00124", ""]]
    assert table.format == "csv" and table.notes == []


def test_tsv_semicolon_and_bom_and_latin1() -> None:
    assert read_table(b"a\tb\n1\t2\n", "t.tsv").rows == [["1", "2"]]
    semi = read_table("\ufeffa;b\n1,5;x\n".encode(), "t.csv")
    assert semi.columns == ["a", "b"] and semi.rows == [["1,5", "x"]]
    assert any("';'" in n for n in semi.notes)
    latin = read_table("name\nJosé\n".encode("cp1252"), "t.csv")
    assert latin.rows == [["José"]] and "Windows-1252" in latin.notes[0]


def test_ragged_rows_are_padded_and_noted() -> None:
    table = read_table(b"a,b,c\n1,2\n3,4,5,6\n", "t.csv")
    assert table.rows == [["1", "2", ""], ["3", "4", "5"]]
    assert table.notes == ["1 rows have more cells than the header (extra cells ignored): rows 2"]


def test_parquet_keeps_its_types() -> None:
    data = parquet_bytes(
        {
            "PatientID": ["P1", "P2"],
            "age": [61, None],
            "weight": [70.5, float("nan")],
            "smoker": [True, False],
            "dx": [date(2020, 3, 1), None],
            "seen": [datetime(2020, 3, 1, 8, 30), None],
            "tags": [["a"], ["b"]],
        }
    )
    table = read_table(data, "t.parquet")
    assert table.columns == ["PatientID", "age", "weight", "smoker", "dx", "seen"]
    assert table.rows[0] == ["P1", 61, 70.5, True, date(2020, 3, 1), datetime(2020, 3, 1, 8, 30)]
    assert "'tags'" in table.notes[0] and "left out" in table.notes[0]
    types = {
        c: type_column(c, c, [r[i] for r in table.rows]).type for i, c in enumerate(table.columns)
    }
    assert types == {
        "PatientID": "text",
        "age": "integer",
        "weight": "number",
        "smoker": "boolean",
        "dx": "date",
        "seen": "datetime",
    }


@pytest.mark.parametrize(
    ("data", "filename", "code", "status"),
    [
        (b"", "t.csv", "empty_file", 400),
        (b"  \n\n", "t.csv", "empty_file", 400),
        (b"a,b\n", "t.csv", "empty_file", 400),
        (b"not parquet at all", "t.parquet", "unreadable_file", 400),
        (b"a\x00b\n1\n", "t.csv", "unreadable_file", 400),
        (b'a,"b\n1,2\n', "t.csv", "unreadable_file", 400),
        (b"PK\x03\x04", "t.xlsx", "unsupported_format", 415),
        (b"a,b\n1,2\n", "t.json", "unsupported_format", 415),
    ],
)
def test_bad_files_are_refused_with_a_clear_error(
    data: bytes, filename: str, code: str, status: int
) -> None:
    with pytest.raises(ClinicalError) as raised:
        read_table(data, f"/some/dir/{filename}")
    assert raised.value.code == code and raised.value.status == status
    assert filename in str(raised.value) and "/some/dir" not in str(raised.value)


def test_excel_error_says_what_to_do() -> None:
    with pytest.raises(ClinicalError, match="save the sheet as CSV"):
        read_table(b"PK", "t.xlsx")


def test_names_are_safe_field_segments_and_distinct() -> None:
    assert column_fields(["Patient Age", "patientAge", "BMI (kg/m²)", "1st visit", "", "Dx"]) == [
        "patient_age",
        "patient_age_2",
        "bmi_kg_m",
        "c_1st_visit",
        "column_5",
        "dx",
    ]
    assert safe_name("ab12cd34") == "ab12cd34_x"  # eight hex digits would read as a tag
    assert table_name(None, "C:\\data\\Outcomes-2024.csv") == "outcomes_2024"
    with pytest.raises(ClinicalError, match="no letters"):
        table_name("%%%", "t.csv")
    with pytest.raises(ClinicalError, match="longer than"):
        table_name("x" * 65, "t.csv")


def test_key_kinds() -> None:
    assert key_kind("accessionnumber") == "AccessionNumber"
    with pytest.raises(ClinicalError, match="use one of PatientID") as raised:
        key_kind("MRN")
    assert raised.value.code == "unknown_key_kind"


@pytest.mark.parametrize(
    ("cells", "expected_type", "values"),
    [
        (["61", " 45 ", "", "NA"], "integer", [61, 45, None, None]),
        (["1.5", "2", "-3e2"], "number", [1.5, 2, -300.0]),
        (["2020-03-01", "2020/3/2", "n/a"], "date", ["2020-03-01", "2020-03-02", None]),
        (["2020-03-01T08:30", "2020-03-02"], "datetime", ["2020-03-01T08:30:00", "2020-03-02"]),
        (["true", "FALSE"], "boolean", [True, False]),
        (["nsclc", "benign", "nsclc"], "text", ["nsclc", "benign", "nsclc"]),
        (["007", "012"], "text", ["007", "012"]),
        (["", "null"], "empty", [None, None]),
    ],
)
def test_column_types(cells: list[str], expected_type: str, values: list[object]) -> None:
    column = type_column("C", "c", cells)
    assert column.type == expected_type
    assert column.values == values
    assert column.missing == sum(v is None for v in values)


def test_a_number_column_with_text_cells_is_stored_as_text_and_names_the_rows() -> None:
    cells = ["61", "70", "unknown", "", "55", "see notes", "48"]
    column = type_column("Age", "age", cells)
    assert column.type == "text"
    assert column.values == ["61", "70", "unknown", None, "55", "see notes", "48"]
    (problem,) = column.problems
    assert problem["kind"] == "mixed" and problem["rows"] == [3, 6]
    assert "2 of 6 cells are not numbers (rows 3, 6)" in problem["message"]
    assert "unknown" not in problem["message"] and "see notes" not in problem["message"]


def test_a_text_column_with_some_dates_lists_the_dates() -> None:
    column = type_column("Note", "note", ["ok", "2020-01-01", "fine", "good"])
    assert column.type == "text" and column.values[1] == "2020-01-01"
    assert column.problems[0]["rows"] == [2]
    assert "are not text" in column.problems[0]["message"]


def test_day_month_dates_are_text_with_a_hint() -> None:
    column = type_column("Seen", "seen", ["03/04/2020", "12/11/2019"])
    assert column.type == "text"
    assert column.problems[0]["kind"] == "ambiguous_dates"


def test_classify_refuses_impossible_dates_and_infinite_numbers() -> None:
    assert classify("2021-02-30") == ("text", "2021-02-30")
    assert classify("inf") == ("text", "inf")
    assert classify(float("inf")) == ("missing", None)
