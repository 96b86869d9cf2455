"""``annotate-bodypart``: the region of every axial slice, checked on real scans and phantoms.

References (each derived from label maps someone else drew, never from our own features):

- TotalSegmentator's abdomen-pelvis CT (``example_ct``, 112 x 3 mm) against its 117-class
  label map: a slice is chest when the lung lobes fill >= 14 % of the body cross-section,
  pelvis when a hip bone or the sacrum is labelled, legs when only a femur is, else abdomen.
  The lower lobes do reach its top slices, but fill at most 12.5 % there: no chest slice.
- Its contrast chest CT (191 x 1.5 mm, no lung labels): every slice with the labelled heart
  is chest; the regions covered are ``["chest"]``.
- Its real 20-slice DICOM CT (upper abdomen, T11-T12, JPEG 2000): all abdomen (no lung,
  hip or femur label on any slice).
- Phantoms: ``radcurate.demo`` knows the tissue of every voxel it drew; the reference takes
  the head template as head and, on the trunk, the same lung convention (chest from the first
  slice whose lungs fill >= 6 % down to the last one where they fill >= 14 %, neck above),
  pelvis where the pelvic bone label is, abdomen elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from radcurate.analyze.bodypart import (
    BodyPartError,
    CTBodyPart,
    CTBodyPartParams,
    SliceRegions,
    body_part_results,
    slice_labels,
    slice_regions,
)
from radcurate.analyze.bodypart_features import plane_features, reduce_factor, reduce_plane
from radcurate.analyze.bodypart_regions import ORDERED, region_scores
from radcurate.catalog import CatalogBackend, open_catalog
from radcurate.demo import generate_archive
from radcurate.demo.ct import render_ct, sampler_for, storage
from radcurate.demo.phantom import Label, PhantomCache
from radcurate.demo.planner import iter_plans, plan_patient
from radcurate.imaging.volume import LPS_TO_RAS
from radcurate.ingest import ingest
from radcurate.jobs import run_job
from radcurate.jobs.workflows import WORKFLOW_KIND, workflow_job
from radcurate.workflow import WorkflowSelection
from radcurate.workflow.registry import default_registry
from tests.data import shipped_dicom_roots
from tests.reference_data import totalsegmentator_reference

F64 = npt.NDArray[np.float64]
LUNG_LOBES = [10, 11, 12, 13, 14]
HIP_SACRUM = [25, 26, 77, 78]
FEMUR = [75, 76]


# -- real scans ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def reference() -> Path:
    return totalsegmentator_reference()


def nifti(path: Path) -> tuple[npt.NDArray[Any], F64]:
    """A NIfTI volume as ``(slices, rows, columns)`` with its (column, row, slice) affine."""
    import nibabel

    image = nibabel.load(str(path))
    data = np.asanyarray(image.dataobj)
    return np.ascontiguousarray(data.transpose(2, 1, 0)), np.asarray(image.affine, np.float64)


def dicom_volume(folder: Path) -> tuple[npt.NDArray[np.float32], F64]:
    """A folder of single-frame CT slices read with pydicom, sorted along the slice normal."""
    datasets = [pydicom.dcmread(p) for p in sorted(folder.iterdir())]
    iop = np.array(datasets[0].ImageOrientationPatient, dtype=float)
    normal = np.cross(iop[:3], iop[3:])
    datasets.sort(key=lambda d: float(normal @ np.array(d.ImagePositionPatient, dtype=float)))
    array = np.stack(
        [d.pixel_array * float(d.RescaleSlope) + float(d.RescaleIntercept) for d in datasets]
    ).astype(np.float32)
    first, last = (np.array(d.ImagePositionPatient, float) for d in (datasets[0], datasets[-1]))
    row_mm, col_mm = (float(v) for v in datasets[0].PixelSpacing)
    lps = np.eye(4)
    lps[:3, 0], lps[:3, 1] = iop[:3] * col_mm, iop[3:] * row_mm
    lps[:3, 2], lps[:3, 3] = (last - first) / (len(datasets) - 1), first
    return array, LPS_TO_RAS @ lps


def body_area(plane: npt.NDArray[Any]) -> int:
    from scipy import ndimage

    return int(ndimage.binary_fill_holes(plane > -500).sum())


def totalsegmentator_labels(ct: npt.NDArray[Any], seg: npt.NDArray[Any]) -> tuple[list[str], float]:
    """The per-slice reference of the module docstring, and the largest lung fraction."""
    labels, largest = [], 0.0
    for plane, classes in zip(ct, seg, strict=True):
        lungs = np.isin(classes, LUNG_LOBES).sum() / max(body_area(plane), 1)
        largest = max(largest, float(lungs))
        if lungs >= 0.14:
            labels.append("chest")
        elif np.isin(classes, HIP_SACRUM).any():
            labels.append("pelvis")
        elif np.isin(classes, FEMUR).any():
            labels.append("legs")
        else:
            labels.append("abdomen")
    return labels, largest


def accuracy(found: SliceRegions, expected: list[str]) -> float:
    return sum(a == b for a, b in zip(found.labels, expected, strict=True)) / len(expected)


def test_abdomen_pelvis_ct(reference: Path) -> None:
    ct, affine = nifti(reference / "example_ct.nii.gz")
    seg, _ = nifti(reference / "example_seg_fast_force_split.nii.gz")
    expected, lungs = totalsegmentator_labels(ct, seg)
    assert 0.10 < lungs < 0.14  # lower lobes at the top, never filling the cross-section
    regions = slice_regions(ct.astype(np.float32), affine)
    assert regions.covered() == ["abdomen", "pelvis"]
    assert list(regions.ranges()) == ["abdomen", "pelvis"]
    assert accuracy(regions, expected) >= 0.97  # measured 111/112 = 0.991 (iliac crest)
    assert regions.ranges()["pelvis"][0] == pytest.approx(affine[2, 3])  # the lowest slice
    assert regions.axis == 0 and regions.step_mm == pytest.approx(3.0)


def test_upper_abdomen_ct_with_lung_bases(reference: Path) -> None:
    """``example_ct_sm``: the top 30 slices of ``example_ct``, with its own label map."""
    ct, affine = nifti(reference / "example_ct_sm.nii.gz")
    seg, _ = nifti(reference / "example_seg.nii.gz")
    expected, _ = totalsegmentator_labels(ct, seg)
    assert set(expected) == {"abdomen"}
    regions = slice_regions(ct.astype(np.float32), affine)
    assert regions.covered() == ["abdomen"]
    assert accuracy(regions, expected) == 1.0  # measured 30/30


def test_contrast_chest_ct(reference: Path) -> None:
    ct, affine = nifti(reference / "aorta_report" / "example_ct.nii.gz")
    heart, _ = nifti(reference / "pulmonary_report" / "models" / "heart.nii.gz")
    regions = slice_regions(ct.astype(np.float32), affine)
    assert regions.covered() == ["chest"]
    with_heart = [k for k in range(len(heart)) if heart[k].any()]
    assert len(with_heart) == 86
    assert all(regions.labels[k] == "chest" for k in with_heart)  # measured 86/86
    # it reaches the shoulders (no lung yet) and the kidneys (lung bases < 14 %): both short
    extents = regions.extents()
    assert list(extents) == ["neck", "chest", "abdomen"]
    assert extents["chest"] > 200 and extents["neck"] < 40 and extents["abdomen"] < 50


def test_real_dicom_series(reference: Path) -> None:
    ct, affine = dicom_volume(reference / "example_ct_dicom")
    seg, _ = nifti(reference / "example_seg_dicom.nii.gz")
    expected, lungs = totalsegmentator_labels(ct, seg)
    assert set(expected) == {"abdomen"} and lungs == 0.0
    regions = slice_regions(ct, affine)
    assert regions.labels == tuple(expected)  # measured 20/20, arms beside the trunk ignored


@pytest.mark.parametrize(("name", "region"), [("693_UNCI.dcm", "head"), ("693_J2KR.dcm", "head"),
    ("J2K_pixelrep_mismatch.dcm", "head"), ("explicit_VR-UN.dcm", "abdomen")])  # fmt: skip
def test_single_real_cross_sections(name: str, region: str) -> None:
    """Real 512² slices shipped with pydicom: a cranial slice (skull ring), a skull base
    (dense bone) and a pancreas slice score highest for their region."""
    path = next(p for root in shipped_dicom_roots() for p in root.rglob(name))
    ds = pydicom.dcmread(path)
    hu = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    spacing = (float(ds.PixelSpacing[0]), float(ds.PixelSpacing[1]))
    factor = reduce_factor(spacing)
    features = plane_features(reduce_plane(hu, factor), (spacing[0] * factor, spacing[1] * factor))
    scores = region_scores(features)
    assert ORDERED[int(np.argmax(scores))] == region


# -- phantoms -----------------------------------------------------------------------------------
def phantom_reference(labels: npt.NDArray[np.uint8], head: bool, z: F64) -> list[str]:
    """The phantom's per-slice reference (module docstring)."""
    body = np.array([(plane != Label.AIR).sum() for plane in labels])
    lungs = np.array(
        [(p == Label.LUNG).sum() / b if b else 0.0 for p, b in zip(labels, body, strict=True)]
    )
    order = list(np.argsort(-z, kind="stable"))  # head first
    top = next((i for i, k in enumerate(order) if lungs[k] >= 0.06), None)
    bottom = max((i for i, k in enumerate(order) if lungs[k] >= 0.14), default=None)
    out = ["none"] * len(labels)
    for i, k in enumerate(order):
        if body[k] == 0:
            continue
        if head:
            out[k] = "head"
        elif top is not None and bottom is not None and top <= i <= bottom:
            out[k] = "chest"
        elif (labels[k] == Label.PELVIS).any():
            out[k] = "pelvis"
        else:
            out[k] = "neck" if top is not None and i < top else "abdomen"
    return out


def phantoms(region: str) -> Iterator[tuple[npt.NDArray[np.float32], F64, npt.NDArray[Any]]]:
    """Up to six CT phantoms of ``region`` (HU, affine, tissue labels): adults and children
    of two small archives, and the infant of the one-patient archive (0.43 x adult size,
    chest walls one 3 mm pixel thin)."""
    cache = PhantomCache()
    patients = [*iter_plans(10, 11), *iter_plans(6, 2), plan_patient(3, 0, 1)]
    chosen = [
        (study, series)
        for patient in patients
        for study in patient.studies
        for series in study.series
        if series.kind == "ct" and series.region == region and not series.defect
    ]
    for study, series in chosen[:5] + chosen[-1:]:
        geometry = series.geometry
        assert geometry is not None
        intercept = storage(study.scanner)[1]
        slices = dict(render_ct(cache, study, series))
        array = np.stack([slices[k] for k in range(geometry.count)]).astype(np.float32)
        sampler = sampler_for(cache, study, series)
        labels = np.stack([sampler.labels(k) for k in range(geometry.count)])
        lps = np.eye(4)
        lps[:3, 0] = np.array(geometry.row_dir) * geometry.spacing[1]
        lps[:3, 1] = np.array(geometry.col_dir) * geometry.spacing[0]
        lps[:3, 2] = np.array(geometry.normal) * geometry.step
        lps[:3, 3] = geometry.origin
        yield array + np.float32(intercept), LPS_TO_RAS @ lps, labels


@pytest.mark.parametrize(("region", "least"), [("head", 0.98), ("chest", 0.97), ("abdomen", 0.97)])
def test_phantoms(region: str, least: float) -> None:
    """Measured: head 230/231 (99.6 %), chest 438/445 (98.4 %), abdomen 331/336 (98.5 %)."""
    right = total = 0
    for array, affine, labels in phantoms(region):
        regions = slice_regions(array, affine)
        expected = phantom_reference(labels, region == "head", np.array(regions.z_mm))
        right += sum(a == b for a, b in zip(regions.labels, expected, strict=True))
        total += len(expected)
        assert region in regions.covered()
    assert total > 200 and right / total >= least


# -- orientation, limbs, results ----------------------------------------------------------------
def flipped(array: npt.NDArray[Any], affine: F64) -> tuple[npt.NDArray[Any], F64]:
    """The same voxels with rows, columns and slices stored in reverse order."""
    out = affine.copy()
    for column, length in zip((0, 1, 2), array.shape[::-1], strict=True):
        out[:3, 3] += affine[:3, column] * (length - 1)
        out[:3, column] *= -1
    return np.ascontiguousarray(array[::-1, ::-1, ::-1]), out


def coronal(array: npt.NDArray[Any], affine: F64) -> tuple[npt.NDArray[Any], F64]:
    """The same voxels stored as coronal slices: slice = y, row = z from the top, column = x."""
    slices = array.shape[0]
    out = np.eye(4)
    out[:3, 0], out[:3, 1], out[:3, 2] = affine[:3, 0], -affine[:3, 2], affine[:3, 1]
    out[:3, 3] = affine[:3, 3] + affine[:3, 2] * (slices - 1)
    return np.ascontiguousarray(array.transpose(1, 0, 2)[:, ::-1, :]), out


def assert_same_ranges(a: SliceRegions, b: SliceRegions) -> None:
    length = max(a.z_mm) - min(a.z_mm)
    assert list(a.ranges()) == list(b.ranges())
    for (low, high), (low2, high2) in zip(a.ranges().values(), b.ranges().values(), strict=True):
        assert abs(low - low2) <= 0.01 * length and abs(high - high2) <= 0.01 * length


@pytest.mark.parametrize("name", ["example_ct.nii.gz", "aorta_report/example_ct.nii.gz"])
def test_orientation_and_slice_order(reference: Path, name: str) -> None:
    """Flipped rows and columns, reversed slices, or coronal slices: the same ranges."""
    ct, affine = nifti(reference / name)
    ct = ct.astype(np.float32)
    plain = slice_regions(ct, affine)
    reverse = slice_regions(*flipped(ct, affine))
    assert_same_ranges(plain, reverse)
    assert reverse.labels == plain.labels[::-1]
    sideways = slice_regions(*coronal(ct, affine))
    assert sideways.axis == 1  # planes across the rows, top row first
    assert_same_ranges(plain, sideways)
    assert sideways.labels == plain.labels[::-1]
    params = CTBodyPartParams()
    assert body_part_results(sideways, None, params)["bodypart_slices"] is None
    runs = body_part_results(plain, None, params)["bodypart_slices"]
    assert slice_labels(runs) == list(plain.labels)


def limbs(
    plane: npt.NDArray[np.float32], spacing: float, centres: list[float], semi: float
) -> None:
    """Draw limb cross-sections (fat, muscle, a long bone) into ``plane`` (HU, in place)."""
    rows, cols = np.indices(plane.shape) * spacing
    middle = plane.shape[0] * spacing / 2
    for x in centres:
        r = np.hypot(cols - (plane.shape[1] * spacing / 2 + x), (rows - middle) * 1.15)
        plane[r <= semi] = -100.0
        plane[r <= semi - 8] = 40.0
        plane[r <= semi * 0.22] = 1000.0
        plane[r <= semi * 0.13] = 20.0


def test_legs_below_the_pelvis_and_arms_above_the_head(reference: Path) -> None:
    ct, affine = nifti(reference / "example_ct.nii.gz")
    thighs = np.full((15, *ct.shape[1:]), -1000.0, dtype=np.float32)
    for plane in thighs:
        limbs(plane, 3.0, [-85.0, 85.0], 75.0)
    below = affine.copy()
    below[2, 3] -= 3.0 * len(thighs)  # the new slices lie below the old first one
    regions = slice_regions(np.concatenate([thighs, ct.astype(np.float32)]), below)
    assert regions.labels[:15] == ("legs",) * 15
    assert list(regions.ranges()) == ["abdomen", "pelvis", "legs"]
    assert regions.ranges()["legs"] == pytest.approx((below[2, 3], below[2, 3] + 42.0))

    head, head_affine, _ = next(phantoms("head"))
    spacing = float(np.linalg.norm(head_affine[:3, 0]))
    arms = np.full((8, *head.shape[1:]), -1000.0, dtype=np.float32)
    for plane in arms:
        limbs(plane, spacing, [-80.0, 80.0], 35.0)
    empty = np.full((2, *head.shape[1:]), -1000.0, dtype=np.float32)
    above = head_affine.copy()  # the phantom's slices run down: prepend the higher ones
    above[:3, 3] -= head_affine[:3, 2] * 10
    regions = slice_regions(np.concatenate([empty, arms, head]), above)
    assert regions.labels[:10] == ("none",) * 2 + ("arms",) * 8
    assert regions.covered() == ["head"] and list(regions.ranges()) == ["head", "arms"]


@pytest.mark.parametrize(
    ("header", "mismatch"),
    [("CHEST", True), ("ABDOMEN", False), ("ABDOMENPELVIS", False), ("Pelvis", False),
     ("HEAD", True), ("", None), ("UNKNOWN", None), (None, None)],
)  # fmt: skip
def test_mismatch_with_body_part_examined(header: str | None, mismatch: bool | None) -> None:
    """An abdomen-pelvis CT whose top slices show some chest (shorter than 60 mm)."""
    labels = ("chest",) * 5 + ("abdomen",) * 40 + ("pelvis",) * 30
    z = tuple(float(300 - 3 * k) for k in range(len(labels)))
    regions = SliceRegions(labels, z, 0, 3.0)
    results = body_part_results(regions, header, CTBodyPartParams())
    assert results["bodypart"] == ["abdomen", "pelvis"]
    assert results["bodypart_range"] == {
        "chest": [288.0, 300.0], "abdomen": [168.0, 285.0], "pelvis": [78.0, 165.0],
    }  # fmt: skip
    assert results["bodypart_mismatch"] is mismatch


# -- the workflow -------------------------------------------------------------------------------
def write_ct(
    folder: Path, series: str, slices: int, *, modality: str = "CT",
    image_type: tuple[str, ...] = ("ORIGINAL", "PRIMARY", "AXIAL"), geometry: bool = True,
    broken_pixels: bool = False,
) -> None:  # fmt: skip
    """A 64 x 64 series of ``slices`` (a 10 cm soft-tissue disc in air, 2 mm pixels)."""
    from pydicom.encaps import encapsulate
    from pydicom.uid import JPEG2000Lossless

    folder.mkdir(parents=True)
    rows, cols = np.indices((64, 64))
    disc = np.where(np.hypot(rows - 32, cols - 32) < 25, 40 + 1024, 0).astype(np.uint16)
    for k in range(slices):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid(
            entropy_srcs=[series, str(k)]
        )
        ds.StudyInstanceUID = generate_uid(entropy_srcs=["study", series])
        ds.SeriesInstanceUID, ds.PatientID, ds.Modality = series, "BP1", modality
        ds.BodyPartExamined, ds.ImageType, ds.InstanceNumber = "ABDOMEN", list(image_type), k + 1
        if geometry:
            ds.ImagePositionPatient = [-64.0, -64.0, -2.0 * k]
            ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        ds.PixelSpacing, ds.SliceThickness = [2.0, 2.0], 2.0
        ds.Rows = ds.Columns = 64
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated = ds.BitsStored = 16
        ds.HighBit, ds.PixelRepresentation = 15, 0
        ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
        ds.PixelData = disc.tobytes()
        if broken_pixels:
            ds.file_meta.TransferSyntaxUID = JPEG2000Lossless
            ds.PixelData = encapsulate([b"\xff\x4f\xff\x51 not a codestream"])
        ds.save_as(folder / f"{k:03d}.dcm", enforce_file_format=True)


BAD_SERIES = {
    "1.2.826.0.1.3680043.10.77.1": ("a single slice", {"slices": 1}),
    "1.2.826.0.1.3680043.10.77.2": ("not a CT series (Modality MR)", {"modality": "MR"}),
    "1.2.826.0.1.3680043.10.77.3": (
        "a localizer", {"image_type": ("ORIGINAL", "PRIMARY", "LOCALIZER")},
    ),
    "1.2.826.0.1.3680043.10.77.4": ("no geometry", {"geometry": False}),
    "1.2.826.0.1.3680043.10.77.5": ("undecodable", {"broken_pixels": True}),
}  # fmt: skip
GOOD = "1.2.826.0.1.3680043.10.77.9"


def test_workflow_refuses_what_it_cannot_label(tmp_path: Path) -> None:
    """Each bad series gets its own reason; the good one is labelled; none stops the run."""
    for uid, (_, options) in BAD_SERIES.items():
        write_ct(tmp_path / "files" / uid, uid, **{"slices": 3, **options})
    write_ct(tmp_path / "files" / GOOD, GOOD, 4)
    with open_catalog(f"sqlite:///{tmp_path / 'c.sqlite'}") as catalog:
        ingest([tmp_path / "files"], catalog, workers=1)
        step = CTBodyPart()
        record = run_job(catalog, WORKFLOW_KIND, workflow_job(step, WorkflowSelection(query="*")))
        assert record.state == "done" and record.result is not None
        assert record.result["processed"] == 1 and record.result["failed"] == len(BAD_SERIES)
        count, errors = catalog.job_errors(record.id)
        reasons = dict(errors)
        assert count == len(BAD_SERIES)
        for uid, (reason, _) in BAD_SERIES.items():
            assert reasons[uid].startswith(f"BodyPartError: {reason}"), reasons[uid]
        # a small soft-tissue disc: neck-sized, but a neck needs a head or chest beside it
        assert catalog.results(GOOD)["ai"] == {
            "bodypart": ["abdomen"], "bodypart_range": {"abdomen": [-6.0, 0.0]},
            "bodypart_mismatch": False, "bodypart_slices": "abdomen*4",
        }  # fmt: skip


def test_slice_regions_refuses_what_is_not_a_volume() -> None:
    with pytest.raises(BodyPartError, match="3-D volume"):
        slice_regions(np.zeros((4, 4)), np.eye(4))
    with pytest.raises(BodyPartError, match="degenerate"):
        slice_regions(np.zeros((2, 4, 4)), np.diag([1.0, 1.0, 0.0, 1.0]))


@pytest.fixture(scope="module")
def phantom_catalog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CatalogBackend]:
    """The one-patient phantom archive (an infant: every CT kind the demo writes)."""
    folder = tmp_path_factory.mktemp("bodypart-archive")
    manifest = generate_archive(folder / "archive", patients=1, seed=3)
    with open_catalog(f"sqlite:///{folder / 'c.sqlite'}") as catalog:
        ingest([manifest.root], catalog, workers=1)
        yield catalog


@pytest.mark.slow
def test_workflow_end_to_end(phantom_catalog: CatalogBackend) -> None:
    assert isinstance(default_registry().get("annotate-bodypart"), CTBodyPart)
    catalog = phantom_catalog
    selection = WorkflowSelection(query="Modality:CT")
    record = run_job(catalog, WORKFLOW_KIND, workflow_job(CTBodyPart(), selection, {}))
    assert record.state == "done" and record.result is not None
    ct = [d for d in catalog.iter_series_documents() if d.get("Modality") == "CT"]
    assert record.result["total"] == len(ct) == 10
    # the series with a missing slice is not evenly spaced: refused, named
    (_, [(missing, reason)]) = catalog.job_errors(record.id)
    assert reason.startswith("BodyPartError: no usable geometry") and "evenly spaced" in reason
    assert record.result["written"] == record.result["processed"] == len(ct) - 1
    for document in ct:
        uid = document["SeriesInstanceUID"]
        if uid == missing:
            continue
        ai = catalog.results(uid)["ai"]
        region = document["BodyPartExamined"].lower()
        assert region in ai["bodypart"] and ai["bodypart_mismatch"] is False, (uid, ai)
        frames = sum((r.frames or 1) for r in catalog.instances(uid))
        assert len(slice_labels(ai["bodypart_slices"])) == frames
        assert set(ai["bodypart_range"]) <= {"head", "neck", "chest", "abdomen", "pelvis"}
    chest = {d["SeriesInstanceUID"] for d in ct if d["BodyPartExamined"] == "CHEST"}
    assert set(catalog.series_uids("ai.bodypart:chest")) == chest

    again = run_job(catalog, WORKFLOW_KIND, workflow_job(CTBodyPart(), selection, {}))
    assert again.result is not None
    assert again.result["processed"] == 0 and again.result["skipped"] == len(ct) - 1
    assert again.result["failed"] == 1  # the refused series is retried, and refused again
