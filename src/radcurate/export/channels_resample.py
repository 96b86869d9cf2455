"""A channel's volume on the reference channel's grid: trilinear in patient coordinates.

Both grids map their voxel index to the same patient space (one Frame of Reference, checked
before: :mod:`radcurate.export.channels`), so a reference voxel centre is taken into the
channel's index space with ``inv(channel affine) @ reference affine`` and the channel's
values are interpolated there:

- **Trilinear** between the eight surrounding voxel centres, as ITK's
  ``LinearInterpolateImageFunction`` (SimpleITK's ``sitkLinear``) does: a point within half a
  voxel outside the outermost centres takes the edge values; farther out it is **0** (ITK's
  default pixel value; the manifest's ``coverage`` is the share of reference voxels inside).
- **Exact where the grids coincide**: a coordinate within 1e-5 voxel of a voxel centre is
  snapped to it, so a channel on the reference grid (or on a grid whose centres include the
  reference's) keeps its values bit for bit; the same shape and affine (to 1e-4 mm) skips
  resampling altogether and the channel is written from its own volume (int16 where whole).

The channel's volume is decoded once (float32, as :func:`radcurate.imaging.volume.series_volume`
gives it); the resampled slices are computed one at a time as the writer asks for them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from radcurate.imaging.series import SeriesLookup
from radcurate.imaging.volume import Geometry, VolumeStream, series_volume, series_volume_stream

__all__ = ["ChannelVolume", "channel_volume", "resample_linear_slice", "same_grid"]

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
#: coordinates this close to a voxel centre (in voxels) are taken as on it
_SNAP = 1e-5


def same_grid(
    shape: tuple[int, ...], affine: F64, ref_shape: tuple[int, ...], ref_affine: F64
) -> bool:
    """Whether two grids are one (same shape, affines equal to 1e-4 mm)."""
    return tuple(shape) == tuple(ref_shape) and bool(np.allclose(affine, ref_affine, atol=1e-4))


def resample_linear_slice(
    source: F32, to_source: F64, k: int, rows: int, columns: int
) -> tuple[F32, int]:
    """Slice ``k`` of the target grid sampled trilinearly from ``source`` (slices, rows,
    columns); ``to_source`` maps a target index ``(column, row, slice, 1)`` to the source's.
    Returns the plane and how many of its voxels lie inside the source.

    Examples
    --------
    >>> source = np.arange(8, dtype=np.float32).reshape(2, 2, 2)
    >>> half = np.eye(4); half[:3, 3] = 0.5  # the target's centres between the source's
    >>> plane, inside = resample_linear_slice(source, half, 0, 1, 1)
    >>> float(plane[0, 0]), inside  # the mean of the eight values
    (3.5, 1)
    """
    jj, ii = np.mgrid[:rows, :columns]
    coords = (
        to_source[:3, :1] * ii.ravel()
        + to_source[:3, 1:2] * jj.ravel()
        + (to_source[:3, 2:3] * k + to_source[:3, 3:4])
    )
    nearest = np.rint(coords)
    coords = np.where(np.abs(coords - nearest) < _SNAP, nearest, coords)
    slices, height, width = source.shape
    sizes = np.array([[width], [height], [slices]], dtype=np.float64)
    inside = np.all((coords >= -0.5) & (coords < sizes - 0.5), axis=0)
    plane = np.zeros(ii.size, dtype=np.float32)
    if inside.any():
        c = coords[:, inside]
        low = np.floor(c)
        frac = (c - low).astype(np.float32)
        top = sizes.astype(np.int64) - 1
        lo = np.clip(low.astype(np.int64), 0, top)
        hi = np.minimum(lo + (low >= 0), top)  # the next centre (the edge's own past the edge)
        stride = np.array([[1], [width], [width * height]], dtype=np.int64)
        lo *= stride
        hi *= stride
        flat = source.reshape(-1)
        fx, fy, fz = frac
        gx, gy, gz = 1 - fx, 1 - fy, 1 - fz

        def along_x(zy: npt.NDArray[np.int64]) -> F32:
            mixed: F32 = flat.take(zy + lo[0]) * gx + flat.take(zy + hi[0]) * fx
            return mixed

        front = along_x(lo[2] + lo[1]) * gy + along_x(lo[2] + hi[1]) * fy
        back = along_x(hi[2] + lo[1]) * gy + along_x(hi[2] + hi[1]) * fy
        plane[inside] = front * gz + back * fz
    return plane.reshape(rows, columns), int(inside.sum())


@dataclass
class ChannelVolume:
    """A channel ready to write on the reference grid.

    Attributes
    ----------
    stream
        The slices on the reference grid (the channel's own stream when the grids are one).
    resampled
        Whether it was interpolated (False: the same grid, values as read).
    covered
        Reference voxels inside the channel's volume, counted by the last complete pass over
        ``stream`` (every voxel when the grids are one).
    """

    stream: VolumeStream
    resampled: bool
    covered: int

    @property
    def coverage(self) -> float:
        """The share of reference voxels inside the channel's volume (0 to 1)."""
        total = int(np.prod(self.stream.shape))
        return self.covered / total if total else 0.0


def channel_volume(lookup: SeriesLookup, series_uid: str, reference: Geometry) -> ChannelVolume:
    """The series as a channel on the ``reference`` grid (see the module's notes).

    Raises
    ------
    KeyError, ValueError, UndecodableError
        As :func:`radcurate.imaging.volume.series_volume` (no such series, inconsistent
        geometry, undecodable pixels).
    """
    own = series_volume_stream(lookup, series_uid)
    shape = reference.shape
    if same_grid(own.shape, own.affine, shape, reference.affine):
        same = VolumeStream(shape, reference.affine, own.dtype, own.slices, own.sop_uids)
        return ChannelVolume(same, False, int(np.prod(shape)))
    source = series_volume(lookup, series_uid)
    array = np.ascontiguousarray(source.array, dtype=np.float32)
    to_source = np.linalg.inv(source.affine) @ reference.affine
    made = ChannelVolume(
        VolumeStream(shape, reference.affine, np.dtype(np.float32), lambda: iter(())), True, 0
    )

    def slices() -> Iterator[F32]:
        covered = 0
        for k in range(shape[0]):
            plane, inside = resample_linear_slice(array, to_source, k, shape[1], shape[2])
            covered += inside
            yield plane
        made.covered = covered

    made.stream = VolumeStream(shape, reference.affine, np.dtype(np.float32), slices)
    return made
