"""The indexed fields: what the in-memory search index keeps of each series document.

Every write of a series stores ``search_doc``, its document cut down to
:data:`INDEXED_FIELDS`, in the same transaction as the header and facts, so
the search index (``catalog/index/``) can load a million series without
parsing whole headers. Fields outside this list are still searchable: their
terms run as SQL over the full document (docs/search.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from radcurate.query.reference import DEFAULT_TEXT_FIELDS

#: top-level document fields held in memory by the search index (text fields first);
#: SeriesInstanceUID and StudyInstanceUID are not columns: the index keys its rows and
#: counts studies by them, and answers exact look-ups of either from those keys
INDEXED_FIELDS: tuple[str, ...] = (
    *DEFAULT_TEXT_FIELDS,
    "PatientID",
    "AccessionNumber",
    "StudyID",
    "SOPClassUID",
    "StudyDate",
    "SeriesDate",
    "AcquisitionDate",
    "PatientBirthDate",
    "PatientSex",
    "PatientAge",
    "age_years",
    "PatientWeight",
    "SeriesNumber",
    "SliceThickness",
    "SpacingBetweenSlices",
    "PixelSpacing",
    "Rows",
    "Columns",
    "KVP",
    "MagneticFieldStrength",
    "RepetitionTime",
    "EchoTime",
    "FlipAngle",
    "ImageType",
    "ScanningSequence",
    "SequenceName",
    "PhotometricInterpretation",
    "BitsStored",
    "instance_count",
    "frame_count",
    "file_count",
    "file_size_total",
    "duplicate_files",
    "transfer_syntaxes",
    "slice_thickness_min",
    "slice_thickness_max",
)

_INDEXED = frozenset(INDEXED_FIELDS)


def is_indexed(field: str) -> bool:
    """Whether a (resolved) field path is held by the search index."""
    return field in _INDEXED


def search_document(header: Mapping[str, Any], facts: Mapping[str, Any] | None) -> dict[str, Any]:
    """The indexed fields of a series document (facts over header, as ``series_document``).

    Examples
    --------
    >>> search_document({"Modality": "CT", "Rows": 512, "PixelData": None}, {"instance_count": 3})
    {'Modality': 'CT', 'Rows': 512, 'instance_count': 3}
    """
    out: dict[str, Any] = {}
    for name in INDEXED_FIELDS:
        value = facts[name] if facts is not None and name in facts else header.get(name)
        if value is not None:
            out[name] = value
    return out
