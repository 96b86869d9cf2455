"""What arrives lands in a project: STOW-RS with ``?project=`` (and a member's default
project), and C-STORE to a project's called AE title (real DCMTK storescu, both engines)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from radcurate.catalog import CatalogBackend, open_catalog
from radcurate.server import ServerSettings, create_app
from tests.authn import bearer
from tests.network.conftest import free_port
from tests.network.test_receiver_acl import dcmtk, needs_dcmtk, receiving

STOW = "/dicomweb/studies"


def fresh_instance(name: str = "CT_small.dcm") -> Dataset:
    """A real test file as a new series (new Study, Series and SOP Instance UIDs)."""
    ds = dcmread(str(get_testdata_file(name)))
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    return ds


def multipart(*datasets: Dataset) -> tuple[bytes, dict[str, str]]:
    """A STOW-RS body of ``datasets`` and its Content-Type."""
    import io

    body = b""
    for ds in datasets:
        buffer = io.BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        body += b"--B\r\nContent-Type: application/dicom\r\n\r\n" + buffer.getvalue() + b"\r\n"
    body += b"--B--\r\n"
    return body, {"Content-Type": 'multipart/related; type="application/dicom"; boundary=B'}


@pytest.fixture
def catalog(catalog_url: str) -> Iterator[CatalogBackend]:
    with open_catalog(catalog_url) as opened:
        yield opened


@pytest.fixture
def people(catalog: CatalogBackend) -> dict[str, dict[str, str]]:
    headers = {
        "ana": bearer(catalog, "ana", "curator"),  # lung
        "carl": bearer(catalog, "carl", "curator"),  # lung and liver
        "dan": bearer(catalog, "dan", "curator"),  # no project
        "root": bearer(catalog, "root", "admin"),
    }
    catalog.projects.create("lung", actor="root", ae_title="LUNG")
    catalog.projects.create("liver", actor="root")
    catalog.projects.set_members("lung", add=["ana", "carl"], actor="root")
    catalog.projects.set_members("liver", add=["carl"], actor="root")
    return headers


@pytest.fixture
def client(catalog: CatalogBackend, tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(ServerSettings(home=tmp_path / "home"), catalog)
    app.state.store_url = f"file://{tmp_path / 'store'}"
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def stow(
    client: TestClient, headers: dict[str, str], ds: Dataset, project: str | None = None
) -> tuple[int, dict]:  # type: ignore[type-arg]
    body, content_type = multipart(ds)
    params = {} if project is None else {"project": project}
    answer = client.post(STOW, content=body, headers=headers | content_type, params=params)
    return answer.status_code, answer.json()


def projects_of(catalog: CatalogBackend, ds: Dataset) -> list[str]:
    return catalog.projects.of_series([str(ds.SeriesInstanceUID)]).get(
        str(ds.SeriesInstanceUID), []
    )


def stored_files(tmp_path: Path) -> list[Path]:
    return list((tmp_path / "store").rglob("*.dcm"))


def test_stow_into_a_project(
    client: TestClient, catalog: CatalogBackend, people: dict[str, dict[str, str]]
) -> None:
    ds = fresh_instance()
    code, answer = stow(client, people["root"], ds, "LUNG")  # any case
    assert code == 200, answer
    assert projects_of(catalog, ds) == ["lung"]
    [entry] = catalog.audit_log(5, action="project.assign")
    assert entry.actor == "root" and entry.target == "lung" and entry.series_count == 1
    # the same instance again, into another project: stored (no change) and assigned
    code, _ = stow(client, people["root"], ds, "liver")
    assert code == 200 and projects_of(catalog, ds) == ["liver", "lung"]
    # an admin without ?project= stores into none
    other = fresh_instance("MR_small.dcm")
    assert stow(client, people["root"], other)[0] == 200
    assert projects_of(catalog, other) == [] and catalog.series_document(
        str(other.SeriesInstanceUID)
    )


def test_an_unknown_or_foreign_project_stores_nothing(
    client: TestClient,
    catalog: CatalogBackend,
    people: dict[str, dict[str, str]],
    tmp_path: Path,
) -> None:
    ds = fresh_instance()
    code, answer = stow(client, people["root"], ds, "kidney")
    assert code == 404 and answer["error"]["code"] == "project_not_found"
    assert "kidney" in answer["error"]["message"]
    code, answer = stow(client, people["ana"], ds, "liver")  # ana is not in liver
    assert code == 403 and answer["error"]["code"] == "forbidden"
    assert "not a member of project 'liver'" in answer["error"]["message"]
    assert stored_files(tmp_path) == [] and catalog.info().instances == 0
    viewer = bearer(catalog, "vera", "viewer")
    catalog.projects.set_members("lung", add=["vera"], actor="root")
    assert stow(client, viewer, ds, "lung")[0] == 403  # a viewer may not STOW at all
    assert stored_files(tmp_path) == []


def test_a_members_default_project(
    client: TestClient,
    catalog: CatalogBackend,
    people: dict[str, dict[str, str]],
    tmp_path: Path,
) -> None:
    ds = fresh_instance()
    code, _ = stow(client, people["ana"], ds)  # ana's only project
    assert code == 200 and projects_of(catalog, ds) == ["lung"]
    assert catalog.audit_log(1, action="project.assign")[0].actor == "ana"
    two = fresh_instance("MR_small.dcm")
    code, answer = stow(client, people["carl"], two)
    assert code == 400 and answer["error"]["code"] == "project_required"
    assert "?project=" in answer["error"]["message"]
    assert "lung" in answer["error"]["message"] and "liver" in answer["error"]["message"]
    code, answer = stow(client, people["dan"], two)
    assert code == 403 and "no project" in answer["error"]["message"]
    assert len(stored_files(tmp_path)) == 1  # only ana's
    code, _ = stow(client, people["carl"], two, "liver")
    assert code == 200 and projects_of(catalog, two) == ["liver"]
    # the member sees the series they stored
    series = client.get(f"/api/series/{two.SeriesInstanceUID}", headers=people["carl"]).status_code
    assert series == 200
    assert (
        client.get(f"/api/series/{two.SeriesInstanceUID}", headers=people["ana"]).status_code == 404
    )


# -- C-STORE to a project's AE title, through radcurate receive and DCMTK storescu -----------


def _wait_for_series(url: str, series_uid: str, seconds: float = 60) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with open_catalog(url) as catalog:
            if catalog.series_document(series_uid) is not None:
                return True
        time.sleep(0.3)
    return False


@needs_dcmtk
@pytest.mark.parametrize("engine", ["native", "pynetdicom"])
def test_c_store_to_a_projects_ae_title_lands_in_the_project(tmp_path: Path, engine: str) -> None:
    url = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    with open_catalog(url) as catalog:
        catalog.projects.create("lung", actor="root", ae_title="LUNG")
    files = {}
    for called in ("LUNG", "RADCURATE", "AGAIN"):
        ds = fresh_instance()
        files[called] = (tmp_path / f"{called}.dcm", str(ds.SeriesInstanceUID))
        ds.save_as(files[called][0], enforce_file_format=True)
    port = free_port()
    with receiving(url, tmp_path / "store", port, "--engine", engine) as output:
        assert "project AE titles: LUNG -> lung" in output[0]
        for called in ("LUNG", "RADCURATE"):
            sent = dcmtk("storescu", port, "-aet", "CT1", "-aec", called, files=(files[called][0],))
            assert sent.returncode == 0, sent.stderr
        # stored first under our own AE, then again to the project's: it joins the project
        again = files["AGAIN"][0]
        assert dcmtk("storescu", port, "-aec", "RADCURATE", files=(again,)).returncode == 0
        assert dcmtk("storescu", port, "-aec", "LUNG", files=(again,)).returncode == 0
        refused = dcmtk("storescu", port, "-aec", "LIVER", files=(again,))
        assert refused.returncode != 0  # not a project's AE title, nor ours
        for _, series in files.values():
            assert _wait_for_series(url, series)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with open_catalog(url) as catalog:
                found = catalog.projects.of_series([s for _, s in files.values()])
            if len(found) == 2:
                break
            time.sleep(0.3)
    assert found == {files["LUNG"][1]: ["lung"], files["AGAIN"][1]: ["lung"]}
    with open_catalog(url) as catalog:
        actors = {e.actor for e in catalog.audit_log(10, action="project.assign")}
    assert actors <= {"dicom:CT1", "dicom:STORESCU"} and "dicom:CT1" in actors
