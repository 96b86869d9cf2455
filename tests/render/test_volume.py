"""Series volumes, SEG label volumes and their NIfTI files."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest

from radcurate.imaging.nifti import write_nifti
from radcurate.imaging.seg import seg_label_volume
from radcurate.imaging.volume import LPS_TO_RAS, series_volume
from tests.render.cases import Workspace, catalog_of, find, series_folder, shuffled_copy


def _lps_to_ras(point: np.ndarray) -> np.ndarray:
    return np.array([-point[0], -point[1], point[2]])


def test_volume_is_in_geometric_order_with_hu(workspace: Workspace, tmp_path: Path) -> None:
    folder = shuffled_copy(workspace.catalog, workspace.ct_uid(), tmp_path / "shuffled")
    catalog = catalog_of([folder], tmp_path / "c.sqlite")
    uid = find(catalog, Modality="CT")
    volume = series_volume(catalog, uid)
    records = {r.sop_uid: r for r in catalog.instances(uid)}
    assert volume.array.dtype == np.float32
    assert volume.array.shape[0] == len(records)
    z = [records[s].position[2] for s in volume.sop_uids]  # type: ignore[index]
    assert z == sorted(z) or z == sorted(z, reverse=True)
    k = len(z) // 3
    ds = pydicom.dcmread(records[volume.sop_uids[k]].location)
    hu = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    np.testing.assert_allclose(volume.array[k], hu)


def test_nifti_affine_maps_voxels_to_patient_coordinates(
    workspace: Workspace, tmp_path: Path
) -> None:
    volume = series_volume(workspace.catalog, workspace.ct_uid())
    path = write_nifti(volume, tmp_path / "ct.nii.gz")
    image = nib.load(str(path))
    data = np.asarray(image.dataobj)
    assert data.shape == volume.array.shape[::-1]
    assert nib.aff2axcodes(image.affine) == ("L", "P", "S") or len(nib.aff2axcodes(image.affine))
    records = {r.sop_uid: r for r in workspace.catalog.instances(workspace.ct_uid())}
    for r, c, k in ((0, 0, 0), (10, 200, 3), (255, 17, volume.array.shape[0] - 1)):
        ds = pydicom.dcmread(records[volume.sop_uids[k]].location)
        ipp = np.asarray(ds.ImagePositionPatient, dtype=float)
        row_dir = np.asarray(ds.ImageOrientationPatient[:3], dtype=float)
        col_dir = np.asarray(ds.ImageOrientationPatient[3:], dtype=float)
        d_row, d_col = (float(v) for v in ds.PixelSpacing)
        lps = ipp + c * d_col * row_dir + r * d_row * col_dir
        ras = image.affine @ np.array([c, r, k, 1.0])
        np.testing.assert_allclose(ras[:3], _lps_to_ras(lps), atol=1e-3)
        hu = float(ds.pixel_array[r, c]) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
        assert data[c, r, k] == pytest.approx(hu)
    np.testing.assert_allclose(image.get_qform(), image.affine)
    assert LPS_TO_RAS[0, 0] == -1 and LPS_TO_RAS[1, 1] == -1


def test_oblique_affine(workspace: Workspace) -> None:
    oblique, _, _ = workspace.oblique()
    uid = find(oblique, Modality="CT")
    volume = series_volume(oblique, uid)
    records = {r.sop_uid: r for r in oblique.instances(uid)}
    k = 5
    ds = pydicom.dcmread(records[volume.sop_uids[k]].location)
    row_dir = np.asarray(ds.ImageOrientationPatient[:3], dtype=float)
    col_dir = np.asarray(ds.ImageOrientationPatient[3:], dtype=float)
    d_row, d_col = (float(v) for v in ds.PixelSpacing)
    lps = np.asarray(ds.ImagePositionPatient, float) + 7 * d_col * row_dir + 3 * d_row * col_dir
    ras = volume.affine @ np.array([7, 3, k, 1.0])
    np.testing.assert_allclose(ras[:3], _lps_to_ras(lps), atol=2e-3)


def test_inconsistent_geometry_is_refused(workspace: Workspace, tmp_path: Path) -> None:
    folder = series_folder(workspace.catalog, workspace.ct_uid(), tmp_path / "gap")
    files = sorted(folder.iterdir())
    moved = pydicom.dcmread(files[5])
    moved.ImagePositionPatient = [float(v) for v in moved.ImagePositionPatient[:2]] + [
        float(moved.ImagePositionPatient[2]) + 1.7
    ]
    moved.save_as(files[5])
    catalog = catalog_of([folder], tmp_path / "g.sqlite")
    with pytest.raises(ValueError, match="evenly spaced"):
        series_volume(catalog, find(catalog, Modality="CT"))
    with pytest.raises(KeyError):
        series_volume(catalog, "1.2.3.4")


def test_mixed_matrix_sizes_are_refused(workspace: Workspace, tmp_path: Path) -> None:
    folder = series_folder(workspace.catalog, workspace.ct_uid(), tmp_path / "sizes")
    path = sorted(folder.iterdir())[3]
    ds = pydicom.dcmread(path)
    ds.PixelData = ds.pixel_array[:128, :128].copy().tobytes()
    ds.Rows = ds.Columns = 128
    ds.save_as(path)
    catalog = catalog_of([folder], tmp_path / "s.sqlite")
    with pytest.raises(ValueError, match="matrix sizes"):
        series_volume(catalog, find(catalog, Modality="CT"))


def test_seg_labels_align_with_the_referenced_ct(workspace: Workspace, tmp_path: Path) -> None:
    seg_uid = workspace.uid(Modality="SEG")
    labels = seg_label_volume(workspace.catalog, seg_uid)
    reference = workspace.catalog.series_document(seg_uid)
    assert reference is not None
    ct = series_volume(workspace.catalog, str(reference["referenced_series"][0]))
    assert labels.array.shape == ct.array.shape
    assert labels.array.dtype == np.uint8
    np.testing.assert_allclose(labels.affine, ct.affine)
    assert labels.sop_uids == ct.sop_uids
    names = {name: number for number, name in labels.labels.items()}
    liver = ct.array[labels.array == names["Liver"]]
    lungs = ct.array[labels.array == names["Lungs"]]
    spine = ct.array[labels.array == names["Spine"]]
    assert liver.size > 1000 and abs(float(liver.mean()) - 60.0) <= 30.0
    assert float(lungs.mean()) < -600.0
    assert float(spine.mean()) > 300.0
    path = write_nifti(labels, tmp_path / "seg.nii.gz")
    image = nib.load(str(path))
    assert np.asarray(image.dataobj).dtype == np.uint8
    np.testing.assert_allclose(image.affine, ct.affine, atol=1e-4)
