"""NIfTI -> import-nifti -> curated dataset -> ``export --format nifti``: the same voxels."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel
import numpy as np

from radcurate.catalog import open_catalog
from radcurate.catalog.curation_types import Selection
from radcurate.export.job import ExportOptions, export_dataset
from radcurate.ingest.nifti_import import import_nifti
from tests.nifti_import.helpers import OBLIQUE, ct_like, save


def test_import_then_export_gives_the_same_voxels_labels_and_affine(tmp_path: Path) -> None:
    data = ct_like((14, 9, 7))
    labels = np.zeros(data.shape, np.uint8)
    labels[2:6, 2:5, 1:4] = 1
    labels[8:12, 3:7, 2:6] = 2
    save(tmp_path / "in" / "vol.nii.gz", data, OBLIQUE)
    save(tmp_path / "in" / "vol_seg.nii.gz", labels, OBLIQUE)
    (tmp_path / "in" / "seg_info.json").write_text(json.dumps({"1": "liver", "2": "spleen"}))
    with open_catalog(f"sqlite:///{tmp_path / 'cat.sqlite'}") as catalog:
        summary = import_nifti(
            tmp_path / "in", catalog, tmp_path / "dicom", meta={"Modality": "CT"}
        )
        assert (summary.series, summary.segs) == (1, 1)
        ct = [
            d["SeriesInstanceUID"] for d in catalog.iter_series_documents() if d["Modality"] == "CT"
        ]
        catalog.create_dataset("roundtrip")
        catalog.add_to_dataset("roundtrip", Selection.of(include=[str(u) for u in ct]))
        report = export_dataset(catalog, ExportOptions("roundtrip", "nifti", tmp_path / "export"))
    assert report.exported == 1 and report.failed == 0
    (image,) = (tmp_path / "export" / "images").glob("*.nii.gz")
    (label,) = (tmp_path / "export" / "labels").glob("*.nii.gz")
    back = nibabel.load(str(image))
    np.testing.assert_array_equal(np.asanyarray(back.dataobj), data)
    np.testing.assert_allclose(back.affine, OBLIQUE, atol=1e-4)
    table = json.loads((tmp_path / "export" / "labels.json").read_text())
    exported = np.asanyarray(nibabel.load(str(label)).dataobj)
    for value, name in ((1, "liver"), (2, "spleen")):
        np.testing.assert_array_equal(exported == table[name], labels == value)
