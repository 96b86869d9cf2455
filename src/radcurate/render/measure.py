"""Measurements on the viewer's picture: a length in mm, a region's statistics of the real
pixel values (HU for CT), in any plane (docs/viewer.md "Measurements").

Points come in the pixel coordinates of the picture ``/slice`` sends for the same plane
and index (``x`` to the right, ``y`` down, in picture pixels, 0,0 the top left corner of
the top left pixel). That picture is the plane's values turned to the display convention
(:class:`~radcurate.imaging.reformat.DisplayOrientation`) and stretched vertically to
square pixels (:func:`~radcurate.render.canvas.fit`), so one picture pixel is
``column spacing`` mm both ways. The statistics are of the modality values (rescaled
stored values) of the pixels whose centres lie in the region, never of the 8-bit picture.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from pydicom.pixels.processing import apply_modality_lut

from radcurate.dicom.geometry import position_along
from radcurate.imaging.frames import decode_frame, frame_attributes, read_dataset
from radcurate.imaging.reformat import plane_cut
from radcurate.imaging.series import SeriesInput
from radcurate.imaging.slices import series_slices
from radcurate.render.image import slice_orientation
from radcurate.render.reformat import _spacing, _volume

__all__ = ["SHAPES", "PlaneValues", "measure", "plane_values"]

SHAPES = ("line", "rectangle", "ellipse")
F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class PlaneValues:
    """One slice of a plane as displayed: values, and the picture ``/slice`` draws of it.

    Attributes
    ----------
    values
        Modality values (rows, columns) in the display orientation.
    spacing
        ``(row, column)`` mm between the values' pixels, or None when unknown.
    width, height
        The picture's size in pixels (rows stretched to square pixels).
    index, count
        The slice and the number of slices of the plane.
    """

    values: F64
    spacing: tuple[float, float] | None
    width: int
    height: int
    index: int
    count: int


def _picture_size(rows: int, cols: int, spacing: Sequence[float] | None) -> tuple[int, int]:
    """(width, height) of :func:`radcurate.render.canvas.fit` with ``size=None``."""
    height = float(rows)
    if spacing is not None and spacing[0] > 0 and spacing[1] > 0:
        ratio = float(spacing[0]) / float(spacing[1])
        if abs(ratio - 1.0) > 0.01:
            height = rows * ratio
    return max(1, cols), max(1, round(height))


def _checked(index: int | None, count: int) -> int:
    if index is None:
        return count // 2
    if not 0 <= index < count:
        raise IndexError(f"slice {index} out of range (0..{count - 1})")
    return index


def _stored_slice(series: SeriesInput, k: int, plane: str | None) -> tuple[F64, list[float] | None]:
    """Slice ``k`` of the geometric order as modality values, turned to ``plane``'s display."""
    slices = series_slices(series)
    record, frame = slices[k]
    ds = read_dataset(record.location)
    number = k if frame is None else frame  # one multi-frame instance: frames in stored order
    attrs = frame_attributes(ds, number)
    values = np.asarray(apply_modality_lut(decode_frame(ds, number, record.location), attrs))
    if values.ndim != 2:
        raise ValueError("measurements need a grey picture (this one has colour samples)")
    spacing = _spacing(attrs)
    orientation = slice_orientation(attrs, plane)
    if orientation is not None:
        values, spacing = orientation.array(values), orientation.spacing(spacing)
    return values.astype(np.float64), spacing


def plane_values(series: SeriesInput, plane: str, index: int | None) -> PlaneValues:
    """The values of slice ``index`` of ``plane`` as ``/slice`` displays them.

    Raises
    ------
    ValueError
        An unknown plane, a reformat of a series that is not a volume, a colour picture.
    IndexError
        An index outside the plane.
    """
    slices = series_slices(series)
    if not slices:
        raise ValueError("the series has no slices")
    if plane in ("native", ""):
        k = _checked(index, len(slices))
        values, spacing = _stored_slice(series, k, None)
        count = len(slices)
    else:
        records = [record for record, _ in slices]
        cut = plane_cut(records, plane)
        count = cut.count
        k = _checked(index, count)
        stored = cut.stored(k)
        if cut.along == 0:
            values, spacing = _stored_slice(series, stored, plane)
        else:
            values, spacing = _cut(records, cut, stored)
    pair = (float(spacing[0]), float(spacing[1])) if spacing else None
    width, height = _picture_size(values.shape[0], values.shape[1], pair)
    return PlaneValues(values, pair, width, height, k, count)


def _cut(records: list[Any], cut: Any, stored: int) -> tuple[F64, list[float] | None]:
    """A row or column of every slice (as :func:`radcurate.render.reformat.render_plane`)."""
    rows, cols = int(records[0].rows or 0), int(records[0].columns or 0)
    column = cut.along == 1
    cached = _volume(records, rows, cols)
    if cached is not None:
        stack = (cached.values[:, :, stored] if column else cached.values[:, stored, :]).astype(
            np.float64
        )
        spacing = cached.spacing
    else:
        lines = []
        spacing = None
        for record in records:
            ds = read_dataset(record.location)
            attrs = frame_attributes(ds, 0)
            pixels = decode_frame(ds, 0, record.location)
            line = pixels[:, stored] if column else pixels[stored, :]
            lines.append(np.asarray(apply_modality_lut(line, attrs), dtype=np.float64))
            spacing = spacing or _spacing(attrs)
        stack = np.stack(lines)
    positions = [position_along(cut.slice_direction, r.position) for r in records]
    gaps = np.diff(positions)
    slice_gap = float(np.median(gaps)) if gaps.size else 1.0
    pixel_gap = (spacing[0] if column else spacing[1]) if spacing else None
    orientation = cut.orientation
    pair = orientation.spacing([slice_gap, pixel_gap]) if pixel_gap and slice_gap > 0 else None
    return orientation.array(stack), pair


def measure(view: PlaneValues, shape: str, points: Sequence[Sequence[float]]) -> dict[str, Any]:
    """A ``line``'s length, or a ``rectangle``'s / ``ellipse``'s statistics.

    ``points`` are two picture points: the line's ends, or the corners of the box
    (the ellipse is the one inscribed in it).

    Raises
    ------
    ValueError
        An unknown shape, not two points, a point off the picture, an empty region.
    """
    if shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r}: choose one of {', '.join(SHAPES)}")
    if len(points) != 2 or any(len(p) != 2 for p in points):
        raise ValueError("give two points x1,y1,x2,y2 (the line's ends or the box's corners)")
    (x0, y0), (x1, y1) = ((float(x), float(y)) for x, y in points)
    for x, y in ((x0, y0), (x1, y1)):
        if not (0 <= x <= view.width and 0 <= y <= view.height) or math.isnan(x + y):
            raise ValueError(
                f"point {x:g},{y:g} is off the picture (0..{view.width} x 0..{view.height})"
            )
    rows, cols = view.values.shape
    scale_x, scale_y = view.width / cols, view.height / rows  # picture px per value px
    # one picture pixel is `column spacing` mm both ways (rows are stretched to square)
    mm = view.spacing[1] / scale_x if view.spacing else None
    result: dict[str, Any] = {
        "shape": shape,
        "plane_index": view.index,
        "spacing_mm": list(view.spacing) if view.spacing else None,
    }
    if shape == "line":
        pixels = math.hypot(x1 - x0, y1 - y0)
        result["length_px"] = pixels
        result["length_mm"] = pixels * mm if mm is not None else None
        return result
    centre_x = (np.arange(cols) + 0.5) * scale_x
    centre_y = (np.arange(rows) + 0.5) * scale_y
    gx, gy = np.meshgrid(centre_x, centre_y)
    left, right, top, bottom = min(x0, x1), max(x0, x1), min(y0, y1), max(y0, y1)
    if shape == "rectangle":
        mask = (gx >= left) & (gx <= right) & (gy >= top) & (gy <= bottom)
    else:
        ax, ay = (right - left) / 2, (bottom - top) / 2
        if ax <= 0 or ay <= 0:
            mask = np.zeros_like(gx, dtype=bool)
        else:
            cx, cy = (left + right) / 2, (top + bottom) / 2
            mask = ((gx - cx) / ax) ** 2 + ((gy - cy) / ay) ** 2 <= 1.0
    inside = view.values[mask]
    if inside.size == 0:
        raise ValueError("the region holds no pixel centre: draw a larger one")
    result.update(
        pixels=int(inside.size),
        mean=float(inside.mean()),
        sd=float(inside.std()),
        min=float(inside.min()),
        max=float(inside.max()),
        area_mm2=float(inside.size * view.spacing[0] * view.spacing[1]) if view.spacing else None,
    )
    return result
