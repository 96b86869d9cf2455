"""Small synthetic CT series written on the fly (a series can then grow)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid


def write_ct_series(
    folder: Path, series_uid: str, slices: range, *, study_uid: str = "1.2.826.0.1.99.1"
) -> list[Path]:
    """Write slices ``slices`` (indices, 2 mm apart) of a 32x32 CT series into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in slices:
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = generate_uid(entropy_srcs=[series_uid, str(k)])
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series_uid
        ds.PatientID = "JOBS1"
        ds.PatientName = "Jobs^Test"
        ds.Modality = "CT"
        ds.SeriesDescription = "jobs test"
        ds.InstanceNumber = k + 1
        ds.ImagePositionPatient = [0.0, 0.0, 2.0 * k]
        ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        ds.PixelSpacing = [1.0, 1.0]
        ds.SliceThickness = 2.0
        ds.Rows = ds.Columns = 32
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated = ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 1
        ds.RescaleSlope, ds.RescaleIntercept = 1.0, 0.0
        yy, xx = np.mgrid[:32, :32]
        pixels = ((xx - 16) ** 2 + (yy - 16) ** 2 < (4 + k) ** 2) * 400 - 1000
        ds.PixelData = pixels.astype(np.int16).tobytes()
        path = folder / f"{k:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths
