"""``qc-segmentation`` on segmentations built for each check: a clean SEG, a bad one (a stray
fragment, a label outside the body), an empty segment, overlapping segments, another Frame of
Reference, frames shifted off the source grid, frames beyond the ingested source, a missing
source, a clean and a bad RTSTRUCT, and the masks ``annotate-ct-masks`` writes.

Each object is written for real (highdicom for SEG, pydicom for RTSTRUCT) over a small CT
phantom (a cylinder of soft tissue in air), ingested into a catalog on each engine and run
through the workflow runner once; every check's own failing query must select exactly the
objects built to fail it (and never the clean ones).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import highdicom as hd
import numpy as np
import numpy.typing as npt
import pytest
from click.testing import CliRunner
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.sr.codedict import codes
from pydicom.uid import UID, CTImageStorage, ExplicitVRLittleEndian, RTStructureSetStorage

from radcurate.analyze.ct_masks import CTMasks
from radcurate.analyze.qc_segmentation import SegmentationQC
from radcurate.catalog import CatalogBackend, open_catalog
from radcurate.cli import main
from radcurate.ingest import ingest
from radcurate.jobs import run_job
from radcurate.jobs.workflows import WORKFLOW_KIND, workflow_job
from radcurate.workflow import WorkflowSelection
from radcurate.workflow.registry import default_registry
from tests.conftest import PG_ENV, _drop_database, pg_admin_url

Mask = npt.NDArray[np.bool_]
ROOT_UID = "1.2.826.0.1.3680043.10.77"
STUDY, FRAME, OTHER_FRAME = f"{ROOT_UID}.1", f"{ROOT_UID}.2", f"{ROOT_UID}.3"
CT, GHOST = f"{ROOT_UID}.10", f"{ROOT_UID}.11"
SHAPE = (12, 48, 48)  # slices, rows, columns
SLICE_MM, PIXEL_MM = 2.5, 2.0
VOXEL_ML = SLICE_MM * PIXEL_MM * PIXEL_MM / 1000.0
ORIGIN = (-47.0, -47.0, 0.0)  # LPS of the first pixel of the first slice

CLEAN_SEG, BAD_SEG, EMPTY_SEG, OVERLAP_SEG = (f"{ROOT_UID}.2{n}" for n in range(4))
FOR_SEG, SHIFTED_SEG, BEYOND_SEG, MISSING_SEG = (f"{ROOT_UID}.2{n}" for n in range(4, 8))
CLEAN_RT, BAD_RT = f"{ROOT_UID}.30", f"{ROOT_UID}.31"


def box(k: tuple[int, int], r: tuple[int, int], c: tuple[int, int], slices: int = SHAPE[0]
        ) -> Mask:  # fmt: skip
    """A box of voxels ``[k0, k1) x [r0, r1) x [c0, c1)``."""
    mask = np.zeros((slices, *SHAPE[1:]), dtype=bool)
    mask[k[0] : k[1], r[0] : r[1], c[0] : c[1]] = True
    return mask


LIVER = box((3, 9), (14, 24), (14, 26))  # 6 x 10 x 12 = 720 voxels, inside the body
SPLEEN = box((3, 9), (26, 32), (28, 34))  # 216 voxels
FRAGMENT = box((4, 7), (34, 38), (14, 19))  # 60 voxels = 0.6 ml, clear of the liver
MARKER = box((4, 8), (1, 5), (1, 5))  # in the air of a corner: outside the body
LESION = box((4, 6), (16, 20), (16, 20))  # inside the liver


def ct_slices(series_uid: str, slices: int = SHAPE[0]) -> list[Dataset]:
    """A phantom CT: a cylinder of 40 HU (radius 36 mm) in air, 2 x 2 x 2.5 mm voxels."""
    rows, cols = SHAPE[1:]
    yy, xx = np.mgrid[:rows, :cols]
    inside = (yy - 23.5) ** 2 + (xx - 23.5) ** 2 < 18**2
    pixels = np.where(inside, 40, -1000).astype(np.int16)
    out = []
    for k in range(slices):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = UID(f"{series_uid}.{k + 1}")
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = (
            STUDY, series_uid, FRAME,
        )  # fmt: skip
        ds.PatientID, ds.PatientName, ds.PatientBirthDate, ds.PatientSex = (
            "SEGQC1",
            "Seg^Qc",
            "",
            "",
        )
        ds.StudyDate, ds.StudyTime, ds.StudyID, ds.AccessionNumber = "20240301", "090000", "1", ""
        ds.ReferringPhysicianName = ""
        ds.Modality, ds.SeriesNumber, ds.InstanceNumber = "CT", 2, k + 1
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.ImagePositionPatient = [ORIGIN[0], ORIGIN[1], ORIGIN[2] + SLICE_MM * k]
        ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        ds.PixelSpacing, ds.SliceThickness = [PIXEL_MM, PIXEL_MM], SLICE_MM
        ds.Rows, ds.Columns = rows, cols
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleIntercept, ds.RescaleSlope = 0, 1
        ds.PixelData = pixels.tobytes()
        out.append(ds)
    return out


def save(datasets: list[Dataset], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for n, ds in enumerate(datasets):
        ds.save_as(folder / f"{n:03d}.dcm", enforce_file_format=True)


def make_seg(sources: list[Dataset], uid: str, segments: dict[str, Mask]) -> hd.seg.Segmentation:
    """A BINARY Segmentation of ``segments`` (``(slices, rows, columns)`` each, in the order of
    ``sources``), numbered from 1; empty frames left out as highdicom does by default."""
    algorithm = hd.AlgorithmIdentificationSequence(
        name="qc test", family=codes.cid7162.ArtificialIntelligence, version="1"
    )
    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=n,
            segment_label=label,
            segmented_property_category=codes.SCT.Organ,
            segmented_property_type=codes.SCT.Organ,
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
            algorithm_identification=algorithm,
        )
        for n, label in enumerate(segments, start=1)
    ]
    return hd.seg.Segmentation(
        source_images=sources,
        pixel_array=np.stack(list(segments.values()), axis=-1),
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=uid, series_number=300, sop_instance_uid=f"{uid}.1",
        instance_number=1, manufacturer="radcurate tests", manufacturer_model_name="qc",
        software_versions="1", device_serial_number="1",
    )  # fmt: skip


#: what an RTSTRUCT copies from its images
PATIENT_STUDY = ("PatientID", "PatientName", "PatientBirthDate", "PatientSex", "StudyDate",
                 "StudyTime", "StudyID", "AccessionNumber", "ReferringPhysicianName")  # fmt: skip


def _image_ref(uid: str) -> Dataset:
    item = Dataset()
    item.ReferencedSOPClassUID, item.ReferencedSOPInstanceUID = CTImageStorage, uid
    return item


def make_rtstruct(
    sources: list[Dataset], uid: str, rois: dict[str, list[tuple[int, int, int, int, int]]], *,
    external: tuple[str, ...] = (), frame: str = FRAME,
) -> Dataset:  # fmt: skip
    """An RT Structure Set over ``sources``: each ROI a list of squares ``(slice, r0, c0, r1,
    c1)`` drawn through the pixel centres of those corners (an ROI with no squares is declared
    without contours)."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = RTStructureSetStorage
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = UID(f"{uid}.1")
    first = sources[0]
    for keyword in PATIENT_STUDY:
        setattr(ds, keyword, first.get(keyword))
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.Modality = STUDY, uid, "RTSTRUCT"
    ds.SeriesNumber, ds.InstanceNumber, ds.FrameOfReferenceUID = 400, 1, frame
    ds.StructureSetLabel, ds.StructureSetDate, ds.StructureSetTime = "QC", "20240301", "100000"
    series = Dataset()
    series.SeriesInstanceUID = first.SeriesInstanceUID
    series.ContourImageSequence = Sequence([_image_ref(s.SOPInstanceUID) for s in sources])
    study = Dataset()
    study.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.3.1"
    study.ReferencedSOPInstanceUID = STUDY
    study.RTReferencedSeriesSequence = Sequence([series])
    referenced_frame = Dataset()
    referenced_frame.FrameOfReferenceUID = frame
    referenced_frame.RTReferencedStudySequence = Sequence([study])
    ds.ReferencedFrameOfReferenceSequence = Sequence([referenced_frame])
    roi_items, contour_items, observations = [], [], []
    for number, (name, squares) in enumerate(rois.items(), start=1):
        roi = Dataset()
        roi.ROINumber, roi.ReferencedFrameOfReferenceUID, roi.ROIName = number, frame, name
        roi.ROIGenerationAlgorithm = "MANUAL"
        roi_items.append(roi)
        observation = Dataset()
        observation.ObservationNumber, observation.ReferencedROINumber = number, number
        observation.RTROIInterpretedType = "EXTERNAL" if name in external else "ORGAN"
        observation.ROIInterpreter = ""
        observations.append(observation)
        if not squares:
            continue
        contours = []
        for k, r0, c0, r1, c1 in squares:
            z = ORIGIN[2] + SLICE_MM * k
            corners = [(r0, c0), (r0, c1), (r1, c1), (r1, c0)]
            points = [[ORIGIN[0] + c * PIXEL_MM, ORIGIN[1] + r * PIXEL_MM, z] for r, c in corners]
            contour = Dataset()
            contour.ContourImageSequence = Sequence([_image_ref(sources[k].SOPInstanceUID)])
            contour.ContourGeometricType, contour.NumberOfContourPoints = "CLOSED_PLANAR", 4
            contour.ContourData = [v for point in points for v in point]
            contours.append(contour)
        item = Dataset()
        item.ROIDisplayColor, item.ReferencedROINumber = [255, 0, 0], number
        item.ContourSequence = Sequence(contours)
        contour_items.append(item)
    ds.StructureSetROISequence = Sequence(roi_items)
    ds.ROIContourSequence = Sequence(contour_items)
    ds.RTROIObservationsSequence = Sequence(observations)
    return ds


def squares(k: tuple[int, int], r: tuple[int, int], c: tuple[int, int]
            ) -> list[tuple[int, int, int, int, int]]:  # fmt: skip
    """One square per slice of ``[k0, k1)``; it fills rows ``[r0, r1)`` and columns
    ``(c0, c1]`` (pixel centres on its left and bottom edges are outside)."""
    return [(n, r[0], c[0], r[1], c[1]) for n in range(*k)]


def write_cases(folder: Path) -> Path:
    """Every case as files under ``folder/files`` (the source CT included, the ghost CT not)."""
    files = folder / "files"
    sources = ct_slices(CT)
    save(sources, files / "ct")
    segs = {
        CLEAN_SEG: make_seg(sources, CLEAN_SEG, {"Liver": LIVER, "Spleen": SPLEEN}),
        BAD_SEG: make_seg(sources, BAD_SEG, {"Liver": LIVER | FRAGMENT, "Marker": MARKER}),
        EMPTY_SEG: make_seg(sources, EMPTY_SEG, {"Liver": LIVER, "Tumour": box((0, 0), (0, 0),
                                                                              (0, 0))}),
        OVERLAP_SEG: make_seg(sources, OVERLAP_SEG, {"Liver": LIVER, "Lesion": LESION}),
        FOR_SEG: make_seg(sources, FOR_SEG, {"Liver": LIVER}),
        SHIFTED_SEG: make_seg(sources, SHIFTED_SEG, {"Liver": LIVER}),
        MISSING_SEG: make_seg(ct_slices(GHOST), MISSING_SEG, {"Liver": LIVER}),
    }  # fmt: skip
    segs[FOR_SEG].FrameOfReferenceUID = OTHER_FRAME
    for group in segs[SHIFTED_SEG].PerFrameFunctionalGroupsSequence:  # 6 mm = 3 columns right
        position = group.PlanePositionSequence[0]
        position.ImagePositionPatient = [float(position.ImagePositionPatient[0]) + 6.0,
                                         *position.ImagePositionPatient[1:]]  # fmt: skip
    # drawn on a taller version of the source: the catalog holds its first 12 slices only
    taller = ct_slices(CT, slices=16)
    segs[BEYOND_SEG] = make_seg(taller, BEYOND_SEG, {"Liver": box((10, 16), (14, 24), (14, 26),
                                                                  slices=16)})  # fmt: skip
    for uid, seg in segs.items():
        (files / "seg").mkdir(parents=True, exist_ok=True)
        seg.save_as(files / "seg" / f"{uid}.dcm")
    rts = {
        CLEAN_RT: make_rtstruct(sources, CLEAN_RT, {
            "BODY": squares((0, 12), (11, 37), (11, 37)),
            "Liver": squares((3, 9), (14, 24), (14, 26)),
            "Spleen": squares((3, 9), (26, 32), (28, 34)),
        }, external=("BODY",)),
        BAD_RT: make_rtstruct(sources, BAD_RT, {
            "A": squares((3, 9), (14, 24), (14, 26)),
            "B": squares((5, 9), (20, 30), (20, 30)),
            "Empty": [],
        }, frame=OTHER_FRAME),
    }  # fmt: skip
    for uid, rt in rts.items():
        (files / "rt").mkdir(parents=True, exist_ok=True)
        rt.save_as(files / "rt" / f"{uid}.dcm", enforce_file_format=True)
    return files


@pytest.fixture(scope="module")
def case_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_cases(tmp_path_factory.mktemp("seg-qc"))


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def engine_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[str]:  # fmt: skip
    """A fresh catalog on each engine for this module."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('seg-qc-sqlite') / 'c.sqlite'}"
        return
    admin = pg_admin_url()
    if admin is None:
        pytest.skip(f"{PG_ENV} not set (run the suite through scripts/test.sh)")
    import psycopg

    name = f"radcurate_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{admin.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            _drop_database(conn, name)


@pytest.fixture(scope="module")
def checked(case_files: Path, engine_url: str, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[dict[str, Any]]:  # fmt: skip
    """The cases ingested, the CT annotated by ``annotate-ct-masks``, and one run of
    ``qc-segmentation`` over every SEG and RTSTRUCT."""
    home = tmp_path_factory.mktemp("seg-qc-home")
    with open_catalog(engine_url) as catalog:
        ingest([case_files], catalog, workers=1)
        masks = run_job(catalog, WORKFLOW_KIND, workflow_job(
            CTMasks(), WorkflowSelection(uids=(CT,)), {}, home=str(home)))  # fmt: skip
        assert masks.result is not None and masks.result["processed"] == 1
        auto = catalog.results(CT)["ai"]["seg_series"]
        query = WorkflowSelection(query="Modality:(SEG OR RTSTRUCT)")
        record = run_job(catalog, WORKFLOW_KIND, workflow_job(SegmentationQC(), query, {}))
        yield {"catalog": catalog, "record": record, "auto": auto, "home": home}


def qc_of(catalog: CatalogBackend, uid: str) -> dict[str, Any]:
    found: dict[str, Any] = catalog.results(uid)["qc"]["segmentation"]
    return found


def test_every_object_is_checked(checked: dict[str, Any]) -> None:
    record = checked["record"]
    assert record.state == "done" and record.result is not None
    assert record.result["processed"] == 11 and record.result["failed"] == 0


def test_each_check_selects_exactly_its_bad_objects(checked: dict[str, Any]) -> None:
    """Each check's failing query (run by the catalog) finds the objects built to fail it,
    and never the clean SEG, the clean RTSTRUCT or the annotator's masks."""
    expected = {
        "qc.segmentation.source_missing": {MISSING_SEG},
        "qc.segmentation.empty_segments": {EMPTY_SEG, BAD_RT},
        "qc.segmentation.fragmented": {BAD_SEG},
        "qc.segmentation.outside_body_count": {BAD_SEG},
        "qc.segmentation.overlap_pairs": {OVERLAP_SEG, BAD_RT},
        "qc.segmentation.frame_of_reference_mismatch": {FOR_SEG, BAD_RT},
        "qc.segmentation.grid_mismatch": {SHIFTED_SEG, BEYOND_SEG},
        "qc.segmentation.missing_references": {BEYOND_SEG, MISSING_SEG},
        "qc.segmentation.geometry_mismatch": {FOR_SEG, BAD_RT, SHIFTED_SEG, BEYOND_SEG},
    }
    catalog: CatalogBackend = checked["catalog"]
    assert {c.field for c in SegmentationQC.checks} == set(expected)
    for check in SegmentationQC.checks:
        assert set(catalog.series_uids(check.fails)) == expected[check.field], check.field
        assert check.family == "segmentation"


def test_clean_seg_volumes_are_exact(checked: dict[str, Any]) -> None:
    qc = qc_of(checked["catalog"], CLEAN_SEG)
    assert qc["source_series"] == CT and qc["source_missing"] is False
    assert qc["volume_ml"] == {"Liver": pytest.approx(720 * VOXEL_ML),
                               "Spleen": pytest.approx(216 * VOXEL_ML)}  # fmt: skip
    assert qc["components"] == {"Liver": 1, "Spleen": 1} and qc["components_max"] == 1
    assert qc["segments"] == 2 and qc["empty_labels"] == [] and qc["fragmented_labels"] == []
    assert qc["outside_body_fraction"] == {"Liver": 0.0, "Spleen": 0.0}
    assert qc["body_mask"] == "ct>-500hu" and qc["overlaps"] == []
    assert qc["grid_offset_voxels"] == 0.0 and qc["unplaced"] == 0
    assert qc["missing_references"] == 0 and qc["geometry_mismatch"] is False


def test_fragment_and_label_outside_the_body(checked: dict[str, Any]) -> None:
    qc = qc_of(checked["catalog"], BAD_SEG)
    assert qc["components"] == {"Liver": 2, "Marker": 1}
    assert qc["fragmented"] == 1 and qc["fragmented_labels"] == ["Liver"]
    assert qc["outside_body_fraction"] == {"Liver": 0.0, "Marker": 1.0}
    assert qc["outside_body_labels"] == ["Marker"] and qc["outside_body_max"] == 1.0
    assert qc["volume_ml"]["Liver"] == pytest.approx(780 * VOXEL_ML)
    assert qc["geometry_mismatch"] is False


def test_empty_segment(checked: dict[str, Any]) -> None:
    qc = qc_of(checked["catalog"], EMPTY_SEG)
    assert qc["segments"] == 2 and qc["empty_segments"] == 1 and qc["empty_labels"] == ["Tumour"]
    assert qc["volume_ml"] == {"Liver": pytest.approx(720 * VOXEL_ML), "Tumour": 0.0}
    assert "Tumour" not in qc["components"] and "Tumour" not in qc["outside_body_fraction"]


def test_overlapping_segments(checked: dict[str, Any]) -> None:
    qc = qc_of(checked["catalog"], OVERLAP_SEG)
    assert qc["overlaps"] == [{"labels": ["Liver", "Lesion"], "voxels": 32, "fraction": 1.0}]
    assert qc["overlap_pairs"] == 1


def test_other_frame_of_reference(checked: dict[str, Any]) -> None:
    """Only the Frame of Reference differs: the masks are still measured where drawn."""
    qc = qc_of(checked["catalog"], FOR_SEG)
    assert qc["frame_of_reference_mismatch"] is True and qc["geometry_mismatch"] is True
    assert qc["grid_mismatch"] is False and qc["missing_references"] == 0
    assert qc["volume_ml"] == {"Liver": pytest.approx(720 * VOXEL_ML)}


def test_frames_shifted_off_the_source_grid(checked: dict[str, Any]) -> None:
    qc = qc_of(checked["catalog"], SHIFTED_SEG)
    assert qc["grid_offset_voxels"] == pytest.approx(3.0, abs=1e-3)
    assert qc["grid_mismatch"] is True and qc["unplaced"] == 0
    assert qc["frame_of_reference_mismatch"] is False


def test_frames_beyond_the_source_volume(checked: dict[str, Any]) -> None:
    """Drawn on 16 slices of which the catalog holds 12: the frames on the 4 others lie on
    no source slice, and the 4 images they name are missing."""
    qc = qc_of(checked["catalog"], BEYOND_SEG)
    assert qc["unplaced"] == 4 and qc["outside_grid_fraction"] == pytest.approx(4 / 6, abs=1e-4)
    assert qc["missing_references"] == 4 and qc["grid_mismatch"] is True
    assert qc["volume_ml"] == {"Liver": pytest.approx(240 * VOXEL_ML)}  # the 2 slices inside


def test_source_not_ingested(checked: dict[str, Any]) -> None:
    qc = qc_of(checked["catalog"], MISSING_SEG)
    assert qc["source_missing"] is True and qc["source_series"] == GHOST
    assert qc["segments"] == 1 and qc["empty_segments"] == 0
    assert qc["missing_references"] == SHAPE[0]
    assert "volume_ml" not in qc and "geometry_mismatch" not in qc


def test_clean_rtstruct(checked: dict[str, Any]) -> None:
    """Squares through pixel centres fill (r1 - r0) x (c1 - c0) pixels per slice; the EXTERNAL
    body outline holds the organs without counting as an overlap."""
    qc = qc_of(checked["catalog"], CLEAN_RT)
    assert qc["source_series"] == CT and qc["segments"] == 3
    assert qc["volume_ml"] == {
        "BODY": pytest.approx(12 * 26 * 26 * VOXEL_ML),
        "Liver": pytest.approx(6 * 10 * 12 * VOXEL_ML),
        "Spleen": pytest.approx(6 * 6 * 6 * VOXEL_ML),
    }
    assert qc["overlaps"] == [] and qc["components"] == {"BODY": 1, "Liver": 1, "Spleen": 1}
    assert max(qc["outside_body_fraction"].values()) < 0.05
    assert qc["frame_of_reference_mismatch"] is False and qc["geometry_mismatch"] is False


def test_bad_rtstruct(checked: dict[str, Any]) -> None:
    qc = qc_of(checked["catalog"], BAD_RT)
    assert qc["empty_labels"] == ["Empty"]
    assert qc["overlaps"] == [{"labels": ["A", "B"], "voxels": 4 * 4 * 6, "fraction": 0.24}]
    assert qc["frame_of_reference_mismatch"] is True and qc["grid_mismatch"] is False


def test_annotator_masks_are_clean(checked: dict[str, Any]) -> None:
    """The SEG ``annotate-ct-masks`` wrote passes, and its body volume is the annotator's."""
    catalog: CatalogBackend = checked["catalog"]
    qc = qc_of(catalog, checked["auto"])
    ai = catalog.results(CT)["ai"]
    assert qc["source_series"] == CT and qc["geometry_mismatch"] is False
    assert qc["volume_ml"]["Body"] == pytest.approx(ai["volume_ml"]["body"], abs=0.05)
    assert qc["fragmented"] == qc["overlap_pairs"] == qc["outside_body_count"] == 0


def test_rerun_skips_and_the_cli_runs_it(checked: dict[str, Any]) -> None:
    catalog: CatalogBackend = checked["catalog"]
    again = run_job(catalog, WORKFLOW_KIND, workflow_job(
        SegmentationQC(), WorkflowSelection(query="Modality:(SEG OR RTSTRUCT)"), {}))  # fmt: skip
    assert again.result is not None and again.result["skipped"] == 11
    env = {"RADCURATE_HOME": str(checked["home"]), "RADCURATE_CATALOG": ""}
    result = CliRunner().invoke(main, ["run", "qc-segmentation", "--series", CLEAN_SEG, "--force",
                                       "--catalog", catalog.url, "--json"], env=env)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["processed"] == 1


def test_not_a_segmentation_is_refused(checked: dict[str, Any]) -> None:
    """The CT itself: the step does not apply, and a run on it records the reason."""
    catalog: CatalogBackend = checked["catalog"]
    step = default_registry().get("qc-segmentation")
    assert isinstance(step, SegmentationQC)
    from radcurate.workflow.step import SeriesItem

    assert not step.applies(SeriesItem(catalog, CT))
    assert step.applies(SeriesItem(catalog, CLEAN_RT)) and step.applies(
        SeriesItem(catalog, BAD_SEG)
    )
    record = run_job(catalog, WORKFLOW_KIND, workflow_job(
        step, WorkflowSelection(uids=(CT,)), {}))  # fmt: skip
    assert record.result is not None and record.result["failed"] == 1
    _, errors = catalog.job_errors(record.id)
    assert "not a SEG or RTSTRUCT series (Modality 'CT')" in dict(errors)[CT]
