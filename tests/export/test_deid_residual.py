"""The patient's identifiers repeated in free text the profile keeps (a SEG's TrackingID
"Liver <PatientID>", found in the demo archive by the export tests) leave every exported byte,
on both de-identification paths; the text around them stays."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from radcurate.export.deid import DeidOptions, deidentify, deidentify_file

KEY = b"residual-test-key"


def _with_tracking_id(tmp_path: Path) -> tuple[Path, str]:
    ds = dcmread(get_testdata_file("CT_small.dcm"))
    ds.PatientID = "13545910000"
    ds.PatientName = "Evans^Jane"
    item = Dataset()
    item.TrackingID = f"Liver {ds.PatientID}"
    item.SegmentLabel = "Evans liver"
    ds.SegmentSequence = Sequence([item])
    ds.ImageComments = "checked for Evans"
    path = tmp_path / "in.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path, str(ds.PatientID)


@pytest.mark.parametrize("via", ["file", "dataset"])
def test_identifiers_in_kept_text_are_removed(tmp_path: Path, via: str) -> None:
    path, patient_id = _with_tracking_id(tmp_path)
    options = DeidOptions(key=KEY)
    if via == "file":
        out = io.BytesIO()
        deidentify_file(path, out, options)
        data = out.getvalue()
        result = dcmread(io.BytesIO(data))
    else:
        result = deidentify(dcmread(path), options)
        buffer = io.BytesIO()
        result.save_as(buffer)
        data = buffer.getvalue()
    for value in (patient_id, "Evans"):
        assert value.encode() not in data, value
    item = result.SegmentSequence[0]
    assert item.TrackingID == "Liver"
    assert item.SegmentLabel == "liver"


def test_untouched_text_is_kept(tmp_path: Path) -> None:
    ds = dcmread(get_testdata_file("CT_small.dcm"))
    ds.PatientID = "ABC12345"
    item = Dataset()
    item.TrackingID = "Liver 1"
    ds.SegmentSequence = Sequence([item])
    path = tmp_path / "clean.dcm"
    ds.save_as(path, enforce_file_format=True)
    out = io.BytesIO()
    deidentify_file(path, out, DeidOptions(key=KEY))
    assert dcmread(io.BytesIO(out.getvalue())).SegmentSequence[0].TrackingID == "Liver 1"
