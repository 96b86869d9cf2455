"""Image volumes of cases as NIfTI: ``int16`` when the values allow it, else ``float32``.

A CT's values after rescale are whole Hounsfield units in int16's range, so the file is
written as int16 (half the bytes, about twice as fast to compress); a slice whose values are
not whole, or out of range, makes the volume be written again as float32. Either way the
voxel values equal :func:`radcurate.imaging.volume.series_volume`'s and the affine is the
series' DICOM geometry (:mod:`radcurate.imaging.nifti` writes gzip with mtime 0, so the same
volume gives the same bytes).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from radcurate.imaging.nifti import write_nifti
from radcurate.imaging.volume import Volume, VolumeStream

__all__ = ["write_image", "write_labels"]


class _NotInt16(ValueError):
    pass


def _as_int16(stream: VolumeStream) -> VolumeStream:
    def slices() -> Iterator[npt.NDArray[Any]]:
        for plane in stream.slices():
            # range first (NaN fails it too), then the cast must give back every value
            low, high = float(plane.min(initial=0)), float(plane.max(initial=0))
            if not (low >= -32768 and high <= 32767):
                raise _NotInt16
            whole = plane.astype(np.int16)
            if not np.array_equal(whole, plane):
                raise _NotInt16
            yield whole

    return VolumeStream(
        stream.shape, stream.affine, np.dtype(np.int16), slices, stream.sop_uids, stream.labels
    )


def write_image(stream: VolumeStream, path: Path) -> str:
    """Write the image volume; returns the data type written (``int16`` or ``float32``)."""
    try:
        write_nifti(_as_int16(stream), path)
        return "int16"
    except _NotInt16:
        write_nifti(stream, path)
        return "float32"


def write_labels(labels: npt.NDArray[Any], affine: npt.NDArray[np.float64], path: Path) -> None:
    """Write a label map on the image's grid (uint8, or uint16 past 255 labels)."""
    write_nifti(Volume(labels, affine), path)
