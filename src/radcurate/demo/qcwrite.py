"""Writing the QC phantom patient and the archive's machine-readable defect list.

``qc-defects.json`` (at the archive's root) names, for every deliberate defect of
the archive, its series (or file), the ``qc.*`` fields expected to flag it and the
planted values; it also lists the series that carry no defect.
"""

from __future__ import annotations

import copy
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pydicom
from pydicom.dataset import Dataset

from radcurate.demo.ct import ct_template, instance_uid, set_pixels
from radcurate.demo.dataset import set_instance
from radcurate.demo.fastwrite import SliceEncoder
from radcurate.demo.layout import relative_path
from radcurate.demo.plan import PatientPlan, SeriesPlan, StudyPlan
from radcurate.demo.qcplan import (
    BASE_NOISE_HU,
    DEFECTS,
    FOV_MM,
    SLICES,
    STEP_MM,
    plan_qc_patient,
)
from radcurate.demo.qcseg import BAD_SEGMENTS, write_bad_seg
from radcurate.demo.qcslices import (
    ACQUISITION,
    ADDED_NOISE_HU,
    CONFLICT_SLICE,
    DUPLICATE_FRAME_SLICE,
    EMPTY_SLICE,
    GAP,
    METAL,
    METAL_HU,
    MISMATCH_SLICE,
    OBLIQUE,
    TILT_DEGREES,
    UNEVEN_STEPS,
    QCRender,
    QCSlice,
    qc_slices,
)
from radcurate.demo.sink import WriteContext

__all__ = ["MANIFEST_NAME", "QCWritten", "qc_manifest", "write_qc_patient"]

MANIFEST_NAME = "qc-defects.json"
FORMAT = "radcurate-demo-qc-defects/1"


@dataclass
class QCWritten:
    """What :func:`write_qc_patient` wrote: the plan and the defect entries."""

    patient: PatientPlan
    entries: list[dict[str, Any]] = field(default_factory=list)
    clean: list[str] = field(default_factory=list)


def _encoder(template: Dataset, first: QCSlice) -> SliceEncoder:
    """An encoder for the slices that share ``first``'s orientation and header changes.

    The changes are made on ``template`` and undone once encoded (the encoder keeps
    bytes, not elements): cheaper than a deep copy per variant.
    """
    changes: list[tuple[str, object]] = [
        ("ImageOrientationPatient", [f"{v:g}" for v in (*first.row_dir, *first.col_dir)]),
        *first.overrides,
    ]
    saved = {k: copy.deepcopy(template[k]) for k, _ in changes if k in template}
    for keyword, value in changes:
        if value is None:
            if keyword in template:
                delattr(template, keyword)
        else:
            setattr(template, keyword, list(value) if isinstance(value, tuple) else value)
    set_instance(template, "1.2.3", 1)
    template.ImagePositionPatient = ["0", "0", "0"]
    template.SliceLocation = "0"
    set_pixels(template, first.pixels)
    encoder = SliceEncoder(template)
    for keyword, _ in changes:
        if keyword in template:
            delattr(template, keyword)
    for elem in saved.values():
        template.add(elem)
    return encoder


def _write_ct(
    ctx: WriteContext,
    patient: PatientPlan,
    study: StudyPlan,
    series: SeriesPlan,
    slices: Iterable[QCSlice],
    keep: bool,
) -> list[Dataset]:
    """Write the slices of one series through one encoder per header variant."""
    template = ct_template(patient, study, series)
    encoders: dict[tuple[object, ...], SliceEncoder] = {}
    kept: list[Dataset] = []
    for s in slices:
        variant = (s.row_dir, s.col_dir, s.overrides)
        if variant not in encoders:
            encoders[variant] = _encoder(template, s)
        (a1, a2, a3), (b1, b2, b3) = s.row_dir, s.col_dir
        normal = (a2 * b3 - a3 * b2, a3 * b1 - a1 * b3, a1 * b2 - a2 * b1)
        uid = instance_uid(ctx.seed, series, s.key)
        location = sum(p * n for p, n in zip(s.position, normal, strict=True))
        data = encoders[variant].encode(
            uid, s.number, [f"{v:g}" for v in s.position], f"{location:g}", s.pixels.tobytes()
        )
        if s.extra_file:
            rel = relative_path(patient, study, series, s.number, uid)
            ctx.sink.write_bytes(rel, data, readable=True)
        else:
            ctx.sink.write_encoded(data, patient, study, series, s.number, uid)
        if keep:
            kept.append(pydicom.dcmread(io.BytesIO(data)))
    return kept


def _planted(
    name: str, ctx: WriteContext, study: StudyPlan, series: SeriesPlan, slices: list[QCSlice]
) -> dict[str, Any]:
    """The values planted in one series, for the manifest."""
    uids = {s.key: instance_uid(ctx.seed, series, s.key) for s in slices}
    if name == "gap":
        return {
            "missing_slices": len(GAP),
            "missing_instance_numbers": [k + 1 for k in GAP],
            "spacing_mm": STEP_MM,
            "largest_step_mm": STEP_MM * (len(GAP) + 1),
        }
    if name == "uneven_spacing":
        return {"steps_mm": list(UNEVEN_STEPS), "spacing_uniform": False}
    if name == "mixed_orientation":
        return {
            "orientation_count": 2,
            "oblique_instance_numbers": [k + 1 for k in OBLIQUE[0]],
            "angle_degrees": OBLIQUE[1],
        }
    if name == "localizer":
        return {"localizer_instance_number": 1, "axial_instances": SLICES}
    if name == "gantry_tilt":
        return {"gantry_tilt_degrees": TILT_DEGREES}
    if name == "mixed_acquisitions":
        per, start = ACQUISITION
        return {
            "acquisition_numbers": [1, 2],
            "instances_per_acquisition": per,
            "overlapping_positions": per - start,
        }
    if name == "sop_conflict":
        return {
            "sop_instance_uid": uids[CONFLICT_SLICE],
            "files": 2,
            "differs_in": ["ConvolutionKernel", "PixelData"],
        }
    if name == "duplicate_frame":
        return {
            "sop_instance_uids": [uids[DUPLICATE_FRAME_SLICE], uids[SLICES]],
            "instance_number": DUPLICATE_FRAME_SLICE + 1,
        }
    if name in ("duplicate_series", "duplicate_series_source"):
        other = "duplicate_series_source" if name == "duplicate_series" else "duplicate_series"
        twin = next(s for s in study.series if s.defect == other)
        return {"same_pixels_as": twin.uid}
    if name == "patient_mismatch":
        return {"attribute": "PatientSex", "instance_number": MISMATCH_SLICE + 1}
    if name == "burned_in":
        return {"BurnedInAnnotation": "YES"}
    if name == "missing_attributes":
        return {
            "missing": ["KVP", "AcquisitionNumber"],
            "type": "2",
            "module": "CT Image",
            "missing_required_count": 2,
        }
    if name == "added_noise":
        return {
            "base_noise_hu": BASE_NOISE_HU,
            "added_noise_hu": ADDED_NOISE_HU,
            "expected_noise_hu": round(float(np.hypot(BASE_NOISE_HU, ADDED_NOISE_HU)), 2),
            "reference": study.series[0].uid,
        }
    if name == "truncated_fov":
        return {"fov_mm": 260.0, "body_width_mm": 330.0}
    if name == "metal":
        (_, _, radius), through = METAL
        return {"metal_hu": METAL_HU, "radius_mm": radius, "slices": len(through)}
    if name == "empty_slice":
        return {"instance_number": EMPTY_SLICE + 1, "hu": -1000.0, "constant_slices": 1}
    raise KeyError(name)  # pragma: no cover - every CT defect has an entry


def _entry(
    name: str, patient: PatientPlan, study: StudyPlan, series: SeriesPlan, planted: dict[str, Any]
) -> dict[str, Any]:
    defect = next(d for d in DEFECTS if d.name == name)
    return {
        "name": name,
        "series_uid": series.uid,
        "study_uid": study.uid,
        "patient_id": patient.patient_id,
        "modality": series.modality,
        "fields": list(defect.fields),
        "also": list(defect.also),
        "description": defect.description,
        "planted": planted,
    }


def write_qc_patient(ctx: WriteContext) -> QCWritten:
    """Write the QC phantom patient (one clean series and one series per defect)."""
    patient = plan_qc_patient(ctx.seed)
    (study,) = patient.studies
    render = QCRender(ctx.cache, study)
    written = QCWritten(patient)
    sources: list[Dataset] = []
    for series in study.series:
        if series.kind == "seg":
            write_bad_seg(ctx, patient, study, series, sources, render)
            segments = {
                str(n): {"label": label, "defect": wrong or None}
                for n, (label, _, wrong) in BAD_SEGMENTS.items()
            }
            planted = {"source_series": study.series[0].uid, "segments": segments,
                       "fragmented_segments": 1, "empty_segments": 1,
                       "outside_body_fraction": {"Stomach": 1.0}}  # fmt: skip
            written.entries.append(_entry(series.defect, patient, study, series, planted))
            continue
        slices = qc_slices(render, series, patient.sex)
        kept = _write_ct(ctx, patient, study, series, slices, keep=series.index == 0)
        if series.index == 0:
            sources = kept
            written.clean.append(series.uid)
            continue
        planted = _planted(series.defect, ctx, study, series, slices)
        written.entries.append(_entry(series.defect, patient, study, series, planted))
    return written


def _inherent(finding: str, uid: str, detail: str) -> dict[str, Any]:
    """An entry for what a series carries by construction, not as a planted defect."""
    if finding == "empty_segments":
        text = f"the organ SEG lists segments its CT's slices do not reach: {detail}"
        return {"name": "seg_empty_segments", "series_uid": uid, "modality": "SEG",
                "fields": ["qc.segmentation.empty_segments"], "also": [],
                "description": text, "planted": {"empty_segments": detail.split(", ")},
                "inherent": True}  # fmt: skip
    enhanced = finding == "enhanced_same_pixels"
    text = (
        "a legacy-converted enhanced CT with its single-frame source's pixel data; highdicom "
        "leaves out its ReferencedImageEvidenceSequence (a dciodvfy error)"
        if enhanced
        else "the single-frame source of a legacy-converted enhanced CT (same pixel data)"
    )
    return {"name": finding, "series_uid": uid, "modality": "CT",
            "fields": ["qc.outliers.duplicate_pixel_series"],
            "also": ["qc.conformance.errors"] if enhanced else [], "description": text,
            "planted": {"same_pixels_as": detail}, "inherent": True}  # fmt: skip


def qc_manifest(
    patients: int,
    seed: int,
    written: QCWritten,
    found: dict[str, str],
    series_seen: dict[str, str],
    findings: Iterable[tuple[str, str, str]] = (),
) -> str:
    """The JSON text of ``qc-defects.json``.

    Parameters
    ----------
    patients, seed
        The archive's parameters.
    written
        The QC phantom patient's defects.
    found
        The archive's other defects (:attr:`radcurate.demo.DemoManifest.defects`).
    series_seen
        Every series written: UID -> Modality.
    findings
        What the checks find by construction in the other series
        (:attr:`radcurate.demo.sink.WriteContext.findings`).
    """
    entries = list(written.entries)
    older: tuple[tuple[str, str, str, dict[str, Any], list[str]], ...] = (
        ("missing_slice", "qc.geometry.missing_slices", "one slice missing in the middle "
         "(one 2x step); a byte-identical copy of one of its files sits beside it",
         {"missing_slices": 1}, ["qc.geometry.spacing_uniform", "qc.geometry.regular_volume"]),
        ("noisy", "qc.pixels.noise_high", "noise ten times that of its kernel (about 100 HU)",
         {"noise_factor": 10.0}, ["qc.pixels.noise_hu"]),
    )  # fmt: skip
    for name, qc_field, text, planted, also in older:
        uid = found.get(f"{name}_series")
        if uid:
            entries.append({
                "name": name, "series_uid": uid, "modality": "CT", "fields": [qc_field],
                "also": also, "description": text, "planted": planted,
            })  # fmt: skip
    for finding, uid, detail in findings:
        entries.append(_inherent(finding, uid, detail))
    flagged = {e["series_uid"] for e in entries}
    files = [
        {"name": name, "path": found[name], "fields": [], "description": text}
        for name, text in (
            ("duplicate_file", "byte-identical copy of another file (same SOP Instance UID, "
             "same content): not a conflict"),
            ("truncated_file", "a file cut off in its file meta header: an ingest error"),
            ("non_dicom_file", "a scanner log: not DICOM, an ingest error"),
        )
        if name in found
    ]  # fmt: skip
    document = {
        "format": FORMAT,
        "parameters": {"patients": patients, "seed": seed},
        "qc_patient": written.patient.patient_id,
        "defects": entries,
        "files": files,
        "clean_series": sorted(u for u in series_seen if u not in flagged),
        "reference_series": written.clean,
        "notes": [
            f"QC phantom series: {len(written.entries)} defects on 128 x 128 x {SLICES} CT "
            f"slices of {FOV_MM / 128:g} mm pixels, {STEP_MM:g} mm apart",
            "field names follow issue 15 and may be renamed; 'also' lists fields the same "
            "defect may trip as a side effect",
        ],
    }
    return json.dumps(document, indent=2, sort_keys=True) + "\n"
