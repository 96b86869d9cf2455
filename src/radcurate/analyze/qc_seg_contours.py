"""RTSTRUCT contours filled onto the grid of their source series, for the segmentation checks.

Each contour goes on the slice its ContourImageSequence names, else on the slice nearest its
points (within half a spacing) — where the viewer draws it. Its points are mapped into the
source's voxel indices, and the pixels whose centres lie inside are filled by the even-odd
rule over all contours of one ROI on one slice, so a contour inside another makes a hole
(the usual reading of nested RTSTRUCT contours). A pixel centre exactly on an edge belongs to
the polygon on its left, so two ROIs drawn along one shared edge do not overlap.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset

from radcurate.analyze.qc_seg_masks import LabelMask, OnGrid, PlaneParts, unique_labels
from radcurate.imaging.contours import fill_polygons
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
