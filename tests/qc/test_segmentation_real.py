"""``qc-segmentation`` on real scans and segmentations someone else drew: TotalSegmentator
2.18.0's reference files (Apache-2.0, fetched once by ``tests/reference_data.py``).

- the abdomen CT crop ``example_ct_sm`` (30 x 3 mm) with its reference label map
  ``example_seg`` (41 classes in view), written as DICOM CT and a DICOM-SEG of every class;
- the same CT with a bad segmentation made from the reference: the liver with a stray piece
  (a 1.7 ml cube in the left kidney) and a cube of air beside the patient;
- the masks ``annotate-ct-masks`` writes for that CT;
- the abdominal MR crop ``example_mr_sm`` (20 x 3 mm) with its 23-class reference
  ``example_seg_mr`` (body by Otsu's threshold).

Volumes are checked against the label maps' own voxel counts; what the checks found on the
reference segmentations is asserted as measured (docs/qc-segmentation.md has the figures).
"""

from __future__ import annotations

import ast
import importlib.util
import tarfile
from pathlib import Path
from types import ModuleType
from typing import Any

import highdicom as hd
import numpy as np
import numpy.typing as npt
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sr.codedict import codes
from pydicom.uid import UID, ExplicitVRLittleEndian, MRImageStorage

from radcurate.analyze.ct_masks import CTMasks
from radcurate.analyze.qc_segmentation import SegmentationQC
from radcurate.catalog import CatalogBackend, open_catalog
from radcurate.ingest import ingest
from radcurate.jobs import run_job
from radcurate.jobs.workflows import WORKFLOW_KIND, workflow_job
from radcurate.workflow import WorkflowSelection
from tests.reference_data import totalsegmentator_reference

#: the scans are written as DICOM, ingested, annotated and checked once: about 15 s here
pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
F64 = npt.NDArray[np.float64]
ROOT_UID = "1.2.826.0.1.3680043.10.78"
STUDY, CT_FRAME, MR_FRAME = f"{ROOT_UID}.1", f"{ROOT_UID}.2", f"{ROOT_UID}.3"
CT, MR = f"{ROOT_UID}.10", f"{ROOT_UID}.11"
REFERENCE_SEG, BAD_SEG, MR_SEG = f"{ROOT_UID}.20", f"{ROOT_UID}.21", f"{ROOT_UID}.22"
TYPE2 = ("PatientBirthDate", "PatientSex", "StudyID", "AccessionNumber", "ReferringPhysicianName")


def _bench() -> ModuleType:
    """bench/annotate.py: its NIfTI reader and DICOM CT writer."""
    spec = importlib.util.spec_from_file_location("bench_annotate", ROOT / "bench" / "annotate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench = _bench()


def class_names(reference: Path, task: str) -> dict[int, str]:
    """TotalSegmentator's class names of ``task`` (``class_map`` in its map_to_binary.py, read
    from the source distribution the reference files came from)."""
    archive = next((reference.parent / "download").glob("totalsegmentator-*.tar.gz"))
    with tarfile.open(archive) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith("/map_to_binary.py"))
        handle = tar.extractfile(member)
        assert handle is not None
        tree = ast.parse(handle.read().decode())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "class_map":
            names: dict[int, str] = ast.literal_eval(node.value)[task]
            return names
    raise AssertionError("no class_map in map_to_binary.py")


def write_mr_series(folder: Path, values: npt.NDArray[Any], affine: F64) -> None:
    """``values`` (``(slices, rows, columns)``, RAS affine) as MR slices."""
    folder.mkdir(parents=True, exist_ok=True)
    lps = bench.LPS_TO_RAS @ affine
    col_mm, row_mm = float(np.linalg.norm(lps[:3, 0])), float(np.linalg.norm(lps[:3, 1]))
    orientation = [float(v) for v in (*(lps[:3, 0] / col_mm), *(lps[:3, 1] / row_mm))]
    for k in range(values.shape[0]):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = MRImageStorage
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = UID(f"{MR}.{k + 1}")
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = STUDY, MR, MR_FRAME
        ds.PatientID, ds.PatientName, ds.Modality = "SEGQC2", "Seg^Real", "MR"
        ds.StudyDate, ds.StudyTime, ds.SeriesNumber, ds.InstanceNumber = (
            "20240102",
            "1015",
            3,
            k + 1,
        )
        ds.ImagePositionPatient = [float(v) for v in (lps @ [0.0, 0.0, k, 1.0])[:3]]
        ds.ImageOrientationPatient = orientation
        ds.PixelSpacing = [row_mm, col_mm]
        ds.SliceThickness = float(np.linalg.norm(lps[:3, 2]))
        ds.Rows, ds.Columns = values.shape[1], values.shape[2]
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.PixelData = np.asarray(values[k], dtype=np.int16).tobytes()
        ds.save_as(folder / f"{k:04d}.dcm", enforce_file_format=True)


def read_sources(folder: Path) -> list[Dataset]:
    """The slices of a written series in file order, with the Type 2 attributes a SEG copies."""
    sources = [pydicom.dcmread(p) for p in sorted(folder.iterdir())]
    for ds in sources:
        for keyword in TYPE2:
            if keyword not in ds:
                setattr(ds, keyword, None)
    return sources


def write_seg(sources: list[Dataset], uid: str, segments: dict[str, npt.NDArray[np.bool_]],
              path: Path) -> None:  # fmt: skip
    """A BINARY Segmentation of ``segments`` over ``sources`` (frames in their order)."""
    algorithm = hd.AlgorithmIdentificationSequence(
        name="TotalSegmentator reference", family=codes.cid7162.ArtificialIntelligence,
        version="2.18.0",
    )  # fmt: skip
    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=n,
            segment_label=label,
            segmented_property_category=codes.SCT.AnatomicalStructure,
            segmented_property_type=codes.SCT.Organ,
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
            algorithm_identification=algorithm,
        )
        for n, label in enumerate(segments, start=1)
    ]
    seg = hd.seg.Segmentation(
        source_images=sources,
        pixel_array=np.stack(list(segments.values()), axis=-1),
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=uid, series_number=300, sop_instance_uid=f"{uid}.1",
        instance_number=1, manufacturer="TotalSegmentator", manufacturer_model_name="reference",
        software_versions="2.18.0", device_serial_number="1",
    )  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    seg.save_as(path)


def by_class(labels: npt.NDArray[Any], names: dict[int, str]) -> dict[str, npt.NDArray[np.bool_]]:
    return {names[int(v)]: labels == v for v in np.unique(labels) if v}


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Everything written, ingested into one catalog, annotated, and checked in one run."""
    reference = totalsegmentator_reference()
    folder = tmp_path_factory.mktemp("seg-qc-real")
    files = folder / "files"
    hu, affine = bench.nifti(reference / "example_ct_sm.nii.gz")
    labels, _ = bench.nifti(reference / "example_seg.nii.gz")
    bench.write_ct_series(files / "ct", hu, affine, series_uid=CT, study_uid=STUDY,
                          frame_uid=CT_FRAME)  # fmt: skip
    sources = read_sources(files / "ct")  # written slice k as file k: the volume's order
    segments = by_class(labels, class_names(reference, "total"))
    write_seg(sources, REFERENCE_SEG, segments, files / "seg" / "reference.dcm")
    # the bad one: a 4-voxel cube of "liver" in the left kidney, a 10-voxel cube of air
    stray = np.zeros(labels.shape, dtype=bool)
    k, j, i = (round(float(v)) for v in np.argwhere(segments["kidney_left"]).mean(axis=0))
    stray[k - 2 : k + 2, j - 2 : j + 2, i - 2 : i + 2] = True
    air = np.zeros(labels.shape, dtype=bool)
    air[10:20, 88:98, 110:120] = True
    assert hu[air].max() < -900  # a corner of the field of view outside the patient
    bad = {"liver": segments["liver"] | stray, "marker": air, "spleen": segments["spleen"]}
    write_seg(sources, BAD_SEG, bad, files / "seg" / "bad.dcm")
    mr, mr_affine = bench.nifti(reference / "example_mr_sm.nii.gz")
    mr_labels, _ = bench.nifti(reference / "example_seg_mr.nii.gz")
    write_mr_series(files / "mr", mr, mr_affine)
    mr_segments = by_class(mr_labels, class_names(reference, "total_mr"))
    write_seg(read_sources(files / "mr"), MR_SEG, mr_segments, files / "seg" / "mr.dcm")

    catalog = open_catalog(f"sqlite:///{folder / 'c.sqlite'}")
    ingest([files], catalog, workers=1)
    masks = run_job(catalog, WORKFLOW_KIND, workflow_job(
        CTMasks(), WorkflowSelection(uids=(CT,)), {}, home=str(folder / "home")))  # fmt: skip
    assert masks.result is not None and masks.result["processed"] == 1
    record = run_job(catalog, WORKFLOW_KIND, workflow_job(
        SegmentationQC(), WorkflowSelection(query="Modality:SEG"), {}))  # fmt: skip
    voxel_ml = abs(float(np.linalg.det(affine[:3, :3]))) / 1000.0
    mr_voxel_ml = abs(float(np.linalg.det(mr_affine[:3, :3]))) / 1000.0
    return {
        "catalog": catalog, "record": record, "segments": segments, "bad": bad,
        "voxel_ml": voxel_ml, "mr_segments": mr_segments, "mr_voxel_ml": mr_voxel_ml,
        "auto": catalog.results(CT)["ai"]["seg_series"],
    }  # fmt: skip


def qc_of(catalog: CatalogBackend, uid: str) -> dict[str, Any]:
    found: dict[str, Any] = catalog.results(uid)["qc"]["segmentation"]
    return found


def test_every_segmentation_is_checked(real: dict[str, Any]) -> None:
    record = real["record"]
    assert record.result is not None
    errors = real["catalog"].job_errors(record.id)
    assert record.result["processed"] == 4 and record.result["failed"] == 0, errors


def test_reference_segmentation_of_a_real_ct(real: dict[str, Any]) -> None:
    """41 classes: volumes equal to the label map's, no overlap (one label per voxel), all
    inside the body, on the source grid; the costal cartilages (one class for every
    cartilage, some cut small by the crop) are the one class with stray pieces."""
    qc = qc_of(real["catalog"], REFERENCE_SEG)
    segments = real["segments"]
    assert qc["segments"] == len(segments) == 41 and qc["empty_segments"] == 0
    expected = {name: mask.sum() * real["voxel_ml"] for name, mask in segments.items()}
    assert qc["volume_ml"] == pytest.approx(expected, abs=1e-3)
    assert qc["fragmented_labels"] == ["costal_cartilages"]
    assert qc["components"]["colon"] == 2 and qc["components"]["liver"] == 1
    assert qc["overlaps"] == [] and qc["outside_body_max"] == 0.0
    assert qc["geometry_mismatch"] is False and qc["missing_references"] == 0


def test_bad_segmentation_of_a_real_ct(real: dict[str, Any]) -> None:
    qc = qc_of(real["catalog"], BAD_SEG)
    assert qc["components"] == {"liver": 2, "marker": 1, "spleen": 1}
    assert qc["fragmented_labels"] == ["liver"]
    assert qc["outside_body_fraction"]["marker"] == 1.0
    assert qc["outside_body_labels"] == ["marker"]
    assert qc["outside_body_fraction"]["liver"] == qc["outside_body_fraction"]["spleen"] == 0.0


def test_annotator_masks_of_a_real_ct(real: dict[str, Any]) -> None:
    """Body, lungs, bone and fat of ``annotate-ct-masks``: bone and fat are in many pieces
    (tissue classes), nothing is flagged."""
    qc = qc_of(real["catalog"], real["auto"])
    assert qc["components"]["Bone"] > 1 and qc["components"]["Subcutaneous fat"] > 1
    assert qc["fragmented"] == qc["overlap_pairs"] == qc["outside_body_count"] == 0
    assert qc["geometry_mismatch"] is False


def test_reference_segmentation_of_a_real_mr(real: dict[str, Any]) -> None:
    qc = qc_of(real["catalog"], MR_SEG)
    segments = real["mr_segments"]
    assert qc["body_mask"] == "mr-otsu" and qc["segments"] == len(segments) == 23
    expected = {name: mask.sum() * real["mr_voxel_ml"] for name, mask in segments.items()}
    assert qc["volume_ml"] == pytest.approx(expected, abs=1e-3)
    assert qc["outside_body_max"] == 0.0 and qc["overlaps"] == []
    assert qc["geometry_mismatch"] is False
