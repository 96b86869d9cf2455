"""Compact per-instance facts: what a series needs from each of its files."""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any

from pydicom.charset import decode_bytes
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
    "GantryDetectorTilt",
    "BurnedInAnnotation",
    "SpacingBetweenSlices",
)

#: patient and study attributes that must agree across the instances of a series; their
#: values are kept per instance only as a short digest (:func:`identity_digest`), never as
#: text (PatientID and StudyInstanceUID are record fields already)
IDENTITY_KEYWORDS: tuple[str, ...] = (
    "PatientName",
    "PatientBirthDate",
    "PatientSex",
    "StudyDate",
    "AccessionNumber",
)

#: the ``attrs`` key holding :func:`identity_digest` (not a DICOM keyword: never "varying")
IDENTITY_DIGEST_KEY = "identity_digest"

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


#: every keyword an instance record is built from
RECORD_KEYWORDS: tuple[str, ...] = tuple(
    dict.fromkeys(
        (
            "StudyInstanceUID",
            "SeriesInstanceUID",
            "SOPInstanceUID",
            "SOPClassUID",
            "PatientID",
            "Modality",
            "InstanceNumber",
            "ImagePositionPatient",
            "ImageOrientationPatient",
            "Rows",
            "Columns",
            "NumberOfFrames",
            *VARYING_CANDIDATES,
            *IDENTITY_KEYWORDS,
        )
    )
)


def record_values(dataset: Dataset) -> dict[str, Any]:
    """Typed values of :data:`RECORD_KEYWORDS` from a pydicom data set."""
    values: dict[str, Any] = {}
    for keyword in RECORD_KEYWORDS:
        if keyword in dataset:
            try:
                value = typed_value(dataset[keyword])
            except Exception:  # noqa: BLE001  # an undecodable value counts as absent
                continue
            if value is not None:
                values[keyword] = value
    return values


def _uid(values: dict[str, Any], keyword: str, tag_text: str) -> str:
    value = values.get(keyword)
    text = value if isinstance(value, str) else ("\\".join(map(str, value)) if value else "")
    if not text:
        raise UnreadableDicomError(f"missing {keyword} {tag_text}; cannot place it in a series")
    return text


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _floats(value: Any, count: int) -> tuple[float, ...] | None:
    if not isinstance(value, list) or len(value) != count:
        return None
    if not all(isinstance(v, (int, float)) for v in value):
        return None
    return tuple(float(v) for v in value)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


#: ISO 2022 escape sequences: every code extension pydicom decodes
_ISO2022_ENCODINGS: tuple[str, ...] = (
    "latin_1", "shift_jis", "iso2022_jp", "iso2022_jp_2", "euc_kr", "GB2312", "GBK",
    "iso8859_2", "iso8859_3", "iso8859_4", "iso_ir_126", "iso_ir_127", "iso_ir_138",
    "iso_ir_144", "iso_ir_148", "iso_ir_166", "iso_ir_58",
)  # fmt: skip


def _canonical_text(keyword: str, text: str) -> str:
    """One spelling of a value however it was read (the fast scanner keeps ISO 2022
    escape sequences of 7-bit text and trailing empty name groups that pydicom drops)."""
    if "\x1b" in text:
        with contextlib.suppress(UnicodeError, LookupError, ValueError):
            text = decode_bytes(text.encode("latin-1"), list(_ISO2022_ENCODINGS), {0x5E, 0x3D})
    if keyword == "PatientName":
        text = text.rstrip("=^ ")
    return text


def identity_digest(values: dict[str, Any], series_uid: str) -> str:
    """Short digests of the :data:`IDENTITY_KEYWORDS` values, in that order, ``-`` when absent.

    Each digest is 8 hex digits of BLAKE2b over the series UID, the keyword and the value:
    equal values within one series give equal digests (so instances can be compared
    without keeping names or birth dates per instance), and the same value gives
    unrelated digests in two series.

    Examples
    --------
    >>> a = identity_digest({"PatientName": "Doe^Jane", "PatientSex": "F"}, "1.2.3")
    >>> [len(part) for part in a.split(" ")]  # name, birth date, sex, study date, accession
    [8, 1, 8, 1, 1]
    >>> a == identity_digest({"PatientName": "Doe^Jane", "PatientSex": "F"}, "1.2.3")
    True
    >>> a == identity_digest({"PatientName": "Doe^Jane", "PatientSex": "F"}, "1.2.4")
    False
    """
    parts: list[str] = []
    for keyword in IDENTITY_KEYWORDS:
        value = values.get(keyword)
        if value is None:
            parts.append("-")
            continue
        text = "\\".join(map(str, value)) if isinstance(value, list) else str(value)
        text = _canonical_text(keyword, text)
        payload = f"{series_uid}\x1f{keyword}\x1f{text}".encode("utf-8", "surrogatepass")
        parts.append(hashlib.blake2b(payload, digest_size=4).hexdigest())
    return " ".join(parts)


def instance_record(
    dataset: Dataset, *, location: str, source: str, size: int, mtime_ns: int
) -> InstanceRecord:
    """The compact record of one instance read by pydicom (see :func:`record_from_values`)."""
    meta = getattr(dataset, "file_meta", None)
    syntax = getattr(meta, "TransferSyntaxUID", None) if meta is not None else None
    return record_from_values(
        record_values(dataset),
        str(syntax) if syntax else None,
        location=location,
        source=source,
        size=size,
        mtime_ns=mtime_ns,
    )


def record_from_values(
    values: dict[str, Any],
    transfer_syntax: str | None,
    *,
    location: str,
    source: str,
    size: int,
    mtime_ns: int,
) -> InstanceRecord:
    """The compact record of one instance from the typed values of :data:`RECORD_KEYWORDS`.

    Raises
    ------
    UnreadableDicomError
        When the header lacks the UIDs that place it in a study and series.
    """
    study, series, sop = (_uid(values, kw, tag) for kw, tag in REQUIRED_UIDS)
    position = _floats(values.get("ImagePositionPatient"), 3)
    return InstanceRecord(
        location=location,
        source=source,
        size=size,
        mtime_ns=mtime_ns,
        study_uid=study,
        series_uid=series,
        sop_uid=sop,
        sop_class_uid=_text(values.get("SOPClassUID")),
        patient_id=_text(values.get("PatientID")),
        modality=_text(values.get("Modality")),
        instance_number=_int(values.get("InstanceNumber")),
        position=position,  # type: ignore[arg-type]
        orientation=_floats(values.get("ImageOrientationPatient"), 6),
        transfer_syntax=transfer_syntax or None,
        rows=_int(values.get("Rows")),
        columns=_int(values.get("Columns")),
        frames=_int(values.get("NumberOfFrames")),
        attrs={
            **{k: values[k] for k in VARYING_CANDIDATES if k in values},
            IDENTITY_DIGEST_KEY: identity_digest(values, series),
        },
    )
