"""The command line as a user runs it (in-process through click's runner)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from radcurate.cli import main
from tests.data import shipped_dicom_roots

SMALL = shipped_dicom_roots()[0] / "test_files" / "dicomdirtests"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A private RADCURATE_HOME so the default catalog location is exercised."""
    return {"RADCURATE_HOME": str(tmp_path / "home"), "RADCURATE_CATALOG": ""}


def _run(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env=env)
    return result.exit_code, result.output


def test_ingest_info_show_errors(env: dict[str, str], tmp_path: Path) -> None:
    code, out = _run(env, "ingest", "--quiet", str(SMALL))
    assert code == 0, out
    assert "Ingested" in out and "skipped" in out
    assert (tmp_path / "home" / "catalog.sqlite").exists()

    code, out = _run(env, "ingest", "--quiet", str(SMALL))
    assert code == 0
    assert "Nothing changed" in out

    code, out = _run(env, "info", "--json")
    info = json.loads(out)
    assert info["series"] > 0 and info["instances"] >= info["series"]
    assert info["errors"] >= 1  # README.txt and the DICOMDIRs

    code, out = _run(env, "errors", "--json")
    reasons = [json.loads(line) for line in out.splitlines()]
    assert any(r["path"].endswith("README.txt") for r in reasons)

    from radcurate import open as open_catalog

    catalog = open_catalog(f"sqlite:///{tmp_path / 'home' / 'catalog.sqlite'}")
    uid = next(catalog.iter_series_documents())["SeriesInstanceUID"]
    code, out = _run(env, "show", uid, "--instances")
    assert code == 0
    document = json.loads(out)
    assert document["SeriesInstanceUID"] == uid
    assert len(document["instances"]) == document["file_count"]


def test_json_summary(env: dict[str, str]) -> None:
    code, out = _run(env, "ingest", "--json", str(SMALL / "77654033"))
    assert code == 0
    data = json.loads(out)
    assert data["run"]["new_instances"] == data["catalog"]["files"] > 0


def test_show_unknown_series_says_what_to_do(env: dict[str, str]) -> None:
    code, out = _run(env, "show", "1.2.3.4")
    assert code == 1
    assert "no series '1.2.3.4'" in out and "radcurate info" in out


def test_bad_catalog_url_is_a_clear_error(env: dict[str, str]) -> None:
    code, out = _run(env, "info", "--catalog", "mysql://db/x")
    assert code == 2
    assert "unknown catalog URL scheme" in out


def test_catalog_env_var_overrides_default(env: dict[str, str], tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.sqlite"
    env = {**env, "RADCURATE_CATALOG": f"sqlite:///{target}"}
    code, _ = _run(env, "ingest", "--quiet", str(SMALL / "77654033"))
    assert code == 0
    assert target.exists()
    assert not (tmp_path / "home" / "catalog.sqlite").exists()


def test_fields_lists_the_registry(env: dict[str, str]) -> None:
    _run(env, "ingest", "--quiet", str(SMALL / "77654033"))
    code, out = _run(env, "fields", "--json", "--prefix", "modal")
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert rows and rows[0]["name"] == "Modality" and rows[0]["type"] == "keyword"
    assert rows[0]["series"] >= 1
    code, out = _run(env, "fields", "--prefix", "slice_")
    assert "slice_positions" in out and "number" in out


def test_missing_extra_names_the_pip_command(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(
        sys.modules, "psycopg", None
    )  # as if radcurate[postgres] were not installed
    code, out = _run(env, "info", "--catalog", "postgresql://u@127.0.0.1/db")
    assert code == 2
    assert "pip install 'radcurate[postgres]'" in out.replace("\n", " ")


def test_search_lists_matches_and_explains_bad_queries(env: dict[str, str]) -> None:
    _run(env, "ingest", "--quiet", str(SMALL))
    code, out = _run(env, "search", "Modality:MR", "--json", "--limit", "0", "--fields", "Modality")
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert rows and all(r == {"Modality": "MR"} for r in rows)
    code, out = _run(env, "search", "", "--json", "--limit", "0", "--fields", "SeriesInstanceUID")
    assert len(out.splitlines()) == json.loads(_run(env, "info", "--json")[1])["series"]
    code, out = _run(env, "search", "Modalty:MR")
    assert code == 2 and "did you mean Modality?" in out
    code, out = _run(env, "search", "Modality:(MR")
    assert code == 2 and "at position 12: expected ')'" in out


def test_facets_counts_and_distributions(env: dict[str, str]) -> None:
    _run(env, "ingest", "--quiet", "--no-thumbnails", str(SMALL))
    code, out = _run(env, "search", "", "--json", "--limit", "0", "--fields", "Modality")
    modalities = [json.loads(line)["Modality"] for line in out.splitlines()]
    code, out = _run(
        env, "facets", "", "-f", "Modality", "--histogram", "Rows", "--dates", "StudyDate", "--json"
    )
    assert code == 0
    result = json.loads(out)
    assert result["counts"]["series"] == len(modalities)
    terms = {b["key"]: b["count"] for b in result["aggregations"][0]["buckets"]}
    for value, count in terms.items():
        assert count == sum(1 for m in modalities if m is not None and m.lower() == value.lower())
    assert [a["type"] for a in result["aggregations"]] == ["terms", "histogram", "date_histogram"]
    code, out = _run(env, "facets", "Modality:MR", "-f", "Modality")
    assert code == 0 and "series" in out and "MR" in out
    code, out = _run(env, "facets", "", "-f", "Modalty")
    assert code == 2 and "did you mean Modality?" in out
