"""Enhanced / legacy converted multi-frame objects as volumes: per-frame functional groups
give the same grid (affine) and values as the single-frame series they were made from."""

from __future__ import annotations

import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
from pydicom.sequence import Sequence

from radcurate.imaging.nifti import write_nifti
from radcurate.imaging.volume import series_volume, series_volume_stream
from tests.render.cases import Workspace, catalog_of, find, pydicom_file

LEGACY_ENHANCED_CT = "1.2.840.10008.5.1.4.1.1.2.2"


def _enhanced(workspace: Workspace) -> tuple[str, str]:
    """The phantom's legacy converted enhanced CT and the single-frame series it was made from."""
    uid = workspace.uid(SOPClassUID=LEGACY_ENHANCED_CT)
    document = workspace.catalog.series_document(uid)
    assert document is not None
    (source,) = document["referenced_series"]
    return uid, str(source)


def test_enhanced_ct_matches_its_single_frame_series(workspace: Workspace, tmp_path: Path) -> None:
    enhanced_uid, source_uid = _enhanced(workspace)
    enhanced = series_volume(workspace.catalog, enhanced_uid)
    single = series_volume(workspace.catalog, source_uid)
    assert enhanced.array.shape == single.array.shape and enhanced.array.shape[0] > 10
    np.testing.assert_allclose(enhanced.affine, single.affine, atol=1e-4)
    np.testing.assert_array_equal(enhanced.array, single.array)  # HU, slice for slice
    assert enhanced.sop_uids[0].endswith("#1") or "#" in enhanced.sop_uids[0]
    a = nib.load(str(write_nifti(enhanced, tmp_path / "enhanced.nii.gz")))
    b = nib.load(str(write_nifti(single, tmp_path / "single.nii.gz")))
    np.testing.assert_allclose(a.affine, b.affine, atol=1e-4)
    assert nib.aff2axcodes(a.affine) == nib.aff2axcodes(b.affine)


def test_frames_stored_out_of_order_are_placed_by_position(
    workspace: Workspace, tmp_path: Path
) -> None:
    enhanced_uid, source_uid = _enhanced(workspace)
    (record,) = workspace.catalog.instances(enhanced_uid)
    ds = pydicom.dcmread(record.location)
    frames = ds.pixel_array
    order = np.random.default_rng(3).permutation(len(frames))
    ds.PixelData = np.ascontiguousarray(frames[order]).tobytes()
    groups = list(ds.PerFrameFunctionalGroupsSequence)
    ds.PerFrameFunctionalGroupsSequence = Sequence([groups[k] for k in order])
    folder = tmp_path / "shuffled"
    folder.mkdir()
    ds.save_as(folder / "enhanced.dcm")
    catalog = catalog_of([folder], tmp_path / "s.sqlite")
    shuffled = series_volume(catalog, find(catalog, SOPClassUID=LEGACY_ENHANCED_CT))
    single = series_volume(workspace.catalog, source_uid)
    np.testing.assert_allclose(shuffled.affine, single.affine, atol=1e-4)
    np.testing.assert_array_equal(shuffled.array, single.array)


def test_frames_of_two_orientations_are_refused(workspace: Workspace, tmp_path: Path) -> None:
    enhanced_uid, _ = _enhanced(workspace)
    (record,) = workspace.catalog.instances(enhanced_uid)
    ds = pydicom.dcmread(record.location)
    tilted = pydicom.Dataset()
    tilted.ImageOrientationPatient = [1, 0, 0, 0, 0.8, -0.6]
    ds.PerFrameFunctionalGroupsSequence[4].PlaneOrientationSequence = Sequence([tilted])
    folder = tmp_path / "tilted"
    folder.mkdir()
    ds.save_as(folder / "enhanced.dcm")
    catalog = catalog_of([folder], tmp_path / "t.sqlite")
    with pytest.raises(ValueError, match="one orientation"):
        series_volume_stream(catalog, find(catalog, SOPClassUID=LEGACY_ENHANCED_CT))


def test_multiframe_without_plane_positions_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "emri"
    folder.mkdir()
    shutil.copy(pydicom_file("emri_small.dcm"), folder / "emri_small.dcm")
    catalog = catalog_of([folder], tmp_path / "e.sqlite")
    with pytest.raises(ValueError, match="PlanePositionSequence"):
        series_volume(catalog, find(catalog, Modality="MR"))


def _converted(sources: list[pydicom.Dataset], modality: str, out: Path) -> Path:
    """A legacy converted enhanced object of ``sources`` (highdicom), saved under ``out``."""
    import warnings

    from highdicom import legacy
    from pydicom.uid import generate_uid

    make = {
        "MR": legacy.LegacyConvertedEnhancedMRImage,
        "CT": legacy.LegacyConvertedEnhancedCTImage,
    }[modality]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        obj = make(
            legacy_datasets=sources,
            series_instance_uid=generate_uid(entropy_srcs=["converted", out.name]),
            series_number=900,
            sop_instance_uid=generate_uid(entropy_srcs=["converted-sop", out.name]),
            instance_number=1,
        )
    out.mkdir(parents=True)
    obj.save_as(out / "enhanced.dcm")
    return out


@pytest.mark.parametrize("case", ["sagittal MR", "oblique CT"])
def test_converted_enhanced_objects_keep_the_grid(
    case: str, workspace: Workspace, tmp_path: Path
) -> None:
    if case == "sagittal MR":
        catalog, modality = workspace.catalog, "MR"
        uid = workspace.uid(Modality="MR", SeriesDescription="t1_se_sag")
    else:
        catalog, _, _ = workspace.oblique()
        modality, uid = "CT", find(catalog, Modality="CT")
    sources = [pydicom.dcmread(r.location) for r in catalog.instances(uid)]
    folder = _converted(sources, modality, tmp_path / "enhanced")
    converted = catalog_of([folder], tmp_path / "c.sqlite")
    (document,) = list(converted.iter_series_documents())
    assert document["frame_count"] == len(sources)
    enhanced = series_volume(converted, str(document["SeriesInstanceUID"]))
    single = series_volume(catalog, uid)
    np.testing.assert_allclose(enhanced.affine, single.affine, atol=1e-4)
    np.testing.assert_array_equal(enhanced.array, single.array)
    assert abs(np.linalg.det(single.affine[:3, :3])) > 0
