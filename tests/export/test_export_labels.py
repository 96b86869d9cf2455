"""Label maps: the even-odd filling against the segmentation QC's, nearest-neighbour placement
of a label grid onto another grid, the label table; MONAI folds; threads change nothing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from radcurate.analyze.qc_seg_contours import fill_polygons
from radcurate.catalog import CatalogBackend
from radcurate.export.job import ExportOptions, export_dataset
from radcurate.export.labels import fill_even_odd, label_table, parse_labels, resample_nearest
from radcurate.export.splits import parse_split


@pytest.mark.parametrize("seed", range(8))
def test_filling_equals_the_segmentation_qc(seed: int) -> None:
    rng = np.random.default_rng(seed)
    shape = (40, 50)
    polygons = []
    for _ in range(rng.integers(1, 4)):
        angles = np.sort(rng.uniform(0, 2 * np.pi, rng.integers(3, 12)))
        radius = rng.uniform(3, 18, len(angles))
        centre = rng.uniform(-5, 50, 2)
        polygons.append(
            np.column_stack(
                [centre[0] + radius * np.cos(angles), centre[1] + radius * np.sin(angles)]
            )
        )
    mine = fill_even_odd(polygons, shape)
    row0, col0, crop = fill_polygons(polygons, shape)
    theirs = np.zeros(shape, dtype=bool)
    theirs[row0 : row0 + crop.shape[0], col0 : col0 + crop.shape[1]] = crop
    assert np.array_equal(mine, theirs)


def test_a_nested_contour_is_a_hole() -> None:
    outer = np.array([[0.0, 0.0], [9.0, 0.0], [9.0, 9.0], [0.0, 9.0]])
    inner = np.array([[3.0, 3.0], [6.0, 3.0], [6.0, 6.0], [3.0, 6.0]])
    filled = fill_even_odd([outer, inner], (12, 12))
    assert filled[1, 1] and not filled[4, 4] and filled[7, 7]
    assert int(filled.sum()) == 81 - 9


def test_resample_places_a_shifted_grid_by_patient_coordinates() -> None:
    source = np.zeros((4, 6, 6), dtype=np.uint8)
    source[1, 2, 3] = 5
    affine = np.diag([2.0, 2.0, 3.0, 1.0])
    same = resample_nearest(source, affine, (4, 6, 6), affine)
    assert same is source
    target = affine.copy()
    target[:3, 3] = [2.0, 0.0, 3.0]  # one column and one slice further on
    moved = resample_nearest(source, affine, (4, 6, 6), target)
    assert moved[0, 2, 2] == 5 and int((moved > 0).sum()) == 1
    finer = np.diag([1.0, 1.0, 3.0, 1.0])
    upsampled = resample_nearest(source, affine, (4, 12, 12), finer)
    assert int((upsampled == 5).sum()) == 4  # one 2x2 mm voxel is four 1x1 mm voxels
    assert int(upsampled[1, 3:5, 5:7].min()) == 5  # centres 5 and 6 mm lie in [5, 7)


def test_label_table_is_consecutive_with_body_outlines_first() -> None:
    table = label_table(
        [("liver", False), ("body", True), ("aorta", False), ("liver", False)], None
    )
    assert table.to_dict() == {"background": 0, "body": 1, "aorta": 2, "liver": 3}
    chosen = label_table([("liver", False)], parse_labels("lung=lung_l+lung_r,liver"))
    assert chosen.to_dict() == {"background": 0, "lung": 1, "liver": 2}
    assert chosen.sources == {"lung_l": 1, "lung_r": 1, "liver": 2}


def test_monai_datalist_has_folds_and_threads_change_no_byte(
    shared_catalog: CatalogBackend, tmp_path: Path
) -> None:
    spec = parse_split(None, folds=2)
    one = ExportOptions("labelled", "monai", tmp_path / "one", spec, workers=1)
    two = ExportOptions("labelled", "monai", tmp_path / "two", spec, workers=4)
    export_dataset(shared_catalog, one)
    export_dataset(shared_catalog, two)
    datalist = json.loads((tmp_path / "one" / "datalist.json").read_text())
    assert sorted(item["fold"] for item in datalist["training"]) == [0, 1]
    assert all((tmp_path / "one" / item["label"]).is_file() for item in datalist["training"])
    assert datalist["validation"] == [] and datalist["test"] == []
    for path in (tmp_path / "one").rglob("*"):
        if path.is_file():
            twin = tmp_path / "two" / path.relative_to(tmp_path / "one")
            assert path.read_bytes() == twin.read_bytes(), path.name
