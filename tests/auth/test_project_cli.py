"""``radcurate project``, ``radcurate access-log`` and ``radcurate ingest --project`` on real
catalogs (series written through the ingest API, real DICOM files for ingest)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner
from pydicom import dcmread
from pydicom.data import get_testdata_file

from radcurate.catalog import open_catalog
from radcurate.cli import main
from tests.curation.corpus import uid, write_series


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def _catalog(tmp_path: Path, series: int = 0) -> str:
    url = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    with open_catalog(url) as catalog:
        if series:
            write_series(catalog, series)
        catalog.auth.add_user("ana", "curator", "a long password", actor="root")
        catalog.auth.add_user("bob", "viewer", "a long password", actor="root")
    return url


def test_create_list_set_members_delete(tmp_path: Path) -> None:
    url = _catalog(tmp_path)
    code, out = run("project", "list", "--catalog", url)
    assert code == 0 and "no projects" in out
    code, out = run(
        "project", "create", "lung", "--description", "Lung CT", "--ae-title", "lung",
        "--catalog", url, "--actor", "ops",
    )  # fmt: skip
    assert code == 0 and "created project lung" in out and "AE title LUNG" in out
    code, out = run("project", "create", "LUNG", "--catalog", url)
    assert code == 2 and "exists" in out
    code, out = run("project", "create", "liver", "--ae-title", "LUNG", "--catalog", url)
    assert code == 2 and "AE title LUNG belongs to project 'lung'" in out
    code, out = run("project", "create", "x", "--ae-title", "BAD\\AE", "--catalog", url)
    assert code == 2 and "is not an AE title" in out
    code, out = run("project", "members", "lung", "--add", "ana", "--add", "bob", "--catalog", url)
    assert code == 0 and "ana, bob" in out
    code, out = run("project", "members", "lung", "--add", "nobody", "--catalog", url)
    assert code == 2 and "no user 'nobody'" in out
    code, out = run("project", "members", "lung", "--remove", "bob", "--catalog", url, "--json")
    assert code == 0 and json.loads(out)["members"] == ["ana"]
    code, out = run("project", "set", "lung", "--no-ae-title", "--catalog", url, "--json")
    assert code == 0 and json.loads(out)["ae_title"] is None
    code, out = run(
        "project", "set", "lung", "--ae-title", "CHEST", "--no-ae-title", "--catalog", url
    )
    assert code == 2 and "not both" in out
    code, out = run("project", "set", "lung", "--description", "Chest CT", "--catalog", url)
    assert code == 0
    code, out = run("project", "list", "--json", "--catalog", url)
    [listed] = json.loads(out)
    assert listed["name"] == "lung" and listed["description"] == "Chest CT"
    code, out = run("project", "set", "nope", "--description", "x", "--catalog", url)
    assert code == 2 and "no project 'nope'" in out
    assert run("project", "delete", "lung", "--yes", "--catalog", url)[0] == 0
    with open_catalog(url) as catalog:
        assert catalog.projects.names() == []
        assert catalog.audit_log(1, action="project.create")[0].actor == "ops"


def test_add_and_remove_series_by_query_include_and_exclude(tmp_path: Path) -> None:
    url = _catalog(tmp_path, series=6)  # CT: series 0 and 3
    run("project", "create", "lung", "--catalog", url)
    code, out = run("project", "add", "lung", "Modality:CT", "--include", uid(1), "--catalog", url)
    assert code == 0 and "added to lung: 3 series changed (3 selected)" in out
    code, out = run("project", "add", "lung", "Modality:CT", "--catalog", url)
    assert code == 0 and "0 series changed" in out  # again: nothing changes
    code, out = run(
        "project", "remove", "lung", "*", "--exclude", uid(0), "--catalog", url, "--json"
    )
    assert code == 0 and json.loads(out)["changed"] == 2
    with open_catalog(url) as catalog:
        assert catalog.projects.of_series([uid(i) for i in range(6)]) == {uid(0): ["lung"]}
    code, out = run("project", "add", "lung", "Modality:(", "--catalog", url)
    assert code == 2 and "error" in out
    code, out = run("project", "add", "nope", "*", "--catalog", url)
    assert code == 2 and "no project 'nope'" in out


def test_access_log_filters_and_says_it_shows_patient_ids(tmp_path: Path) -> None:
    url = _catalog(tmp_path, series=2)
    with open_catalog(url) as catalog:
        for user, series in (("ana", 0), ("bob", 1)):
            catalog.access_log.record(
                user, "images", patient_id=f"P{series}", study_uid=None, series_uid=uid(series)
            )
    code, out = run("access-log", "--help")
    assert code == 0 and "PatientIDs" in out
    code, out = run("access-log", "--catalog", url, "--json")
    assert [e["user"] for e in json.loads(out)] == ["bob", "ana"]
    code, out = run("access-log", "--patient", "P0", "--catalog", url, "--json")
    assert [(e["user"], e["series_uid"]) for e in json.loads(out)] == [("ana", uid(0))]
    code, out = run("access-log", "--user", "bob", "--catalog", url)
    assert code == 0 and "P1" in out and "P0" not in out
    code, out = run("access-log", "--since", "2999-01-01", "--catalog", url)
    assert code == 0 and "no recorded views" in out
    code, out = run("access-log", "--since", "last tuesday", "--catalog", url)
    assert code == 2 and "not an ISO 8601" in out
    code, out = run("access-log", "--limit", "1", "--catalog", url, "--json")
    assert len(json.loads(out)) == 1


def _dicom_folder(tmp_path: Path) -> tuple[Path, set[str]]:
    folder = tmp_path / "incoming"
    folder.mkdir()
    series: set[str] = set()
    for name in ("CT_small.dcm", "MR_small.dcm"):
        source = Path(str(get_testdata_file(name)))
        shutil.copy(source, folder / name)
        series.add(str(dcmread(source, stop_before_pixels=True).SeriesInstanceUID))
    return folder, series


def test_ingest_into_a_project(tmp_path: Path) -> None:
    url = _catalog(tmp_path)
    folder, series = _dicom_folder(tmp_path)
    base = ("ingest", str(folder), "--catalog", url, "-q", "--no-thumbnails", "--workers", "1")
    code, out = run(*base, "--project", "lung")
    assert code == 2 and "radcurate project create lung" in out
    with open_catalog(url) as catalog:
        assert catalog.info().series == 0  # refused before anything was ingested
    run("project", "create", "Lung", "--catalog", url)
    code, out = run(*base, "--project", "lung", "--json", "--actor", "ops")
    assert code == 0, out
    assert json.loads(out)["project"] == {"name": "Lung", "series": 2, "added": 2}
    with open_catalog(url) as catalog:
        assert catalog.projects.of_series(sorted(series)) == {s: ["Lung"] for s in series}
        [entry] = catalog.audit_log(10, action="project.assign")
        assert entry.actor == "ops" and entry.series_count == 2  # one entry per run
    code, out = run(*base, "--project", "lung", "--json")
    assert code == 0 and json.loads(out)["project"]["added"] == 0
    with open_catalog(url) as catalog:
        assert len(catalog.audit_log(10, action="project.assign")) == 1  # nothing changed
    code, out = run(*base, "--project", "lung", "dicomweb+http://pacs/x")
    assert code == 2 and "radcurate project add" in out


def test_ingest_without_project_assigns_nothing(tmp_path: Path) -> None:
    url = _catalog(tmp_path)
    folder, series = _dicom_folder(tmp_path)
    run("project", "create", "lung", "--catalog", url)
    code, _ = run("ingest", str(folder), "--catalog", url, "-q", "--no-thumbnails")
    assert code == 0
    with open_catalog(url) as catalog:
        assert catalog.info().series == 2
        assert catalog.projects.of_series(sorted(series)) == {}
