"""RT Structure Set with organ contours on a CT series, written with pydicom."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import UID

from radcurate.demo.ct import CT_IMAGE_STORAGE, instance_uid, sampler_for
from radcurate.demo.dataset import base_dataset, series_time, set_instance
from radcurate.demo.geometry import SeriesGeometry
from radcurate.demo.phantom import Label
from radcurate.demo.plan import PatientPlan, SeriesPlan, StudyPlan
from radcurate.demo.population import make_uid
from radcurate.demo.sink import WriteContext

__all__ = ["ROIS", "RT_STRUCTURE_SET_STORAGE", "radial_contour", "write_rtstruct"]

RT_STRUCTURE_SET_STORAGE = "1.2.840.10008.5.1.4.1.1.481.3"
_STUDY_COMPONENT = "1.2.840.10008.3.1.2.3.1"

#: ROI name -> (labels, side (-1 right, +1 left, 0 both), interpreted type, colour)
ROIS: dict[str, tuple[tuple[Label, ...], int, str, tuple[int, int, int]]] = {
    "BODY": (tuple(lab for lab in Label if lab != Label.AIR), 0, "EXTERNAL", (0, 255, 0)),
    "Liver": ((Label.LIVER,), 0, "ORGAN", (160, 80, 40)),
    "Kidney_R": ((Label.KIDNEY_CORTEX, Label.KIDNEY_MEDULLA), -1, "ORGAN", (220, 60, 60)),
    "Kidney_L": ((Label.KIDNEY_CORTEX, Label.KIDNEY_MEDULLA), 1, "ORGAN", (60, 60, 220)),
    "Lung_R": ((Label.LUNG,), -1, "ORGAN", (120, 200, 255)),
    "Lung_L": ((Label.LUNG,), 1, "ORGAN", (80, 160, 255)),
    "SpinalCanal": ((Label.CSF,), 0, "ORGAN", (255, 255, 0)),
}


def radial_contour(mask: npt.NDArray[np.bool_], rays: int = 48) -> npt.NDArray[np.float64] | None:
    """Outline a star-shaped mask as ``rays`` (row, column) points around its centroid.

    Returns ``None`` for masks of fewer than 12 pixels.
    """
    rows, cols = np.nonzero(mask)
    if rows.size < 12:
        return None
    cy, cx = rows.mean(), cols.mean()
    reach = float(np.hypot(np.ptp(rows), np.ptp(cols))) + 2
    radii = np.arange(0.0, reach, 0.5)
    angles = np.linspace(0, 2 * np.pi, rays, endpoint=False)
    ry = np.clip(np.rint(cy + np.sin(angles)[:, None] * radii), 0, mask.shape[0] - 1).astype(int)
    rx = np.clip(np.rint(cx + np.cos(angles)[:, None] * radii), 0, mask.shape[1] - 1).astype(int)
    inside = mask[ry, rx]
    last = radii.size - 1 - np.argmax(inside[:, ::-1], axis=1)
    r = np.where(inside.any(axis=1), radii[last], 0.0)
    return np.stack([cy + np.sin(angles) * r, cx + np.cos(angles) * r], axis=1)


def _to_patient(points: npt.NDArray[np.float64], geom: SeriesGeometry, k: int) -> list[float]:
    origin = np.array(geom.position(k))
    row_dir, col_dir = np.array(geom.row_dir), np.array(geom.col_dir)
    xyz = (
        origin
        + points[:, 1:2] * geom.spacing[1] * row_dir
        + points[:, 0:1] * geom.spacing[0] * col_dir
    )
    return [round(float(v), 2) for v in xyz.ravel()]


def _ref_image(uid: str) -> Dataset:
    item = Dataset()
    item.ReferencedSOPClassUID = UID(CT_IMAGE_STORAGE)
    item.ReferencedSOPInstanceUID = UID(uid)
    return item


def write_rtstruct(
    ctx: WriteContext, patient: PatientPlan, study: StudyPlan, series: SeriesPlan, keep: bool
) -> None:
    """Write an RTSTRUCT whose contours reference the slices of the CT series it outlines."""
    ct = study.series[series.refs[0]]
    geom = ct.geometry
    assert geom is not None
    ds = base_dataset(patient, study, series, RT_STRUCTURE_SET_STORAGE, equipment=False)
    ds.Manufacturer = "radcurate"
    ds.ManufacturerModelName = "phantom-contours"
    ds.SoftwareVersions = "0.1"
    ds.OperatorsName = "Physicist^Demo"
    ds.StructureSetLabel = "ORGANS"
    ds.StructureSetName = "Phantom organs"
    ds.StructureSetDate = study.date.strftime("%Y%m%d")
    ds.StructureSetTime = series_time(study, series)
    ds.FrameOfReferenceUID = UID(study.frame_of_reference)
    ds.PositionReferenceIndicator = ""  # Type 2 of the Frame of Reference module
    uids = {k: instance_uid(ctx.seed, ct, k) for k in geom.indices()}
    ref_series = Dataset()
    ref_series.SeriesInstanceUID = UID(ct.uid)
    ref_series.ContourImageSequence = Sequence([_ref_image(u) for u in uids.values()])
    ref_study = Dataset()
    ref_study.ReferencedSOPClassUID = UID(_STUDY_COMPONENT)
    ref_study.ReferencedSOPInstanceUID = UID(study.uid)
    ref_study.RTReferencedSeriesSequence = Sequence([ref_series])
    ref_for = Dataset()
    ref_for.FrameOfReferenceUID = UID(study.frame_of_reference)
    ref_for.RTReferencedStudySequence = Sequence([ref_study])
    ds.ReferencedFrameOfReferenceSequence = Sequence([ref_for])

    sampler = sampler_for(ctx.cache, study, ct)
    labels = {k: sampler.labels(k) for k in uids}
    x_of_column = geom.origin[0] + np.arange(geom.columns) * geom.spacing[1] * geom.row_dir[0]
    side_of_column = np.sign(x_of_column - study.anatomy.centre[0])[None, :]
    roi_items, contour_items, observations = [], [], []
    for number, (name, (members, side, kind, colour)) in enumerate(ROIS.items(), start=1):
        contours = []
        for k, uid in uids.items():
            mask = np.isin(labels[k], np.array(members, dtype=np.uint8))
            if side:
                mask &= side_of_column == side
            points = radial_contour(mask)
            if points is None:
                continue
            contour = Dataset()
            contour.ContourImageSequence = Sequence([_ref_image(uid)])
            contour.ContourGeometricType = "CLOSED_PLANAR"
            contour.NumberOfContourPoints = len(points)
            contour.ContourData = _to_patient(points, geom, k)
            contours.append(contour)
        if not contours:
            continue
        roi = Dataset()
        roi.ROINumber = number
        roi.ReferencedFrameOfReferenceUID = UID(study.frame_of_reference)
        roi.ROIName = name
        roi.ROIGenerationAlgorithm = "AUTOMATIC"
        roi_items.append(roi)
        roi_contour = Dataset()
        roi_contour.ROIDisplayColor = list(colour)
        roi_contour.ContourSequence = Sequence(contours)
        roi_contour.ReferencedROINumber = number
        contour_items.append(roi_contour)
        observation = Dataset()
        observation.ObservationNumber = number
        observation.ReferencedROINumber = number
        observation.RTROIInterpretedType = kind
        observation.ROIInterpreter = ""
        observations.append(observation)
    ds.StructureSetROISequence = Sequence(roi_items)
    ds.ROIContourSequence = Sequence(contour_items)
    ds.RTROIObservationsSequence = Sequence(observations)
    ds.ApprovalStatus = "UNAPPROVED"
    set_instance(ds, make_uid(ctx.seed, series.uid, "instance", 0), 1)
    ctx.sink.write(ds, patient, study, series)
