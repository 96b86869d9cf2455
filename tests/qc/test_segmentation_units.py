"""The pieces of ``qc-segmentation``: polygon filling, components and fragments, Otsu's
threshold, overlaps of cropped labels, bit-packed frames, the checks it declares, its
parameters, LABELMAP and FRACTIONAL segmentations, and a re-run once the source arrives."""

from __future__ import annotations

from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest
from pydicom.sr.codedict import codes

from radcurate.analyze.qc_seg_contours import fill_polygons
from radcurate.analyze.qc_seg_masks import LabelMask, unique_labels
from radcurate.analyze.qc_seg_measures import (
    Components,
    components_of,
    otsu_threshold,
    outside_fraction,
    overlaps,
)
from radcurate.analyze.qc_segmentation import SegmentationQC
from radcurate.catalog import open_catalog
from radcurate.imaging.frames import decode_frame
from radcurate.ingest import ingest
from radcurate.jobs import run_job
from radcurate.jobs.workflows import WORKFLOW_KIND, workflow_job
from radcurate.query.parser import parse
from radcurate.workflow import WorkflowSelection
from radcurate.workflow.step import WorkflowParamsError
from tests.qc.test_segmentation_cases import (
    CT,
    GHOST,
    LIVER,
    MISSING_SEG,
    ROOT_UID,
    SPLEEN,
    VOXEL_ML,
    ct_slices,
    make_seg,
    save,
)

SQUARE = np.array([[1.0, 1.0], [4.0, 1.0], [4.0, 4.0], [1.0, 4.0]])  # (column, row)


# -- polygons --------------------------------------------------------------------------------
def test_square_through_pixel_centres() -> None:
    row0, col0, mask = fill_polygons([SQUARE], (8, 8))
    assert (row0, col0, mask.shape, int(mask.sum())) == (1, 2, (3, 3), 9)


def test_nested_contours_make_a_hole() -> None:
    outer = np.array([[0.5, 0.5], [9.5, 0.5], [9.5, 9.5], [0.5, 9.5]])
    inner = np.array([[3.5, 3.5], [6.5, 3.5], [6.5, 6.5], [3.5, 6.5]])
    _, _, solid = fill_polygons([outer], (12, 12))
    _, _, holed = fill_polygons([outer, inner], (12, 12))
    assert int(solid.sum()) == 81 and int(holed.sum()) == 81 - 9


def test_shared_edge_is_drawn_once() -> None:
    """Two ROIs along one edge through pixel centres: each centre on it goes to one side."""
    plane = np.zeros((10, 10), dtype=int)
    for polygon in (
        np.array([[0.0, 0.0], [5.0, 0.0], [5.0, 8.0], [0.0, 8.0]]),
        np.array([[5.0, 0.0], [9.0, 0.0], [9.0, 8.0], [5.0, 8.0]]),
    ):
        row0, col0, mask = fill_polygons([polygon], plane.shape)
        plane[row0 : row0 + mask.shape[0], col0 : col0 + mask.shape[1]] += mask
    assert plane.max() == 1 and int(plane.sum()) == 8 * 9


def test_triangle_and_clipping() -> None:
    triangle = np.array([[0.0, 0.0], [40.0, 0.0], [0.0, 40.0]])
    _, _, mask = fill_polygons([triangle], (64, 64))
    assert abs(int(mask.sum()) - 800) <= 40  # area 800 pixels, edges half in
    row0, col0, clipped = fill_polygons([SQUARE * 10 - 20], (8, 8))  # -10..20: most outside
    assert (row0, col0, clipped.shape, bool(clipped.all())) == (0, 0, (8, 8), True)
    assert fill_polygons([SQUARE + 50], (8, 8))[2].size == 0  # wholly outside


# -- components, body, overlaps --------------------------------------------------------------
def test_corners_touching_are_one_component() -> None:
    """26-connectivity: voxels meeting at a corner only are connected."""
    mask = np.zeros((6, 6, 6), dtype=bool)
    mask[1, 1, 1] = mask[2, 2, 2] = mask[3, 3, 3] = True
    assert components_of(LabelMask("x", 1, mask=mask), (6, 6, 6), 1.0, 0.0, 0.5).count == 1


@pytest.mark.parametrize(
    ("stray_ml", "min_ml", "ratio", "fragments"),
    [
        (2.0, 0.5, 0.2, 1),  # a stray piece
        (2.0, 5.0, 0.2, 0),  # a speck below the tolerance
        (2.0, 0.5, 0.01, 0),  # big enough to be a part of a many-part structure
    ],
)
def test_fragment_tolerances(stray_ml: float, min_ml: float, ratio: float, fragments: int) -> None:
    mask = np.zeros((20, 20, 40), dtype=bool)
    mask[2:18, 2:18, 2:18] = True  # 4096 voxels of 0.01 ml: 40.96 ml
    size = round((stray_ml / 0.01) ** (1 / 3))
    mask[5 : 5 + size, 5 : 5 + size, 25 : 25 + size] = True
    found = components_of(LabelMask("x", 1, mask=mask), (20, 20, 40), 0.01, min_ml, ratio)
    assert found.count == 2 and found.fragments == fragments


def test_a_piece_at_the_edge_of_the_volume_is_cut_not_stray() -> None:
    mask = np.zeros((10, 10, 10), dtype=bool)
    mask[2:8, 2:8, 2:8] = True
    mask[0, 0:2, 0:2] = True  # on the first slice of the grid
    label = LabelMask("x", 1, mask=mask)
    assert components_of(label, (10, 10, 10), 1.0, 1.0, 0.5) == Components(2, 0)
    # the same crop placed away from the grid's faces: now it is a stray piece
    inside = LabelMask("x", 1, offset=(3, 3, 3), mask=mask)
    assert components_of(inside, (20, 20, 20), 1.0, 1.0, 0.5).fragments == 1


def test_otsu_splits_two_populations() -> None:
    rng = np.random.default_rng(1)
    low, high = rng.normal(10, 3, 5000), rng.normal(300, 40, 3000)
    threshold = otsu_threshold(np.concatenate([low, high]))
    assert low.max() < threshold < high.min()  # the gap, whatever its width
    assert otsu_threshold(np.full(10, 7.0)) == 7.0


def test_overlaps_and_outside_on_crops() -> None:
    """Labels are compared where their bounding boxes meet (offsets honoured)."""
    a = LabelMask("a", 1, offset=(0, 0, 0), mask=np.ones((4, 4, 4), dtype=bool))
    b = LabelMask("b", 2, offset=(2, 2, 2), mask=np.ones((4, 4, 4), dtype=bool))
    c = LabelMask("c", 3, offset=(10, 10, 10), mask=np.ones((2, 2, 2), dtype=bool))
    body = LabelMask("BODY", 4, container=True, mask=np.ones((12, 12, 12), dtype=bool))
    found = overlaps([a, b, c, body])
    assert [(o.first, o.second, o.voxels, o.fraction) for o in found] == [("a", "b", 8, 0.125)]
    inside = np.zeros((12, 12, 12), dtype=bool)
    inside[:4, :4, :4] = True
    assert outside_fraction(a, inside) == 0.0 and outside_fraction(b, inside) == 56 / 64
    assert outside_fraction(LabelMask("e", 5), inside) == 0.0


def test_labels_are_unique() -> None:
    assert unique_labels([(1, "Liver"), (2, " "), (3, "Liver")]) == {
        1: "Liver", 2: "segment 2", 3: "Liver #3",
    }  # fmt: skip


# -- bit-packed frames (imaging.frames) ------------------------------------------------------
def test_frames_that_do_not_fill_whole_bytes_decode(tmp_path: Path) -> None:
    """7 x 9 = 63 bits a frame: every frame starts inside a byte (pydicom 3.0.2 fails
    from the second); decoded alone, each equals its part of the whole array."""
    sources = ct_slices(f"{ROOT_UID}.90", 5)
    for ds in sources:
        ds.Rows, ds.Columns = 7, 9
        ds.PixelData = np.zeros((7, 9), dtype=np.int16).tobytes()
    mask = np.random.default_rng(0).random((5, 7, 9)) > 0.5
    path = tmp_path / "odd.dcm"
    make_seg(sources, f"{ROOT_UID}.91", {"a": mask, "b": ~mask}).save_as(path)
    whole = pydicom.dcmread(path).pixel_array
    ds = pydicom.dcmread(path)
    deferred = pydicom.dcmread(path, defer_size=16)
    for k in range(whole.shape[0]):
        assert np.array_equal(decode_frame(ds, k), whole[k])
        assert np.array_equal(decode_frame(deferred, k, str(path)), whole[k])


# -- declarations and parameters ------------------------------------------------------------
def test_checks_are_declared_for_the_qc_panel() -> None:
    fields = [c.field for c in SegmentationQC.checks]
    assert len(fields) == len(set(fields)) == 9
    for check in SegmentationQC.checks:
        assert check.field.startswith("qc.segmentation.") and check.family == "segmentation"
        assert check.meaning and check.title and check.severity in ("error", "warning")
        assert check.fails.startswith(check.field + ":")
        parse(check.fails)  # a valid query
    assert SegmentationQC.modalities == ("SEG", "RTSTRUCT")


def test_bad_parameters_are_named() -> None:
    with pytest.raises(WorkflowParamsError, match="fragment_ratio"):
        SegmentationQC.parse_params({"fragment_ratio": 0})
    with pytest.raises(WorkflowParamsError, match="volume_tolerance"):
        SegmentationQC.parse_params({"volume_tolerance": 1})
    assert SegmentationQC.parse_params({"outside_body_tolerance": 0.2}) is not None


# -- other segmentation types, and a source that arrives later -----------------------------
def _seg_of_type(sources: list[pydicom.Dataset], uid: str, kind: str) -> hd.seg.Segmentation:
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
        for n, label in ((1, "Liver"), (2, "Spleen"))
    ]
    if kind == "LABELMAP":
        pixels = (LIVER * 1 + SPLEEN * 2).astype(np.uint8)
    else:  # FRACTIONAL: the liver at 0.75 (in), a rim at 0.25 (out)
        rim = np.roll(LIVER, 3, axis=2) & ~LIVER
        pixels = np.stack([LIVER * 0.75 + rim * 0.25, SPLEEN * 1.0], axis=-1).astype(np.float32)
    return hd.seg.Segmentation(
        source_images=sources, pixel_array=pixels, segmentation_type=kind,
        segment_descriptions=descriptions, series_instance_uid=uid, series_number=301,
        sop_instance_uid=f"{uid}.1", instance_number=1, manufacturer="radcurate tests",
        manufacturer_model_name="qc", software_versions="1", device_serial_number="1",
    )  # fmt: skip


def test_labelmap_and_fractional_segmentations(tmp_path: Path) -> None:
    sources = ct_slices(CT)
    save(sources, tmp_path / "files" / "ct")
    uids = {"LABELMAP": f"{ROOT_UID}.92", "FRACTIONAL": f"{ROOT_UID}.93"}
    for kind, uid in uids.items():
        _seg_of_type(sources, uid, kind).save_as(tmp_path / "files" / f"{kind}.dcm")
    with open_catalog(f"sqlite:///{tmp_path / 'c.sqlite'}") as catalog:
        ingest([tmp_path / "files"], catalog, workers=1)
        record = run_job(catalog, WORKFLOW_KIND, workflow_job(
            SegmentationQC(), WorkflowSelection(uids=tuple(uids.values())), {}))  # fmt: skip
        assert record.result is not None, catalog.job_errors(record.id)
        assert record.result["processed"] == 2, catalog.job_errors(record.id)
        for uid in uids.values():
            qc = catalog.results(uid)["qc"]["segmentation"]
            assert qc["volume_ml"] == {"Liver": pytest.approx(720 * VOXEL_ML),
                                       "Spleen": pytest.approx(216 * VOXEL_ML)}  # fmt: skip
            assert qc["overlaps"] == [] and qc["geometry_mismatch"] is False


def test_source_ingested_later_is_picked_up(tmp_path: Path) -> None:
    """The input hash covers the referenced series: once the missing source is ingested, a
    plain re-run (not forced) measures the segmentation against it."""
    ghost = ct_slices(GHOST)
    (tmp_path / "seg").mkdir()
    make_seg(ghost, MISSING_SEG, {"Liver": LIVER}).save_as(tmp_path / "seg" / "seg.dcm")
    with open_catalog(f"sqlite:///{tmp_path / 'c.sqlite'}") as catalog:
        ingest([tmp_path / "seg"], catalog, workers=1)
        selection = WorkflowSelection(uids=(MISSING_SEG,))
        first = run_job(catalog, WORKFLOW_KIND, workflow_job(SegmentationQC(), selection, {}))
        assert first.result is not None and first.result["processed"] == 1
        assert catalog.results(MISSING_SEG)["qc"]["segmentation"]["source_missing"] is True
        same = run_job(catalog, WORKFLOW_KIND, workflow_job(SegmentationQC(), selection, {}))
        assert same.result is not None and same.result["skipped"] == 1
        save(ghost, tmp_path / "ghost")
        ingest([tmp_path / "ghost"], catalog, workers=1)
        again = run_job(catalog, WORKFLOW_KIND, workflow_job(SegmentationQC(), selection, {}))
        assert again.result is not None and again.result["processed"] == 1
        qc = catalog.results(MISSING_SEG)["qc"]["segmentation"]
        assert qc["source_missing"] is False and qc["source_series"] == GHOST
        assert qc["volume_ml"] == {"Liver": pytest.approx(720 * VOXEL_ML)}


def test_docs_describe_every_check_and_parameter() -> None:
    """docs/qc-segmentation.md names each check's field and failing query, and each
    parameter with its default."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "qc-segmentation.md").read_text()
    for check in SegmentationQC.checks:
        assert f"`{check.field.rsplit('.', 1)[1]}`" in text and f"`{check.fails}`" in text
    defaults = SegmentationQC.parse_params({}).model_dump()
    for name, value in defaults.items():
        shown = f"{value:g}".replace("-", "−")
        assert f"| `{name}` | {shown} |" in text, name
