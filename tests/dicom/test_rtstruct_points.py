"""Contour points parsed from the raw DS text equal pydicom's values, in both VR encodings."""

from __future__ import annotations

import io

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from radcurate.imaging.rtstruct import read_contours


def _pydicom_points(ds: Dataset) -> list[np.ndarray]:
    points = []
    for roi in ds.ROIContourSequence:
        for item in roi.get("ContourSequence") or []:
            data = item.get("ContourData")
            if data and len(data) >= 9:
                points.append(np.asarray([float(v) for v in data]).reshape(-1, 3))
    return points


@pytest.mark.parametrize("syntax", [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
def test_raw_parse_equals_pydicom(syntax: str) -> None:
    path = get_testdata_file("rtstruct.dcm")
    assert path is not None
    ds = dcmread(path, force=True)
    item = ds.ROIContourSequence[0].ContourSequence[0]
    # awkward but valid DS text: padding, exponents, signs, a 16-character value
    item.ContourData = ["1.5", " -2.25", "3e-1", "+4", "-0.000001", "1234567.89012345",
                        "7", "8", "9"]  # fmt: skip
    ds.file_meta.TransferSyntaxUID = syntax
    buffer = io.BytesIO()
    ds.save_as(buffer, implicit_vr=syntax == ImplicitVRLittleEndian, little_endian=True)
    read = dcmread(io.BytesIO(buffer.getvalue()), force=True)
    contours = read_contours(read)
    expected = _pydicom_points(dcmread(io.BytesIO(buffer.getvalue()), force=True))
    assert len(contours) == len(expected) > 1
    for contour, points in zip(contours, expected, strict=True):
        assert np.array_equal(contour.points, points)
    assert contours[0].points[1, 2] == 1234567.89012345


def test_converted_values_and_short_contours() -> None:
    path = get_testdata_file("rtstruct.dcm")
    assert path is not None
    ds = dcmread(path, force=True)
    sequence = ds.ROIContourSequence[0].ContourSequence
    sequence[0].ContourData = [1, 2, 3, 4, 5, 6]  # two points: not a contour
    _ = sequence[1].ContourData  # converted by pydicom before we read it
    got = read_contours(ds)
    assert len(got) == len(_pydicom_points(ds))
    assert np.array_equal(got[0].points, _pydicom_points(ds)[0])
