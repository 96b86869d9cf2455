"""RTSTRUCT contours on axial, coronal and sagittal reformats of the referenced volume.

A contour is a polygon on one acquired slice. A reformat cuts every slice along one row
or column, so the structure's section on the cut is, slice by slice, the intervals where
that row (or column) crosses the slice's polygons (even-odd: a contour inside another of
the same ROI on the same slice is a hole). Those intervals form a mask of (slices x
line) per ROI, turned and stretched like the image's reformat
(:func:`radcurate.render.reformat.render_plane`), drawn as a translucent fill (not for
EXTERNAL outlines of the body) with an opaque one-pixel edge.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from radcurate.dicom.geometry import position_along, slice_normal
from radcurate.imaging.frames import frame_attributes, read_dataset
from radcurate.imaging.reformat import plane_cut
from radcurate.imaging.rtstruct import Contour, project_points
from radcurate.imaging.series import SeriesInput
from radcurate.imaging.slices import series_slices
from radcurate.render.canvas import pil
from radcurate.render.rtstruct import contour_colour

__all__ = ["rt_reformat"]

Mask = npt.NDArray[np.bool_]


def _crossings(xy: npt.NDArray[np.float64], at: float, axis: int) -> list[float]:
    """Where the closed polygon ``xy`` ((n, 2) column, row) crosses the line
    ``xy[:, axis] == at``: the other coordinate, sorted."""
    a, b = xy, np.roll(xy, -1, axis=0)
    ka, kb = a[:, axis], b[:, axis]
    crossing = ((ka <= at) & (at < kb)) | ((kb <= at) & (at < ka))
    other = 1 - axis
    t = (at - ka[crossing]) / (kb[crossing] - ka[crossing])
    found = a[crossing, other] + t * (b[crossing, other] - a[crossing, other])
    return sorted(float(v) for v in found)


def _line_mask(crossings: list[float], length: int) -> Mask:
    """Pixels (centres at 0..length-1) inside the pairs of ``crossings``."""
    mask = np.zeros(length, dtype=bool)
    for start, end in zip(crossings[::2], crossings[1::2], strict=False):
        low, high = max(0, math.ceil(start)), min(length - 1, math.floor(end))
        if low <= high:
            mask[low : high + 1] = True
    return mask


def rt_reformat(
    contours: list[Contour], reference: SeriesInput, plane: str, index: int | None, tolerance: float
) -> tuple[Any, int, int, list[int]]:
    """The RGBA picture of ``contours`` on cut ``index`` of ``plane`` (not the acquired
    plane): (image, index, count, ROI numbers drawn).

    Raises
    ------
    ValueError
        The referenced series is not a stack of single-frame slices with positions, or
        has no PixelSpacing.
    IndexError
        ``index`` outside the plane.
    """
    slices = series_slices(reference)
    records = [record for record, _ in slices]
    if any(f != 0 or r.position is None or not r.orientation for r, f in slices):
        raise ValueError("contours are drawn on stacks of single-frame slices with a position")
    cut = plane_cut(records, plane)
    if index is not None and not 0 <= index < cut.count:
        raise IndexError(f"slice {index} out of range (0..{cut.count - 1})")
    stored = cut.stored(index)
    attrs = frame_attributes(read_dataset(records[len(records) // 2].location, pixels=False))
    spacing_value = attrs.get("PixelSpacing")
    if spacing_value is None or len(spacing_value) != 2:
        raise ValueError("the referenced image has no PixelSpacing")
    spacing = [float(v) for v in spacing_value]
    rows, cols = int(records[0].rows or attrs.Rows), int(records[0].columns or attrs.Columns)
    # one column per slice (along == 1): the line runs down the rows, where column ==
    # `stored` (axis 0 of the (column, row) points); else along the columns, row == `stored`
    axis, length = (0, rows) if cut.along == 1 else (1, cols)
    by_sop = {r.sop_uid: k for k, r in enumerate(records)}
    normal = slice_normal(records[0].orientation)  # type: ignore[arg-type]
    along = [position_along(normal, r.position) for r in records] if normal else []  # type: ignore[arg-type]
    masks: dict[int, Mask] = {}
    external: dict[int, bool] = {}
    colours: dict[int, tuple[int, int, int]] = {}
    for contour in contours:
        placed = next((by_sop[u] for u in contour.sop_uids if u in by_sop), None)
        if placed is None and normal is not None and along:
            there = position_along(normal, [float(v) for v in contour.points.mean(axis=0)])
            gap, k = min((abs(p - there), k) for k, p in enumerate(along))
            placed = k if gap <= tolerance else None
        if placed is None:
            continue
        record = records[placed]
        xy = project_points(contour.points, record.position, record.orientation, spacing)  # type: ignore[arg-type]
        line = _line_mask(_crossings(xy, float(stored), axis), length)
        mask = masks.setdefault(contour.roi, np.zeros((len(records), length), dtype=bool))
        mask[placed] ^= line  # a contour inside another of the ROI is a hole
        external[contour.roi] = contour.external
        colours[contour.roi] = contour_colour(contour)
    positions = [position_along(cut.slice_direction, r.position) for r in records]  # type: ignore[arg-type]
    gaps = np.diff(positions)
    slice_gap = float(np.median(gaps)) if gaps.size else 1.0
    pixel_gap = spacing[0] if cut.along == 1 else spacing[1]
    shown = cut.orientation.spacing([slice_gap, pixel_gap])
    first = cut.orientation.array(np.zeros((len(records), length), dtype=bool))
    height = first.shape[0]
    if shown is not None and shown[0] > 0 < shown[1] and abs(shown[0] / shown[1] - 1.0) > 0.01:
        height = max(1, round(first.shape[0] * shown[0] / shown[1]))
    size = (first.shape[1], height)
    out = np.zeros((height, first.shape[1], 4), dtype=np.uint8)
    drawn = []
    # the body outline first: structures inside it are drawn over it
    for roi in sorted(masks, key=lambda n: (not external[n], n)):
        if not masks[roi].any():
            continue
        turned = cut.orientation.array(masks[roi]).astype(np.uint8) * 255
        picture = np.asarray(pil().fromarray(turned).resize(size, pil().Resampling.NEAREST)) > 0
        inner = picture.copy()
        inner[1:, :] &= picture[:-1, :]
        inner[:-1, :] &= picture[1:, :]
        inner[:, 1:] &= picture[:, :-1]
        inner[:, :-1] &= picture[:, 1:]
        if not external[roi]:
            out[picture] = (*colours[roi], 70)
        out[picture & ~inner] = (*colours[roi], 255)
        drawn.append(roi)
    return pil().fromarray(out, "RGBA"), cut.index_of(stored), cut.count, sorted(drawn)
