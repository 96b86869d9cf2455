"""UIDs for images whose Study/Series/SOP Instance UIDs were blanked.

Some anonymisers empty the UIDs instead of replacing them (TotalSegmentator's sample CT
series is one such case). Such a file is still a usable image, but nothing places it in a
series. For an image (it names its Modality and has Rows and Columns) this module fills
the blanks deterministically, so the slices of one series land in one series and a
re-ingest gives the same UIDs:

- SOP Instance UID: the file meta's MediaStorageSOPInstanceUID when present, else a
  UID derived from the file's bytes;
- Study Instance UID: derived from the folder and the study's identifying attributes;
- Series Instance UID: derived from the study UID, the folder, the Frame of Reference
  and the series' identifying attributes.

Derived UIDs are ``2.25.<integer of a name-based UUID>`` (PS3.5 B.2, ISO/IEC 9834-8), the
name being those values. Files that are not images keep failing with the usual reason.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from typing import Any

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

#: namespace of the name-based UUIDs behind derived UIDs (fixed: derived UIDs stay stable)
UID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "radcurate:derived-uid")

#: attributes that identify a study when its Study Instance UID is empty
STUDY_KEYS = (
    "PatientID",
    "IssuerOfPatientID",
    "PatientName",
    "PatientBirthDate",
    "StudyDate",
    "StudyTime",
    "StudyID",
    "AccessionNumber",
    "StudyDescription",
)

#: attributes that identify a series when its Series Instance UID is empty
SERIES_KEYS = (
    "Modality",
    "SeriesNumber",
    "SeriesDescription",
    "SeriesDate",
    "SeriesTime",
    "FrameOfReferenceUID",
    "ProtocolName",
)


def derived_uid(*parts: str) -> str:
    """A ``2.25.`` UID derived from ``parts`` (the same parts give the same UID).

    Examples
    --------
    >>> derived_uid("series", "/data/ct", "3") == derived_uid("series", "/data/ct", "3")
    True
    >>> derived_uid("a").startswith("2.25.") and len(derived_uid("a")) <= 64
    True
    """
    return f"2.25.{uuid.uuid5(UID_NAMESPACE, chr(0x1F).join(parts)).int}"


def _text(dataset: Dataset, keyword: str) -> str:
    try:
        value: Any = dataset.get(keyword)
    except Exception:  # noqa: BLE001  # an undecodable value identifies nothing
        return ""
    if value is None:
        return ""
    if isinstance(value, (list, tuple, MultiValue)):
        return "\\".join(str(v) for v in value)
    return str(value).strip()


def is_image(dataset: Dataset) -> bool:
    """True for an image data set: it names its Modality and has Rows and Columns."""
    return bool(_text(dataset, "Modality")) and "Rows" in dataset and "Columns" in dataset


def fill_missing_uids(dataset: Dataset, source: str) -> tuple[str, ...]:
    """Fill an image's empty Study/Series/SOP Instance UIDs (and SOP Class UID from the meta).

    Returns the keywords whose values did not come from the data set (empty when nothing
    was missing, or when the data set is not an image and is left as it is).
    ``source`` is the file's path: its folder is part of the derived study and series
    UIDs, and its bytes name the instance when the file meta has no SOP Instance UID.
    """
    missing = [
        keyword
        for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID")
        if not _text(dataset, keyword)
    ]
    if not missing or not is_image(dataset):
        return ()
    meta = getattr(dataset, "file_meta", None)
    filled: list[str] = []
    folder = os.path.dirname(source)
    if "SOPInstanceUID" in missing:
        from_meta = _text(meta, "MediaStorageSOPInstanceUID") if meta is not None else ""
        if from_meta:
            dataset.SOPInstanceUID = from_meta
        else:
            with open(source, "rb") as handle:
                digest = hashlib.file_digest(handle, "sha256").hexdigest()
            dataset.SOPInstanceUID = derived_uid("instance", digest)
        filled.append("SOPInstanceUID")
    if not _text(dataset, "SOPClassUID") and meta is not None:
        sop_class = _text(meta, "MediaStorageSOPClassUID")
        if sop_class:
            dataset.SOPClassUID = sop_class
            filled.append("SOPClassUID")
    if "StudyInstanceUID" in missing:
        study = [_text(dataset, k) for k in STUDY_KEYS]
        dataset.StudyInstanceUID = derived_uid("study", folder, *study)
        filled.append("StudyInstanceUID")
    if "SeriesInstanceUID" in missing:
        series = [_text(dataset, k) for k in SERIES_KEYS]
        dataset.SeriesInstanceUID = derived_uid("series", dataset.StudyInstanceUID, folder, *series)
        filled.append("SeriesInstanceUID")
    return tuple(filled)
