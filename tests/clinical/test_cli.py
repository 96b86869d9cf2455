"""``radcurate clinical`` as a user runs it, and its fields in ``search`` and ``facets``."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from radcurate.catalog import CatalogBackend
from radcurate.cli import main
from tests.clinical.conftest import write_text

KEYS = ("P001", "P002", "P003", "P900")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"RADCURATE_HOME": str(tmp_path / "home"), "RADCURATE_CATALOG": "", "COLUMNS": "200"}


@pytest.fixture
def outcomes(tmp_path: Path) -> Path:
    return write_text(
        tmp_path / "outcomes.csv",
        [
            "PatientID,Age,Diagnosis,Visit date",
            "P001,64,nsclc,2020-03-01",
            "P002,58,benign,2019-11-20",
            "P003,71,nsclc,2021-06-30",
            "P900,50,benign,2018-01-01",
        ],
    )


def invoke(env: dict[str, str], catalog: CatalogBackend, *args: str) -> Result:
    return CliRunner().invoke(main, [*args, "--catalog", catalog.url], env=env)


def as_json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_import_prints_the_report_without_keys(
    env: dict[str, str],
    sqlite_catalog: CatalogBackend,
    outcomes: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    result = invoke(env, sqlite_catalog, "clinical", "import", str(outcomes), "--key", "PatientID")
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    assert "rows: 4 read, 0 without a key; keys: 4, 3 matched, 1 without a series" in text
    assert "series: 4 of 6 got a row, 2 have none" in text
    assert "clin.outcomes.visit_date" in text and "date" in text
    assert not any(key in result.output for key in KEYS)
    assert not any(key in caplog.text for key in KEYS)
    shown = invoke(
        env, sqlite_catalog, "clinical", "import", str(outcomes), "--key", "PatientID",
        "--show-unmatched",
    )  # fmt: skip
    assert "P900" in shown.stdout and "P001" not in shown.stdout
    report = as_json(
        invoke(
            env, sqlite_catalog, "clinical", "import", str(outcomes), "--key", "patientid",
            "--json", "--show-unmatched",
        )
    )  # fmt: skip
    assert report["unmatched_key_values"] == ["P900"] and report["series_unchanged"] == 4


def test_list_show_remove(
    env: dict[str, str], sqlite_catalog: CatalogBackend, outcomes: Path
) -> None:
    assert as_json(invoke(env, sqlite_catalog, "clinical", "list", "--json")) == []
    invoke(env, sqlite_catalog, "clinical", "import", str(outcomes), "--key", "PatientID",
           "--name", "Outcomes")  # fmt: skip
    (listed,) = as_json(invoke(env, sqlite_catalog, "clinical", "list", "--json"))
    assert listed["name"] == "outcomes" and listed["series_count"] == 4
    assert listed["report"]["matched_keys"] == 3
    text = invoke(env, sqlite_catalog, "clinical", "list").stdout
    assert "outcomes" in text and "3 of 4" in text
    shown = invoke(env, sqlite_catalog, "clinical", "show", "outcomes")
    assert shown.exit_code == 0 and "4 series hold clin.outcomes.*" in shown.stdout
    assert (
        as_json(invoke(env, sqlite_catalog, "clinical", "show", "outcomes", "--json"))["report"][
            "rows_read"
        ]
        == 4
    )
    removed = as_json(invoke(env, sqlite_catalog, "clinical", "remove", "outcomes", "--json"))
    assert removed == {"name": "outcomes", "series_removed": 4}
    missing = invoke(env, sqlite_catalog, "clinical", "show", "outcomes")
    assert missing.exit_code == 2 and "no clinical table 'outcomes'" in missing.stderr


def test_search_and_facets_commands_see_the_fields(
    env: dict[str, str], sqlite_catalog: CatalogBackend, outcomes: Path
) -> None:
    invoke(env, sqlite_catalog, "clinical", "import", str(outcomes), "--key", "PatientID")
    found = invoke(env, sqlite_catalog, "search", "clin.outcomes.age:>60", "--json")
    assert found.exit_code == 0, found.output
    assert len([json.loads(line) for line in found.stdout.splitlines()]) == 3
    facets = as_json(
        invoke(env, sqlite_catalog, "facets", "*", "-f", "clin.outcomes.diagnosis", "--json")
    )
    (diagnosis,) = facets["aggregations"]
    assert {b["key"]: b["count"] for b in diagnosis["buckets"]} == {"nsclc": 3, "benign": 1}
    assert diagnosis["missing"] == 2
    dates = as_json(
        invoke(env, sqlite_catalog, "facets", "*", "--dates", "clin.outcomes.visit_date", "--json")
    )
    assert sum(b["count"] for b in dates["aggregations"][0]["buckets"]) == 4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--key", "MRN"], "Invalid value for '--key'"),
        (["--key", "AccessionNumber"], "no AccessionNumber column"),
        (["--key", "PatientID", "--key-column", "pid"], "no column 'pid'"),
    ],
)
def test_bad_input_is_a_clear_error(
    env: dict[str, str],
    sqlite_catalog: CatalogBackend,
    outcomes: Path,
    args: list[str],
    message: str,
) -> None:
    result = invoke(env, sqlite_catalog, "clinical", "import", str(outcomes), *args)
    assert result.exit_code == 2
    assert message in " ".join(result.stderr.split())


def test_empty_and_excel_files_are_refused(
    env: dict[str, str], sqlite_catalog: CatalogBackend, tmp_path: Path
) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    result = invoke(env, sqlite_catalog, "clinical", "import", str(empty), "--key", "PatientID")
    assert result.exit_code == 2 and "empty.csv is empty" in result.stderr
    sheet = tmp_path / "t.xlsx"
    sheet.write_bytes(b"PK\x03\x04")
    result = invoke(env, sqlite_catalog, "clinical", "import", str(sheet), "--key", "PatientID")
    assert result.exit_code == 2 and "save the sheet as CSV" in " ".join(result.stderr.split())
