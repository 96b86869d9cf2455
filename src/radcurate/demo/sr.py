"""Structured reports: a Basic Text SR (pydicom) and a Comprehensive SR (highdicom)."""

from __future__ import annotations

import numpy as np
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import UID

from radcurate.demo.ct import instance_uid, sampler_for
from radcurate.demo.dataset import (
    base_dataset,
    code_item,
    fill_study_attributes,
    make_deterministic,
    series_time,
    set_instance,
)
from radcurate.demo.plan import PatientPlan, SeriesPlan, StudyPlan
from radcurate.demo.population import make_uid
from radcurate.demo.seg import SEGMENTS, segment_map
from radcurate.demo.sink import WriteContext
from radcurate.optional import import_optional

__all__ = ["BASIC_TEXT_SR_STORAGE", "write_comprehensive_sr", "write_text_sr"]

BASIC_TEXT_SR_STORAGE = "1.2.840.10008.5.1.4.1.1.88.11"

_FINDINGS = {
    "chest": "Lungs are clear. No pleural effusion or pneumothorax. Heart size is normal.",
    "abdomen": "Liver, spleen and kidneys are unremarkable. No free fluid. No lymphadenopathy.",
    "head": "No intracranial haemorrhage, mass effect or midline shift. Ventricles normal.",
}


def _evidence(ctx: WriteContext, study: StudyPlan, refs: tuple[int, ...]) -> Dataset:
    """CurrentRequestedProcedureEvidenceSequence item listing every referenced instance."""
    series_items = []
    for i in refs:
        ref = study.series[i]
        assert ref.geometry is not None
        sop_class = (
            "1.2.840.10008.5.1.4.1.1.2" if ref.modality == "CT" else "1.2.840.10008.5.1.4.1.1.4"
        )
        instances = []
        for k in ref.geometry.indices():
            item = Dataset()
            item.ReferencedSOPClassUID = UID(sop_class)
            item.ReferencedSOPInstanceUID = UID(instance_uid(ctx.seed, ref, k))
            instances.append(item)
        series_item = Dataset()
        series_item.SeriesInstanceUID = UID(ref.uid)
        series_item.ReferencedSOPSequence = Sequence(instances)
        series_items.append(series_item)
    study_item = Dataset()
    study_item.StudyInstanceUID = UID(study.uid)
    study_item.ReferencedSeriesSequence = Sequence(series_items)
    return study_item


def _text(relationship: str, name: Dataset, text: str) -> Dataset:
    item = Dataset()
    item.RelationshipType = relationship
    item.ValueType = "TEXT"
    item.ConceptNameCodeSequence = Sequence([name])
    item.TextValue = text
    return item


def _container(relationship: str, name: Dataset, children: list[Dataset]) -> Dataset:
    item = Dataset()
    item.RelationshipType = relationship
    item.ValueType = "CONTAINER"
    item.ConceptNameCodeSequence = Sequence([name])
    item.ContinuityOfContent = "SEPARATE"
    item.ContentSequence = Sequence(children)
    return item


def write_text_sr(
    ctx: WriteContext, patient: PatientPlan, study: StudyPlan, series: SeriesPlan, keep: bool
) -> None:
    """Write a verified Basic Text SR radiology report about the referenced series."""
    ds = base_dataset(patient, study, series, BASIC_TEXT_SR_STORAGE, equipment=False)
    ds.Manufacturer = "radcurate"
    region = study.series[series.refs[0]].region or "chest"
    ds.CompletionFlag = "COMPLETE"
    ds.VerificationFlag = "VERIFIED"
    observer = Dataset()
    observer.VerifyingObserverName = "Radiologist^Reading"
    observer.VerifyingOrganization = patient.site.institution
    observer.VerificationDateTime = study.date.strftime("%Y%m%d") + "170000"
    observer.VerifyingObserverIdentificationCodeSequence = Sequence()
    ds.VerifyingObserverSequence = Sequence([observer])
    ds.ReferencedPerformedProcedureStepSequence = Sequence()
    ds.PerformedProcedureCodeSequence = Sequence()
    ds.CurrentRequestedProcedureEvidenceSequence = Sequence([_evidence(ctx, study, series.refs)])
    ds.ValueType = "CONTAINER"
    ds.ConceptNameCodeSequence = Sequence([code_item("18748-4", "LN", "Diagnostic Imaging Report")])
    ds.ContinuityOfContent = "SEPARATE"
    template = Dataset()
    template.MappingResource = "DCMR"
    template.TemplateIdentifier = "2000"
    ds.ContentTemplateSequence = Sequence([template])
    history = f"{study.description}. Indication: follow-up."
    ds.ContentSequence = Sequence(
        [
            _container(
                "CONTAINS",
                code_item("121060", "DCM", "History"),
                [_text("CONTAINS", code_item("121060", "DCM", "History"), history)],
            ),
            _container(
                "CONTAINS",
                code_item("121070", "DCM", "Findings"),
                [_text("CONTAINS", code_item("121071", "DCM", "Finding"), _FINDINGS[region])],
            ),
            _container(
                "CONTAINS",
                code_item("121072", "DCM", "Impressions"),
                [
                    _text(
                        "CONTAINS",
                        code_item("121073", "DCM", "Impression"),
                        "No acute abnormality.",
                    )
                ],
            ),
        ]
    )
    set_instance(ds, make_uid(ctx.seed, series.uid, "instance", 0), 1)
    ctx.sink.write(ds, patient, study, series)


def write_comprehensive_sr(
    ctx: WriteContext, patient: PatientPlan, study: StudyPlan, series: SeriesPlan, keep: bool
) -> None:
    """Write a highdicom Comprehensive SR (TID 1500) with organ volumes of the referenced CT."""
    hd = import_optional("highdicom", "writing a Comprehensive SR demo object")
    codes = import_optional("pydicom.sr.codedict", "writing a Comprehensive SR demo object").codes
    ct = study.series[series.refs[0]]
    geom = ct.geometry
    assert geom is not None
    sampler = sampler_for(ctx.cache, study, ct)
    counts = np.zeros(len(SEGMENTS) + 1, dtype=np.int64)
    for k in geom.indices():
        counts += np.bincount(segment_map(sampler.labels(k)).ravel(), minlength=counts.size)
    voxel_ml = geom.spacing[0] * geom.spacing[1] * abs(geom.step) / 1000.0
    observer = hd.sr.ObserverContext(
        observer_type=codes.DCM.Person,
        observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(
            name="Radiologist^Reading"
        ),
    )
    groups = []
    for number, (label, code, _) in SEGMENTS.items():
        tracking = hd.sr.TrackingIdentifier(
            uid=make_uid(ctx.seed, series.uid, "tracking", number), identifier=f"{label} volume"
        )
        measurement = hd.sr.Measurement(
            name=codes.SCT.Volume,
            value=round(float(counts[number]) * voxel_ml, 1),
            unit=hd.sr.CodedConcept("ml", "UCUM", "milliliter"),
        )
        groups.append(
            hd.sr.MeasurementsAndQualitativeEvaluations(
                tracking_identifier=tracking,
                finding_type=getattr(codes.SCT, code),
                measurements=[measurement],
            )
        )
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_person_context=observer),
        procedure_reported=codes.LN.CTUnspecifiedBodyRegion,
        imaging_measurements=groups,
    )
    evidence = [d for i in series.refs for d in ctx.kept[i]]
    sr = hd.sr.ComprehensiveSR(
        evidence=evidence,
        content=report,
        series_instance_uid=series.uid,
        series_number=series.number,
        sop_instance_uid=make_uid(ctx.seed, series.uid, "instance", 0),
        instance_number=1,
        manufacturer="radcurate",
        institution_name=patient.site.institution,
        is_complete=True,
        series_description=series.description,
    )
    fill_study_attributes(sr, patient, study, series)
    make_deterministic(sr, series.uid, study.date.strftime("%Y%m%d"), series_time(study, series))
    ctx.sink.write(sr, patient, study, series)
