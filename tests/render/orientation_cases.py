"""One synthetic patient acquired in several orientations, for the orientation tests.

The "anatomy" is a block of soft tissue (0 HU) in LPS patient coordinates with three
spheres: a bright one on the patient's **left** (x = +30 mm, 1000 HU), one **anterior**
(y = -30 mm, 600 HU) and one **superior** (z = +12 mm, 300 HU). Every series samples the
same block on the same 3 mm grid, stored with another ImageOrientationPatient (and so
other pixel data), so all must be displayed identically in every plane.

Under the header window (W 1600 / L 400) the grey levels are about: tissue 64, superior
111, anterior 159, left 223.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

STEP = 3.0
#: patient box (LPS, mm): first and last voxel centre on each axis
BOX = ((-48.0, 45.0), (-48.0, 45.0), (-24.0, 21.0))
SPHERES = (
    ((30.0, 0.0, 0.0), 10.0, 1000),
    ((0.0, -30.0, 0.0), 10.0, 600),
    ((0.0, 0.0, 12.0), 8.0, 300),
)
#: grey level (0-255) of each structure under the header window, and a tolerance
GREY = {"tissue": 64, "superior": 111, "anterior": 159, "left": 223}
GREY_TOLERANCE = 22

#: name -> (row direction, column direction): how each series is stored
ORIENTATIONS: dict[str, tuple[tuple[int, int, int], tuple[int, int, int]]] = {
    "axial standard": ((1, 0, 0), (0, 1, 0)),
    "axial flipped": ((-1, 0, 0), (0, 1, 0)),
    "axial rotated": ((0, 1, 0), (1, 0, 0)),
    "axial upside down": ((-1, 0, 0), (0, -1, 0)),
    "coronal": ((1, 0, 0), (0, 0, -1)),
    "sagittal": ((0, 1, 0), (0, 0, -1)),
}


def hounsfield(points: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """HU of the anatomy at LPS ``points`` (..., 3)."""
    values = np.zeros(points.shape[:-1])
    for centre, radius, hu in SPHERES:
        inside = np.linalg.norm(points - np.asarray(centre), axis=-1) <= radius
        values[inside] = hu
    return values


def _count(axis: int) -> int:
    low, high = BOX[axis]
    return round((high - low) / STEP) + 1


def write_series(
    folder: Path,
    name: str,
    patient: str = "ORIENT",
    study: str | None = None,
    series_uid: str | None = None,
) -> str:
    """Write series ``name`` of :data:`ORIENTATIONS` into ``folder`` (as ``series_uid``, to
    mix orientations in one series); returns its UID."""
    right, down = (np.asarray(v, dtype=np.float64) for v in ORIENTATIONS[name])
    normal = np.cross(right, down)
    origin = np.array(
        [BOX[k][1] if (right + down + normal)[k] < 0 else BOX[k][0] for k in range(3)]
    )
    cols, rows, slices = (_count(int(np.argmax(np.abs(v)))) for v in (right, down, normal))
    series_uid = series_uid or generate_uid()
    study_uid = study or generate_uid(entropy_srcs=[patient])
    folder.mkdir(parents=True, exist_ok=True)
    r_idx, c_idx = np.mgrid[0:rows, 0:cols]
    for k in range(slices):
        corner = origin + k * STEP * normal
        points = corner + c_idx[..., None] * STEP * right + r_idx[..., None] * STEP * down
        stored = (hounsfield(points) + 1024).astype(np.uint16)
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.PatientID, ds.PatientName = patient, f"{patient}^TEST"
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, series_uid
        ds.FrameOfReferenceUID = generate_uid(entropy_srcs=[patient, "frame"])
        ds.StudyDate, ds.Modality = "20240101", "CT"
        ds.SeriesDescription = name
        ds.SeriesNumber = list(ORIENTATIONS).index(name) + 1
        ds.InstanceNumber = k + 1
        ds.ImageOrientationPatient = [*map(float, right), *map(float, down)]
        ds.ImagePositionPatient = [float(v) for v in corner]
        ds.PixelSpacing = [STEP, STEP]
        ds.SliceThickness = STEP
        ds.Rows, ds.Columns = rows, cols
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
        ds.WindowCenter, ds.WindowWidth = 400, 1600
        ds.PixelData = stored.tobytes()
        ds.save_as(folder / f"{series_uid}-{k:03d}.dcm", enforce_file_format=True)
    return series_uid


def write_all(folder: Path) -> dict[str, str]:
    """Every series of :data:`ORIENTATIONS` (one study); name -> SeriesInstanceUID."""
    study = generate_uid()
    return {
        name: write_series(folder / name.replace(" ", "-"), name, study=study)
        for name in ORIENTATIONS
    }


#: where each structure is in the display convention of each plane, as fractions of the
#: picture (x from the left edge, y from the top edge), at the middle cut of the plane
EXPECTED: dict[str, dict[str, tuple[float, float]]] = {}


def _fraction(axis: int, value: float, reverse: bool = False) -> float:
    low, high = BOX[axis]
    span = high - low + STEP
    at = (value - low + STEP / 2) / span
    return 1.0 - at if reverse else at


# axial: patient's right on the left (x grows to the right), anterior up (y grows down)
EXPECTED["axial"] = {
    "left": (_fraction(0, 30.0), _fraction(1, 0.0)),
    "anterior": (_fraction(0, 0.0), _fraction(1, -30.0)),
}
# coronal: x grows to the right, superior up
EXPECTED["coronal"] = {
    "left": (_fraction(0, 30.0), _fraction(2, 0.0, reverse=True)),
    "superior": (_fraction(0, 0.0), _fraction(2, 12.0, reverse=True)),
}
# sagittal: anterior on the left (y grows to the right), superior up
EXPECTED["sagittal"] = {
    "anterior": (_fraction(1, -30.0), _fraction(2, 0.0, reverse=True)),
    "superior": (_fraction(1, 0.0), _fraction(2, 12.0, reverse=True)),
}
#: the edge letters of each plane's display convention
MARKERS = {
    "axial": {"top": "A", "bottom": "P", "left": "R", "right": "L"},
    "coronal": {"top": "S", "bottom": "I", "left": "R", "right": "L"},
    "sagittal": {"top": "S", "bottom": "I", "left": "A", "right": "P"},
}


def write_rtstruct(folder: Path, series_uid: str, study_uid: str, frame_uid: str) -> str:
    """An RTSTRUCT over ``series_uid``: one closed contour around the left sphere on the
    axial plane z = 0; returns its SeriesInstanceUID."""
    from pydicom.sequence import Sequence
    from pydicom.uid import RTStructureSetStorage

    angles = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    points = [
        value
        for a in angles
        for value in (30.0 + 8.0 * float(np.cos(a)), 8.0 * float(np.sin(a)), 0.0)
    ]
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = RTStructureSetStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = RTStructureSetStorage, meta.MediaStorageSOPInstanceUID
    ds.PatientID, ds.PatientName, ds.Modality = "ORIENT", "ORIENT^TEST", "RTSTRUCT"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, generate_uid()
    ds.StudyDate, ds.SeriesDescription, ds.SeriesNumber = "20240101", "left sphere", 99
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
    roi.ROINumber, roi.ROIName, roi.ReferencedFrameOfReferenceUID = 1, "left", frame_uid
    ds.StructureSetROISequence = Sequence([roi])
    contour = Dataset()
    contour.ContourGeometricType, contour.NumberOfContourPoints = "CLOSED_PLANAR", len(angles)
    contour.ContourData = points
    item = Dataset()
    item.ReferencedROINumber, item.ROIDisplayColor = 1, [255, 0, 0]
    item.ContourSequence = Sequence([contour])
    ds.ROIContourSequence = Sequence([item])
    folder.mkdir(parents=True, exist_ok=True)
    ds.save_as(folder / "rtstruct.dcm", enforce_file_format=True)
    return str(ds.SeriesInstanceUID)
