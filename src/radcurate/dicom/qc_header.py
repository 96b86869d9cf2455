"""Series integrity from headers alone: duplicates, patient/study consistency, required
attributes, burned-in annotation and the identifying attributes present.

:func:`header_qc` is the whole header QC of one series (``qc.geometry`` and ``qc.header``):
ingest runs it on every series it finalizes and the ``qc-header`` workflow runs the very
same function, so both write identical results under one producer and version.
Nothing here reads pixel data, and no patient value leaves this module: results name
attributes, never their values.
"""

from __future__ import annotations

import dataclasses
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from pydicom.uid import SegmentationStorage

from radcurate.dicom.instance import IDENTITY_DIGEST_KEY, IDENTITY_KEYWORDS, InstanceRecord
from radcurate.dicom.qc_geometry import (
    geometry_qc,
    planes_of_frames,
    planes_of_instances,
    unique_instances,
)
from radcurate.dicom.qc_iod import missing_required

#: bump when the results for the same input would change (ingest and ``qc-header`` share it)
HEADER_QC_VERSION = "1"
#: the producer of the results (the registered workflow's name)
HEADER_QC_PRODUCER = "qc-header"

#: patient and study attributes that must be the same on every instance of a series
PATIENT_STUDY_ATTRIBUTES: tuple[str, ...] = (
    "PatientID",
    "PatientName",
    "PatientBirthDate",
    "PatientSex",
    "StudyInstanceUID",
    "StudyDate",
    "AccessionNumber",
)

#: attributes that identify a person or a place (PS3.15 Table E.1-1, the direct identifiers
#: a de-identification must remove or replace), reported when present with a value
IDENTIFYING_ATTRIBUTES: tuple[str, ...] = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientBirthTime",
    "PatientAddress",
    "PatientTelephoneNumbers",
    "PatientMotherBirthName",
    "PatientBirthName",
    "OtherPatientIDs",
    "OtherPatientIDsSequence",
    "OtherPatientNames",
    "IssuerOfPatientID",
    "MedicalRecordLocator",
    "MilitaryRank",
    "BranchOfService",
    "Occupation",
    "PatientComments",
    "AdditionalPatientHistory",
    "AccessionNumber",
    "StudyID",
    "InstitutionName",
    "InstitutionAddress",
    "InstitutionalDepartmentName",
    "ReferringPhysicianName",
    "ReferringPhysicianAddress",
    "ReferringPhysicianTelephoneNumbers",
    "PhysiciansOfRecord",
    "PerformingPhysicianName",
    "NameOfPhysiciansReadingStudy",
    "OperatorsName",
    "RequestingPhysician",
    "ScheduledPerformingPhysicianName",
    "ContentCreatorName",
    "StationName",
    "DeviceSerialNumber",
    "RequestAttributesSequence",
)

_PRIVATE_FIELD = re.compile(r"^[0-9A-F]{3}[13579BDF][0-9A-F]{4}$")

#: record fields that must agree between two files carrying one SOP Instance UID
_CONTENT_FIELDS = (
    "study_uid",
    "series_uid",
    "sop_class_uid",
    "patient_id",
    "modality",
    "instance_number",
    "position",
    "orientation",
    "rows",
    "columns",
    "frames",
    "attrs",
)


def _same_content(a: InstanceRecord, b: InstanceRecord) -> bool:
    """Equal header values, and equal sizes when the transfer syntaxes are equal (a copy
    re-encoded in another transfer syntax has another size, not other content)."""
    if any(getattr(a, name) != getattr(b, name) for name in _CONTENT_FIELDS):
        return False
    return a.transfer_syntax != b.transfer_syntax or a.size == b.size


def duplicate_sop_instances(records: Iterable[InstanceRecord]) -> tuple[int, int]:
    """(SOP Instance UIDs held by several files, those whose files differ).

    Files differ when any header value the catalog keeps per instance differs, or their
    sizes differ under one transfer syntax. Bytes are not compared at ingest (that would
    read every file twice): two copies with equal sizes and headers but different pixels
    count as equal here.
    """
    by_sop: dict[str, list[InstanceRecord]] = defaultdict(list)
    for record in records:
        by_sop[record.sop_uid].append(record)
    duplicated = conflicts = 0
    for copies in by_sop.values():
        if len(copies) < 2:
            continue
        duplicated += 1
        if not all(_same_content(copies[0], c) for c in copies[1:]):
            conflicts += 1
    return duplicated, conflicts


def inconsistent_patient_attributes(records: Iterable[InstanceRecord]) -> list[str]:
    """Names of :data:`PATIENT_STUDY_ATTRIBUTES` whose values differ between instances.

    PatientID and StudyInstanceUID are compared as stored; the others through each
    record's digest (records from catalogs written before the digest existed are skipped).
    """
    rows = list(records)
    differing: set[str] = set()
    if len({r.patient_id for r in rows}) > 1:
        differing.add("PatientID")
    if len({r.study_uid for r in rows}) > 1:
        differing.add("StudyInstanceUID")
    digests = {
        r.attrs[IDENTITY_DIGEST_KEY]
        for r in rows
        if isinstance(r.attrs.get(IDENTITY_DIGEST_KEY), str)
    }
    if len(digests) > 1:
        split = [d.split(" ") for d in digests]
        for index, keyword in enumerate(IDENTITY_KEYWORDS):
            if len({parts[index] if index < len(parts) else "" for parts in split}) > 1:
                differing.add(keyword)
    return [k for k in PATIENT_STUDY_ATTRIBUTES if k in differing]


def burned_in_annotation(records: Iterable[InstanceRecord], document: Mapping[str, Any]) -> str:
    """``YES`` when any instance says YES, ``NO`` when they say NO, else ``absent``."""
    values = {r.attrs.get("BurnedInAnnotation") for r in records}
    values.add(document.get("BurnedInAnnotation"))
    said = {str(v).strip().upper() for v in values if isinstance(v, str) and v.strip()}
    if "YES" in said:
        return "YES"
    if "NO" in said:
        return "NO"
    return "absent"


def identifying_attributes(document: Mapping[str, Any]) -> list[str]:
    """Names of :data:`IDENTIFYING_ATTRIBUTES` the header holds with a value."""
    return [k for k in IDENTIFYING_ATTRIBUTES if document.get(k) not in (None, "", [])]


def private_attribute_count(document: Mapping[str, Any]) -> int:
    """How many private elements (odd groups) the header document holds at its top level."""
    return sum(1 for key in document if _PRIVATE_FIELD.match(key))


def integrity_qc(records: list[InstanceRecord], document: Mapping[str, Any]) -> dict[str, Any]:
    """The ``qc.header`` payload of a series (see docs/qc-header.md)."""
    duplicated, conflicts = duplicate_sop_instances(records)
    required = missing_required(document)
    return {
        "duplicate_sop_instances": duplicated,
        "duplicate_sop_conflicts": conflicts,
        "inconsistent_patient_attributes": inconsistent_patient_attributes(records),
        "iod": required.iod,
        "missing_required": required.missing,
        "missing_required_count": len(required.missing),
        "type2_checked": required.type2_checked,
        "burned_in_annotation": burned_in_annotation(records, document),
        "identifying_attributes": identifying_attributes(document),
        "private_attributes": private_attribute_count(document),
    }


def header_qc(
    records: Iterable[InstanceRecord], document: Mapping[str, Any]
) -> dict[str, dict[str, Any]]:
    """``{"qc": {"geometry": {...}, "header": {...}}}`` of one series, JSON-able.

    ``records`` are the series' instance rows (every file, duplicates included) and
    ``document`` its series document (the representative header plus series facts).
    A single multi-frame instance is judged frame by frame from the per-frame groups of
    its header.

    Examples
    --------
    >>> header_qc([], {})["qc"]["geometry"]
    {'positioned_images': 0}
    """
    rows = list(records)
    unique = unique_instances(rows)
    planes = planes_of_instances(unique)
    # a Segmentation's frames repeat positions per segment and leave out empty frames: its
    # stacking is no volume's (the segmentation checks compare it with its source)
    multiframe = len(unique) == 1 and (unique[0].frames or 1) > 1 and unique[0].position is None
    if multiframe and unique[0].sop_class_uid != SegmentationStorage:
        frames = planes_of_frames(document)
        if frames:
            planes = [dataclasses.replace(p, attrs=unique[0].attrs) for p in frames]
    return {"qc": {"geometry": geometry_qc(planes), "header": integrity_qc(rows, document)}}
