"""The voxel grid the CT mask functions work on: spacing and patient coordinates from the
affine, a coarser working grid for large volumes, and the small morphological tools the mask
functions share.

Every mask function takes a CT volume as radcurate's imaging layer gives it: ``array[k, j, i]``
(slice, row, column) and a NIfTI affine mapping ``(i, j, k, 1)`` to RAS millimetres. Nothing
assumes an axial stack stored head first or feet first, or a particular row direction: where
a rule needs "left" or "up", it reads the affine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage

Mask = npt.NDArray[np.bool_]
F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
Labels = npt.NDArray[np.int32]

#: in-plane 4-connectivity inside each slice, no connection across slices
SLICE_WISE = np.zeros((3, 3, 3), dtype=bool)
SLICE_WISE[1] = ndimage.generate_binary_structure(2, 1)


@dataclass(frozen=True)
class Grid:
    """Spacing and orientation of a ``(slices, rows, columns)`` array.

    Attributes
    ----------
    shape
        ``(slices, rows, columns)``.
    affine
        4x4, voxel ``(column, row, slice, 1)`` -> RAS mm.
    """

    shape: tuple[int, int, int]
    affine: F64

    @property
    def spacing(self) -> tuple[float, float, float]:
        """Voxel size along ``(slice, row, column)`` in mm."""
        norms = np.linalg.norm(self.affine[:3, :3], axis=0)
        return float(norms[2]), float(norms[1]), float(norms[0])

    @property
    def voxel_ml(self) -> float:
        """Volume of one voxel in millilitres."""
        return abs(float(np.linalg.det(self.affine[:3, :3]))) / 1000.0

    def ras(self, kji: F64) -> F64:
        """RAS mm of voxel indices given as rows ``(k, j, i)``."""
        ijk = np.asarray(kji, dtype=np.float64)[..., ::-1]
        out: F64 = ijk @ self.affine[:3, :3].T + self.affine[:3, 3]
        return out

    def voxels(self, mm: float, axis: int) -> int:
        """A length in mm as whole voxels along array ``axis`` (at least 1)."""
        return max(1, round(mm / self.spacing[axis]))

    def superior_axis(self) -> tuple[int, float]:
        """The array axis closest to the patient's head-feet direction and +1 when the index
        grows towards the head (-1 towards the feet)."""
        directions = self.affine[:3, :3] / np.linalg.norm(self.affine[:3, :3], axis=0)
        column = int(np.argmax(np.abs(directions[2])))  # affine column: 0 i, 1 j, 2 k
        return 2 - column, 1.0 if directions[2, column] > 0 else -1.0


def working_factors(grid: Grid, working_mm: float) -> tuple[int, int, int]:
    """Whole-voxel block sizes that bring the voxels of ``grid`` up to about ``working_mm``.

    Examples
    --------
    >>> working_factors(Grid((300, 512, 512), np.diag([0.7, 0.7, 1.0, 1.0])), 2.0)
    (2, 2, 2)
    >>> working_factors(Grid((30, 101, 122), np.diag([3.0, 3.0, 3.0, 1.0])), 2.0)
    (1, 1, 1)
    """
    dz, dy, dx = grid.spacing
    k, j, i = (max(1, int(working_mm // s)) if s > 0 else 1 for s in (dz, dy, dx))
    # keep square in-plane blocks
    j = i = min(j, i)
    return k, j, i


def block_mean(array: F32, factors: tuple[int, int, int]) -> F32:
    """Mean of each ``factors`` block (the last, partial blocks average what they hold)."""
    if factors == (1, 1, 1):
        return array
    out: F32 | None = None
    counts: F32 | None = None
    fk, fj, fi = factors
    shape = tuple(-(-n // f) for n, f in zip(array.shape, factors, strict=True))
    out = np.zeros(shape, dtype=np.float32)
    counts = np.zeros(shape, dtype=np.float32)
    for a in range(fk):
        for b in range(fj):
            for c in range(fi):
                part = array[a::fk, b::fj, c::fi]
                sk, sj, si = part.shape
                out[:sk, :sj, :si] += part
                counts[:sk, :sj, :si] += 1.0
    out /= counts
    return out


def working_grid(grid: Grid, factors: tuple[int, int, int]) -> Grid:
    """The grid of :func:`block_mean`'s output (its voxel centres in the same RAS space)."""
    fk, fj, fi = factors
    shape = (-(-grid.shape[0] // fk), -(-grid.shape[1] // fj), -(-grid.shape[2] // fi))
    scale = np.diag([fi, fj, fk, 1.0])
    shift = np.eye(4)
    shift[:3, 3] = [(fi - 1) / 2, (fj - 1) / 2, (fk - 1) / 2]
    return Grid(shape, grid.affine @ shift @ scale)


def upsample(mask: Mask, factors: tuple[int, int, int], shape: tuple[int, int, int]) -> Mask:
    """A working-grid mask back on the full grid (each voxel repeated over its block)."""
    if factors == (1, 1, 1):
        return mask
    out = mask
    for axis, factor in enumerate(factors):
        if factor > 1:
            out = np.repeat(out, factor, axis=axis)
    return np.ascontiguousarray(out[: shape[0], : shape[1], : shape[2]])


def disk(radius: int) -> Mask:
    """A 2-D disk structuring element of ``radius`` voxels.

    Examples
    --------
    >>> disk(1).astype(int).tolist()
    [[0, 1, 0], [1, 1, 1], [0, 1, 0]]
    """
    yy, xx = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    return np.asarray(xx * xx + yy * yy <= radius * radius + (radius > 1) * radius / 2)


def in_plane(structure: Mask) -> Mask:
    """A 2-D structuring element as a 3-D one acting within each slice."""
    return structure[np.newaxis]


def fill_holes_per_slice(mask: Mask) -> Mask:
    """Fill the holes of every slice: background not connected, within its slice, to the
    slice's edge (one labelling of the whole volume, slice-wise connectivity)."""
    if not mask.any():
        return mask.copy()
    background, count = ndimage.label(~mask, structure=SLICE_WISE)
    outside = np.zeros(count + 1, dtype=bool)
    for edge in (background[:, 0, :], background[:, -1, :], background[:, :, 0],
                 background[:, :, -1]):  # fmt: skip
        outside[np.unique(edge)] = True
    outside[0] = False
    filled: Mask = mask | ~outside[background] & (background > 0)
    return filled


def component_sizes(labels: Labels, count: int) -> npt.NDArray[np.int64]:
    """Voxels of each component 0..count (index 0, the background, counts 0)."""
    sizes = np.bincount(labels.ravel(), minlength=count + 1).astype(np.int64)
    sizes[0] = 0
    return sizes


def keep_components(labels: Labels, keep: npt.NDArray[np.bool_]) -> Mask:
    """The voxels whose component is marked in ``keep`` (indexed by label; 0 never kept)."""
    chosen = np.asarray(keep, dtype=bool).copy()
    chosen[0] = False
    return np.asarray(chosen[labels])


def remove_small(mask: Mask, min_voxels: int) -> Mask:
    """``mask`` without its 3-D components (26-connected) smaller than ``min_voxels``."""
    labels, count = ndimage.label(mask, structure=np.ones((3, 3, 3), dtype=bool))
    return keep_components(labels, component_sizes(labels, count) >= min_voxels)
