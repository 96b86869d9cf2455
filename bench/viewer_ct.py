"""A 512 x 512 CT series of known geometry and values, for the viewer's benchmark and tests.

The phantom archive (``radcurate demo``) has 512-pixel CTs of 30-80 slices; the viewer's
scrolling target (issue 19: >= 20 slices/s) is stated for a long series, so this writes
one of ``slices`` (default 120) axial slices, uncompressed, standard orientation
(ImageOrientationPatient 1,0,0,0,1,0), PixelSpacing ``SPACING`` and slice step ``STEP``.

Content (HU, stored as unsigned + RescaleIntercept -1024): air (-1000) around an
elliptic body of soft tissue (40 HU plus a deterministic ripple, so every slice differs),
a cube of 300 HU in the middle and a column of bone (1000 HU) on the patient's left.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

SIZE = 512
#: PixelSpacing (row, column) in mm, and the slice step in mm
SPACING = (0.75, 0.75)
STEP = 2.5
#: the 300 HU cube: rows and columns [CUBE[0], CUBE[1]) of every slice in [CUBE[2], CUBE[3])
CUBE = (200, 280, 40, 80)


def hounsfield(k: int, slices: int) -> npt.NDArray[np.int16]:
    """The HU of slice ``k`` (rows x columns)."""
    r, c = np.mgrid[0:SIZE, 0:SIZE]
    values = np.full((SIZE, SIZE), -1000, np.int16)
    body = ((r - 256) / 200.0) ** 2 + ((c - 256) / 230.0) ** 2 <= 1.0
    ripple = (20 * np.sin((r + 3 * k) / 9.0) * np.cos(c / 13.0)).astype(np.int16)
    values[body] = 40 + ripple[body]
    if CUBE[2] <= k < CUBE[3] or slices < CUBE[3]:
        values[CUBE[0] : CUBE[1], CUBE[0] : CUBE[1]] = 300
    # the patient's left is +x, the column direction of this orientation: the right half
    values[230:282, 380:420] = 1000
    return values


def write_ct(folder: Path, slices: int = 120, series_uid: str | None = None) -> str:
    """Write the series into ``folder``; returns its SeriesInstanceUID."""
    folder.mkdir(parents=True, exist_ok=True)
    series_uid = series_uid or generate_uid()
    study_uid = generate_uid(entropy_srcs=[series_uid, "study"])
    frame_uid = generate_uid(entropy_srcs=[series_uid, "frame"])
    origin = (-SIZE / 2 * SPACING[1], -SIZE / 2 * SPACING[0], 0.0)
    for k in range(slices):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.PatientID, ds.PatientName = "VIEWER512", "VIEWER^BENCH"
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, series_uid
        ds.FrameOfReferenceUID = frame_uid
        ds.StudyDate, ds.Modality = "20240301", "CT"
        ds.SeriesDescription = f"viewer bench {SIZE}x{SIZE}x{slices}"
        ds.SeriesNumber, ds.InstanceNumber = 1, k + 1
        ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        ds.ImagePositionPatient = [origin[0], origin[1], -k * STEP]
        ds.PixelSpacing = list(SPACING)
        ds.SliceThickness = STEP
        ds.Rows = ds.Columns = SIZE
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
        ds.WindowCenter, ds.WindowWidth = 40, 400
        ds.PixelData = (hounsfield(k, slices).astype(np.int32) + 1024).astype(np.uint16).tobytes()
        ds.save_as(folder / f"{k:04d}.dcm", enforce_file_format=True)
    return series_uid


def write_rtstruct(folder: Path, series_uid: str, slices: int) -> str:
    """An RTSTRUCT over :func:`write_ct`'s series ``series_uid``: the outline of the 300 HU
    cube (ROI "cube", green) on every slice it is in; returns its SeriesInstanceUID."""
    from pydicom.sequence import Sequence
    from pydicom.uid import RTStructureSetStorage

    study_uid = generate_uid(entropy_srcs=[series_uid, "study"])
    frame_uid = generate_uid(entropy_srcs=[series_uid, "frame"])
    origin = (-SIZE / 2 * SPACING[1], -SIZE / 2 * SPACING[0])
    low, high = CUBE[0] - 0.5, CUBE[1] - 0.5  # the cube's pixel edges
    corners = [(low, low), (high, low), (high, high), (low, high)]  # (column, row)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = RTStructureSetStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = RTStructureSetStorage, meta.MediaStorageSOPInstanceUID
    ds.PatientID, ds.PatientName, ds.Modality = "VIEWER512", "VIEWER^BENCH", "RTSTRUCT"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, generate_uid()
    ds.StudyDate, ds.SeriesDescription, ds.SeriesNumber = "20240301", "cube contours", 2
    ds.FrameOfReferenceUID = frame_uid
    series = Dataset()
    series.SeriesInstanceUID = series_uid
    study = Dataset()
    study.ReferencedSOPInstanceUID = study_uid
    study.RTReferencedSeriesSequence = Sequence([series])
    frame = Dataset()
    frame.FrameOfReferenceUID = frame_uid
    frame.RTReferencedStudySequence = Sequence([study])
    ds.ReferencedFrameOfReferenceSequence = Sequence([frame])
    roi = Dataset()
    roi.ROINumber, roi.ROIName, roi.ReferencedFrameOfReferenceUID = 1, "cube", frame_uid
    ds.StructureSetROISequence = Sequence([roi])
    contours = []
    for k in range(slices):
        if not (CUBE[2] <= k < CUBE[3] or slices < CUBE[3]):
            continue
        contour = Dataset()
        contour.ContourGeometricType, contour.NumberOfContourPoints = "CLOSED_PLANAR", 4
        contour.ContourData = [
            value
            for c, r in corners
            for value in (origin[0] + c * SPACING[1], origin[1] + r * SPACING[0], -k * STEP)
        ]
        contours.append(contour)
    item = Dataset()
    item.ReferencedROINumber, item.ROIDisplayColor = 1, [40, 220, 90]
    item.ContourSequence = Sequence(contours)
    ds.ROIContourSequence = Sequence([item])
    folder.mkdir(parents=True, exist_ok=True)
    ds.save_as(folder / "rtstruct.dcm", enforce_file_format=True)
    return str(ds.SeriesInstanceUID)
