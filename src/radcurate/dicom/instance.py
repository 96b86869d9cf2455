"""Compact per-instance facts: what a series needs from each of its files."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from pydicom.dataset import Dataset

from radcurate.dicom.reading import UnreadableDicomError
from radcurate.dicom.values import typed_value

#: attributes compared across the instances of a series; those with more than one
#: distinct value are listed under ``varying`` in the series document
VARYING_CANDIDATES: tuple[str, ...] = (
    "ImageType",
    "SOPClassUID",
    "SeriesDescription",
    "ProtocolName",
    "BodyPartExamined",
    "SliceThickness",
    "PixelSpacing",
    "Rows",
    "Columns",
    "ImageOrientationPatient",
    "PhotometricInterpretation",
    "BitsAllocated",
    "BitsStored",
    "PixelRepresentation",
    "RescaleSlope",
    "RescaleIntercept",
    "WindowCenter",
    "WindowWidth",
    "KVP",
    "XRayTubeCurrent",
    "Exposure",
    "ExposureTime",
    "ConvolutionKernel",
    "FilterType",
    "EchoTime",
    "RepetitionTime",
    "InversionTime",
    "FlipAngle",
    "EchoNumbers",
    "ScanningSequence",
    "DiffusionBValue",
    "TemporalPositionIdentifier",
    "AcquisitionNumber",
    "ContrastBolusAgent",
    "AcquisitionDate",
    "ContentDate",
    "Manufacturer",
    "ManufacturerModelName",
    "StationName",
)

REQUIRED_UIDS: tuple[tuple[str, str], ...] = (
    ("StudyInstanceUID", "(0020,000D)"),
    ("SeriesInstanceUID", "(0020,000E)"),
    ("SOPInstanceUID", "(0008,0018)"),
)


@dataclass(slots=True)
class InstanceRecord:
    """One file of a series, as stored in the catalog's instance table."""

    location: str
    source: str
    size: int
    mtime_ns: int
    study_uid: str
    series_uid: str
    sop_uid: str
    sop_class_uid: str | None = None
    patient_id: str | None = None
    modality: str | None = None
    instance_number: int | None = None
    position: tuple[float, float, float] | None = None
    orientation: tuple[float, ...] | None = None
    transfer_syntax: str | None = None
    rows: int | None = None
    columns: int | None = None
    frames: int | None = None
    attrs: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict of the record."""
        return asdict(self)


def _uid(dataset: Dataset, keyword: str, tag_text: str) -> str:
    value = dataset.get(keyword)
    text = str(value).strip(" \x00") if value is not None else ""
    if not text:
        raise UnreadableDicomError(f"missing {keyword} {tag_text}; cannot place it in a series")
    return text


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None and value != "" else None
    except (TypeError, ValueError):
        return None


def _floats(value: Any, count: int) -> tuple[float, ...] | None:
    try:
        numbers = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        return None
    return numbers if len(numbers) == count else None


def instance_record(
    dataset: Dataset, *, location: str, source: str, size: int, mtime_ns: int
) -> InstanceRecord:
    """The compact record of one instance.

    Raises
    ------
    UnreadableDicomError
        When the header lacks the UIDs that place it in a study and series.
    """
    study, series, sop = (_uid(dataset, kw, tag) for kw, tag in REQUIRED_UIDS)
    meta = getattr(dataset, "file_meta", None)
    syntax = getattr(meta, "TransferSyntaxUID", None) if meta is not None else None
    position = _floats(dataset.get("ImagePositionPatient"), 3)
    attrs: dict[str, Any] = {}
    for keyword in VARYING_CANDIDATES:
        if keyword in dataset:
            try:
                value = typed_value(dataset[keyword])
            except Exception:
                continue
            if value is not None:
                attrs[keyword] = value
    patient = dataset.get("PatientID")
    return InstanceRecord(
        location=location,
        source=source,
        size=size,
        mtime_ns=mtime_ns,
        study_uid=study,
        series_uid=series,
        sop_uid=sop,
        sop_class_uid=str(dataset.get("SOPClassUID") or "") or None,
        patient_id=str(patient).strip() if patient is not None else None,
        modality=str(dataset.get("Modality") or "") or None,
        instance_number=_int(dataset.get("InstanceNumber")),
        position=position,  # type: ignore[arg-type]
        orientation=_floats(dataset.get("ImageOrientationPatient"), 6),
        transfer_syntax=str(syntax) if syntax else None,
        rows=_int(dataset.get("Rows")),
        columns=_int(dataset.get("Columns")),
        frames=_int(dataset.get("NumberOfFrames")),
        attrs=attrs,
    )
