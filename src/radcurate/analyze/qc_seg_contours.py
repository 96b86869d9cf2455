"""RTSTRUCT contours filled onto the grid of their source series, for the segmentation checks.

Each contour goes on the slice its ContourImageSequence names, else on the slice nearest its
points (within half a spacing) — where the viewer draws it. Its points are mapped into the
source's voxel indices, and the pixels whose centres lie inside are filled by the even-odd
rule over all contours of one ROI on one slice, so a contour inside another makes a hole
(the usual reading of nested RTSTRUCT contours). A pixel centre exactly on an edge belongs to
the polygon on its left, so two ROIs drawn along one shared edge do not overlap.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset

from radcurate.analyze.qc_seg_masks import LabelMask, OnGrid, PlaneParts, unique_labels
from radcurate.imaging.rtstruct import Contour, read_contours
from radcurate.imaging.volume import Geometry

__all__ = ["declared_rois", "fill_polygons", "rtstruct_on_grid"]

Mask = npt.NDArray[np.bool_]
F64 = npt.NDArray[np.float64]


def declared_rois(ds: Dataset) -> list[LabelMask]:
    """The ROIs an RTSTRUCT declares (StructureSetROISequence), without voxels yet; the
    EXTERNAL ones (RTROIObservationsSequence) are containers."""
    items = [i for i in ds.get("StructureSetROISequence") or [] if "ROINumber" in i]
    external = {
        int(item.ReferencedROINumber)
        for item in ds.get("RTROIObservationsSequence") or []
        if "ReferencedROINumber" in item and item.get("RTROIInterpretedType") == "EXTERNAL"
    }
    names = unique_labels(
        (int(item.ROINumber), str(item.get("ROIName", "") or item.ROINumber)) for item in items
    )
    return [LabelMask(names[n], n, n in external) for n in names]


def fill_polygons(polygons: list[F64], shape: tuple[int, int]) -> tuple[int, int, Mask]:
    """The pixels of a ``shape`` plane whose centres lie inside ``polygons`` (even-odd rule).

    Parameters
    ----------
    polygons
        Each ``(n, 2)`` ``(column, row)`` vertices, pixel centres at whole numbers.

    Returns
    -------
    tuple
        ``(row0, col0, mask)``: the filled pixels within their bounding box, whose first pixel
        is ``(row0, col0)`` of the plane.

    Examples
    --------
    >>> square = np.array([[1.0, 1.0], [4.0, 1.0], [4.0, 4.0], [1.0, 4.0]])
    >>> row0, col0, mask = fill_polygons([square], (8, 8))
    >>> row0, col0, int(mask.sum())
    (1, 2, 9)
    """
    rows, cols = shape
    points = np.concatenate(polygons)
    top = max(0, math.ceil(float(points[:, 1].min())))
    bottom = min(rows - 1, math.ceil(float(points[:, 1].max())) - 1)
    left = max(0, math.floor(float(points[:, 0].min())) + 1)
    right = min(cols - 1, math.floor(float(points[:, 0].max())))
    if bottom < top or right < left:
        return 0, 0, np.zeros((0, 0), dtype=bool)
    toggles = np.zeros((bottom - top + 1, right - left + 2), dtype=np.int32)
    for polygon in polygons:
        x0, y0 = polygon[:, 0], polygon[:, 1]
        x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
        low, high = np.minimum(y0, y1), np.maximum(y0, y1)
        first = np.maximum(np.ceil(low), top).astype(np.int64)  # rows r with low <= r < high
        last = np.minimum(np.ceil(high) - 1, bottom).astype(np.int64)
        counts = np.maximum(last - first + 1, 0)
        counts[low == high] = 0  # a horizontal edge crosses no row centre
        if not counts.any():
            continue
        edge = np.repeat(np.arange(len(x0)), counts)
        starts = np.repeat(first - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
        row = starts + np.arange(int(counts.sum()))
        x = x0[edge] + (row - y0[edge]) * (x1[edge] - x0[edge]) / (y1[edge] - y0[edge])
        column = np.clip(np.floor(x).astype(np.int64) + 1 - left, 0, right - left + 1)
        np.add.at(toggles, (row - top, column), 1)
    inside = (np.cumsum(toggles, axis=1)[:, :-1] % 2).astype(bool)
    return top, left, inside


def _place(contour: Contour, index: F64, by_sop: dict[str, int], slices: int) -> int | None:
    """The slice a contour is drawn on: the one it names, else the nearest one to its
    points within half a spacing, else None."""
    named = next((by_sop[u] for u in contour.sop_uids if u in by_sop), None)
    if named is not None:
        return named
    k = float(index[:, 2].mean())
    nearest = round(k)
    return nearest if 0 <= nearest < slices and abs(k - nearest) <= 0.5 else None


def rtstruct_on_grid(ds: Dataset, geometry: Geometry) -> OnGrid:
    """Every ROI of an RTSTRUCT filled on the source grid, with its fit to that grid.

    ``outside_grid_fraction`` is the share of contour points outside the source volume
    (contours on no slice with all their points); ``grid_offset_voxels`` the largest distance
    of a point from the plane of the slice its contour is drawn on (in slices).
    """
    labels = declared_rois(ds)
    by_number = {m.number: m for m in labels}
    slices, rows, cols = geometry.shape
    by_sop = {} if geometry.frames else {r.sop_uid: k for k, r in enumerate(geometry.records)}
    to_index = np.linalg.inv(geometry.lps_affine)
    groups: dict[tuple[int, int], list[F64]] = {}
    total = outside = unplaced = 0
    offset = 0.0
    for contour in read_contours(ds):
        homogeneous = np.column_stack([contour.points, np.ones(len(contour.points))])
        index = (homogeneous @ to_index.T)[:, :3]  # (column, row, slice) per point
        total += len(index)
        target = _place(contour, index, by_sop, slices)
        if target is None:
            unplaced += 1
            outside += len(index)
            continue
        offset = max(offset, float(np.abs(index[:, 2] - target).max()))
        off_plane = (
            (index[:, 0] < -0.5) | (index[:, 0] > cols - 0.5)
            | (index[:, 1] < -0.5) | (index[:, 1] > rows - 0.5)
        )  # fmt: skip
        outside += int(np.count_nonzero(off_plane))
        groups.setdefault((contour.roi, target), []).append(index[:, :2])
    parts: dict[int, PlaneParts] = {}
    for (roi, target), polygons in sorted(groups.items()):
        row0, col0, filled = fill_polygons(polygons, (rows, cols))
        parts.setdefault(roi, PlaneParts()).add(target, filled, row0, col0)
    for roi in sorted(parts):
        if roi not in by_number:  # contours of an ROI the structure set does not declare
            extra = LabelMask(str(roi), roi)
            labels.append(extra)
            by_number[roi] = extra
        by_number[roi].offset, by_number[roi].mask = parts[roi].crop()
    return OnGrid(
        labels, geometry.shape, geometry.affine, unplaced,
        outside / total if total else 0.0, offset,
    )  # fmt: skip
