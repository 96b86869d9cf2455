"""Imported series satisfy the header QC ingest runs (docs/qc-header.md)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pydicom
import pytest

from radcurate.catalog import open_catalog
from radcurate.ingest.nifti_import import import_nifti
from tests.nifti_import.helpers import OBLIQUE, ct_like, save


def _qc(tmp_path: Path, meta: dict[str, str]) -> dict[str, dict[str, object]]:
    image = save(tmp_path / "in" / "vol.nii.gz", np.abs(ct_like()), OBLIQUE)
    with open_catalog(f"sqlite:///{tmp_path / 'cat.sqlite'}") as catalog:
        summary = import_nifti(image, catalog, tmp_path / "out", meta=meta, workers=1)
        assert summary.series == 1
        (doc,) = catalog.iter_series_documents()
        qc: dict[str, dict[str, object]] = catalog.results(str(doc["SeriesInstanceUID"]))["qc"]
    return qc


@pytest.mark.parametrize(
    ("modality", "iod"),
    [
        ("CT", "ct-image"),
        ("MR", "mr-image"),
        ("PT", "secondary-capture-image"),
        ("OT", "secondary-capture-image"),
    ],
)
def test_imported_series_have_every_required_attribute(
    tmp_path: Path, modality: str, iod: str
) -> None:
    qc = _qc(tmp_path, {"Modality": modality})
    assert qc["header"]["iod"] == iod
    assert qc["header"]["missing_required"] == []
    assert qc["geometry"]["regular_volume"] is True
    assert qc["geometry"]["missing_slices"] == 0


def test_a_sidecar_that_removes_a_required_value_is_flagged(tmp_path: Path) -> None:
    qc = _qc(tmp_path, {"Modality": "MR", "ScanningSequence": ""})
    assert "ScanningSequence" in qc["header"]["missing_required"]  # type: ignore[operator]


def _dciodvfy_errors(path: Path) -> list[str]:
    run = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=60)
    return [line for line in (run.stdout + run.stderr).splitlines() if line.startswith("Error")]


@pytest.mark.skipif(shutil.which("dciodvfy") is None, reason="dicom3tools not installed")
@pytest.mark.parametrize("modality", ["CT", "MR", "OT"])
def test_dciodvfy_finds_no_error_in_slices_or_seg(tmp_path: Path, modality: str) -> None:
    labels = np.zeros((12, 10, 6), np.uint8)
    labels[2:5, 2:5, 1:4] = 1
    save(tmp_path / "in" / "vol.nii.gz", np.abs(ct_like()).astype(np.float32) / 3, OBLIQUE)
    save(tmp_path / "in" / "vol_seg.nii.gz", labels, OBLIQUE)
    summary = import_nifti(tmp_path / "in", None, tmp_path / "out", meta={"Modality": modality})
    assert (summary.series, summary.segs) == (1, 1)
    case = tmp_path / "out" / "in" / "vol"
    for path in (case / "ch0000" / "000001.dcm", case / "seg_vol_seg.dcm"):
        assert _dciodvfy_errors(path) == [], path.name
    # the check can fail: a slice without its required Type 2 attributes is reported
    broken = pydicom.dcmread(case / "ch0000" / "000001.dcm")
    del broken.PatientID
    broken.save_as(tmp_path / "broken.dcm")
    assert _dciodvfy_errors(tmp_path / "broken.dcm")
