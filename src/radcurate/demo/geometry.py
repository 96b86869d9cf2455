"""Image-plane geometry of a series and nearest-neighbour sampling of a template."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from radcurate.demo.phantom import Anatomy, LabelArray, Template

__all__ = ["SeriesGeometry", "SliceSampler", "plane_labels"]

Vec = tuple[float, float, float]


@dataclass(frozen=True)
class SeriesGeometry:
    """Geometry of a stack of parallel, axis-aligned slices.

    Parameters
    ----------
    rows, columns
        Matrix size.
    spacing
        PixelSpacing as (row spacing, column spacing) in mm.
    row_dir, col_dir
        The two ImageOrientationPatient direction cosines (along a row, along a column).
    origin
        ImagePositionPatient of the first slice (centre of the top-left pixel).
    step
        Distance between slice centres along the normal (mm, may be negative).
    count
        Number of slice positions, including a missing one.
    thickness
        SliceThickness in mm.
    missing
        Index of a slice position that is not written (a gap), if any.
    """

    rows: int
    columns: int
    spacing: tuple[float, float]
    row_dir: Vec
    col_dir: Vec
    origin: Vec
    step: float
    count: int
    thickness: float
    missing: int | None = None

    @property
    def normal(self) -> Vec:
        """Unit normal ``row_dir x col_dir``."""
        (a1, a2, a3), (b1, b2, b3) = self.row_dir, self.col_dir
        return (a2 * b3 - a3 * b2, a3 * b1 - a1 * b3, a1 * b2 - a2 * b1)

    def position(self, k: int) -> Vec:
        """ImagePositionPatient of slice position ``k``."""
        n = self.normal
        return (
            round(self.origin[0] + k * self.step * n[0], 4),
            round(self.origin[1] + k * self.step * n[1], 4),
            round(self.origin[2] + k * self.step * n[2], 4),
        )

    def indices(self) -> Iterator[int]:
        """Slice positions that are actually written (skipping ``missing``)."""
        return (k for k in range(self.count) if k != self.missing)

    def orientation(self) -> list[float]:
        """ImageOrientationPatient as six floats."""
        return [*self.row_dir, *self.col_dir]


def _axis(v: Vec) -> tuple[int, float]:
    """Return (axis 0..2 for x..z, sign) of an axis-aligned unit vector."""
    a = int(np.argmax(np.abs(v)))
    if abs(abs(v[a]) - 1.0) > 1e-6:
        raise ValueError(f"only axis-aligned orientations are supported, got {v}")
    return a, float(np.sign(v[a]))


class SliceSampler:
    """Samples template labels on the slices of a series (nearest neighbour).

    The in-plane index arrays are computed once; each slice costs one gather.
    """

    def __init__(self, template: Template, geometry: SeriesGeometry, anatomy: Anatomy) -> None:
        self.geometry = geometry
        shape = template.shape_xyz()
        ra, rs = _axis(geometry.row_dir)
        ca, cs = _axis(geometry.col_dir)
        na, ns = _axis(geometry.normal)

        def index(axis: int, coord: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.intp]:
            scaled = anatomy.scale[axis] * template.voxel[axis]
            idx = np.rint((coord - anatomy.centre[axis]) / scaled + (shape[axis] - 1) / 2.0)
            out: npt.NDArray[np.intp] = np.clip(idx, 0, shape[axis] - 1).astype(np.intp)
            return out

        o = geometry.origin
        self._col_idx = index(ra, o[ra] + rs * geometry.spacing[1] * np.arange(geometry.columns))
        self._row_idx = index(ca, o[ca] + cs * geometry.spacing[0] * np.arange(geometry.rows))
        self._slice_idx = index(na, o[na] + ns * geometry.step * np.arange(geometry.count))
        # template array axes are (z, y, x) = (2, 1, 0) in xyz numbering
        to_array_axis = {0: 2, 1: 1, 2: 0}
        self._vol = np.transpose(
            template.labels, (to_array_axis[na], to_array_axis[ca], to_array_axis[ra])
        )

    def labels(self, k: int) -> LabelArray:
        """Label map of slice position ``k`` (rows x columns)."""
        plane = self._vol[self._slice_idx[k]]
        out: LabelArray = plane[self._row_idx[:, None], self._col_idx[None, :]]
        return out


def plane_labels(
    template: Template,
    anatomy: Anatomy,
    origin: Vec,
    row_dir: Vec,
    col_dir: Vec,
    spacing: tuple[float, float],
    shape: tuple[int, int],
) -> LabelArray:
    """Labels of any image plane, oblique or not (nearest neighbour).

    Parameters
    ----------
    template, anatomy
        The phantom and its per-patient scale and position.
    origin
        Patient coordinates of the centre of the top-left pixel (ImagePositionPatient).
    row_dir, col_dir
        Unit vectors along a row and down a column (ImageOrientationPatient).
    spacing
        PixelSpacing: (between rows, between columns) in mm.
    shape
        (rows, columns).

    Points outside the template take the label of its nearest edge voxel, as in
    :class:`SliceSampler`.
    """
    rows = np.arange(shape[0], dtype=np.float64)[:, None] * spacing[0]
    cols = np.arange(shape[1], dtype=np.float64)[None, :] * spacing[1]
    size = template.shape_xyz()
    index: list[npt.NDArray[np.intp]] = []
    for axis in range(3):
        coord = origin[axis] + row_dir[axis] * cols + col_dir[axis] * rows
        scaled = anatomy.scale[axis] * template.voxel[axis]
        idx = np.rint((coord - anatomy.centre[axis]) / scaled + (size[axis] - 1) / 2.0)
        index.append(np.clip(idx, 0, size[axis] - 1).astype(np.intp))
    out: LabelArray = template.labels[index[2], index[1], index[0]]
    return out
