"""RTSTRUCT: the contours of a structure set, and their projection onto an image plane."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset

__all__ = ["RTSTRUCT_SOP_CLASS", "Contour", "project_points", "read_contours"]

#: RT Structure Set Storage
RTSTRUCT_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.481.3"
RGB = tuple[int, int, int]


@dataclass(frozen=True)
class Contour:
    """One planar contour of an ROI.

    Attributes
    ----------
    roi, name
        ROI number and name.
    colour
        ROIDisplayColor, or None when the ROI has none.
    points
        ``(n, 3)`` patient coordinates (mm).
    sop_uids
        SOP Instance UIDs of the images it was drawn on (ContourImageSequence).
    external
        True when the ROI is interpreted as EXTERNAL (the outline of the body).
    """

    roi: int
    name: str
    colour: RGB | None
    points: npt.NDArray[np.float64]
    sop_uids: tuple[str, ...]
    external: bool = False


def read_contours(ds: Dataset) -> list[Contour]:
    """Every contour with three or more points, with its ROI's name and ROIDisplayColor."""
    names = {
        int(item.ROINumber): str(item.get("ROIName", item.ROINumber))
        for item in ds.get("StructureSetROISequence") or []
        if "ROINumber" in item
    }
    external = {
        int(item.ReferencedROINumber)
        for item in ds.get("RTROIObservationsSequence") or []
        if "ReferencedROINumber" in item and item.get("RTROIInterpretedType") == "EXTERNAL"
    }
    contours: list[Contour] = []
    for roi_item in ds.get("ROIContourSequence") or []:
        number = int(roi_item.get("ReferencedROINumber", 0) or 0)
        colour_value = roi_item.get("ROIDisplayColor")
        colour: RGB | None = (
            (int(colour_value[0]), int(colour_value[1]), int(colour_value[2]))
            if colour_value is not None and len(colour_value) == 3
            else None
        )
        for item in roi_item.get("ContourSequence") or []:
            points = _contour_points(item)
            if points is None:
                continue
            uids = tuple(
                str(ref.ReferencedSOPInstanceUID)
                for ref in item.get("ContourImageSequence") or []
                if "ReferencedSOPInstanceUID" in ref
            )
            name = names.get(number, str(number))
            contours.append(Contour(number, name, colour, points, uids, number in external))
    return contours


def _contour_points(item: Dataset) -> npt.NDArray[np.float64] | None:
    """ContourData as ``(n, 3)`` floats (None below three points).

    The raw DS text is parsed by numpy in one call: pydicom would make a ``DSfloat`` of every
    coordinate first (~25 times slower; most of the time of reading a structure set). Text
    numpy cannot parse (a malformed value) goes through pydicom, which says what is wrong.
    """
    element = item.get_item("ContourData") if "ContourData" in item else None
    if element is None:
        return None
    raw = element.value
    values: npt.NDArray[np.float64] | None = None
    if isinstance(raw, bytes):
        text = raw.decode("ascii", "replace").strip(" \0")
        try:
            values = np.array(text.split("\\"), dtype=np.float64) if text else np.empty(0)
        except ValueError:
            values = None
    if values is None:
        data = item.get("ContourData")
        if data is None:
            return None
        listed = list(data) if hasattr(data, "__iter__") else [data]
        values = np.asarray([float(v) for v in listed], dtype=np.float64)
    return None if values.size < 9 else values.reshape(-1, 3)


def project_points(
    points: npt.NDArray[np.float64],
    position: Sequence[float],
    orientation: Sequence[float],
    spacing: Sequence[float],
) -> npt.NDArray[np.float64]:
    """``(n, 2)`` (column, row) pixel coordinates of patient points on an image plane.

    Solves ``p - IPP = col * dc * R + row * dr * C + d * N`` for (col, row, d) with
    the row and column direction cosines R, C of ImageOrientationPatient, their
    normal N and PixelSpacing ``(dr, dc)`` — exact for oblique planes too.

    Examples
    --------
    >>> project_points(np.array([[10.0, 20.0, 5.0]]), [0, 0, 5], [1, 0, 0, 0, 1, 0], [2, 2])
    array([[ 5., 10.]])
    """
    row_dir = np.asarray(orientation[:3], dtype=np.float64)
    col_dir = np.asarray(orientation[3:], dtype=np.float64)
    normal = np.cross(row_dir, col_dir)
    matrix = np.column_stack([row_dir * float(spacing[1]), col_dir * float(spacing[0]), normal])
    offsets = points - np.asarray(position, dtype=np.float64)
    solved: npt.NDArray[np.float64] = np.linalg.solve(matrix, offsets.T).T.astype(np.float64)
    return solved[:, :2]
