"""``annotate-ct-masks``: body, lungs, bone and subcutaneous fat, checked on real scans.

References (drawn by someone else: TotalSegmentator 2.18.0's reference files, Apache-2.0):

- the abdomen CT crop ``example_ct_sm`` (30 x 3 mm, the top slices 82..111 of the
  112-slice abdomen-pelvis CT ``example_ct``) and its 117-class label map ``example_seg``:
  lungs = the five lobes, bone = vertebrae, sacrum, ribs, sternum, hips, femurs, humeri,
  scapulae, claviculae, skull; the tissue-types map gives the subcutaneous fat;
- the real 20-slice DICOM CT (512 x 512, JPEG 2000, empty UIDs: read here with pydicom) and
  its label map (made at 3 mm and resampled, so its edges are coarse);
- the contrast chest CT (191 x 1.5 mm): no lung reference, used for the left/right split.

The assertions hold the measured values minus a small margin (docs/annotation.md has them),
so a regression fails.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import ModuleType
from typing import Any

import highdicom as hd
import numpy as np
import numpy.typing as npt
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, MRImageStorage

from radcurate.analyze.ct_masks import CTMasks, CTMasksParams
from radcurate.analyze.masks_structures import compute_masks, ordered
from radcurate.analyze.seg_writer import SegIdentity, build_segmentation, mask_frames
from radcurate.catalog import CatalogBackend, open_catalog
from radcurate.imaging.frames import read_dataset
from radcurate.imaging.seg import seg_label_volume
from radcurate.imaging.volume import series_volume, volume_geometry
from radcurate.ingest import ingest
from radcurate.jobs import run_job
from radcurate.jobs.workflows import WORKFLOW_KIND, workflow_job
from radcurate.storage.originals import dataset_bytes
from radcurate.workflow import WorkflowSelection
from radcurate.workflow.registry import default_registry
from radcurate.workflow.step import SeriesItem, WorkflowParamsError
from tests.reference_data import totalsegmentator_reference

ROOT = Path(__file__).resolve().parents[2]
F64 = npt.NDArray[np.float64]


def _bench() -> ModuleType:
    """bench/annotate.py: its readers, its scoring and its DICOM writer."""
    spec = importlib.util.spec_from_file_location("bench_annotate", ROOT / "bench" / "annotate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench = _bench()


# -- real scans ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def reference() -> Path:
    return totalsegmentator_reference()


@pytest.fixture(scope="module")
def abdomen(reference: Path) -> dict[str, Any]:
    hu, affine = bench.nifti(reference / "example_ct_sm.nii.gz")
    labels, _ = bench.nifti(reference / "example_seg.nii.gz")
    fat, _ = bench.nifti(reference / "example_seg_tissue_types" / "subcutaneous_fat.nii.gz")
    return {"hu": hu.astype(np.float32), "affine": affine, "labels": labels, "fat": fat > 0}


def test_abdomen_ct_masks_match_the_reference(abdomen: dict[str, Any]) -> None:
    """Measured: body 1.000 of the labelled voxels, lungs 0.967 (left 0.962, right 0.970),
    bone 0.859, subcutaneous fat 0.941."""
    masks = compute_masks(abdomen["hu"], abdomen["affine"])
    labels = abdomen["labels"]
    full = {name: masks.full(name) for name in masks.names}
    labelled = labels > 0
    assert (full["body"] & labelled).sum() / labelled.sum() >= 0.995
    lungs = full["lung_left"] | full["lung_right"]
    assert bench.dice(lungs, np.isin(labels, bench.LUNG_LOBES)) >= 0.95
    assert bench.dice(full["lung_left"], np.isin(labels, bench.LEFT_LOBES)) >= 0.94
    assert bench.dice(full["lung_right"], np.isin(labels, bench.RIGHT_LOBES)) >= 0.95
    assert bench.dice(full["bone"], np.isin(labels, bench.BONES)) >= 0.84
    assert bench.dice(full["subcutaneous_fat"], abdomen["fat"]) >= 0.93


def test_bowel_gas_is_not_lung(reference: Path, abdomen: dict[str, Any]) -> None:
    """On the whole abdomen-pelvis CT (colon full of gas) the lungs are only in the labelled
    top slices, where they score as on the crop (a threshold alone scored Dice 0.43)."""
    hu, affine = bench.nifti(reference / "example_ct.nii.gz")
    masks = compute_masks(hu.astype(np.float32), affine, ("body", "lung_left", "lung_right"))
    lungs = masks.full("lung_left") | masks.full("lung_right")
    assert not lungs[:82].any()  # the abdomen and pelvis below the lung bases
    assert bench.dice(lungs[82:], np.isin(abdomen["labels"], bench.LUNG_LOBES)) >= 0.95


def test_dicom_ct_body_and_bone(reference: Path) -> None:
    """The real DICOM CT (contrast, upper abdomen, no lung in view): body 1.000, bone 0.746
    against a label map made at 3 mm."""
    hu, affine = bench.dicom_folder(reference / "example_ct_dicom")
    labels, label_affine = bench.nifti(reference / "example_seg_dicom.nii.gz")
    masks = compute_masks(hu, affine)
    on_reference = {
        n: bench.on_grid(masks.full(n), affine, labels.shape, label_affine) for n in masks.names
    }
    labelled = labels > 0
    assert (on_reference["body"] & labelled).sum() / labelled.sum() >= 0.995
    assert bench.dice(on_reference["bone"], np.isin(labels, bench.BONES)) >= 0.72
    assert masks.volume_ml("lung_left") + masks.volume_ml("lung_right") < 5.0


@pytest.mark.parametrize("axes", [(2,), (1,), (0,), (1, 2), (0, 1, 2)])
def test_orientation_gives_the_same_volumes(abdomen: dict[str, Any], axes: tuple[int, ...]) -> None:
    """Flipped columns (a mirrored row direction), rows, or slice order: same volumes, and the
    left lung stays the left one (sides come from the affine, not the column order)."""
    base = compute_masks(abdomen["hu"], abdomen["affine"])
    hu, affine = abdomen["hu"], abdomen["affine"]
    for axis in axes:
        hu, affine = bench.flip_volume(hu, affine, axis)
    flipped = compute_masks(hu, affine)
    for name in base.names:
        assert flipped.volume_ml(name) == pytest.approx(base.volume_ml(name), rel=0.01), name
    assert flipped.volume_ml("lung_left") < flipped.volume_ml("lung_right")


@pytest.mark.slow
def test_chest_ct_lungs_split_left_and_right(reference: Path) -> None:
    """The contrast chest CT: the trachea joins the lungs; cut out, the right lung is the
    larger (measured 2366 vs 1713 ml), also with the columns stored mirrored."""
    hu, affine = bench.nifti(reference / "aorta_report" / "example_ct.nii.gz")
    hu = hu.astype(np.float32)
    names = ("body", "lung_left", "lung_right")
    masks = compute_masks(hu, affine, names)
    left, right = masks.volume_ml("lung_left"), masks.volume_ml("lung_right")
    assert 1500 < left < 1900 and 2100 < right < 2600
    mirrored = compute_masks(*bench.flip_volume(hu, affine, 2), names)
    assert mirrored.volume_ml("lung_left") == pytest.approx(left, rel=0.01)
    assert mirrored.volume_ml("lung_right") == pytest.approx(right, rel=0.01)


# -- end to end: DICOM in, DICOM SEG out -------------------------------------------------------
GOOD = "1.2.826.0.1.3680043.10.88.1"
MIRRORED = "1.2.826.0.1.3680043.10.88.2"
STUDY = "1.2.826.0.1.3680043.10.88.100"
FRAME = "1.2.826.0.1.3680043.10.88.101"
BAD_SERIES = {
    "1.2.826.0.1.3680043.10.88.11": ("not a CT series (Modality 'MR')", {"modality": "MR"}),
    "1.2.826.0.1.3680043.10.88.12": ("1 slice(s)", {"slices": 1}),
    "1.2.826.0.1.3680043.10.88.13": ("a localizer", {"image_type": "LOCALIZER"}),
    "1.2.826.0.1.3680043.10.88.14": ("no usable volume geometry", {"geometry": False}),
    "1.2.826.0.1.3680043.10.88.15": ("undecodable", {"broken_pixels": True}),
}  # fmt: skip


def write_small_series(
    folder: Path, uid: str, *, slices: int = 3, modality: str = "CT", image_type: str = "AXIAL",
    geometry: bool = True, broken_pixels: bool = False,
) -> None:  # fmt: skip
    """A small series of 32 x 32 slices, made to be refused one way or another."""
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(slices):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        sop_class = CTImageStorage if modality == "CT" else MRImageStorage
        ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = sop_class
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = f"{uid}.{k + 1}"
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = STUDY, uid, FRAME
        ds.PatientID, ds.Modality, ds.InstanceNumber = "MASKS1", modality, k + 1
        ds.ImageType = ["ORIGINAL", "PRIMARY", image_type]
        if geometry:
            ds.ImagePositionPatient = [0.0, 0.0, 3.0 * k]
        ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        ds.PixelSpacing = [1.0, 1.0]
        ds.Rows = ds.Columns = 32
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleIntercept, ds.RescaleSlope = 0, 1
        pixels = np.full((32, 32), -1000, dtype=np.int16)
        pixels[8:24, 8:24] = 40
        ds.PixelData = pixels.tobytes()[: 100 if broken_pixels else None]
        ds.save_as(folder / f"{k:03d}.dcm", enforce_file_format=True)


@pytest.fixture(scope="module")
def annotated(tmp_path_factory: pytest.TempPathFactory, abdomen: dict[str, Any]) -> dict[str, Any]:
    """The abdomen CT as DICOM twice (as stored in the NIfTI, and with mirrored columns,
    reversed slice direction and instance numbers), the bad series, one run over all."""
    folder = tmp_path_factory.mktemp("ct-masks")
    files = folder / "files"
    hu, affine = abdomen["hu"], abdomen["affine"]
    bench.write_ct_series(files / "good", hu, affine, series_uid=GOOD, study_uid=STUDY,
                          frame_uid=FRAME)  # fmt: skip
    mirrored, mirrored_affine = bench.flip_volume(*bench.flip_volume(hu, affine, 2), 0)
    bench.write_ct_series(files / "mirrored", mirrored, mirrored_affine, series_uid=MIRRORED,
                          study_uid=STUDY, frame_uid=FRAME, reverse_numbers=True)  # fmt: skip
    for uid, (_, options) in BAD_SERIES.items():
        write_small_series(files / uid, uid, **options)
    catalog = open_catalog(f"sqlite:///{folder / 'c.sqlite'}")
    ingest([files], catalog, workers=1)
    home = folder / "home"
    job = workflow_job(CTMasks(), WorkflowSelection(query="*"), {}, home=str(home))
    record = run_job(catalog, WORKFLOW_KIND, job)
    return {"catalog": catalog, "record": record, "home": home, "folder": folder}


def test_registered() -> None:
    assert isinstance(default_registry().get("annotate-ct-masks"), CTMasks)
    with pytest.raises(WorkflowParamsError, match="structures"):
        CTMasks.parse_params({"structures": ["liver"]})


def test_results_on_the_source_series(annotated: dict[str, Any]) -> None:
    catalog: CatalogBackend = annotated["catalog"]
    record = annotated["record"]
    assert record.state == "done" and record.result is not None
    assert record.result["processed"] == 2 and record.result["failed"] == len(BAD_SERIES)
    ai = catalog.results(GOOD)["ai"]
    assert ai["structures"] == ["body", "lung_left", "lung_right", "bone", "subcutaneous_fat"]
    assert set(ai["volume_ml"]) == set(ai["structures"])
    assert ai["volume_ml"]["lung_left"] == pytest.approx(41.3, abs=1.0)
    assert ai["lung_ml_ratio_lr"] == pytest.approx(41.3 / 71.7, abs=0.02)
    assert catalog.series_uids("ai.volume_ml.lung_left:>30") == sorted([GOOD, MIRRORED])
    seg = catalog.series_document(ai["seg_series"])
    assert seg is not None and seg["Modality"] == "SEG"
    assert GOOD in seg["referenced_series"]


def test_bad_input_gets_a_reason_per_series(annotated: dict[str, Any]) -> None:
    count, errors = annotated["catalog"].job_errors(annotated["record"].id)
    reasons = dict(errors)
    assert count == len(BAD_SERIES)
    for uid, (reason, _) in BAD_SERIES.items():
        assert reason in reasons[uid], reasons[uid]


def test_orientation_end_to_end(annotated: dict[str, Any]) -> None:
    """Mirrored columns, slices stored head to feet and reversed instance numbers: the same
    volumes within 1 %, the same lung on each side."""
    catalog: CatalogBackend = annotated["catalog"]
    good, mirrored = catalog.results(GOOD)["ai"], catalog.results(MIRRORED)["ai"]
    assert mirrored["structures"] == good["structures"]
    for name, volume in good["volume_ml"].items():
        assert mirrored["volume_ml"][name] == pytest.approx(volume, rel=0.01), name


def test_seg_reads_back_and_sits_on_the_right_voxels(annotated: dict[str, Any]) -> None:
    catalog: CatalogBackend = annotated["catalog"]
    seg_uid = catalog.results(GOOD)["ai"]["seg_series"]
    (record,) = catalog.instances(seg_uid)
    assert Path(record.location).is_relative_to(annotated["home"] / "store")
    seg = hd.seg.segread(record.location)
    source = catalog.instances(GOOD)
    assert seg.FrameOfReferenceUID == FRAME and seg.StudyInstanceUID == STUDY
    referenced = {
        str(item.ReferencedSOPInstanceUID)
        for series in seg.ReferencedSeriesSequence
        for item in series.ReferencedInstanceSequence
    }
    assert referenced == {r.sop_uid for r in source}
    labels = [str(s.SegmentLabel) for s in seg.SegmentSequence]
    assert labels == ["Body", "Left lung", "Right lung", "Bone", "Subcutaneous fat"]
    left = seg.SegmentSequence[1].SegmentedPropertyTypeCodeSequence[0]
    assert (left.CodeValue, left.CodingSchemeDesignator) == ("39607008", "SCT")
    assert left.SegmentedPropertyTypeModifierCodeSequence[0].CodeValue == "7771000"  # left
    bone = seg.SegmentSequence[3]
    assert bone.SegmentedPropertyTypeCodeSequence[0].CodeValue == "272673000"
    algorithm = bone.SegmentationAlgorithmIdentificationSequence[0]
    assert "radcurate" in algorithm.AlgorithmName and algorithm.AlgorithmVersion == "1"
    # decoded through radcurate's own SEG reader, on the CT's grid
    label_volume = seg_label_volume(catalog, seg_uid)
    hu = series_volume(catalog, GOOD).array
    assert label_volume.array.shape == hu.shape
    for number in (2, 3):  # the lungs (higher segment numbers win over the body)
        assert hu[label_volume.array == number].mean() < -500
    assert hu[label_volume.array == 4].mean() > 150
    fat = hu[label_volume.array == 5]
    assert fat.min() >= -190 and fat.max() <= -30


def test_rerun_does_nothing(annotated: dict[str, Any]) -> None:
    catalog: CatalogBackend = annotated["catalog"]
    seg_uid = catalog.results(GOOD)["ai"]["seg_series"]
    (before,) = catalog.instances(seg_uid)
    stat = os.stat(before.location)
    selection = WorkflowSelection(uids=(GOOD,))
    home = str(annotated["home"])
    again = run_job(catalog, WORKFLOW_KIND, workflow_job(CTMasks(), selection, {}, home=home))
    assert again.result is not None and again.result["skipped"] == 1
    forced = run_job(
        catalog, WORKFLOW_KIND, workflow_job(CTMasks(), selection, {}, force=True, home=home)
    )
    assert forced.result is not None and forced.result["processed"] == 1
    (after,) = catalog.instances(seg_uid)
    assert after.location == before.location
    assert os.stat(after.location).st_mtime_ns == stat.st_mtime_ns
    assert sorted(p.name for p in Path(before.location).parent.iterdir()) == [
        Path(before.location).name
    ]
    # other parameters: another Segmentation series beside the first
    other = run_job(
        catalog, WORKFLOW_KIND,
        workflow_job(CTMasks(), selection, {"structures": ["body", "bone"]}, home=home),
    )  # fmt: skip
    assert other.result is not None and other.result["processed"] == 1
    ai = catalog.results(GOOD)["ai"]
    assert ai["structures"] == ["body", "bone"] and ai["seg_series"] != seg_uid
    assert "lung_ml_ratio_lr" not in ai


def test_segmentation_is_byte_for_byte_reproducible(annotated: dict[str, Any]) -> None:
    catalog: CatalogBackend = annotated["catalog"]
    item = SeriesItem(catalog, GOOD)
    geometry = volume_geometry(item.series_input())
    sources = [read_dataset(r.location, pixels=False) for r in geometry.records]
    volume = series_volume(catalog, GOOD)
    masks = compute_masks(volume.array, volume.affine, ("body", "bone"))
    frames = mask_frames(masks, ["body", "bone"], list(range(len(sources))))
    identity = SegIdentity("annotate-ct-masks", "1", "hash", GOOD)
    written = []
    for n in range(2):
        seg = build_segmentation(sources, frames, ordered(["body", "bone"]), identity)
        path = annotated["folder"] / f"seg{n}.dcm"
        seg.save_as(path, enforce_file_format=True)
        written.append(dataset_bytes(path.read_bytes()))
    assert written[0] == written[1]
    assert identity.series_uid == SegIdentity("annotate-ct-masks", "1", "hash", GOOD).series_uid
    assert identity.series_uid != SegIdentity("annotate-ct-masks", "2", "hash", GOOD).series_uid


def test_params_reach_the_rules() -> None:
    params = CTMasks.parse_params({"lung_hu": -500, "structures": ["body"]})
    assert isinstance(params, CTMasksParams) and params.lung_hu == -500
