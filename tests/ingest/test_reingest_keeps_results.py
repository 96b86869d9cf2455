"""Re-ingesting a series updates its DICOM part and never loses its ai.*/qc.* results."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pydicom

from radcurate.catalog import open_catalog
from radcurate.ingest import ingest
from tests.data import shipped_dicom_roots

SERIES = shipped_dicom_roots()[0] / "test_files" / "dicomdirtests" / "77654033"


def test_reingest_of_a_changed_series_keeps_results(catalog_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    shutil.copytree(SERIES, folder)
    with open_catalog(catalog_url) as catalog:
        ingest([folder], catalog, workers=1)
        uid = next(catalog.iter_series_documents())["SeriesInstanceUID"]
        catalog.set_results(uid, "ai", {"bodypart": "head"})
        catalog.set_results(uid, "qc", {"noise": 3.5})
        first = min(r.source for r in catalog.instances(uid))
        ds = pydicom.dcmread(first)
        ds.SeriesDescription = "renamed at the scanner"
        ds.save_as(first)
        os.utime(first, ns=(1, 2))  # a different mtime, whatever the clock's resolution
        summary = ingest([folder], catalog, workers=1)
        assert summary.changed_instances == 1
        document = catalog.series_document(uid)
        assert document is not None
        assert document["SeriesDescription"] == "renamed at the scanner"
        results = catalog.results(uid)
        # (ingest's own header QC, recomputed for the changed series, sits beside them)
        assert set(results["qc"]) == {"noise", "geometry", "header"}
        assert results["ai"] == {"bodypart": "head"} and results["qc"]["noise"] == 3.5
