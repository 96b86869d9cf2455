"""NIfTI -> import -> ingest -> radcurate.imaging: the same voxels and the same affine."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nibabel
import numpy as np
import pytest

from radcurate.catalog import CatalogBackend, open_catalog
from radcurate.imaging.nifti import write_nifti
from radcurate.imaging.seg import seg_label_volume
from radcurate.imaging.volume import series_volume
from radcurate.ingest.nifti_import import import_nifti
from tests.nifti_import.helpers import FLIPPED, OBLIQUE, ct_like, save
from tests.reference_data import totalsegmentator_reference


def _series(catalog: CatalogBackend, modality: str) -> list[str]:
    return sorted(
        str(doc["SeriesInstanceUID"])
        for doc in catalog.iter_series_documents()
        if doc.get("Modality") == modality
    )


def _flip_k(affine: np.ndarray, slices: int) -> np.ndarray:
    """The affine of the same grid with its slices in the opposite order."""
    flipped = affine.copy()
    flipped[:3, 3] = affine[:3, 3] + (slices - 1) * affine[:3, 2]
    flipped[:3, 2] = -affine[:3, 2]
    return flipped


def test_right_handed_affine_comes_back_unchanged(tmp_path: Path) -> None:
    data = ct_like((14, 9, 7))
    image = save(tmp_path / "in" / "vol.nii.gz", data, OBLIQUE)
    with open_catalog(f"sqlite:///{tmp_path / 'cat.sqlite'}") as catalog:
        import_nifti(image, catalog, tmp_path / "out", meta={"Modality": "CT"}, workers=1)
        (uid,) = _series(catalog, "CT")
        volume = series_volume(catalog, uid)
        written = write_nifti(volume, tmp_path / "back.nii.gz")
    np.testing.assert_array_equal(volume.array, data.transpose(2, 1, 0))
    np.testing.assert_allclose(volume.affine, OBLIQUE, atol=1e-4)
    back = nibabel.load(str(written))
    np.testing.assert_array_equal(np.asanyarray(back.dataobj), data)
    np.testing.assert_allclose(back.affine, OBLIQUE, atol=1e-4)


def test_left_handed_affine_comes_back_as_the_same_image(tmp_path: Path) -> None:
    """A DICOM stack is read along row x column: a left-handed grid returns with its
    slices reversed, the same voxels at the same places."""
    data = ct_like((14, 9, 7))
    image = save(tmp_path / "in" / "vol.nii.gz", data, FLIPPED)
    with open_catalog(f"sqlite:///{tmp_path / 'cat.sqlite'}") as catalog:
        import_nifti(image, catalog, tmp_path / "out", meta={"Modality": "CT"}, workers=1)
        (uid,) = _series(catalog, "CT")
        volume = series_volume(catalog, uid)
    np.testing.assert_array_equal(volume.array, data.transpose(2, 1, 0)[::-1])
    np.testing.assert_allclose(volume.affine, _flip_k(FLIPPED, 7), atol=1e-4)
    assert not np.allclose(volume.affine, FLIPPED, atol=1e-4)


@pytest.mark.slow
def test_real_ct_and_segmentation_round_trip(tmp_path: Path) -> None:
    """TotalSegmentator's small reference CT (122 x 101 x 30) and its 40-label segmentation."""
    reference = totalsegmentator_reference()
    folder = tmp_path / "totalseg"
    folder.mkdir()
    shutil.copy(reference / "example_ct_sm.nii.gz", folder / "ct.nii.gz")
    shutil.copy(reference / "example_seg_fast.nii.gz", folder / "ct_seg.nii.gz")
    names = {"1": "spleen", "2": "kidney_right", "3": "kidney_left", "5": "liver"}
    (folder / "seg_info.json").write_text(json.dumps(names))
    ct = nibabel.load(str(folder / "ct.nii.gz"))
    labels = np.asanyarray(nibabel.load(str(folder / "ct_seg.nii.gz")).dataobj)
    with open_catalog(f"sqlite:///{tmp_path / 'cat.sqlite'}") as catalog:
        summary = import_nifti(folder, catalog, tmp_path / "out", meta={"Modality": "CT"})
        assert summary.skipped == [] and summary.segs == 1
        (ct_uid,) = _series(catalog, "CT")
        (seg_uid,) = _series(catalog, "SEG")
        volume = series_volume(catalog, ct_uid)
        label_volume = seg_label_volume(catalog, seg_uid)
    np.testing.assert_array_equal(volume.array, np.asanyarray(ct.dataobj).transpose(2, 1, 0))
    np.testing.assert_allclose(volume.affine, ct.affine, atol=1e-4)
    np.testing.assert_allclose(label_volume.affine, ct.affine, atol=1e-4)
    by_name = {name: number for number, name in label_volume.labels.items()}
    assert {"spleen", "kidney_right", "kidney_left", "liver", "label 117"} <= set(by_name)
    values = [int(v) for v in np.unique(labels) if v]
    assert len(label_volume.labels) == len(values) == 40
    stored = label_volume.array.transpose(2, 1, 0)
    for value in values:
        name = names.get(str(value), f"label {value}")
        np.testing.assert_array_equal(stored == by_name[name], labels == value)
        assert summary.segments["ct/ct_seg"][name] == int(np.count_nonzero(labels == value))
