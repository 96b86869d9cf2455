"""Importing clinical tables into a catalog (SQLite and PostgreSQL): the join, its report,
replacement, removal, and the fields in search and facets."""

from __future__ import annotations

import io
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from radcurate.catalog import CatalogBackend
from radcurate.catalog.aggregations import AggregationRequest
from radcurate.catalog.clinical_read import ClinicalError
from radcurate.catalog.clinical_tables import (
    get_table,
    import_table,
    list_tables,
    remove_table,
)
from tests.clinical.conftest import series_uid, study_uid

#: keyed by PatientID: P001 (2 series), P002 (1, an identical duplicate row), P003 (1);
#: P900 and P901 have no series, one row has no key; P004 and P005 (2 series) get no row
PLANTED = (
    "PatientID,Age,Sex,Diagnosis,Diagnosis date,Score\n"
    "P001,64,F,nsclc,2020-03-01,1.5\n"
    "P002,58,M,benign,2019-11-20,2\n"
    "P003,71,M,nsclc,2021-06-30,2.25\n"
    "P002,58,M,benign,2019-11-20,2\n"
    "P900,50,F,benign,2018-01-01,1\n"
    "P901,45,M,nsclc,2018-02-02,3\n"
    ",60,F,benign,2018-03-03,1\n"
)
P001 = [series_uid(1, 1), series_uid(1, 2)]
P002, P003, P004, P005 = series_uid(2, 1), series_uid(3, 1), series_uid(4, 1), series_uid(5, 1)


def clin(catalog: CatalogBackend, uid: str, table: str = "outcomes") -> dict[str, Any] | None:
    found: dict[str, Any] | None = catalog.results(uid)["clin"].get(table)
    return found


def planted(catalog: CatalogBackend, text: str = PLANTED, **kwargs: Any) -> Any:
    kwargs.setdefault("key", "PatientID")
    return import_table(catalog, text.encode(), "outcomes.csv", **kwargs)


def test_the_join_report_counts_every_side(any_catalog: CatalogBackend) -> None:
    result = planted(any_catalog)
    report = result.report
    assert {k: report[k] for k in ("rows_read", "rows_without_key", "rows_without_key_at")} == {
        "rows_read": 7,
        "rows_without_key": 1,
        "rows_without_key_at": [7],
    }
    assert (report["keys"], report["matched_keys"], report["unmatched_keys"]) == (5, 3, 2)
    assert report["duplicate_keys"] == 1
    assert report["duplicate_groups"] == [{"rows": [2, 4], "identical": True, "kept": 2}]
    assert (report["catalog_series"], report["matched_series"]) == (6, 4)
    assert report["series_without_row"] == 2
    assert (report["series_written"], report["series_unchanged"], report["series_removed"]) == (
        4,
        0,
        0,
    )
    assert result.unmatched_keys == ["P900", "P901"]
    types = {c["field"]: c["type"] for c in report["columns"]}
    assert types == {
        "clin.outcomes.age": "integer",
        "clin.outcomes.sex": "text",
        "clin.outcomes.diagnosis": "text",
        "clin.outcomes.diagnosis_date": "date",
        "clin.outcomes.score": "number",
    }
    assert report["type_problems"] == 0 and report["key_column"] == "PatientID"
    assert clin(any_catalog, P001[1]) == {
        "age": 64,
        "sex": "F",
        "diagnosis": "nsclc",
        "diagnosis_date": "2020-03-01",
        "score": 1.5,
    }
    assert clin(any_catalog, P004) is None and clin(any_catalog, P005) is None


def test_the_report_is_kept_without_any_key(any_catalog: CatalogBackend) -> None:
    planted(any_catalog)
    (entry,) = any_catalog.audit_log(action="clinical.import")
    assert entry.target == "outcomes" and entry.series_count == 4
    assert entry.detail["matched_keys"] == 3 and entry.detail["unmatched_keys"] == 2
    stored = repr(entry.detail)
    assert all(key not in stored for key in ("P001", "P002", "P900", "P901"))
    table = get_table(any_catalog, "outcomes")
    assert table.series_count == 4 and table.report["rows_read"] == 7
    assert [t.name for t in list_tables(any_catalog)] == ["outcomes"]


def test_search_and_facets_on_clinical_fields(any_catalog: CatalogBackend) -> None:
    planted(any_catalog)
    for use_index in (True, False):  # the search index and the SQL path agree
        any_catalog.use_search_index = use_index  # type: ignore[attr-defined]
        assert sorted(any_catalog.series_uids("clin.outcomes.age:>60")) == [*P001, P003]
        assert any_catalog.series_uids("clin.outcomes.sex:M") == [P002, P003]
        assert any_catalog.count("clin.outcomes.diagnosis_date:2020-01-01..2021-12-31") == 3
        assert any_catalog.count("clin.outcomes.diagnosis_date:<2020-01-01") == 1
        assert any_catalog.count("-has:clin.outcomes") == 2
        assert any_catalog.count("clin.outcomes.score:[2 TO 3]") == 2
    any_catalog.use_search_index = True  # type: ignore[attr-defined]
    result = any_catalog.aggregate(
        "*",
        [
            AggregationRequest("clin.outcomes.diagnosis", "terms", size=10),
            AggregationRequest("clin.outcomes.age", "histogram", bins=4),
            AggregationRequest("clin.outcomes.diagnosis_date", "date_histogram"),
        ],
    )
    terms, ages, dates = result.aggregations
    assert [(b.key, b.count) for b in terms.buckets] == [("nsclc", 3), ("benign", 1)]
    assert terms.missing == 2
    assert sum(b.count for b in ages.buckets) == 4
    assert sum(b.count for b in dates.buckets) == 4
    names = {f.name: f.type.value for f in any_catalog.result_fields()}
    assert names["clin.outcomes.age"] == "number" and names["clin.outcomes.sex"] == "keyword"


def test_mixed_column_is_text_and_reported_by_row(any_catalog: CatalogBackend) -> None:
    text = "PatientID,Age,Stage\nP001,64,II\nP002,unknown,III\nP003,71,IV\nP004,,I\n"
    report = planted(any_catalog, text).report
    age = next(c for c in report["columns"] if c["column"] == "Age")
    assert age["type"] == "text" and age["missing"] == 1 and age["values"] == 3
    assert age["problems"][0]["rows"] == [2]
    assert "stored as text" in age["problems"][0]["message"]
    assert report["type_problems"] == 1
    assert clin(any_catalog, P001[0]) == {"age": "64", "stage": "II"}
    assert clin(any_catalog, P004) == {"stage": "I"}  # a missing cell writes no key


def test_conflicting_duplicates_are_refused_unless_a_row_is_chosen(
    any_catalog: CatalogBackend,
) -> None:
    text = "PatientID,Age\nP001,64\nP002,58\nP002,59\n"
    with pytest.raises(ClinicalError) as raised:
        planted(any_catalog, text)
    assert raised.value.code == "duplicate_keys" and "rows 2 and 3" in str(raised.value)
    assert "P002" not in str(raised.value)
    assert any_catalog.count("has:clin.outcomes") == 0  # nothing written
    assert list_tables(any_catalog) == []
    first = planted(any_catalog, text, duplicates="first").report
    assert first["duplicate_groups"] == [{"rows": [2, 3], "identical": False, "kept": 2}]
    assert clin(any_catalog, P002) == {"age": 58}
    planted(any_catalog, text, duplicates="last")
    assert clin(any_catalog, P002) == {"age": 59}


@pytest.mark.parametrize(
    ("key", "lines", "matched"),
    [
        ("AccessionNumber", ["AccessionNumber,grade", "ACC1,2", "ACC4,3", "ACC9,1"], [*P001, P004]),
        (
            "StudyInstanceUID",
            ["StudyInstanceUID,grade", f"{study_uid(2)},2", f"{study_uid(3)},3", "1.2.3,1"],
            [P002, P003],
        ),
        (
            "SeriesInstanceUID",
            ["series_instance_uid,grade", f"{series_uid(1, 2)},2", "1.2.3,3", "1.2.4,1"],
            [P001[1]],
        ),
        ("PatientID", ["Patient ID,grade", "P005,2", "P004,3", "X,1"], [P004, P005]),
    ],
)
def test_each_key_kind(
    any_catalog: CatalogBackend, key: str, lines: list[str], matched: list[str]
) -> None:
    result = import_table(any_catalog, "\n".join(lines).encode(), "grades.csv", key=key)
    assert result.report["matched_keys"] == (1 if key == "SeriesInstanceUID" else 2)
    assert result.report["unmatched_keys"] == 3 - result.report["matched_keys"]
    assert result.report["matched_series"] == len(matched)
    assert sorted(any_catalog.series_uids("has:clin.grades.grade")) == sorted(matched)
    assert [c["column"] for c in result.report["columns"]] == ["grade"]  # the key is no field


def test_parquet_and_tsv_import_the_same_fields(any_catalog: CatalogBackend) -> None:
    buffer = io.BytesIO()
    pq.write_table(pa.table({"PatientID": ["P001", "P003"], "age": [64, 71]}), buffer)
    parquet = import_table(any_catalog, buffer.getvalue(), "p.parquet", key="PatientID", name="t")
    assert parquet.report["format"] == "parquet" and parquet.report["matched_series"] == 3
    assert clin(any_catalog, P003, "t") == {"age": 71}
    tsv = import_table(
        any_catalog, b"PatientID\tage\nP001\t64\nP003\t71\n", "t.tsv", key="PatientID"
    )
    assert tsv.report["format"] == "tsv"
    assert tsv.report["series_unchanged"] == 3 and tsv.report["series_written"] == 0


def test_reimport_replaces_the_table(any_catalog: CatalogBackend) -> None:
    planted(any_catalog)
    again = planted(any_catalog).report  # the same file again changes nothing
    assert (again["series_written"], again["series_unchanged"], again["series_removed"]) == (
        0,
        4,
        0,
    )
    history_before = len(any_catalog.result_store.result_history(P002))
    # the Score column and P002's row dropped, P004's row added
    text = "PatientID,Age,Sex,Diagnosis,Diagnosis date\nP001,64,F,nsclc,2020-03-01\n"
    text += "P003,71,M,nsclc,2021-06-30\nP004,80,F,benign,2017-05-05\n"
    report = planted(any_catalog, text).report
    assert report["series_removed"] == 1 and report["series_written"] == 4
    assert clin(any_catalog, P002) is None
    assert clin(any_catalog, P004) == {
        "age": 80,
        "sex": "F",
        "diagnosis": "benign",
        "diagnosis_date": "2017-05-05",
    }
    assert "score" not in (clin(any_catalog, P001[0]) or {})
    assert any_catalog.count("has:clin.outcomes.score") == 0
    assert any_catalog.count("has:clin.outcomes") == 4
    assert len(any_catalog.result_store.result_history(P002)) == history_before + 1
    assert [e.detail["rows_read"] for e in any_catalog.audit_log(action="clinical.import")] == [
        3,
        7,
        7,
    ]


def test_tables_are_separate_and_other_results_stay(any_catalog: CatalogBackend) -> None:
    any_catalog.set_results(P003, "ai", {"bodypart": ["chest"]})
    planted(any_catalog)
    import_table(any_catalog, b"PatientID,hba1c\nP003,6.1\n", "labs.csv", key="PatientID")
    assert clin(any_catalog, P003, "labs") == {"hba1c": 6.1}
    assert remove_table(any_catalog, "labs") == 1
    assert clin(any_catalog, P003, "labs") is None
    assert clin(any_catalog, P003)["age"] == 71  # type: ignore[index]
    assert any_catalog.results(P003)["ai"] == {"bodypart": ["chest"]}
    assert [t.name for t in list_tables(any_catalog)] == ["outcomes"]


def test_remove_takes_the_fields_from_every_series(any_catalog: CatalogBackend) -> None:
    planted(any_catalog)
    assert any_catalog.count("has:clin.outcomes.age") == 4
    assert remove_table(any_catalog, "outcomes", actor="alice") == 4
    assert any_catalog.count("has:clin.outcomes.age") == 0
    assert all(clin(any_catalog, uid) is None for uid in [*P001, P002, P003])
    assert list_tables(any_catalog) == []
    (entry,) = any_catalog.audit_log(action="clinical.remove")
    assert entry.actor == "alice" and entry.detail == {"series_removed": 4}
    with pytest.raises(ClinicalError) as raised:
        remove_table(any_catalog, "outcomes")
    assert raised.value.status == 404
    with pytest.raises(ClinicalError, match="no clinical table 'nope'"):
        get_table(any_catalog, "nope")
    planted(any_catalog)  # imported again after a removal: listed again
    assert [t.name for t in list_tables(any_catalog)] == ["outcomes"]


def test_bad_input_writes_nothing(any_catalog: CatalogBackend) -> None:
    for kwargs, code in (
        ({"key": "MRN"}, "unknown_key_kind"),
        ({"key": "AccessionNumber"}, "missing_key_column"),
        ({"key": "PatientID", "key_column": "pid"}, "missing_key_column"),
        ({"key": "PatientID", "duplicates": "newest"}, "invalid_duplicates"),
    ):
        with pytest.raises(ClinicalError) as raised:
            planted(any_catalog, **kwargs)
        assert raised.value.code == code and raised.value.status == 422
    assert any_catalog.count("has:clin.outcomes") == 0 and list_tables(any_catalog) == []


def test_a_failed_replacement_leaves_the_previous_table(
    any_catalog: CatalogBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    planted(any_catalog)

    def broken(at: float) -> str:  # fails inside the transaction, after the sets were written
        raise RuntimeError("disk full")

    monkeypatch.setattr("radcurate.catalog.clinical_tables.iso_time", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        planted(any_catalog, "PatientID,Age\nP001,99\n")
    monkeypatch.undo()
    assert clin(any_catalog, P001[0])["age"] == 64  # type: ignore[index]
    assert clin(any_catalog, P002)["age"] == 58  # type: ignore[index]
    assert any_catalog.count("has:clin.outcomes.score") == 4
    assert len(any_catalog.audit_log(action="clinical.import")) == 1
