"""Imported series satisfy the header QC ingest runs (docs/qc-header.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
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
