"""Filling polygons on a pixel grid: the pixels whose centres lie inside RTSTRUCT contours.

One rule for every reader of contours (the segmentation checks, the export's label maps): the
even-odd rule over all contours of one ROI on one slice, so a contour inside another makes a
hole, and a pixel centre exactly on an edge belongs to the polygon on its left, so two ROIs
drawn along one shared edge do not overlap.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

__all__ = ["fill_polygons"]

Mask = npt.NDArray[np.bool_]
F64 = npt.NDArray[np.float64]


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
    # crossings counted modulo 256 in uint8: only their parity matters, and a uint8 running
    # sum is 4x faster than int64's with a modulo (most of the time of filling a slice)
    toggles = np.zeros((bottom - top + 1, right - left + 2), dtype=np.uint8)
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
    parity = np.cumsum(toggles, axis=1, dtype=np.uint8)[:, :-1]
    parity &= 1
    inside: Mask = parity.view(np.bool_)
    return top, left, inside
