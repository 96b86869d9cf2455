"""Issue 13, finding 2: an original was silently overwritten.

A C-STORE of a stored SOP Instance UID with other content (a forged PatientName) was
answered Success and replaced the file; a STOW of it gave 200 and two catalog rows for one
SOP. The policy now (storage/originals.py): the same content is a no-op success, other
content is refused with 0x0111 and the original kept, unless replacement was allowed when
the service started; then the original is kept under ``.replaced/`` and the change audited.
"""

from __future__ import annotations

import copy
from pathlib import Path

import httpx
import pytest
from dicomweb_client.api import DICOMwebClient
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset

from radcurate.catalog import open_catalog
from radcurate.storage.originals import DUPLICATE_SOP_INSTANCE, dataset_bytes
from tests.network.conftest import LiveServer, free_port, serving
from tests.network.test_receiver import _wait_for, receiving, storescu

FORGED = "MALLORY^FORGED"


def _forged_copy(source: Path, target: Path) -> Path:
    ds = dcmread(source)
    ds.PatientName = FORGED
    ds.save_as(target, enforce_file_format=True)
    return target


def _catalog_names(catalog_url: str, sop: str) -> list[str]:
    """PatientName of every catalog instance row of ``sop`` (via the series document)."""
    with open_catalog(catalog_url) as catalog:
        rows = []
        for document in catalog.iter_search("*"):
            uid = str(document["SeriesInstanceUID"])
            for record in catalog.instances(uid):
                if record.sop_uid == sop:
                    rows.append(str(dcmread(record.location).PatientName))
        return rows


@pytest.mark.parametrize("engine", ["native", "pynetdicom"])
def test_c_store_never_overwrites_an_original(
    catalog_url: str, archive_files: list[Path], tmp_path: Path, engine: str
) -> None:
    original = archive_files[0]
    meta = dcmread(original, stop_before_pixels=True)
    sop = str(meta.SOPInstanceUID)
    forged = _forged_copy(original, tmp_path / "forged.dcm")
    store = tmp_path / "store"
    port = free_port()
    with receiving(catalog_url, store, port, engine):
        assert storescu(port, [original]).returncode == 0
        assert sop in _wait_for(catalog_url, {sop})
        stored = next(store.rglob(f"{sop}.dcm"))
        first = stored.read_bytes()
        sent = storescu(port, [forged])
        assert "0x0111" in (sent.stdout + sent.stderr).lower() or sent.returncode != 0, (
            sent.stdout + sent.stderr
        )
        again = storescu(port, [original])  # the same content again: success, no change
        assert again.returncode == 0, again.stderr
    assert stored.read_bytes() == first
    assert str(dcmread(stored).PatientName) != FORGED
    assert _catalog_names(catalog_url, sop) == [str(meta.PatientName)]
    assert not (store / ".replaced").exists()


def test_c_store_replacement_when_allowed_keeps_the_original_and_audits(
    catalog_url: str, archive_files: list[Path], tmp_path: Path
) -> None:
    from radcurate.network.receiver import Receiver

    original = archive_files[1]
    sop = str(dcmread(original, stop_before_pixels=True).SOPInstanceUID)
    forged = _forged_copy(original, tmp_path / "forged.dcm")
    store = tmp_path / "store"
    receiver = Receiver(
        catalog_url, f"file://{store}", port=0, host="127.0.0.1", allow_replace=True
    )
    receiver.start()
    try:
        port = receiver.bound_port
        assert storescu(port, [original]).returncode == 0
        assert storescu(port, [forged]).returncode == 0
        assert receiver.wait_ingested(60)
    finally:
        receiver.stop()
    stored = next(p for p in store.rglob(f"{sop}.dcm") if ".replaced" not in p.parts)
    assert str(dcmread(stored).PatientName) == FORGED
    kept = list((store / ".replaced").rglob(f"{sop}.*.dcm"))
    assert len(kept) == 1 and dataset_bytes(kept[0].read_bytes()) == dataset_bytes(
        original.read_bytes()
    )
    with open_catalog(catalog_url) as catalog:
        entries = catalog.audit_log(action="instance.replace")
        assert [e.target for e in entries] == [sop]
        assert entries[0].actor.startswith("dicom:")
        assert catalog.info().instances == 1  # the kept original is not ingested


def _stow(base: str, ds: Dataset) -> httpx.Response:
    from io import BytesIO

    buffer = BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    body = (
        b"--B\r\nContent-Type: application/dicom\r\n\r\n" + buffer.getvalue() + b"\r\n--B--"
    )
    return httpx.post(
        base + "/studies",
        content=body,
        headers={"Content-Type": 'multipart/related; type="application/dicom"; boundary=B'},
        timeout=60,
    )


def test_stow_never_overwrites_an_original(served: LiveServer) -> None:
    ds = dcmread(get_testdata_file("CT_small.dcm"))
    instances = served.catalog.info().instances
    assert _stow(served.dicomweb, ds).status_code == 200
    client = DICOMwebClient(served.dicomweb)
    before = len(client.search_for_instances(ds.StudyInstanceUID, ds.SeriesInstanceUID))
    forged = copy.deepcopy(ds)
    forged.PatientName = FORGED
    answer = _stow(served.dicomweb, forged)
    assert answer.status_code == 409, answer.text
    failed = answer.json()["00081198"]["Value"][0]
    assert failed["00081197"]["Value"] == [DUPLICATE_SOP_INSTANCE]
    assert _stow(served.dicomweb, ds).status_code == 200  # identical: a no-op success
    found = client.search_for_instances(ds.StudyInstanceUID, ds.SeriesInstanceUID)
    assert len(found) == before == 1
    served_back = client.retrieve_instance(
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID
    )
    assert str(served_back.PatientName) == str(ds.PatientName)
    assert served.catalog.info().instances == instances + 1


def test_stow_replacement_when_allowed(catalog_url: str, tmp_path: Path) -> None:
    from dataclasses import replace

    ds = dcmread(get_testdata_file("CT_small.dcm"))
    with open_catalog(catalog_url) as catalog, serving(catalog, tmp_path / "home") as live:
        live.app.state.settings = replace(live.app.state.settings, allow_replace=True)
        assert _stow(live.dicomweb, ds).status_code == 200
        forged = copy.deepcopy(ds)
        forged.PatientName = FORGED
        assert _stow(live.dicomweb, forged).status_code == 200
        back = DICOMwebClient(live.dicomweb).retrieve_instance(
            ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID
        )
        assert str(back.PatientName) == FORGED
        assert catalog.info().instances == 1
        assert [e.action for e in catalog.audit_log(action="instance.replace")] == [
            "instance.replace"
        ]
    assert len(list((tmp_path / "home" / "store" / ".replaced").rglob("*.dcm"))) == 1
