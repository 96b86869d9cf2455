"""DICOM-SEG of the phantom's organs, referencing the CT slices it was drawn on."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from radcurate.demo.ct import sampler_for
from radcurate.demo.dataset import fill_study_attributes, make_deterministic, series_time
from radcurate.demo.phantom import Label
from radcurate.demo.plan import PatientPlan, SeriesPlan, StudyPlan
from radcurate.demo.population import make_uid
from radcurate.demo.sink import WriteContext
from radcurate.optional import import_optional

__all__ = ["SEGMENTS", "segment_map", "write_seg"]

#: segment number -> (label, SNOMED attribute name in ``codes.SCT``, phantom labels)
SEGMENTS: dict[int, tuple[str, str, tuple[Label, ...]]] = {
    1: ("Liver", "Liver", (Label.LIVER,)),
    2: ("Kidneys", "Kidney", (Label.KIDNEY_CORTEX, Label.KIDNEY_MEDULLA)),
    3: ("Lungs", "Lung", (Label.LUNG,)),
    4: ("Spine", "Spine", (Label.VERTEBRA_CORTEX, Label.VERTEBRA_CANCELLOUS)),
}


def segment_map(labels: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """Map phantom labels to segment numbers (0 = background)."""
    lut = np.zeros(256, dtype=np.uint8)
    for number, (_, _, members) in SEGMENTS.items():
        lut[list(members)] = number
    out: npt.NDArray[np.uint8] = lut[labels]
    return out


def write_seg(
    ctx: WriteContext, patient: PatientPlan, study: StudyPlan, series: SeriesPlan, keep: bool
) -> None:
    """Write a binary Segmentation of liver, kidneys, lungs and spine with highdicom."""
    hd = import_optional("highdicom", "writing a DICOM-SEG demo object")
    codes = import_optional("pydicom.sr.codedict", "writing a DICOM-SEG demo object").codes
    source_plan = study.series[series.refs[0]]
    sources = ctx.kept[source_plan.index]
    sampler = sampler_for(ctx.cache, study, source_plan)
    assert source_plan.geometry is not None
    frames = np.stack([segment_map(sampler.labels(k)) for k in source_plan.geometry.indices()])
    empty = [label for n, (label, _, _) in SEGMENTS.items() if not (frames == n).any()]
    if empty:  # e.g. Kidneys on a chest CT that does not reach them
        ctx.findings.append(("empty_segments", series.uid, ", ".join(empty)))
    algorithm = hd.AlgorithmIdentificationSequence(
        name="radcurate phantom labels",
        family=codes.cid7162.ArtificialIntelligence,
        version="1",
    )
    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=number,
            segment_label=label,
            segmented_property_category=codes.SCT.Organ,
            segmented_property_type=getattr(codes.SCT, code),
            algorithm_type="AUTOMATIC",
            algorithm_identification=algorithm,
            tracking_uid=make_uid(ctx.seed, series.uid, "tracking", number),
            tracking_id=f"{label} {patient.patient_id}",
        )
        for number, (label, code, _) in SEGMENTS.items()
    ]
    seg = hd.seg.Segmentation(
        source_images=sources,
        pixel_array=frames,
        segmentation_type="BINARY",
        segment_descriptions=descriptions,
        series_instance_uid=series.uid,
        series_number=series.number,
        sop_instance_uid=make_uid(ctx.seed, series.uid, "instance", 0),
        instance_number=1,
        manufacturer="radcurate",
        manufacturer_model_name="phantom-labels",
        software_versions="0.1",
        device_serial_number="0",
        series_description=series.description,
        content_label="ORGANS",
        content_creator_name="Phantom^Generator",
    )
    fill_study_attributes(seg, patient, study, series)
    make_deterministic(seg, series.uid, study.date.strftime("%Y%m%d"), series_time(study, series))
    ctx.sink.write(seg, patient, study, series)
