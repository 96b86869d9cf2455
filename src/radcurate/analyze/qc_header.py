"""``qc-header``: geometry and series integrity from headers alone (issue 15, check family 1).

The same pure functions (:func:`radcurate.dicom.qc_header.header_qc`) run at ingest for
every series it finalizes, under this workflow's name, version and (empty) parameters, so
``radcurate run qc-header`` skips series ingest already checked while they are unchanged.
The checks' meaning, tolerances and failing values are in docs/qc-header.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from radcurate.dicom.qc_geometry import (
    INPLANE_TOLERANCE_MM,
    ORIENTATION_TOLERANCE,
    PIXEL_SPACING_RELATIVE_TOLERANCE,
    SLICE_RELATIVE_TOLERANCE,
)
from radcurate.dicom.qc_header import HEADER_QC_PRODUCER, HEADER_QC_VERSION, header_qc
from radcurate.workflow.checks import QCCheck
from radcurate.workflow.step import SeriesItem, Workflow

_SLICE = f"{SLICE_RELATIVE_TOLERANCE:.0%} of the nominal slice spacing"
_ORIENT = f"{ORIENTATION_TOLERANCE} per direction cosine"


def _geometry(field: str, title: str, meaning: str, fails: str, **extra: str) -> QCCheck:
    return QCCheck(
        field=f"qc.geometry.{field}",
        title=title,
        meaning=meaning,
        fails=fails,
        family="geometry",
        **extra,
    )


def _header(field: str, title: str, meaning: str, fails: str, **extra: str) -> QCCheck:
    return QCCheck(
        field=f"qc.header.{field}",
        title=title,
        meaning=meaning,
        fails=fails,
        family="header",
        **extra,
    )


CHECKS: tuple[QCCheck, ...] = (
    _geometry(
        "regular_volume",
        "Not a regular volume",
        "False when the images do not form a regularly spaced 3-D volume: more than one "
        "orientation, a localizer, repeated positions, missing slices, uneven spacing, slices "
        "off the stack axis, or varying pixel spacing or image size (series of 2+ images).",
        "qc.geometry.regular_volume:false",
        tolerance=f"slices {_SLICE}; in-plane {INPLANE_TOLERANCE_MM} mm; orientation {_ORIENT}",
        severity="error",
    ),
    _geometry(
        "orientation_count",
        "Mixed orientations",
        "Distinct image orientations (ImageOrientationPatient) in the series.",
        "qc.geometry.orientation_count:>1",
        tolerance=_ORIENT,
    ),
    _geometry(
        "oblique_degrees",
        "Oblique slices",
        "Largest angle (degrees) between the image rows or columns and the nearest patient "
        "axis; 0 for axial, coronal or sagittal images. qc.geometry.orthogonal says whether "
        "every direction cosine is within tolerance of 0 or ±1.",
        "qc.geometry.orthogonal:false",
        tolerance=_ORIENT,
        severity="info",
    ),
    _geometry(
        "duplicate_positions",
        "Repeated slice positions",
        "Images beyond the first at an already occupied position along the slice normal "
        "(qc.geometry.duplicates_vary_in names what tells them apart: echoes, phases, ...).",
        "qc.geometry.duplicate_positions:>0",
        tolerance=_SLICE,
    ),
    _geometry(
        "missing_slices",
        "Missing slices",
        "Slices missing from the stack: gaps that are whole multiples (2x, 3x...) of the "
        "nominal (median) spacing; where: qc.geometry.missing_slice_positions (mm along the "
        "normal) and qc.geometry.missing_slice_indexes (indexes in the complete stack).",
        "qc.geometry.missing_slices:>0",
        tolerance=_SLICE,
        severity="error",
    ),
    _geometry(
        "spacing_uniform",
        "Uneven slice spacing",
        "False when a gap between neighbouring positions is neither the nominal spacing nor a "
        "whole multiple of it (qc.geometry.irregular_gaps counts them).",
        "qc.geometry.spacing_uniform:false",
        tolerance=_SLICE,
        severity="error",
    ),
    _geometry(
        "inplane_offset_mm",
        "Slices off the stack axis",
        "Largest in-plane distance (mm) of a slice origin from the line through the first "
        "slice along the normal: a sheared stack (e.g. gantry tilt) or shifted images "
        "(qc.geometry.stack_tilt_degrees is the stack's angle to the normal).",
        f"qc.geometry.inplane_offset_mm:>{INPLANE_TOLERANCE_MM}",
        tolerance=f"{INPLANE_TOLERANCE_MM} mm",
    ),
    _geometry(
        "pixel_spacing_consistent",
        "Varying pixel spacing",
        "False when the images' PixelSpacing differ.",
        "qc.geometry.pixel_spacing_consistent:false",
        tolerance=f"{PIXEL_SPACING_RELATIVE_TOLERANCE:.1%} of the first image's spacing",
    ),
    _geometry(
        "image_size_consistent",
        "Varying image size",
        "False when the images' Rows x Columns differ.",
        "qc.geometry.image_size_consistent:false",
    ),
    _geometry(
        "gantry_tilt_degrees",
        "Gantry tilt",
        "GantryDetectorTilt (degrees) of the image with the largest tilt.",
        "qc.geometry.gantry_tilt_degrees:>0 OR qc.geometry.gantry_tilt_degrees:<0",
        severity="info",
    ),
    _geometry(
        "localizer",
        "Localizer images",
        "True when the series is or contains localizer (scout) images: ImageType LOCALIZER, or "
        "a few images whose orientation differs from the majority "
        "(qc.geometry.localizer_instances counts them).",
        "qc.geometry.localizer:true",
        tolerance="a minority of at most 3 images or 10% counts as localizers",
    ),
    _geometry(
        "mixed_acquisitions",
        "Acquisitions mixed",
        "True when images of different AcquisitionNumbers cover overlapping ranges along "
        "the normal: several acquisitions or bed positions in one series.",
        "qc.geometry.mixed_acquisitions:true",
        tolerance=_SLICE,
    ),
    _header(
        "duplicate_sop_conflicts",
        "Conflicting duplicate instances",
        "SOP Instance UIDs held by several files whose size or header values differ "
        "(qc.header.duplicate_sop_instances counts all duplicated UIDs). Bytes are not "
        "compared.",
        "qc.header.duplicate_sop_conflicts:>0",
        severity="error",
    ),
    _header(
        "inconsistent_patient_attributes",
        "Patient/study attributes differ",
        "Names of the patient and study attributes (PatientID, PatientName, PatientBirthDate, "
        "PatientSex, StudyInstanceUID, StudyDate, AccessionNumber) whose values differ "
        "between instances of the series; values are never stored.",
        "has:qc.header.inconsistent_patient_attributes",
        severity="error",
    ),
    _header(
        "missing_required_count",
        "Missing required attributes",
        "Type 1 (absent or empty) and Type 2 (absent) attributes of the mandatory modules of "
        "the SOP class's IOD that the representative header lacks "
        "(qc.header.missing_required lists them).",
        "qc.header.missing_required_count:>0",
    ),
    _header(
        "burned_in_annotation",
        "Burned-in annotation",
        "BurnedInAnnotation: YES (any instance), NO, or absent.",
        "qc.header.burned_in_annotation:YES",
    ),
    _header(
        "identifying_attributes",
        "Identifying attributes",
        "Names of the identifying attributes (PS3.15 direct identifiers) present with a value, "
        "for de-identification planning; qc.header.private_attributes counts private elements.",
        "has:qc.header.identifying_attributes",
        severity="info",
    ),
)


class HeaderQC(Workflow):
    """``qc.geometry.*`` and ``qc.header.*`` of a series, from its headers only."""

    name = HEADER_QC_PRODUCER
    title = "QC: geometry and header integrity"
    description = (
        "From headers only (no pixel reads; also run at ingest): orientation, obliquity, "
        "repeated and missing slices, spacing, pixel spacing and size, gantry tilt, "
        "localizers, mixed acquisitions, a regular-volume verdict; duplicate instances, "
        "patient/study attributes that differ, required attributes missing, burned-in "
        "annotation and the identifying attributes present."
    )
    version = HEADER_QC_VERSION
    checks: ClassVar[tuple[QCCheck, ...]] = CHECKS

    def process(self, item: SeriesItem, params: Any) -> Mapping[str, Mapping[str, Any]]:
        return header_qc(item.instances, item.document)
