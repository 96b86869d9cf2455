"""Exports over HTTP (issue 17): a real ``radcurate serve`` on the demo archive with users and
projects; exports run as jobs of the server and come back as streamed zips.

Users: ``ada`` (admin), ``cora`` (curator, member of project ``all``: every series) and
``rita`` (curator, member of ``ct-seg``: the two CTs and the SEG, not the RTSTRUCT). Dataset
``ct`` holds the two CTs (one labelled by the RTSTRUCT rita may not see), ``seg-ct`` the CT
of the SEG and the SEG (all visible to rita).
"""

from __future__ import annotations

import io
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import nibabel
import pytest
from pydicom import dcmread

from radcurate.catalog import open_catalog
from radcurate.catalog.curation_types import Selection
from tests.export.conftest import fill, rtstruct_series, seg_series
from tests.serving import serving

ADA = ("ada", "ada's long passphrase")
CORA = ("cora", "cora's long passphrase")
RITA = ("rita", "rita's long passphrase")


@pytest.fixture(scope="module")
def api(demo_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """(base URL, export root) of a server on the demo catalog with users and projects."""
    root = tmp_path_factory.mktemp("export-api")
    url = f"sqlite:///{root / 'catalog.sqlite'}"
    with open_catalog(url) as catalog:
        fill(catalog, demo_root)
        seg, seg_ct = seg_series(catalog)
        cts = [seg_ct, rtstruct_series(catalog)[1]]
        catalog.create_dataset("ct")
        catalog.add_to_dataset("ct", Selection(include=tuple(cts)))
        catalog.create_dataset("seg-ct")
        catalog.add_to_dataset("seg-ct", Selection(include=(seg_ct, seg)))
        for (name, password), role in ((ADA, "admin"), (CORA, "curator"), (RITA, "curator")):
            catalog.auth.add_user(name, role, password, actor="test")
        catalog.projects.create("all", actor="test")
        catalog.projects.assign("all", Selection(query="*"), actor="test")
        catalog.projects.set_members("all", add=[CORA[0]], actor="test")
        catalog.projects.create("ct-seg", actor="test")
        catalog.projects.assign("ct-seg", Selection(include=(*cts, seg)), actor="test")
        catalog.projects.set_members("ct-seg", add=[RITA[0]], actor="test")
    with serving(url, root / "home") as base:
        yield base, root / "home" / "exports"


def client(base: str, user: tuple[str, str]) -> httpx.Client:
    return httpx.Client(base_url=base, auth=user, timeout=60)


def wait(http: httpx.Client, job_id: str, seconds: float = 120) -> tuple[dict[str, Any], list]:
    """The job's final record, and the (state, done, total) seen while it ran."""
    seen: list[tuple[str, int, int | None]] = []
    deadline = time.monotonic() + seconds
    while True:
        job = http.get(f"/api/jobs/{job_id}").json()
        seen.append((job["state"], job["done"], job["total"]))
        if job["state"] not in ("queued", "running"):
            return job, seen
        assert time.monotonic() < deadline, job
        time.sleep(0.1)


def start(http: httpx.Client, dataset: str, **body: Any) -> httpx.Response:
    return http.post(f"/api/datasets/{dataset}/exports", json=body)


def unzip(http: httpx.Client, job_id: str) -> tuple[zipfile.ZipFile, str]:
    answer = http.get(f"/api/exports/{job_id}/download")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/zip"
    return zipfile.ZipFile(io.BytesIO(answer.content)), answer.headers["content-disposition"]


def test_nnunet_export_runs_as_a_job_and_downloads_as_a_zip(
    api: tuple[str, Path], tmp_path: Path
) -> None:
    base, root = api
    with client(base, CORA) as http:
        answer = start(http, "labelled", format="nnunet", split="train=0.5,test=0.5", seed=7)
        assert answer.status_code == 202, answer.text
        job = answer.json()
        assert job["kind"] == "export" and job["params"]["froze"] is True
        assert job["params"]["version"] == 1 and job["params"]["started_by"] == "cora"
        assert "froze labelled as version 1" in job["params"]["note"]
        done, seen = wait(http, job["id"])
        assert done["state"] == "done", done
        assert done["total"] == 2 and done["done"] == 2, seen
        result = done["result"]
        assert result["exported"] == 2 and result["out"] == job["id"] and result["bytes"] > 0
        assert str(root) not in str(result)  # no server path for the job's readers
        listed = http.get("/api/exports").json()["items"]
        assert [e["job_id"] for e in listed] == [job["id"]]
        assert listed[0]["deidentified"] and listed[0]["format"] == "nnunet"
        archive, disposition = unzip(http, job["id"])
        assert 'filename="labelled-v1-nnunet.zip"' in disposition
        names = archive.namelist()
        prefix = "labelled-v1-nnunet/Dataset001_labelled/"
        assert prefix + "dataset.json" in names and "labelled-v1-nnunet/manifest.csv" in names
        images = [n for n in names if "/imagesTr/" in n or "/imagesTs/" in n]
        labels = [n for n in names if "/labelsTr/" in n]
        assert len(images) == 2 and len(labels) == 1, names
        archive.extractall(tmp_path)
        for name in images + labels:
            volume = nibabel.load(tmp_path / name)
            assert len(volume.shape) == 3 and min(volume.shape) > 1, (name, volume.shape)
        # the manifest of a curator's export shows no identifying field
        header = archive.read("labelled-v1-nnunet/manifest.csv").decode().splitlines()[0]
        assert "PatientSex" not in header and "SeriesDescription" not in header
        # the same version, options and seed: the same files (and the same zip)
        again = start(http, "labelled", version=1, format="nnunet", split="train=0.5,test=0.5",
                      seed=7).json()  # fmt: skip
        assert again["params"]["froze"] is False
        assert wait(http, again["id"])[0]["state"] == "done"
        second, _ = unzip(http, again["id"])
        assert sorted(second.namelist()) == sorted(names)
        for name in names:
            assert second.read(name) == archive.read(name), name
        # deleting removes the files and the listing
        assert http.delete(f"/api/exports/{again['id']}").status_code == 200
        assert not (root / again["id"]).exists()
        assert http.get(f"/api/exports/{again['id']}/download").status_code == 404


def test_deidentified_dicom_by_a_curator_identified_by_an_admin(api: tuple[str, Path]) -> None:
    base, _ = api
    with client(base, CORA) as http:
        refused = start(http, "ct", format="dicom")
        assert refused.status_code == 403, refused.text
        message = refused.json()["error"]["message"]
        assert "needs an admin" in message and "deidentify" in message
        refused = start(http, "ct", format="nifti", fields=["PatientName"])
        assert refused.status_code == 403 and "PatientName" in refused.text
        job = start(http, "ct", format="dicom", deidentify=True,
                    deid_options=["retain-long-modified-dates"]).json()  # fmt: skip
        assert job["params"]["deidentify"] == ["basic", "retain_long_modified_dates"]
        done, _ = wait(http, job["id"])
        assert done["state"] == "done" and done["result"]["exported"] == 2, done
        deidentified, _ = unzip(http, job["id"])
        dicoms = [n for n in deidentified.namelist() if n.endswith(".dcm")]
        assert dicoms
        for name in dicoms:
            assert dcmread(io.BytesIO(deidentified.read(name))).PatientIdentityRemoved == "YES"
    with client(base, ADA) as http:
        job = start(http, "ct", format="dicom").json()
        assert job["params"]["identified"] is True
        done, _ = wait(http, job["id"])
        assert done["state"] == "done", done
        archive, _ = unzip(http, job["id"])
        first = next(n for n in archive.namelist() if n.endswith(".dcm"))
        original = dcmread(io.BytesIO(archive.read(first)))
        assert "PatientIdentityRemoved" not in original
        identified = job["id"]
    # not one name or ID of the originals in the de-identified zip
    secrets = [str(original.PatientName), str(original.PatientID)]
    for name in dicoms:
        data = deidentified.read(name)
        assert not any(s.encode() in data for s in secrets if s), name
    with client(base, CORA) as http:  # a curator may not have the identified one
        assert identified not in [e["job_id"] for e in http.get("/api/exports").json()["items"]]
        assert http.get(f"/api/exports/{identified}/download").status_code == 404


def test_bad_options_are_400_with_the_commands_message(api: tuple[str, Path]) -> None:
    base, _ = api
    cases = [
        ({"format": "xx"}, "unknown format 'xx' (use one of nnunet, monai, nifti, dicom)"),
        ({"format": "nifti", "split": "train=2"}, "the fraction must lie between 0 and 1"),
        ({"format": "nifti", "labels": "a,a"}, "twice"),
        ({"format": "nifti", "deidentify": True}, "applies to the dicom format"),
        ({"format": "nifti", "channels": ["T1"]}, "write NAME=QUERY"),
        ({"format": "dicom", "layout": "flat"}, "unknown layout 'flat'"),
        ({"format": "dicom", "deidentify": True, "deid_options": ["keep-all"]},
         "unknown de-identification option 'keep-all'"),
        ({"format": "dicom", "deidentify": True, "deid_key": "short"}, "at least 8 bytes"),
        ({"format": "nnunet", "dataset_id": 1000}, "between 0 and 999"),
    ]  # fmt: skip
    with client(base, ADA) as http:
        before = len(http.get("/api/jobs").json()["items"])
        for body, message in cases:
            answer = start(http, "labelled", **body)
            assert answer.status_code == 400, (body, answer.text)
            assert message in answer.json()["error"]["message"], (body, answer.text)
            assert "short" not in answer.text or "deid_key" not in body  # a key is never echoed
        assert start(http, "nope", format="nifti").status_code == 404
        assert start(http, "labelled", format="nifti", version=99).status_code == 404
        assert start(http, "labelled", format="nifti", out="/tmp/x").status_code == 422
        assert len(http.get("/api/jobs").json()["items"]) == before  # no job started


def test_a_project_restricted_user_exports_only_what_they_see(api: tuple[str, Path]) -> None:
    base, _ = api
    with client(base, ADA) as http:
        version = http.post("/api/datasets/labelled/versions", json={}).json()["version"]
    with client(base, RITA) as http:
        refused = start(http, "labelled", format="nifti")
        assert refused.status_code == 403, refused.text
        assert "outside your projects" in refused.json()["error"]["message"]
        refused = start(http, "labelled", format="nifti", version=version)
        assert refused.status_code == 403
        # every member visible, but a label series of one of them is not
        refused = start(http, "ct", format="nifti")
        assert refused.status_code == 403, refused.text
        assert "labels of this version's series" in refused.json()["error"]["message"]
        job = start(http, "seg-ct", format="nifti", split="train=1").json()
        done, _ = wait(http, job["id"])
        assert done["state"] == "done" and done["result"]["exported"] == 1, done
        mine = [e["job_id"] for e in http.get("/api/exports").json()["items"]]
        assert mine == [job["id"]]  # only their own exports
    with client(base, CORA) as http:  # another restricted user sees neither the job nor the zip
        assert http.get(f"/api/exports/{job['id']}/download").status_code == 404
        assert http.delete(f"/api/exports/{job['id']}").status_code == 404


def test_cancel_stops_the_export_and_leaves_no_files(api: tuple[str, Path]) -> None:
    base, root = api
    with client(base, ADA) as http:
        job = start(http, "demo", format="nifti", split="train=1").json()
        cancelled = http.post(f"/api/jobs/{job['id']}/cancel")
        assert cancelled.status_code == 200
        done, _ = wait(http, job["id"])
        assert done["state"] == "cancelled", done
        assert not (root / job["id"]).exists()
        assert not list(root.glob(f".{job['id']}.partial-*"))
        assert job["id"] not in [e["job_id"] for e in http.get("/api/exports").json()["items"]]
        gone = http.get(f"/api/exports/{job['id']}/download")
        assert gone.status_code == 409 and "cancelled" in gone.json()["error"]["message"]
