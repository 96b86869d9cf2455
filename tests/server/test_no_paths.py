"""Issue 18: no absolute server path in an answer to a non-admin.

A catalog over real files (one CT, one file that is not DICOM), two users (a viewer
and an admin) with API tokens, auth on: ``/api/errors`` and the 502 of a WADO-RS
request for a file deleted from disk show the viewer a file name (or a path below
the store), the admin the full path. With auth off the server's own user is an
admin and sees full paths.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest
from fastapi.testclient import TestClient

from radcurate.catalog import CatalogBackend, open_catalog
from radcurate.ingest import ingest
from radcurate.server import ServerSettings, create_app
from radcurate.server.paths import public_path, public_text
from tests.data import shipped_dicom_roots

CT_SMALL = shipped_dicom_roots()[0] / "test_files" / "CT_small.dcm"
#: a rooted path of at least one folder ("/tmp/x/..."), not a URL's path nor a relative one
ROOTED = re.compile(r"(?<![\w:/.%-])/[^/\s\"'<>]+/")


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """An ingest root: ``ct/CT_small.dcm`` and ``junk/notes.dcm`` (not DICOM)."""
    root = tmp_path / "incoming"
    (root / "ct").mkdir(parents=True)
    (root / "junk").mkdir()
    shutil.copy(CT_SMALL, root / "ct" / "CT_small.dcm")
    (root / "junk" / "notes.dcm").write_bytes(b"not a DICOM file " * 50)
    return root


@pytest.fixture
def catalog(tmp_path: Path, source: Path) -> Iterator[CatalogBackend]:
    with open_catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}") as opened:
        summary = ingest([source], opened, workers=1)
        assert summary.new_instances == 1 and summary.errors == 1
        yield opened


def _app(catalog: CatalogBackend, home: Path) -> TestClient:
    return TestClient(create_app(ServerSettings(home=home, catalog_url=catalog.url), catalog))


@pytest.fixture
def tokens(catalog: CatalogBackend) -> dict[str, str]:
    """Bearer headers of a viewer and an admin (their existence turns auth on)."""
    headers = {}
    for name, role, scope in (("vera", "viewer", "read"), ("ada", "admin", "admin")):
        catalog.auth.add_user(name, role, "correct horse battery", actor="test")
        secret, _ = catalog.auth.create_token(name, "test", scope, None, actor="test")
        headers[role] = f"Bearer {secret}"
    return headers


def _instance_url() -> str:
    ds = pydicom.dcmread(CT_SMALL, stop_before_pixels=True)
    return (
        f"/dicomweb/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}"
        f"/instances/{ds.SOPInstanceUID}"
    )


def test_ingest_errors_show_a_viewer_the_file_name_and_an_admin_the_path(
    catalog: CatalogBackend, tokens: dict[str, str], tmp_path: Path, source: Path
) -> None:
    with _app(catalog, tmp_path / "home") as client:
        assert client.get("/api/errors").status_code == 401  # auth is on
        viewer = client.get("/api/errors", headers={"Authorization": tokens["viewer"]})
        admin = client.get("/api/errors", headers={"Authorization": tokens["admin"]})
    assert viewer.status_code == 200 and admin.status_code == 200
    assert [item["path"] for item in viewer.json()["items"]] == ["notes.dcm"]
    assert not ROOTED.search(viewer.text) and str(tmp_path) not in viewer.text, viewer.text
    assert [item["path"] for item in admin.json()["items"]] == [str(source / "junk" / "notes.dcm")]
    assert viewer.json()["items"][0]["reason"] == admin.json()["items"][0]["reason"]


@pytest.mark.parametrize("suffix", ["", "/metadata"])
def test_a_file_gone_from_disk_is_a_502_without_the_path_for_a_viewer(
    catalog: CatalogBackend, tokens: dict[str, str], tmp_path: Path, source: Path, suffix: str
) -> None:
    (source / "ct" / "CT_small.dcm").unlink()
    instance = _instance_url()
    series = instance.rsplit("/instances/", 1)[0]
    with _app(catalog, tmp_path / "home") as client:
        for url in (instance + suffix, series + suffix):
            viewer = client.get(url, headers={"Authorization": tokens["viewer"]})
            admin = client.get(url, headers={"Authorization": tokens["admin"]})
            for answer in (viewer, admin):
                assert answer.status_code == 502, (url, answer.text)
                assert answer.json()["error"]["code"] == "unreadable_instance"
            message = viewer.json()["error"]["message"]
            assert "CT_small.dcm" in message and "ingest its folder again" in message
            assert not ROOTED.search(viewer.text) and str(tmp_path) not in viewer.text, message
            assert str(source / "ct" / "CT_small.dcm") in admin.json()["error"]["message"]


def test_with_auth_off_the_local_user_is_an_admin_and_sees_paths(
    catalog: CatalogBackend, tmp_path: Path, source: Path
) -> None:
    (source / "ct" / "CT_small.dcm").unlink()
    with _app(catalog, tmp_path / "home") as client:
        errors = client.get("/api/errors").json()["items"]
        gone = client.get(_instance_url())
    assert errors[0]["path"] == str(source / "junk" / "notes.dcm")
    assert gone.status_code == 502
    assert str(source / "ct" / "CT_small.dcm") in gone.json()["error"]["message"]


def test_a_file_of_the_store_is_shown_to_a_viewer_below_the_store(
    tmp_path: Path, source: Path
) -> None:
    """Files the server keeps in its store (STOW-RS, the receiver, ingest --store) are shown
    relative to the store: the study and series folders are UIDs, not patient data."""
    home = tmp_path / "home"
    with open_catalog(f"sqlite:///{tmp_path / 'stored.sqlite'}") as catalog:
        ingest([source / "ct"], catalog, store_url=f"file://{home / 'store'}", workers=1)
        catalog.auth.add_user("vera", "viewer", "correct horse battery", actor="test")
        secret, _ = catalog.auth.create_token("vera", "test", "read", None, actor="test")
        [stored] = (home / "store").rglob("*.dcm")
        stored.unlink()
        with _app(catalog, home) as client:
            answer = client.get(_instance_url(), headers={"Authorization": f"Bearer {secret}"})
    assert answer.status_code == 502
    message = answer.json()["error"]["message"]
    assert f"the file {stored.relative_to(home / 'store').as_posix()} of instance" in message
    assert not ROOTED.search(answer.text), message


def test_paths_below_the_store_stay_relative_and_errors_lose_their_folders(
    tmp_path: Path,
) -> None:
    store = tmp_path / "store"
    stored = f"file://{store}/1.2.3/4.5.6/7.dcm"
    assert public_path(stored, full=False, roots=[f"file://{store}"]) == "1.2.3/4.5.6/7.dcm"
    assert public_path(str(tmp_path / "x" / "a.dcm"), full=False, roots=[str(store)]) == "a.dcm"
    assert public_path(stored, full=True, roots=[str(store)]) == stored
    message = f"[Errno 28] No space left on device: '{store}/.stow/part-1'"
    assert public_text(message, full=False, roots=[str(store)]) == (
        "[Errno 28] No space left on device: '.stow/part-1'"
    )
    assert public_text(message, full=True) == message
