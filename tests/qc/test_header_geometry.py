"""qc.geometry.*: each check on a series that fails it and one that passes, ingested for real.

Series are small CT slices (4 x 4 pixels) written with pydicom to tmp_path, with every
attribute the CT Image IOD requires, so only the defect planted differs; real files
(TotalSegmentator's CT with blank UIDs, pydicom's test files) check the verdicts on data
from scanners.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from radcurate.catalog import open_catalog
from radcurate.dicom.qc_geometry import Plane, geometry_qc, planes_of_frames
from radcurate.ingest import ingest
from tests.data import shipped_dicom_roots
from tests.reference_data import totalsegmentator_reference

AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
CORONAL = (1.0, 0.0, 0.0, 0.0, 0.0, -1.0)

Slice = dict[str, Any]


def ct_slice(z: float, index: int, series: Dataset, **changes: Any) -> Dataset:
    """A complete CT Image header (every Type 1 and 2 attribute of the IOD) at height z."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
    sop = changes.pop("SOPInstanceUID", None) or generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = sop
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = sop
    for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "FrameOfReferenceUID"):
        setattr(ds, keyword, getattr(series, keyword))
    ds.Modality = "CT"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.PatientName = "Test^Phantom"
    ds.PatientID = "QC-1"
    ds.PatientBirthDate = "19700101"
    ds.PatientSex = "O"
    ds.StudyDate = "20240101"
    ds.StudyTime = "120000"
    ds.AccessionNumber = "A1"
    ds.ReferringPhysicianName = ""
    ds.StudyID = "1"
    ds.SeriesNumber = 1
    ds.Manufacturer = "radcurate-tests"
    ds.PositionReferenceIndicator = ""
    ds.InstanceNumber = index + 1
    ds.AcquisitionNumber = 1
    ds.KVP = 120
    ds.SliceThickness = 2.5
    ds.ImagePositionPatient = [-2.0, -2.0, z]
    ds.ImageOrientationPatient = list(AXIAL)
    ds.PixelSpacing = [1.0, 1.0]
    ds.Rows = ds.Columns = 4
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    ds.RescaleIntercept = 0
    ds.RescaleSlope = 1
    for keyword, value in changes.items():
        if value is None:
            delattr(ds, keyword)
        else:
            setattr(ds, keyword, value)
    rows, columns = int(ds.Rows), int(ds.Columns)
    ds.PixelData = np.zeros((rows, columns), dtype=np.int16).tobytes()
    return ds


def series_ids() -> Dataset:
    ids = Dataset()
    ids.StudyInstanceUID = generate_uid()
    ids.SeriesInstanceUID = generate_uid()
    ids.FrameOfReferenceUID = generate_uid()
    return ids


def write_series(
    folder: Path,
    heights: Sequence[float],
    per_slice: Callable[[int, float], dict[str, Any]] | None = None,
    **common: Any,
) -> list[Path]:
    """Write one series of slices at ``heights`` (``per_slice(i, z)`` adds attributes)."""
    folder.mkdir(parents=True, exist_ok=True)
    ids = series_ids()
    paths = []
    for index, z in enumerate(heights):
        changes = {**common, **(per_slice(index, z) if per_slice else {})}
        ds = ct_slice(z, index, ids, **changes)
        path = folder / f"slice{index:03d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def qc_of(folder: Path, tmp_path: Path, url: str | None = None) -> dict[str, Any]:
    """Ingest one series and return its qc results ({"geometry": ..., "header": ...})."""
    catalog_url = url or f"sqlite:///{tmp_path / 'qc.sqlite'}"
    with open_catalog(catalog_url) as catalog:
        ingest([folder], catalog, workers=1)
        documents = list(catalog.iter_series_documents())
        assert len(documents) == 1
        results: dict[str, Any] = catalog.results(documents[0]["SeriesInstanceUID"])["qc"]
    return results


def geometry(folder: Path, tmp_path: Path) -> dict[str, Any]:
    found: dict[str, Any] = qc_of(folder, tmp_path)["geometry"]
    return found


STEP = [i * 2.5 for i in range(10)]


def test_clean_stack_is_a_regular_volume(tmp_path: Path) -> None:
    write_series(tmp_path / "s", STEP)
    g = geometry(tmp_path / "s", tmp_path)
    assert g["regular_volume"] is True
    assert g["positioned_images"] == g["slices"] == 10
    assert (g["orientation_count"], g["plane"], g["orthogonal"]) == (1, "axial", True)
    assert g["oblique_degrees"] == 0.0
    assert (g["duplicate_positions"], g["missing_slices"], g["irregular_gaps"]) == (0, 0, 0)
    assert g["missing_slice_positions"] == [] and g["missing_slice_indexes"] == []
    assert g["spacing_uniform"] is True and g["slice_spacing_mm"] == 2.5
    assert g["pixel_spacing_consistent"] is True and g["image_size_consistent"] is True
    assert g["localizer"] is False and g["localizer_instances"] == 0
    assert g["mixed_acquisitions"] is False and g["acquisitions"] == 1
    assert g["inplane_offset_mm"] == 0.0 and g["stack_tilt_degrees"] == 0.0


def test_missing_slices_are_counted_and_located(tmp_path: Path) -> None:
    heights = [z for i, z in enumerate(STEP) if i not in (4, 7, 8)]  # 10.0, 17.5, 20.0 missing
    write_series(tmp_path / "s", heights)
    g = geometry(tmp_path / "s", tmp_path)
    assert g["missing_slices"] == 3
    assert g["missing_slice_positions"] == [10.0, 17.5, 20.0]
    assert g["missing_slice_indexes"] == [4, 7, 8]
    assert g["spacing_uniform"] is True  # whole multiples: gaps, not uneven steps
    assert g["regular_volume"] is False


def test_uneven_spacing(tmp_path: Path) -> None:
    write_series(tmp_path / "s", [0.0, 2.5, 5.0, 8.4, 10.9, 13.4])
    g = geometry(tmp_path / "s", tmp_path)
    assert g["spacing_uniform"] is False and g["irregular_gaps"] == 1
    assert g["missing_slices"] == 0 and g["regular_volume"] is False


def test_spacing_within_one_percent_is_uniform(tmp_path: Path) -> None:
    write_series(tmp_path / "s", [0.0, 2.5, 5.02, 7.5, 10.0])  # 0.8% off: DS rounding
    g = geometry(tmp_path / "s", tmp_path)
    assert g["spacing_uniform"] is True and g["regular_volume"] is True


def test_duplicate_positions_and_what_tells_them_apart(tmp_path: Path) -> None:
    heights = [*STEP[:5], *STEP[:5]]
    write_series(tmp_path / "s", heights, per_slice=lambda i, z: {"EchoNumbers": 1 + i // 5})
    g = geometry(tmp_path / "s", tmp_path)
    assert g["duplicate_positions"] == 5 and g["slices"] == 5
    assert g["duplicates_vary_in"] == ["EchoNumbers"]
    assert g["regular_volume"] is False


def test_mixed_orientations(tmp_path: Path) -> None:
    write_series(
        tmp_path / "s",
        STEP,
        per_slice=lambda i, z: {"ImageOrientationPatient": list(CORONAL if i % 2 else AXIAL)},
    )
    g = geometry(tmp_path / "s", tmp_path)
    assert g["orientation_count"] == 2
    assert g["localizer"] is False  # half and half: mixed, not a scout among slices
    assert g["regular_volume"] is False


def test_rotated_slices_are_mixed_orientation_not_missing_slices(tmp_path: Path) -> None:
    """Six of 20 slices turned 12 degrees about the AP axis, about their centres."""
    a = math.radians(12.0)

    def turned(i: int, z: float) -> dict[str, Any]:
        row = (math.cos(a), 0.0, math.sin(a)) if 12 <= i < 18 else (1.0, 0.0, 0.0)
        corner = [-1.5 * r for r in row]
        return {
            "ImageOrientationPatient": [*row, 0.0, 1.0, 0.0],
            "ImagePositionPatient": [corner[0], -1.5, z + corner[2]],
        }

    write_series(tmp_path / "s", [i * 2.5 for i in range(20)], per_slice=turned)
    g = geometry(tmp_path / "s", tmp_path)
    assert g["orientation_count"] == 2 and g["localizer"] is False
    assert g["missing_slices"] == 0 and g["duplicate_positions"] == 0 and g["slices"] == 20
    assert g["spacing_uniform"] is True and g["inplane_offset_mm"] == 0.0
    assert g["regular_volume"] is False


def test_orientations_within_tolerance_are_one(tmp_path: Path) -> None:
    nudged = [1.0, 0.004, 0.0, -0.004, 1.0, 0.0]  # 0.004 < 0.01
    write_series(
        tmp_path / "s",
        STEP,
        per_slice=lambda i, z: {"ImageOrientationPatient": nudged if i == 3 else list(AXIAL)},
    )
    assert geometry(tmp_path / "s", tmp_path)["orientation_count"] == 1


def test_localizer_by_image_type_and_by_orientation(tmp_path: Path) -> None:
    scout = {
        "ImageType": ["ORIGINAL", "PRIMARY", "LOCALIZER"],
        "ImageOrientationPatient": list(CORONAL),
        "Rows": 8,
    }
    write_series(tmp_path / "a", STEP, per_slice=lambda i, z: scout if i == 0 else {})
    g = geometry(tmp_path / "a", tmp_path / "ca")
    assert g["localizer"] is True and g["localizer_instances"] == 1
    assert g["orientation_count"] == 2 and g["image_size_consistent"] is False
    assert g["regular_volume"] is False
    # the axial stack itself is still judged: 9 slices, no gap
    assert g["slices"] == 9 and g["missing_slices"] == 0

    sideways = {"ImageOrientationPatient": list(CORONAL)}  # ImageType says nothing
    write_series(tmp_path / "b", STEP, per_slice=lambda i, z: sideways if i == 9 else {})
    g = geometry(tmp_path / "b", tmp_path / "cb")
    assert g["localizer"] is True and g["localizer_instances"] == 1


def test_oblique_slices(tmp_path: Path) -> None:
    angle = math.radians(12.0)
    tilted = [1.0, 0.0, 0.0, 0.0, math.cos(angle), -math.sin(angle)]
    write_series(tmp_path / "s", STEP, ImageOrientationPatient=tilted)
    g = geometry(tmp_path / "s", tmp_path)
    assert g["orthogonal"] is False and g["oblique_degrees"] == pytest.approx(12.0, abs=0.01)
    assert g["plane"] == "axial"


def test_gantry_tilt_and_a_sheared_stack(tmp_path: Path) -> None:
    tilt = math.tan(math.radians(15.0))
    write_series(
        tmp_path / "s",
        STEP,
        per_slice=lambda i, z: {"ImagePositionPatient": [-2.0, -2.0 + z * tilt, z]},
        GantryDetectorTilt=15.0,
    )
    g = geometry(tmp_path / "s", tmp_path)
    assert g["gantry_tilt_degrees"] == 15.0
    assert g["inplane_offset_mm"] == pytest.approx(22.5 * tilt, abs=0.01)
    assert g["stack_tilt_degrees"] == pytest.approx(15.0, abs=0.01)
    assert g["regular_volume"] is False

    write_series(tmp_path / "flat", STEP, GantryDetectorTilt=0)
    flat = geometry(tmp_path / "flat", tmp_path / "c2")
    assert flat["gantry_tilt_degrees"] == 0.0 and flat["inplane_offset_mm"] == 0.0


def test_pixel_spacing_and_size_consistency(tmp_path: Path) -> None:
    write_series(
        tmp_path / "s", STEP, per_slice=lambda i, z: {"PixelSpacing": [0.8, 0.8]} if i == 2 else {}
    )
    g = geometry(tmp_path / "s", tmp_path)
    assert g["pixel_spacing_consistent"] is False and g["image_size_consistent"] is True
    assert g["regular_volume"] is False

    write_series(tmp_path / "t", STEP, per_slice=lambda i, z: {"Columns": 6} if i == 2 else {})
    g = geometry(tmp_path / "t", tmp_path / "c2")
    assert g["image_size_consistent"] is False and g["pixel_spacing_consistent"] is True


def test_overlapping_acquisitions_are_mixed_adjacent_ones_are_not(tmp_path: Path) -> None:
    # two bed positions covering 0..22.5 and 11.25..33.75: they overlap
    heights = [*STEP, *(z + 11.25 for z in STEP)]
    write_series(tmp_path / "s", heights, per_slice=lambda i, z: {"AcquisitionNumber": 1 + i // 10})
    g = geometry(tmp_path / "s", tmp_path)
    assert g["acquisitions"] == 2 and g["mixed_acquisitions"] is True

    adjacent = [*STEP, *(z + 25.0 for z in STEP)]
    write_series(
        tmp_path / "t", adjacent, per_slice=lambda i, z: {"AcquisitionNumber": 1 + i // 10}
    )
    g = geometry(tmp_path / "t", tmp_path / "c2")
    assert g["acquisitions"] == 2 and g["mixed_acquisitions"] is False
    assert g["regular_volume"] is True


def test_multiframe_positions_come_from_the_per_frame_groups() -> None:
    frames = [
        {"PlanePositionSequence": [{"ImagePositionPatient": [0.0, 0.0, z]}]}
        for z in (0.0, 1.0, 2.0, 4.0)
    ]
    document = {
        "Rows": 4,
        "Columns": 4,
        "SharedFunctionalGroupsSequence": [
            {
                "PlaneOrientationSequence": [{"ImageOrientationPatient": list(AXIAL)}],
                "PixelMeasuresSequence": [{"PixelSpacing": [0.5, 0.5]}],
            }
        ],
        "PerFrameFunctionalGroupsSequence": frames,
    }
    planes = planes_of_frames(document)
    assert [p.pixel_spacing for p in planes] == [(0.5, 0.5)] * 4
    g = geometry_qc(planes)
    assert g["missing_slices"] == 1 and g["missing_slice_positions"] == [3.0]
    assert geometry_qc(planes[:3])["regular_volume"] is True


def test_one_image_is_no_volume_and_no_failure() -> None:
    g = geometry_qc([Plane((0.0, 0.0, 0.0), AXIAL)])
    assert g["positioned_images"] == 1 and "regular_volume" not in g
    assert geometry_qc([Plane(None, None)]) == {"positioned_images": 0}


def test_totalsegmentator_ct_is_a_regular_volume(tmp_path: Path) -> None:
    qc = qc_of(totalsegmentator_reference() / "example_ct_dicom", tmp_path)
    g = qc["geometry"]
    assert g["regular_volume"] is True and g["slices"] == 20
    assert g["slice_spacing_mm"] == 2.0 and g["gantry_tilt_degrees"] == 0.0
    assert g["localizer"] is False and g["mixed_acquisitions"] is False


def test_pydicom_series_get_their_geometry_flags(tmp_path: Path) -> None:
    root = shipped_dicom_roots()[0] / "test_files" / "dicomdirtests"
    with open_catalog(f"sqlite:///{tmp_path / 'c.sqlite'}") as catalog:
        ingest([root / "98892001", root / "77654033"], catalog, workers=1)
        by_folder: dict[str, dict[str, Any]] = {}
        for document in catalog.iter_series_documents():
            uid = document["SeriesInstanceUID"]
            folder = Path(min(r.source for r in catalog.instances(uid))).parent.name
            by_folder[folder] = catalog.results(uid)["qc"]["geometry"]
    # five contiguous axial CT slices
    assert by_folder["CT5N"]["regular_volume"] is True
    # two images, one a localizer in another orientation
    assert by_folder["CT2N"]["localizer"] is True and by_folder["CT2N"]["regular_volume"] is False
    # four slices of a series: three 1.25 mm apart, one 200 mm away
    sparse = by_folder["CT2"]
    assert sparse["slice_spacing_mm"] == 1.25 and sparse["missing_slices"] == 161
    assert sparse["regular_volume"] is False
    # radiographs have no plane geometry: nothing to judge
    assert by_folder["CR1"] == {"image_size_consistent": True, "positioned_images": 0}
