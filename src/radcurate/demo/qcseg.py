"""A deliberately bad DICOM SEG of the QC phantom's clean reference series.

Four segments: Liver with a small detached fragment, a sound Spleen, a "Stomach"
drawn in the air in front of the body, and an empty Gallbladder.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset

from radcurate.demo.dataset import fill_study_attributes, make_deterministic, series_time
from radcurate.demo.phantom import Label
from radcurate.demo.plan import PatientPlan, SeriesPlan, StudyPlan
from radcurate.demo.population import make_uid
from radcurate.demo.qcslices import QCRender, axial_centre
from radcurate.demo.sink import WriteContext
from radcurate.optional import import_optional

__all__ = ["BAD_SEGMENTS", "FRAGMENT", "OUTSIDE", "bad_segment_masks", "write_bad_seg"]

#: segment number -> (label, SNOMED CT attribute of ``codes.SCT``, what is wrong with it)
BAD_SEGMENTS: dict[int, tuple[str, str, str]] = {
    1: ("Liver", "Liver", "fragment"),
    2: ("Spleen", "Spleen", ""),
    3: ("Stomach", "Stomach", "outside_body"),
    4: ("Gallbladder", "Gallbladder", "empty"),
}
#: (template x, template y) in mm, box size in pixels and the slices of each planted blob
FRAGMENT = ((110.0, -40.0), 4, (4, 5))
OUTSIDE = ((0.0, -160.0), 4, (8, 9, 10, 11))


def _box(
    masks: npt.NDArray[np.bool_],
    source: SeriesPlan,
    study: StudyPlan,
    blob: tuple[tuple[float, float], int, tuple[int, ...]],
    segment: int,
) -> None:
    (x, y), size, slices = blob
    geom = source.geometry
    assert geom is not None
    c = study.anatomy.centre
    col = round((c[0] + x - geom.origin[0]) / geom.spacing[1]) - size // 2
    row = round((c[1] + y - geom.origin[1]) / geom.spacing[0]) - size // 2
    for k in slices:
        masks[k, row : row + size, col : col + size, segment - 1] = True


def bad_segment_masks(render: QCRender, study: StudyPlan) -> npt.NDArray[np.bool_]:
    """The SEG's frames: ``[slice, row, column, segment - 1]`` over the reference series."""
    source = study.series[0]
    geom = source.geometry
    assert geom is not None
    masks = np.zeros((geom.count, geom.rows, geom.columns, len(BAD_SEGMENTS)), dtype=np.bool_)
    axial = (geom.row_dir, geom.col_dir)
    for k in range(geom.count):
        labels = render.labels(source, axial_centre(study, k), *axial)
        masks[k, :, :, 0] = labels == Label.LIVER
        masks[k, :, :, 1] = labels == Label.SPLEEN
    _box(masks, source, study, FRAGMENT, 1)
    _box(masks, source, study, OUTSIDE, 3)
    return masks


def write_bad_seg(
    ctx: WriteContext,
    patient: PatientPlan,
    study: StudyPlan,
    series: SeriesPlan,
    sources: Sequence[Dataset],
    render: QCRender,
) -> None:
    """Write the bad Segmentation of ``sources`` (the reference series' datasets)."""
    hd = import_optional("highdicom", "writing a DICOM-SEG demo object")
    codes = import_optional("pydicom.sr.codedict", "writing a DICOM-SEG demo object").codes
    algorithm = hd.AlgorithmIdentificationSequence(
        name="radcurate QC phantom", family=codes.cid7162.ArtificialIntelligence, version="1"
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
        for number, (label, code, _) in BAD_SEGMENTS.items()
    ]
    seg = hd.seg.Segmentation(
        source_images=list(sources),
        pixel_array=bad_segment_masks(render, study),
        segmentation_type="BINARY",
        segment_descriptions=descriptions,
        series_instance_uid=series.uid,
        series_number=series.number,
        sop_instance_uid=make_uid(ctx.seed, series.uid, "instance", 0),
        instance_number=1,
        manufacturer="radcurate",
        manufacturer_model_name="qc-phantom",
        software_versions="0.1",
        device_serial_number="0",
        series_description=series.description,
        content_label="ORGANS",
        content_creator_name="Phantom^Generator",
        omit_empty_frames=True,
    )
    fill_study_attributes(seg, patient, study, series)
    make_deterministic(seg, series.uid, study.date.strftime("%Y%m%d"), series_time(study, series))
    ctx.sink.write(seg, patient, study, series)
