"""Plane reformats of a stack of slices and the display orientation of any plane.

Display convention (radiological, as OHIF and Weasis draw it), in LPS patient coordinates
(+x patient's left, +y posterior, +z superior):

* axial: the patient's right on the screen's left, anterior up;
* coronal: the patient's right on the screen's left, superior up;
* sagittal: anterior on the screen's left, superior up.

A picture is brought to its plane's convention with flips and a transpose only (no
resampling), so a flipped or rotated acquisition never looks mirrored; the letters of
each screen edge (L/R/A/P/S/I, two or three for an oblique direction, the dominant one
first) say where the patient is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from radcurate.dicom.instance import InstanceRecord

__all__ = [
    "PLANE_AXES",
    "SCREEN",
    "DisplayOrientation",
    "PlaneCut",
    "check_volume",
    "display_orientation",
    "nearest_plane",
    "orientation_label",
    "patient_orientation_markers",
    "plane_cut",
]

#: plane -> index of the patient axis it is perpendicular to (x: sagittal, y: coronal, z: axial)
PLANE_AXES = {"sagittal": 0, "coronal": 1, "axial": 2}
#: plane -> (screen right, screen down) as LPS directions: the display convention above
SCREEN: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "axial": ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0)),
    "coronal": ((1.0, 0.0, 0.0), (0.0, 0.0, -1.0)),
    "sagittal": ((0.0, 1.0, 0.0), (0.0, 0.0, -1.0)),
}
#: a component of a direction at least this large gets its letter (about 14 degrees off axis)
OBLIQUE_LETTER = 0.25
_LETTERS = (("R", "L"), ("A", "P"), ("I", "S"))


def orientation_label(direction: Sequence[float] | npt.NDArray[Any]) -> str:
    """The letters of an LPS direction, dominant first: ``(1, 0, 0)`` -> ``"L"``,
    ``(0.7, -0.7, 0)`` -> ``"LA"``; components under :data:`OBLIQUE_LETTER` are left out."""
    vector = np.asarray(direction, dtype=np.float64)
    norm = float(np.linalg.norm(vector))
    if norm == 0:
        return ""
    vector = vector / norm
    order = sorted(range(3), key=lambda k: -abs(vector[k]))
    return "".join(
        _LETTERS[k][1 if vector[k] > 0 else 0]
        for k in order
        if abs(vector[k]) >= OBLIQUE_LETTER or k == order[0]
    )


def _markers(right: npt.NDArray[np.float64], down: npt.NDArray[np.float64]) -> dict[str, str]:
    return {
        "top": orientation_label(-down),
        "bottom": orientation_label(down),
        "left": orientation_label(-right),
        "right": orientation_label(right),
    }


@dataclass(frozen=True)
class DisplayOrientation:
    """How to turn a stored picture to the display convention, and its edge letters.

    Attributes
    ----------
    plane
        The convention followed (``"axial"``, ``"coronal"``, ``"sagittal"``).
    transpose, flip_vertical, flip_horizontal
        Applied in this order to the stored picture (rows, columns[, channels]).
    markers
        ``{"top", "bottom", "left", "right"}`` -> letters of the patient direction at
        that edge of the displayed picture.
    """

    plane: str
    transpose: bool
    flip_vertical: bool
    flip_horizontal: bool
    markers: dict[str, str]

    def array(self, picture: npt.NDArray[Any]) -> npt.NDArray[Any]:
        """The picture as displayed (a view when possible)."""
        if self.transpose:
            picture = np.swapaxes(picture, 0, 1)
        if self.flip_vertical:
            picture = picture[::-1]
        if self.flip_horizontal:
            picture = picture[:, ::-1]
        return np.ascontiguousarray(picture)

    def spacing(self, pair: Sequence[float] | None) -> list[float] | None:
        """``(row spacing, column spacing)`` of the displayed picture."""
        if pair is None:
            return None
        values = [float(v) for v in pair]
        return values[::-1] if self.transpose else values

    @property
    def identity(self) -> bool:
        """Whether the stored picture is already in the convention."""
        return not (self.transpose or self.flip_vertical or self.flip_horizontal)


def nearest_plane(normal: Sequence[float] | npt.NDArray[Any]) -> str:
    """The standard plane closest to a slice normal (its largest component)."""
    axis = int(np.argmax(np.abs(np.asarray(normal, dtype=np.float64))))
    return next(name for name, k in PLANE_AXES.items() if k == axis)


def display_orientation(
    right: Sequence[float] | npt.NDArray[Any],
    down: Sequence[float] | npt.NDArray[Any],
    plane: str | None = None,
) -> DisplayOrientation:
    """The flips and transpose that bring a picture to ``plane``'s display convention.

    Parameters
    ----------
    right, down
        LPS directions of the stored picture's increasing column and row index (for an
        acquired slice: the first and second triplet of ImageOrientationPatient).
    plane
        The convention to follow; default the plane nearest the picture's normal.
    """
    across = np.asarray(right, dtype=np.float64)
    along = np.asarray(down, dtype=np.float64)
    if plane is None:
        plane = nearest_plane(np.cross(across, along))
    target_right, target_down = (np.asarray(v) for v in SCREEN[plane])
    keep = abs(across @ target_right) + abs(along @ target_down)
    swapped = abs(along @ target_right) + abs(across @ target_down)
    transpose = swapped > keep + 1e-6
    if transpose:
        across, along = along, across
    flip_horizontal = bool(across @ target_right < 0)
    flip_vertical = bool(along @ target_down < 0)
    shown_right = -across if flip_horizontal else across
    shown_down = -along if flip_vertical else along
    return DisplayOrientation(
        plane, transpose, flip_vertical, flip_horizontal, _markers(shown_right, shown_down)
    )


def patient_orientation_markers(value: Any) -> dict[str, str] | None:
    """Edge letters of a projection image from PatientOrientation (0020,0020), e.g.
    ``["A", "F"]``: the row direction (screen right) and the column direction (down);
    the opposite edges get the opposite letters. None when absent or malformed."""
    if value is None or isinstance(value, str) or len(value) != 2:
        return None
    opposite = {"L": "R", "R": "L", "A": "P", "P": "A", "H": "F", "F": "H", "S": "I", "I": "S"}
    right, down = (str(v).upper() for v in value)
    if not right or not down or any(c not in opposite for c in right + down):
        return None
    return {
        "right": right,
        "bottom": down,
        "left": "".join(opposite[c] for c in right),
        "top": "".join(opposite[c] for c in down),
    }


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


@dataclass(frozen=True)
class PlaneCut:
    """Where the pictures of one anatomical plane come from in a stack of slices.

    Attributes
    ----------
    plane
        ``"axial"``, ``"coronal"`` or ``"sagittal"``.
    along
        0: the plane is the acquired one (a picture is a stored slice); 1: a picture keeps
        one column of every slice; 2: one row of every slice.
    count
        Pictures in the plane (slices, columns or rows).
    reversed
        The plane's index counts along the patient axis (+x: right to left, +y: anterior
        to posterior, +z: inferior to superior); True when that is against the stored order.
    orientation
        How a stored picture (a slice, or the stack of one line per slice) is displayed.
    slice_direction
        LPS unit vector from the first to the last slice of the stack.
    """

    plane: str
    along: int
    count: int
    reversed: bool
    orientation: DisplayOrientation
    slice_direction: tuple[float, float, float]

    def stored(self, index: int | None) -> int:
        """The stored slice, column or row of the plane's ``index`` (default the middle).

        Raises
        ------
        IndexError
            When ``index`` is outside the plane.
        """
        index = self.count // 2 if index is None else index
        if not 0 <= index < self.count:
            raise IndexError(f"{self.plane} index {index} out of range (0..{self.count - 1})")
        return self.count - 1 - index if self.reversed else index

    def index_of(self, stored: int) -> int:
        """The plane's index of a stored slice, column or row (the inverse of ``stored``)."""
        return self.count - 1 - stored if self.reversed else stored


def plane_cut(records: list[InstanceRecord], plane: str) -> PlaneCut:
    """How ``plane`` is cut from a stack of slices in geometric order.

    Raises
    ------
    ValueError
        When the stack is not a volume (:func:`check_volume`) or the plane is unknown.
    """
    if plane not in PLANE_AXES:
        raise ValueError(f"unknown plane {plane!r}: choose one of {', '.join(PLANE_AXES)}")
    iop = check_volume(records)
    row_dir, col_dir = np.asarray(iop[:3]), np.asarray(iop[3:])
    first = np.asarray(records[0].position, dtype=np.float64)
    last = np.asarray(records[-1].position, dtype=np.float64)
    step = last - first
    length = float(np.linalg.norm(step))
    stack = step / length if length > 0 else np.cross(row_dir, col_dir)
    axis = PLANE_AXES[plane]
    along = int(np.argmax([abs(stack[axis]), abs(row_dir[axis]), abs(col_dir[axis])]))
    if along == 0:
        count, backwards = len(records), bool(stack[axis] < 0)
        orientation = display_orientation(row_dir, col_dir, plane)
    elif along == 1:  # one column per slice: the picture runs down the rows
        count, backwards = int(records[0].columns or 0), bool(row_dir[axis] < 0)
        orientation = display_orientation(col_dir, stack, plane)
    else:
        count, backwards = int(records[0].rows or 0), bool(col_dir[axis] < 0)
        orientation = display_orientation(row_dir, stack, plane)
    direction = (float(stack[0]), float(stack[1]), float(stack[2]))
    return PlaneCut(plane, along, count, backwards, orientation, direction)
