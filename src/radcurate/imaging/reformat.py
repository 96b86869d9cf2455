"""Plane reformats of a stack of slices: the planes, the geometry a reformat needs, and
the orientation of a cut (superior up)."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from radcurate.dicom.instance import InstanceRecord

__all__ = ["PLANE_AXES", "check_volume", "orient_plane"]

#: plane -> index of the patient axis it is perpendicular to (x: sagittal, y: coronal, z: axial)
PLANE_AXES = {"sagittal": 0, "coronal": 1, "axial": 2}


def check_volume(records: list[InstanceRecord]) -> tuple[float, ...]:
    """The common orientation of a volume of consistent geometry.

    Raises
    ------
    ValueError
        When the series is not a stack of single-frame slices with one orientation,
        one matrix size and a position for every slice.
    """
    if len(records) < 2:
        raise ValueError("a reformat needs a series of at least two slices")
    orientations = {tuple(round(v, 4) for v in r.orientation or ()) for r in records}
    sizes = {(r.rows, r.columns) for r in records}
    if len(orientations) != 1 or () in orientations:
        raise ValueError("a reformat needs one ImageOrientationPatient for every slice")
    if len(sizes) != 1 or any(r.position is None for r in records):
        raise ValueError("a reformat needs one matrix size and a position for every slice")
    if any((r.frames or 1) > 1 for r in records):
        raise ValueError("reformats of multi-frame instances are not supported")
    return next(iter(orientations))


def orient_plane(
    plane: npt.NDArray[Any], vertical: npt.NDArray[np.float64], horizontal: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[Any], bool]:
    """Superior up, patient's left (or posterior) to the right; returns (array, transposed)."""
    transposed = abs(horizontal[2]) > abs(vertical[2])
    if transposed:
        plane = plane.T
        vertical, horizontal = horizontal, vertical
    if vertical[2] > 0:
        plane = plane[::-1]
    main = int(np.argmax(np.abs(horizontal[:2])))
    if horizontal[main] < 0:
        plane = plane[:, ::-1]
    return plane, transposed
