"""NIfTI volumes as DICOM slices: geometry from the affine, values kept, deterministic UIDs.

A NIfTI array ``data[i, j, k]`` (x, y, z) and its RAS affine become slice ``k`` with
row ``j`` and column ``i``: the affine's first column (in LPS, divided by its length)
is the row direction of ImageOrientationPatient, the second the column direction,
their lengths the PixelSpacing (row spacing = |second|, column spacing = |first|),
and ``affine @ (0, 0, k, 1)`` (in LPS) is slice ``k``'s ImagePositionPatient. DICOM
patient coordinates are LPS, NIfTI's RAS: x and y are negated.

The affine is the sform when ``sform_code > 0``, else the qform when
``qform_code > 0`` (nibabel's rule, also ITK's and FSL's when both are set), else
only the voxel sizes (no orientation: a note says so).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from pydicom.datadict import dictionary_VR, keyword_dict
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, UID, ExplicitVRLittleEndian, generate_uid
from pydicom.valuerep import DSfloat

from radcurate.optional import import_optional

__all__ = [
    "Encoding",
    "NiftiError",
    "NiftiVolume",
    "SliceGeometry",
    "derive_uid",
    "encode_values",
    "file_sha256",
    "load_nifti",
    "slice_datasets",
    "slice_geometry",
]

F64 = npt.NDArray[np.float64]
#: DICOM LPS <-> NIfTI RAS
RAS_TO_LPS: F64 = np.diag([-1.0, -1.0, 1.0, 1.0])
#: the in-plane axes must be perpendicular to this (cosine of the angle between them)
ORTHOGONAL_TOLERANCE = 1e-4
#: SOP classes by Modality; anything else is stored as Secondary Capture with the plane attributes
#: (PET Image Storage needs acquisition facts a NIfTI file does not hold: PT is Secondary Capture)
SOP_CLASSES: dict[str, str] = {
    "CT": "1.2.840.10008.5.1.4.1.1.2",
    "MR": "1.2.840.10008.5.1.4.1.1.4",
}
#: what the IOD requires and a NIfTI file does not say: empty (Type 2) or "unknown" values
#: (Type 1: MR ScanningSequence RM = research mode, SequenceVariant NONE); a sidecar may set them
#: the third ImageType value the CT and MR image modules require
IMAGE_TYPE_3: dict[str, tuple[str]] = {"CT": ("AXIAL",), "MR": ("OTHER",)}
IOD_DEFAULTS: dict[str, dict[str, str]] = {
    "CT": {"KVP": "", "AcquisitionNumber": "", "PatientPosition": "", "Laterality": ""},
    "MR": {
        "PatientPosition": "",
        "Laterality": "",
        "ScanningSequence": "RM",
        "SequenceVariant": "NONE",
        "ScanOptions": "",
        "MRAcquisitionType": "",
        "EchoTime": "",
        "EchoTrainLength": "",
        "RepetitionTime": "",
        "AcquisitionNumber": "",
    },
}
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
#: header values the importer writes itself: a sidecar may not set them
RESERVED = frozenset(
    {
        "SOPClassUID",
        "SOPInstanceUID",
        "StudyInstanceUID",
        "SeriesInstanceUID",
        "FrameOfReferenceUID",
        "ImagePositionPatient",
        "ImageOrientationPatient",
        "PixelSpacing",
        "SliceThickness",
        "SpacingBetweenSlices",
        "Rows",
        "Columns",
        "BitsAllocated",
        "BitsStored",
        "HighBit",
        "PixelRepresentation",
        "PixelData",
        "RescaleSlope",
        "RescaleIntercept",
        "SamplesPerPixel",
        "PhotometricInterpretation",
        "InstanceNumber",
    }
)


class NiftiError(ValueError):
    """A file that cannot be imported; the message says why (never a voxel or patient value)."""


@dataclass(frozen=True)
class NiftiVolume:
    """A 3-D NIfTI image: ``data[i, j, k]`` and the RAS affine of ``(i, j, k, 1)``."""

    data: npt.NDArray[Any]
    affine: F64
    affine_source: str
    sha256: str
    notes: tuple[str, ...] = ()


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes (hex)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_nifti(path: Path) -> NiftiVolume:
    """Read a NIfTI-1/2 file (``.nii`` or ``.nii.gz``) as a 3-D volume.

    A 4-D file with one volume along the fourth axis is taken as 3-D.

    Raises
    ------
    NiftiError
        Not a NIfTI file, not 3-D (4-D with several volumes: split them into channel
        files ``_0000``, ``_0001``), or non-finite values.
    """
    nibabel = import_optional("nibabel", "importing NIfTI files")
    try:
        image = nibabel.load(str(path))
    except Exception as exc:  # nibabel raises many kinds
        raise NiftiError(f"not a readable NIfTI file ({type(exc).__name__})") from exc
    if not isinstance(image, nibabel.Nifti1Image | nibabel.Nifti2Image):
        raise NiftiError(f"not a NIfTI file (nibabel reads it as {type(image).__name__})")
    shape = tuple(int(n) for n in image.shape)
    if len(shape) == 4 and shape[3] == 1:
        shape = shape[:3]
    elif len(shape) == 4:
        raise NiftiError(
            f"4-D image {shape} with {shape[3]} volumes and no channel axis: "
            "save each volume as its own file (CASE_0000, CASE_0001, ...)"
        )
    if len(shape) != 3:
        raise NiftiError(f"{len(shape)}-D image {shape}: only 3-D volumes can be imported")
    data = np.asanyarray(image.dataobj).reshape(shape)
    if data.dtype.kind not in "iufb":
        raise NiftiError(f"voxel type {data.dtype} cannot be imported (not a number)")
    if data.dtype.kind == "f" and not np.isfinite(data).all():
        raise NiftiError("the image has NaN or infinite voxels")
    header = image.header
    sform, qform = int(header["sform_code"]), int(header["qform_code"])
    notes: list[str] = []
    if sform > 0:
        affine, source = header.get_sform(), "sform"
        if qform > 0 and not np.allclose(header.get_qform(), affine, atol=1e-4):
            notes.append("sform and qform differ: the sform was used")
    elif qform > 0:
        affine, source = header.get_qform(), "qform"
    else:
        affine, source = header.get_base_affine(), "pixdim"
        notes.append("no sform or qform: orientation taken from the voxel sizes only")
    return NiftiVolume(
        data, np.asarray(affine, dtype=np.float64), source, file_sha256(path), tuple(notes)
    )


@dataclass(frozen=True)
class SliceGeometry:
    """DICOM plane attributes of every slice (LPS millimetres)."""

    orientation: tuple[float, ...]
    pixel_spacing: tuple[float, float]
    positions: tuple[tuple[float, float, float], ...]
    thickness: float


def _ds(value: float) -> DSfloat:
    return DSfloat(float(value), auto_format=True)


def slice_geometry(affine: F64, slices: int) -> SliceGeometry:
    """ImageOrientationPatient, PixelSpacing and each ImagePositionPatient of an affine.

    Raises
    ------
    NiftiError
        A degenerate affine, or in-plane axes that are not perpendicular (a shear DICOM
        slices cannot hold).
    """
    lps = RAS_TO_LPS @ affine
    first, second, third = lps[:3, 0], lps[:3, 1], lps[:3, 2]
    d_col, d_row, step = (float(np.linalg.norm(v)) for v in (first, second, third))
    if min(d_col, d_row, step) < 1e-9 or abs(np.linalg.det(lps[:3, :3])) < 1e-12:
        raise NiftiError("the affine is degenerate (a zero-length or flat axis)")
    row_dir, col_dir = first / d_col, second / d_row
    if abs(float(row_dir @ col_dir)) > ORTHOGONAL_TOLERANCE:
        raise NiftiError(
            "the affine shears the slice plane (its x and y axes are not perpendicular)"
        )
    positions = tuple(
        (float(p[0]), float(p[1]), float(p[2]))
        for p in (lps[:3, 3] + k * third for k in range(slices))
    )
    normal = np.cross(row_dir, col_dir)
    thickness = abs(float(third @ normal))
    return SliceGeometry(
        tuple(float(v) for v in (*row_dir, *col_dir)), (d_row, d_col), positions, thickness
    )


@dataclass(frozen=True)
class Encoding:
    """Stored pixel values and the Modality rescale that gives the NIfTI values back.

    ``max_error`` is the largest difference between a NIfTI value and
    ``stored * slope + intercept`` (0 when the values are stored exactly).
    """

    stored: npt.NDArray[Any]
    slope: float
    intercept: float
    max_error: float
    exact: bool

    @property
    def signed(self) -> bool:
        """PixelRepresentation 1 (int16) or 0 (uint16)."""
        return self.stored.dtype == np.int16


def encode_values(data: npt.NDArray[Any]) -> Encoding:
    """16-bit storage of ``data``: exact integers when they fit, else a linear rescale.

    Integral values within int16 (or uint16 when none is negative) are stored as they
    are (slope 1, intercept 0). Other values are mapped linearly onto 0..65535 with
    ``slope = (max - min) / 65535`` and ``intercept = min`` (as written, DS strings), so
    the error is at most ``slope / 2``; the measured maximum is returned.
    """
    values = np.asarray(data)
    if values.size == 0:
        raise NiftiError("the image has no voxels")
    low, high = float(values.min()), float(values.max())
    integral = values.dtype.kind in "iub" or bool(np.all(values == np.round(values)))
    if integral and low >= -32768 and high <= 32767:
        return Encoding(values.astype(np.int16), 1.0, 0.0, 0.0, True)
    if integral and low >= 0 and high <= 65535:
        return Encoding(values.astype(np.uint16), 1.0, 0.0, 0.0, True)
    intercept = float(_ds(low))
    slope = float(_ds((high - low) / 65535.0)) if high > low else 1.0
    if high > low and intercept + 65535 * slope < high:  # the rounded slope falls short
        slope = float(_ds(math.nextafter(slope, math.inf) * (1 + 1e-12)))
    exact64 = values.astype(np.float64)
    stored = np.clip(np.rint((exact64 - intercept) / slope), 0, 65535).astype(np.uint16)
    error = float(np.abs(stored * slope + intercept - exact64).max())
    return Encoding(stored, slope, intercept, error, error == 0.0)


def derive_uid(root: str | None, *parts: str) -> str:
    """A UID that depends only on ``parts``: ``root`` + a hash, or ``2.25.<hash>`` without one.

    Without a root the hash is 128 bits of SHA-256, the size of the UUID a ``2.25.``
    UID holds (pydicom's ``generate_uid`` would draw a random UUID there).

    Examples
    --------
    >>> derive_uid(None, "a") == derive_uid(None, "a") != derive_uid(None, "b")
    True
    """
    sources = ["radcurate-nifti-import/1", *parts]
    if root:
        return str(generate_uid(prefix=root, entropy_srcs=sources))
    digest = hashlib.sha256("\x00".join(sources).encode("utf-8")).hexdigest()
    return f"2.25.{int(digest[:32], 16)}"


def _header_value(keyword: str, value: Any) -> Any:
    if keyword not in keyword_dict:
        raise NiftiError(f"sidecar key '{keyword}' is not a DICOM keyword")
    if keyword in RESERVED:
        raise NiftiError(f"sidecar key '{keyword}' is set by the importer and may not be given")
    if dictionary_VR(keyword_dict[keyword]) == "SQ":
        raise NiftiError(f"sidecar key '{keyword}' is a sequence: not supported")
    return value


@dataclass(frozen=True)
class SeriesSpec:
    """Who and what a series is: UIDs, numbers and header values."""

    study_uid: str
    series_uid: str
    frame_of_reference_uid: str
    uid_root: str | None
    series_number: int
    header: Mapping[str, Any] = field(default_factory=dict)


def slice_datasets(volume: NiftiVolume, encoding: Encoding, spec: SeriesSpec) -> list[Dataset]:
    """One single-frame DICOM dataset per slice (``k`` = 0, 1, ...), ready to save."""
    nx, ny, nz = volume.data.shape
    geometry = slice_geometry(volume.affine, nz)
    header = dict(spec.header)
    modality = str(header.get("Modality") or "OT")
    sop_class = SOP_CLASSES.get(modality, SECONDARY_CAPTURE)
    datasets: list[Dataset] = []
    for k in range(nz):
        ds = Dataset()
        sop_uid = derive_uid(spec.uid_root, spec.series_uid, "slice", str(k))
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = UID(sop_class)
        meta.MediaStorageSOPInstanceUID = UID(sop_uid)
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
        ds.file_meta = meta
        ds.SpecificCharacterSet = "ISO_IR 192"
        ds.ImageType = ["DERIVED", "PRIMARY", *IMAGE_TYPE_3.get(modality, ())]
        ds.SOPClassUID = sop_class
        ds.SOPInstanceUID = sop_uid
        ds.StudyInstanceUID = spec.study_uid
        ds.SeriesInstanceUID = spec.series_uid
        ds.FrameOfReferenceUID = spec.frame_of_reference_uid
        for keyword in ("PatientName", "PatientBirthDate", "PatientSex", "StudyDate"):
            setattr(ds, keyword, "")
        for keyword in ("StudyTime", "AccessionNumber", "ReferringPhysicianName", "StudyID"):
            setattr(ds, keyword, "")
        ds.PatientID = ""
        ds.Modality = modality
        ds.Manufacturer = ""
        ds.PositionReferenceIndicator = ""
        if sop_class == SECONDARY_CAPTURE:
            ds.ConversionType = "WSD"
            ds.PatientOrientation = ""
            ds.Laterality = ""
        for keyword, text in IOD_DEFAULTS.get(modality, {}).items():
            setattr(ds, keyword, text)
        for keyword, value in sorted(header.items()):
            setattr(ds, keyword, _header_value(keyword, value))
        ds.Modality = modality
        ds.SeriesNumber = spec.series_number
        ds.InstanceNumber = k + 1
        ds.ImagePositionPatient = [_ds(v) for v in geometry.positions[k]]
        ds.ImageOrientationPatient = [_ds(v) for v in geometry.orientation]
        ds.PixelSpacing = [_ds(v) for v in geometry.pixel_spacing]
        ds.SliceThickness = _ds(geometry.thickness)
        ds.SpacingBetweenSlices = _ds(geometry.thickness)
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.Rows, ds.Columns = ny, nx
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
        ds.PixelRepresentation = 1 if encoding.signed else 0
        ds.RescaleIntercept = _ds(encoding.intercept)
        ds.RescaleSlope = _ds(encoding.slope)
        ds.RescaleType = "HU" if modality == "CT" else "US"
        plane = np.ascontiguousarray(encoding.stored[:, :, k].T)
        ds.PixelData = plane.astype(plane.dtype.newbyteorder("<")).tobytes()
        datasets.append(ds)
    return datasets


def check_label_data(labels: npt.NDArray[Any], image_shape: Sequence[int]) -> npt.NDArray[Any]:
    """A label map as non-negative integers of the image's shape.

    Raises
    ------
    NiftiError
        Another shape, non-integral or negative values.
    """
    if tuple(labels.shape) != tuple(image_shape):
        raise NiftiError(
            f"label map shape {tuple(labels.shape)} differs from its image's {tuple(image_shape)}"
        )
    if labels.dtype.kind == "f" and not bool(np.all(labels == np.round(labels))):
        raise NiftiError("label map has non-integer values")
    if labels.size and float(labels.min()) < 0:
        raise NiftiError("label map has negative values")
    if labels.size and float(labels.max()) > 65535:
        raise NiftiError("label map has values above 65535")
    return np.asarray(labels).astype(np.uint16)
