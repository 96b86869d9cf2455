"""Synthetic multi-series MR studies for the channel tests, written with pydicom (and a
DICOM-SEG with highdicom, an RTSTRUCT by hand), each slice's pixels known.

``write_studies(root)`` writes five patients:

- ``CHAN_A``: two studies, each a T1 and a FLAIR on one grid (same frame of reference); a
  SEG over the first study's FLAIR (labels from a channel other than the reference) and one
  over the second study's T1.
- ``CHAN_B``: a T1 and a FLAIR on another, oblique grid (rotated 10 degrees about the slice
  normal, other spacing, shifted origin) in the same frame of reference; an RTSTRUCT drawn
  on the FLAIR.
- ``CHAN_C``: a T1 and a FLAIR in different frames of reference.
- ``CHAN_D``: a T1 only.
- ``CHAN_E``: two T1 series (numbers 1 and 3) and a FLAIR.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import UID, ExplicitVRLittleEndian, MRImageStorage, generate_uid

RTSTRUCT_CLASS = UID("1.2.840.10008.5.1.4.1.1.481.3")
#: channel queries matching the descriptions written here
CHANNELS = ("T1=SeriesDescription:*t1*", "FLAIR=SeriesDescription:*flair*")


@dataclass(frozen=True)
class Grid:
    """Slices ``(slices, rows, columns)``, spacing ``(row, column)``, slice step, origin
    (LPS of the first voxel) and in-plane rotation (degrees about the z axis)."""

    shape: tuple[int, int, int] = (6, 12, 10)
    spacing: tuple[float, float] = (1.5, 1.25)
    step: float = 2.0
    origin: tuple[float, float, float] = (-10.0, -8.0, 0.0)
    degrees: float = 0.0

    def orientation(self) -> list[float]:
        a = math.radians(self.degrees)
        return [math.cos(a), math.sin(a), 0.0, -math.sin(a), math.cos(a), 0.0]

    def position(self, k: int) -> list[float]:
        x, y, z = self.origin
        return [x, y, z + self.step * k]


OBLIQUE = Grid((5, 10, 9), (1.8, 1.6), 2.5, (-9.3, -7.1, 0.7), 10.0)


@dataclass
class Study:
    """What was written for one study (datasets per series description)."""

    patient: str
    uid: str = field(default_factory=generate_uid)
    frame: str = field(default_factory=generate_uid)
    series: dict[str, list[Dataset]] = field(default_factory=dict)


def write_series(
    folder: Path, study: Study, description: str, number: int, grid: Grid, seed: int,
    frame: str | None = None,
) -> list[Dataset]:  # fmt: skip
    """One MR series of random int16 values on ``grid``; its datasets in slice order."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    slices, rows, columns = grid.shape
    series_uid = generate_uid()
    written = []
    for k in range(slices):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.MediaStorageSOPClassUID = MRImageStorage
        ds.SOPClassUID, ds.SOPInstanceUID = MRImageStorage, generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study.uid, series_uid
        ds.FrameOfReferenceUID = frame or study.frame
        ds.PatientID, ds.PatientName = study.patient, f"Channel^{study.patient}"
        ds.PatientBirthDate, ds.PatientSex = "19700101", "O"
        ds.StudyDate, ds.StudyTime, ds.StudyID, ds.AccessionNumber = "20240101", "120000", "1", ""
        ds.ReferringPhysicianName, ds.Modality, ds.Manufacturer = "", "MR", "SYNTH"
        ds.SeriesNumber, ds.SeriesDescription, ds.InstanceNumber = number, description, k + 1
        ds.ImagePositionPatient = grid.position(k)
        ds.ImageOrientationPatient = grid.orientation()
        ds.PixelSpacing, ds.SliceThickness = list(grid.spacing), grid.step
        ds.Rows, ds.Columns = rows, columns
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.PixelData = rng.integers(0, 1000, (rows, columns)).astype(np.int16).tobytes()
        ds.save_as(folder / f"{number:02d}-{k:03d}.dcm", enforce_file_format=True)
        written.append(ds)
    study.series[description] = written
    return written


def lesion_mask(shape: tuple[int, int, int]) -> np.ndarray:
    """A box of ones on the middle slices (``(slices, rows, columns)``, bool)."""
    mask = np.zeros(shape, dtype=bool)
    slices, rows, columns = shape
    mask[1 : slices - 1, rows // 4 : rows // 2 + 2, columns // 4 : columns // 2 + 2] = True
    return mask


def write_seg(folder: Path, sources: list[Dataset], name: str = "lesion") -> None:
    """A BINARY DICOM-SEG of :func:`lesion_mask` over ``sources``."""
    import highdicom as hd
    from pydicom.sr.codedict import codes

    algorithm = hd.AlgorithmIdentificationSequence(
        name="synth", family=codes.cid7162.ArtificialIntelligence, version="1"
    )
    segment = hd.seg.SegmentDescription(
        segment_number=1, segment_label=name, segmented_property_category=codes.SCT.Tissue,
        segmented_property_type=codes.SCT.Tissue, algorithm_type="AUTOMATIC",
        algorithm_identification=algorithm,
    )  # fmt: skip
    first = sources[0]
    seg = hd.seg.Segmentation(
        source_images=sources, pixel_array=lesion_mask((len(sources), first.Rows, first.Columns)),
        segmentation_type="BINARY", segment_descriptions=[segment],
        series_instance_uid=generate_uid(), series_number=90, sop_instance_uid=generate_uid(),
        instance_number=1, manufacturer="synth", manufacturer_model_name="synth",
        software_versions="1", device_serial_number="1",
    )  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    seg.save_as(folder / "seg.dcm")


def square_lps(ds: Dataset) -> np.ndarray:
    """Corners (LPS, 4 x 3) of the square RTSTRUCT contour drawn on slice ``ds``: columns
    2..6 and rows 2..6 of its grid (pixel centres)."""
    origin = np.array([float(v) for v in ds.ImagePositionPatient])
    iop = [float(v) for v in ds.ImageOrientationPatient]
    row_dir, col_dir = np.array(iop[:3]), np.array(iop[3:])
    dr, dc = (float(v) for v in ds.PixelSpacing)
    corners = [(2, 2), (6, 2), (6, 6), (2, 6)]  # (column, row)
    return np.array([origin + c * dc * row_dir + r * dr * col_dir for c, r in corners])


def write_rtstruct(folder: Path, sources: list[Dataset]) -> None:
    """An RTSTRUCT with one ROI ``tumour``: :func:`square_lps` on every slice of ``sources``."""
    first = sources[0]
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = RTSTRUCT_CLASS
    ds.SOPClassUID, ds.SOPInstanceUID = RTSTRUCT_CLASS, generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = first.StudyInstanceUID, generate_uid()
    ds.PatientID, ds.PatientName, ds.Modality = first.PatientID, first.PatientName, "RTSTRUCT"
    ds.StructureSetLabel, ds.InstanceNumber, ds.SeriesNumber = "synth", 1, 91
    ref_series = Dataset()
    ref_series.SeriesInstanceUID = first.SeriesInstanceUID
    ref_series.ContourImageSequence = Sequence()
    study_ref = Dataset()
    study_ref.RTReferencedSeriesSequence = Sequence([ref_series])
    frame = Dataset()
    frame.FrameOfReferenceUID = first.FrameOfReferenceUID
    frame.RTReferencedStudySequence = Sequence([study_ref])
    ds.ReferencedFrameOfReferenceSequence = Sequence([frame])
    roi = Dataset()
    roi.ROINumber, roi.ROIName = 1, "tumour"
    roi.ReferencedFrameOfReferenceUID = first.FrameOfReferenceUID
    items = []
    for src in sources:
        item = Dataset()
        image = Dataset()
        image.ReferencedSOPClassUID = src.SOPClassUID
        image.ReferencedSOPInstanceUID = src.SOPInstanceUID
        item.ContourImageSequence = Sequence([image])
        item.ContourGeometricType, item.NumberOfContourPoints = "CLOSED_PLANAR", 4
        item.ContourData = [round(float(v), 4) for v in square_lps(src).ravel()]
        items.append(item)
    contour = Dataset()
    contour.ReferencedROINumber = 1
    contour.ContourSequence = Sequence(items)
    ds.StructureSetROISequence = Sequence([roi])
    ds.ROIContourSequence = Sequence([contour])
    folder.mkdir(parents=True, exist_ok=True)
    ds.save_as(folder / "rtstruct.dcm", enforce_file_format=True)


def write_studies(root: Path) -> dict[str, Study]:
    """The five patients of the module docstring; studies by name (``A1``, ``A2``, ``B``...)."""
    grid = Grid()
    made: dict[str, Study] = {}
    seed = 0

    def study(name: str, patient: str) -> tuple[Path, Study]:
        made[name] = Study(patient)
        return root / name, made[name]

    for name in ("A1", "A2"):
        folder, st = study(name, "CHAN_A")
        t1 = write_series(folder, st, "t1_se_tra", 1, grid, seed := seed + 1)
        flair = write_series(folder, st, "t2_flair_tra", 2, grid, seed := seed + 1)
        write_seg(folder / "seg", flair if name == "A1" else t1)
    folder, st = study("B", "CHAN_B")
    write_series(folder, st, "t1_se_tra", 1, grid, seed := seed + 1)
    flair = write_series(folder, st, "t2_flair_tra", 2, OBLIQUE, seed := seed + 1)
    write_rtstruct(folder / "rt", flair)
    folder, st = study("C", "CHAN_C")
    write_series(folder, st, "t1_se_tra", 1, grid, seed := seed + 1)
    write_series(folder, st, "t2_flair_tra", 2, grid, seed := seed + 1, frame=generate_uid())
    folder, st = study("D", "CHAN_D")
    write_series(folder, st, "t1_se_tra", 1, grid, seed := seed + 1)
    folder, st = study("E", "CHAN_E")
    write_series(folder, st, "t1_se_tra", 1, grid, seed := seed + 1)
    write_series(folder / "again", st, "t1_se_tra_repeat", 3, grid, seed := seed + 1)
    write_series(folder, st, "t2_flair_tra", 2, grid, seed := seed + 1)
    return made
