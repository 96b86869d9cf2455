"""``qc-segmentation``: quality checks of DICOM-SEG and RTSTRUCT series (the annotators' masks
too: ``annotate-ct-masks`` writes a DICOM-SEG) against the source image they reference.

Each segment / ROI is placed on the source grid where the viewer draws it
(:mod:`~radcurate.analyze.qc_seg_masks`, :mod:`~radcurate.analyze.qc_seg_contours`) and
measured there (:mod:`~radcurate.analyze.qc_seg_measures`). Every value lands under
``qc.segmentation.*`` on the segmentation series; docs/qc-segmentation.md describes each
field, its tolerance and the values that fail it. ``volume_ml`` (``{label: ml}``) is what
``qc-outliers`` compares against the population of each label.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field
from pydicom.dataset import Dataset

from radcurate.analyze.qc_seg_contours import declared_rois, rtstruct_on_grid
from radcurate.analyze.qc_seg_masks import (
    LabelMask,
    OnGrid,
    declared_segments,
    seg_frame_labels,
    seg_on_grid,
)
from radcurate.analyze.qc_seg_measures import (
    body_of,
    components_of,
    outside_fraction,
    overlaps,
)
from radcurate.analyze.qc_seg_references import (
    frame_of_reference_mismatch,
    missing_instances,
    object_frames_of_reference,
)
from radcurate.imaging.frames import read_dataset
from radcurate.imaging.reference import find_referenced_series, referenced_series_uids
from radcurate.imaging.rtstruct import read_contours
from radcurate.imaging.seg import SegPlacement, place_seg_frames
from radcurate.imaging.series import SeriesInput
from radcurate.imaging.volume import Geometry, volume_geometry
from radcurate.workflow.checks import QCCheck
from radcurate.workflow.step import SeriesItem, Workflow, instances_hash

__all__ = ["SegmentationQC", "SegmentationQCParams"]

FAMILY = "segmentation"


def _check(name: str, title: str, meaning: str, fails: str, tolerance: str = "",
           severity: str = "warning") -> QCCheck:  # fmt: skip
    return QCCheck(f"qc.segmentation.{name}", title, meaning, fails, tolerance, FAMILY, severity)


class SegmentationQCParams(BaseModel):
    """Tolerances of the segmentation checks."""

    model_config = ConfigDict(extra="forbid")

    fragment_min_ml: float = Field(
        0.5, ge=0, description="Components smaller than this (ml) are specks, not fragments"
    )
    fragment_ratio: float = Field(
        0.2, gt=0, le=1,
        description="A component at least this share of the largest is a part, not a fragment",
    )  # fmt: skip
    body_hu: float = Field(-500.0, ge=-1000, le=0, description="CT body: voxels above (HU)")
    outside_body_tolerance: float = Field(
        0.05, ge=0, le=1, description="Share of a label outside the body that is still fine"
    )
    overlap_tolerance: float = Field(
        0.05, ge=0, le=1,
        description="Shared voxels, as a share of the smaller label, that are still fine",
    )  # fmt: skip
    grid_tolerance_voxels: float = Field(
        0.5, ge=0, description="Largest offset from the source grid that is still fine (voxels)"
    )


class SegmentationQC(Workflow):
    """Empty segments, fragments, volumes, outside-body share, overlaps and geometry of
    segmentations, measured on the source image's grid."""

    name = "qc-segmentation"
    title = "Segmentation QC"
    description = (
        "DICOM-SEG and RTSTRUCT series against their source image: empty segments, connected "
        "components and fragments, volume per label, share outside the body, overlapping "
        "labels, Frame of Reference and grid mismatch, missing source (qc.segmentation.*)"
    )
    version = "1"
    Params = SegmentationQCParams
    modalities: ClassVar[tuple[str, ...]] = ("SEG", "RTSTRUCT")
    checks: ClassVar[tuple[QCCheck, ...]] = (
        _check("source_missing", "Segmentation source missing",
               "The image series the segmentation references is not in the catalog: nothing "
               "can be measured against it.",
               "qc.segmentation.source_missing:true", severity="error"),
        _check("empty_segments", "Empty segments",
               "Segments (ROIs) the object declares that mark no voxel; their labels are in "
               "qc.segmentation.empty_labels.",
               "qc.segmentation.empty_segments:>0", "exact: no voxel"),
        _check("fragmented", "Fragmented segments",
               "Segments with stray pieces: 26-connected components beside the largest, at "
               "least fragment_min_ml and smaller than fragment_ratio times the largest "
               "(tissue classes such as bone and fat are left out); "
               "labels in qc.segmentation.fragmented_labels, all component counts in "
               "qc.segmentation.components.",
               "qc.segmentation.fragmented:>0",
               "pieces of 0.5 ml or more, under 0.2 x the largest component, clear of the "
               "volume's faces (parameters)"),
        _check("outside_body_count", "Labels outside the body",
               "Labels with more than outside_body_tolerance of their voxels outside the "
               "body of the source image (CT above -500 HU, MR above Otsu's threshold; holes "
               "filled, largest components); per label in "
               "qc.segmentation.outside_body_fraction.",
               "qc.segmentation.outside_body_count:>0", "5% of the label (parameter)"),
        _check("overlap_pairs", "Overlapping labels",
               "Pairs of labels (body outlines left out) sharing more than overlap_tolerance "
               "of the smaller label's voxels; pairs and voxel counts in "
               "qc.segmentation.overlaps.",
               "qc.segmentation.overlap_pairs:>0", "5% of the smaller label (parameter)"),
        _check("frame_of_reference_mismatch", "Frame of Reference mismatch",
               "The segmentation's Frame of Reference UID differs from its source's (or one "
               "of them has none): its coordinates are not the source's.",
               "qc.segmentation.frame_of_reference_mismatch:true", "exact", "error"),
        _check("grid_mismatch", "Off the source grid",
               "Frames or contours lie on no source slice, outside the source volume, or "
               "further than grid_tolerance_voxels from where they are drawn on it.",
               "qc.segmentation.grid_mismatch:true", "0.5 voxel (parameter)", "error"),
        _check("missing_references", "Referenced images missing",
               "Images the segmentation names (by SOP Instance UID) that the catalog does "
               "not hold in the referenced series.",
               "qc.segmentation.missing_references:>0", "exact"),
        _check("geometry_mismatch", "Segmentation geometry mismatch",
               "Any of: Frame of Reference mismatch, off the source grid, referenced images "
               "missing.",
               "qc.segmentation.geometry_mismatch:true", severity="error"),
    )  # fmt: skip

    def input_hash(self, item: SeriesItem) -> str:
        """The object's files and those of every series it references (a source ingested,
        changed or removed later changes the results)."""
        digest = hashlib.sha256(instances_hash(item.instances).encode())
        for uid in item.document.get("referenced_series") or []:
            digest.update(f"|{uid}:{instances_hash(item.catalog.instances(str(uid)))}".encode())
        return digest.hexdigest()[:32]

    def process(self, item: SeriesItem, params: Any) -> Mapping[str, Mapping[str, Any]]:
        series = item.series_input()
        if not series.instances:
            raise ValueError("the series has no instances")
        modality = series.modality
        if modality not in self.modalities:
            raise ValueError(f"not a SEG or RTSTRUCT series (Modality {modality!r})")
        plan: SegPlacement | None = None
        if modality == "SEG":
            try:
                plan = place_seg_frames(item.catalog, item.series_uid)
            except KeyError:
                plan = None  # the source is not in the catalog
            except ValueError as exc:
                raise ValueError(f"the source series is not a volume: {exc}") from None
        record = min(series.instances, key=lambda i: (i.instance_number or 0, i.sop_uid))
        ds = plan.dataset if plan else read_dataset(record.location, pixels=modality == "SEG")
        # the document's references first: walking the header converts every value
        referenced = referenced_series_uids(series) or referenced_series_uids(series, ds)
        reference = (
            plan.reference
            if plan
            else (find_referenced_series(series) or find_referenced_series(series, ds))
        )
        values: dict[str, Any] = {
            "source_series": reference.series_uid if reference else next(iter(referenced), ""),
            "source_missing": reference is None,
            "missing_references": missing_instances(series, ds, referenced),
        }
        if reference is None:
            values.update(_without_source(ds, record.location, modality))
            return {"qc": {"segmentation": values}}
        grid = seg_on_grid(plan) if plan else rtstruct_on_grid(ds, _geometry(reference))
        values.update(_measures(grid, params))
        values.update(_body_checks(item, reference, grid, params))
        values.update(_geometry_checks(ds, reference, grid, params, values["missing_references"]))
        return {"qc": {"segmentation": values}}


def _geometry(reference: SeriesInput) -> Geometry:
    try:
        return volume_geometry(reference)
    except ValueError as exc:
        raise ValueError(f"the source series is not a volume: {exc}") from None


def _empties(labels: list[LabelMask], counts: Mapping[int, int]) -> dict[str, Any]:
    empty = [m.label for m in labels if not counts.get(m.number)]
    return {"segments": len(labels), "empty_segments": len(empty), "empty_labels": empty}


def _without_source(ds: Dataset, location: str, modality: str) -> dict[str, Any]:
    """What can be told without the source: the declared labels and which mark nothing."""
    if modality == "SEG":
        return _empties(declared_segments(ds), seg_frame_labels(ds, location))
    counts: dict[int, int] = {}
    for contour in read_contours(ds):
        counts[contour.roi] = counts.get(contour.roi, 0) + 1
    return _empties(declared_rois(ds), counts)


def _measures(grid: OnGrid, params: SegmentationQCParams) -> dict[str, Any]:
    """Empty segments, components and fragments, volumes."""
    voxel_ml = grid.voxel_ml
    components: dict[str, int] = {}
    fragmented: list[str] = []
    for label in grid.labels:
        found = components_of(
            label, grid.shape, voxel_ml, params.fragment_min_ml, params.fragment_ratio
        )
        if not found.count:
            continue
        components[label.label] = found.count
        if found.fragments and not label.tissue:
            fragmented.append(label.label)
    out = _empties(grid.labels, {m.number: m.voxels for m in grid.labels})
    out.update(
        components=components,
        components_max=max(components.values(), default=0),
        fragmented=len(fragmented),
        fragmented_labels=fragmented,
        volume_ml={m.label: round(m.voxels * voxel_ml, 3) for m in grid.labels},
    )
    pairs = overlaps(grid.labels)
    out["overlaps"] = [
        {"labels": [p.first, p.second], "voxels": p.voxels, "fraction": round(p.fraction, 4)}
        for p in pairs
    ]
    out["overlap_pairs"] = sum(1 for p in pairs if p.fraction > params.overlap_tolerance)
    return out


def _body_checks(item: SeriesItem, reference: SeriesInput, grid: OnGrid,
                 params: SegmentationQCParams) -> dict[str, Any]:  # fmt: skip
    """The share of each label outside the source's body (nothing for other modalities)."""
    found = body_of(item.catalog, reference.series_uid, reference.modality,
                    body_hu=params.body_hu)  # fmt: skip
    if found is None:
        return {}
    body, method = found
    if body.shape != grid.shape:
        raise ValueError(f"the source's body mask is {body.shape}, its grid {grid.shape}")
    fractions = {m.label: round(outside_fraction(m, body), 4) for m in grid.labels if m.voxels}
    outside = [k for k, v in fractions.items() if v > params.outside_body_tolerance]
    return {
        "body_mask": method,
        "outside_body_fraction": fractions,
        "outside_body_max": max(fractions.values(), default=0.0),
        "outside_body_count": len(outside),
        "outside_body_labels": outside,
    }


def _geometry_checks(ds: Dataset, reference: SeriesInput, grid: OnGrid,
                     params: SegmentationQCParams, missing: int) -> dict[str, Any]:  # fmt: skip
    """Frame of Reference and grid fit."""
    mismatch = frame_of_reference_mismatch(object_frames_of_reference(ds), reference.document)
    off_grid = (
        grid.unplaced > 0 or grid.outside_grid_fraction > 0
        or grid.grid_offset_voxels > params.grid_tolerance_voxels
    )  # fmt: skip
    return {
        "frame_of_reference_mismatch": mismatch,
        "unplaced": grid.unplaced,
        "outside_grid_fraction": round(grid.outside_grid_fraction, 4),
        "grid_offset_voxels": round(grid.grid_offset_voxels, 3),
        "grid_mismatch": off_grid,
        "geometry_mismatch": mismatch or off_grid or missing > 0,
    }
