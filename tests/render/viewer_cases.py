"""Objects the viewer must show without the controls of a grey stack (issue 19, defects 9
and 10): pydicom's colour ultrasound, one-slice CT, SR and RTDOSE files (with badVR.dcm,
an RTDOSE of the same series whose NumberOfFrames is "1A"), and a CT series whose pixel
data is cut short (undecodable)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pydicom
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

#: pydicom test files copied as they are: name -> folder in the archive
PYDICOM_FILES = {
    "examples_palette.dcm": "us-colour",
    "CT_small.dcm": "ct-one-slice",
    "test-SR.dcm": "sr",
    "rtdose.dcm": "rtdose",
    "rtdose_1frame.dcm": "rtdose",
    "rtdose_expb.dcm": "rtdose",
    "rtdose_rle.dcm": "rtdose",
    "badVR.dcm": "rtdose",
}
#: SeriesDescription of the undecodable series
BROKEN = "broken pixel data"


def write_broken(folder: Path, slices: int = 3) -> str:
    """A CT series whose PixelData is half as long as Rows x Columns says; its UID."""
    source = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    series_uid = generate_uid()
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(slices):
        ds = source.copy()
        ds.SeriesInstanceUID = series_uid
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.SeriesDescription = BROKEN
        ds.InstanceNumber = k + 1
        ds.ImagePositionPatient = [0.0, 0.0, float(k)]
        ds.PixelData = source.PixelData[: len(source.PixelData) // 2]
        ds.save_as(folder / f"broken-{k}.dcm")
    return series_uid


def write_viewer_cases(root: Path) -> dict[str, str]:
    """Copy the pydicom files and write the broken series under ``root``; folder -> the
    SeriesInstanceUID found there."""
    uids: dict[str, str] = {}
    for name, folder in PYDICOM_FILES.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(get_testdata_file(name), root / folder / name)
        ds = pydicom.dcmread(root / folder / name, stop_before_pixels=True, force=True)
        uids.setdefault(folder, str(ds.SeriesInstanceUID))
    uids["broken"] = write_broken(root / "broken")
    return uids
