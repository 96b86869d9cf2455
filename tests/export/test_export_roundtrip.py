"""Round trip: an nnU-Net export imported back (``radcurate import-nifti``: NIfTI -> DICOM CT +
DICOM-SEG) and exported again gives the same voxels, labels and affines."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import nibabel
import numpy as np
import pytest

from radcurate.catalog import CatalogBackend, open_catalog
from radcurate.catalog.curation_types import Selection
from radcurate.export.job import ExportOptions, export_dataset
from radcurate.export.splits import parse_split
from radcurate.ingest.nifti_import import import_nifti

TRAIN = parse_split("train=1.0")


def _cases(root: Path) -> dict[str, tuple[Any, np.ndarray[Any, Any], np.ndarray[Any, Any]]]:
    """image data hash -> (affine, image, label map as names)."""
    labels = {v: k for k, v in json.loads((root / "dataset.json").read_text())["labels"].items()}
    out = {}
    for image_path in sorted((root / "imagesTr").iterdir()):
        image = nibabel.load(image_path)
        data = np.asarray(image.dataobj)
        label = np.asarray(
            nibabel.load(root / "labelsTr" / image_path.name.replace("_0000", "")).dataobj
        )
        names = np.vectorize(labels.get, otypes=[object])(label)
        out[hashlib.sha256(data.tobytes()).hexdigest()] = (image.affine, data, names)
    return out


@pytest.mark.slow
def test_nifti_import_then_export_gives_the_same_voxels(
    shared_catalog: CatalogBackend, tmp_path: Path
) -> None:
    first = tmp_path / "first"
    export_dataset(shared_catalog, ExportOptions("labelled", "nnunet", first, TRAIN))
    with open_catalog(f"sqlite:///{tmp_path / 'back.sqlite'}") as back:
        summary = import_nifti(first / "Dataset001_labelled", back, tmp_path / "dicom", workers=1)
        assert summary.cases == 2 and not summary.skipped
        back.create_dataset("back")
        back.add_to_dataset("back", Selection(query="*"))
        second = tmp_path / "second"
        report = export_dataset(back, ExportOptions("back", "nnunet", second, TRAIN))
        assert report.exported == 2 and report.failed == 0
    before = _cases(first / "Dataset001_labelled")
    after = _cases(second / "Dataset001_back")
    assert sorted(before) == sorted(after)  # the same image voxels, bit for bit
    for key, (affine, data, names) in before.items():
        affine2, data2, names2 = after[key]
        assert np.allclose(affine, affine2, atol=1e-4)
        assert np.array_equal(data, data2)
        assert np.array_equal(names, names2)
        assert len(set(names.ravel())) >= 4
