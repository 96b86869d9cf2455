"""Hostile input on every backend: one bad file never sinks the batch, nothing is half-written."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pydicom

from radcurate.catalog import open_catalog
from radcurate.ingest import ingest
from tests.data import shipped_dicom_roots

CT = shipped_dicom_roots()[0] / "test_files" / "CT_small.dcm"


def test_hostile_files_are_listed_and_the_rest_goes_on(catalog_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(CT, folder / "good.dcm")
    # embedded NULs and control characters inside values (JSONB refuses \\u0000)
    odd = pydicom.dcmread(CT)
    odd.SOPInstanceUID = odd.SOPInstanceUID + ".9"
    odd.SeriesInstanceUID = odd.SeriesInstanceUID + ".9"
    odd.SeriesDescription = "chest\x00with\x00nul"
    odd.add_new(0x00091010, "LO", "priv\x00ate")
    odd.add_new(0x00090010, "LO", "ODD CREATOR")
    odd.save_as(folder / "odd.dcm")
    (folder / "empty.dcm").write_bytes(b"")
    (folder / "notes.txt").write_text("not dicom")
    raw_name = os.path.join(os.fsencode(folder), b"caf\xe9.dcm")
    with open(raw_name, "wb") as handle:
        handle.write(CT.read_bytes())
    with open_catalog(catalog_url) as catalog:
        summary = ingest([folder], catalog, workers=1)
        info = catalog.info()
        assert (info.series, info.files) == (2, 2)
        reasons = {os.path.basename(e.source): e.reason for e in catalog.errors()}
        assert reasons["empty.dcm"] == "empty file"
        assert reasons["notes.txt"].startswith("not a DICOM file")
        assert reasons["caf\\xe9.dcm"].startswith("file name is not valid UTF-8")
        assert summary.errors == 3
        odd_uid = str(odd.SeriesInstanceUID)
        document = catalog.series_document(odd_uid)
        assert document is not None
        assert document["SeriesDescription"] == "chestwithnul"
        assert document["00091010"] == "private"
        again = ingest([folder], catalog, workers=1)
        assert not again.changed_anything
