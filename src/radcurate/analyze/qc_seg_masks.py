"""Segmentations as one mask per label on the grid of their source series, for the
segmentation checks (:mod:`radcurate.analyze.qc_segmentation`).

A DICOM-SEG is placed as the viewer places it
(:func:`radcurate.imaging.seg.place_seg_frames`: each frame on the source slice its source
SOP Instance UID names, else on the slice at its position, nearest-neighbour fitted to the
source matrix). An RTSTRUCT is rasterised in :mod:`radcurate.analyze.qc_seg_contours`.
Each label keeps only its bounding box, so a segmentation of a hundred structures on a
large CT holds about the structures' own size, not a hundred volumes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset

from radcurate.imaging.frames import decode_frame, frame_count
from radcurate.imaging.seg import SegPlacement, binary_mask, fit_plane, frame_facts

__all__ = [
    "LabelMask",
    "OnGrid",
    "PlaneParts",
    "declared_segments",
    "seg_frame_labels",
    "seg_on_grid",
    "unique_labels",
]

Mask = npt.NDArray[np.bool_]
F64 = npt.NDArray[np.float64]
#: SNOMED CT "Entire body": a segment that contains the others by design
_ENTIRE_BODY = ("38266002", "SCT")
#: SNOMED CT "Tissue", the segmented property category of bone, fat, muscle
_TISSUE = ("85756007", "SCT")


@dataclass
class LabelMask:
    """One segment or ROI on the source grid, cropped to its bounding box.

    Attributes
    ----------
    label
        The SegmentLabel / ROIName as written (made unique within the object).
    number
        SegmentNumber / ROINumber.
    container
        A body outline (RTSTRUCT EXTERNAL, a segment coded as the entire body): it holds
        the other labels by design, so it takes no part in the overlap check.
    tissue
        A tissue class (SegmentedPropertyCategory Tissue: bone, fat, muscle), in many
        pieces by nature, so it takes no part in the fragment check.
    offset
        ``(slice, row, column)`` of the crop's first voxel on the source grid.
    mask
        The crop (empty shape for a label without voxels).
    """

    label: str
    number: int
    container: bool = False
    tissue: bool = False
    offset: tuple[int, int, int] = (0, 0, 0)
    mask: Mask = field(default_factory=lambda: np.zeros((0, 0, 0), dtype=bool))

    @property
    def voxels(self) -> int:
        """How many voxels the label covers."""
        return int(np.count_nonzero(self.mask))

    def box(self) -> tuple[slice, slice, slice]:
        """Where the crop lies on the source grid."""
        k, j, i = self.offset
        n, r, c = self.mask.shape
        return slice(k, k + n), slice(j, j + r), slice(i, i + c)


@dataclass
class OnGrid:
    """Every declared label on the source grid, and how well the object fits that grid.

    Attributes
    ----------
    labels
        One per declared segment / ROI, in declaration order.
    shape, affine
        The source grid: ``(slices, rows, columns)`` and its RAS affine.
    unplaced
        Frames / contours that lie on no slice of the source.
    outside_grid_fraction
        Share of the mask (SEG pixels, RTSTRUCT contour points) outside the source volume.
    grid_offset_voxels
        Largest distance, in source voxels along any axis, between where the object's own
        geometry puts a frame or contour and where it is drawn on the source grid.
    """

    labels: list[LabelMask]
    shape: tuple[int, int, int]
    affine: F64
    unplaced: int = 0
    outside_grid_fraction: float = 0.0
    grid_offset_voxels: float = 0.0

    @property
    def voxel_ml(self) -> float:
        """Volume of one source voxel (ml)."""
        return abs(float(np.linalg.det(self.affine[:3, :3]))) / 1000.0


class PlaneParts:
    """The non-empty parts of one label's planes, each cut to its own bounding box."""

    def __init__(self) -> None:
        self.parts: list[tuple[int, int, int, Mask]] = []

    def add(self, k: int, plane: Mask, row0: int = 0, col0: int = 0) -> None:
        """Add ``plane`` (its first pixel at ``(row0, col0)``) on slice ``k``."""
        rows = np.flatnonzero(plane.any(axis=1))
        if not rows.size:
            return
        cols = np.flatnonzero(plane.any(axis=0))
        cut = plane[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        self.parts.append((k, row0 + int(rows[0]), col0 + int(cols[0]), cut.copy()))

    def crop(self) -> tuple[tuple[int, int, int], Mask]:
        """The label's bounding box offset and its mask (parts on one slice united)."""
        if not self.parts:
            return (0, 0, 0), np.zeros((0, 0, 0), dtype=bool)
        k0 = min(p[0] for p in self.parts)
        r0 = min(p[1] for p in self.parts)
        c0 = min(p[2] for p in self.parts)
        k1 = max(p[0] for p in self.parts) + 1
        r1 = max(p[1] + p[3].shape[0] for p in self.parts)
        c1 = max(p[2] + p[3].shape[1] for p in self.parts)
        mask = np.zeros((k1 - k0, r1 - r0, c1 - c0), dtype=bool)
        for k, r, c, cut in self.parts:
            mask[k - k0, r - r0 : r - r0 + cut.shape[0], c - c0 : c - c0 + cut.shape[1]] |= cut
        return (k0, r0, c0), mask


def unique_labels(declared: Iterable[tuple[int, str]]) -> dict[int, str]:
    """Number -> label, as written; a missing label reads ``segment N``, a repeated one gets
    ``#N`` appended (its number), so every label names one segment.

    Examples
    --------
    >>> unique_labels([(1, "Liver"), (2, ""), (3, "Liver")])
    {1: 'Liver', 2: 'segment 2', 3: 'Liver #3'}
    """
    out: dict[int, str] = {}
    seen: set[str] = set()
    for number, label in declared:
        name = label.strip() or f"segment {number}"
        if name in seen:
            name = f"{name} #{number}"
        seen.add(name)
        out[number] = name
    return out


def _coded(item: Dataset, keyword: str, code: tuple[str, str]) -> bool:
    """Whether the code sequence ``keyword`` of ``item`` holds ``(value, scheme)``."""
    return any(
        (str(c.get("CodeValue", "")), str(c.get("CodingSchemeDesignator", ""))) == code
        for c in item.get(keyword) or []
    )


def declared_segments(ds: Dataset) -> list[LabelMask]:
    """The segments a SEG declares (SegmentSequence), without voxels yet; segment 0, the
    background a LABELMAP may describe, is none."""
    numbered = [(int(item.get("SegmentNumber", n + 1)), item)
                for n, item in enumerate(ds.get("SegmentSequence") or [])]  # fmt: skip
    numbers = [number for number, _ in numbered if number != 0]
    items = [item for number, item in numbered if number != 0]
    names = unique_labels(
        (number, str(item.get("SegmentLabel", "")))
        for number, item in zip(numbers, items, strict=True)
    )
    return [
        LabelMask(
            names[number],
            number,
            container=_coded(item, "SegmentedPropertyTypeCodeSequence", _ENTIRE_BODY),
            tissue=_coded(item, "SegmentedPropertyCategoryCodeSequence", _TISSUE),
        )
        for number, item in zip(numbers, items, strict=True)
    ]


def _frame_pixels(ds: Dataset, k: int, location: str, kind: str, segment: int | None = None
                  ) -> dict[int, Mask]:  # fmt: skip
    """Segment number -> the pixels frame ``k`` marks (LABELMAP: one per value); ``segment``
    when already known (read from the frame's functional groups otherwise)."""
    frame = np.asarray(decode_frame(ds, k, location))
    if kind == "LABELMAP":
        return {int(v): frame == v for v in np.unique(frame) if v}
    if segment is None:
        segment, _, _ = frame_facts(ds, k)
    return {segment: binary_mask(frame, kind)}


def seg_frame_labels(ds: Dataset, location: str) -> dict[int, int]:
    """Segment number -> marked pixels over every frame (no source needed: the empty-segment
    check of a SEG whose source is missing)."""
    kind = str(ds.get("SegmentationType", "BINARY")).upper()
    counts: dict[int, int] = {}
    for k in range(frame_count(ds)):
        for segment, pixels in _frame_pixels(ds, k, location, kind).items():
            counts[segment] = counts.get(segment, 0) + int(np.count_nonzero(pixels))
    return counts


def _macro(ds: Dataset, k: int, name: str) -> Dataset | None:
    """The first item of functional-group macro ``name`` for frame ``k`` (per-frame, else
    shared); a cheaper look-up than the flat per-frame view when only one macro is needed."""
    for groups, index in (("PerFrameFunctionalGroupsSequence", k),
                          ("SharedFunctionalGroupsSequence", 0)):  # fmt: skip
        sequence = ds.get(groups)
        if sequence and index < len(sequence):
            items = sequence[index].get(name)
            if items:
                found: Dataset = items[0]
                return found
    return None


def _frame_offset(ds: Dataset, k: int, target: int, plan: SegPlacement) -> float | None:
    """How far (source voxels, largest along any axis) the frame's own plane position,
    orientation and spacing put its field of view from the source slice it is drawn on
    (None when the frame carries no plane geometry)."""
    position = _macro(ds, k, "PlanePositionSequence")
    orientation = _macro(ds, k, "PlaneOrientationSequence")
    measures = _macro(ds, k, "PixelMeasuresSequence")
    if position is None or orientation is None or measures is None:
        return None
    ipp = position.get("ImagePositionPatient")
    iop = orientation.get("ImageOrientationPatient")
    spacing = measures.get("PixelSpacing")
    if ipp is None or iop is None or spacing is None or len(ipp) != 3 or len(iop) != 6:
        return None
    rows, cols = int(ds.Rows), int(ds.Columns)
    source_rows, source_cols = plan.geometry.shape[1:]
    origin = np.asarray([float(v) for v in ipp])
    row_dir = np.asarray([float(v) for v in iop[:3]])
    col_dir = np.asarray([float(v) for v in iop[3:]])
    d_row, d_col = float(spacing[0]), float(spacing[1])
    fr = np.array([0.0, 0.0, 1.0, 1.0])  # the four corners of the field of view
    fc = np.array([0.0, 1.0, 0.0, 1.0])
    corners = (origin + np.outer(fc * cols - 0.5, d_col * row_dir)
               + np.outer(fr * rows - 0.5, d_row * col_dir))  # fmt: skip
    index = np.column_stack([corners, np.ones(4)]) @ np.linalg.inv(plan.geometry.lps_affine).T
    expected = np.column_stack([fc * source_cols - 0.5, fr * source_rows - 0.5,
                                np.full(4, float(target))])  # fmt: skip
    return float(np.abs(index[:, :3] - expected).max())


def seg_on_grid(plan: SegPlacement) -> OnGrid:
    """Every segment of a placed SEG on the source grid, with its fit to that grid.

    Frames are decoded one at a time; frames on no source slice count as outside the grid
    (with all the pixels they mark).

    Raises
    ------
    UndecodableError
        A frame cannot be decoded.
    """
    ds, geometry = plan.dataset, plan.geometry
    labels = declared_segments(ds)
    by_number = {m.number: m for m in labels}
    parts: dict[int, PlaneParts] = {m.number: PlaneParts() for m in labels}
    shape2d = (geometry.shape[1], geometry.shape[2])
    inside = outside = 0
    offset = 0.0
    for target, frames in sorted(plan.placed.items()):
        for k, number in frames:
            found = _frame_pixels(ds, k, plan.location, plan.kind, number)
            for segment, pixels in found.items():
                marked = int(np.count_nonzero(pixels))
                if not marked:
                    continue
                inside += marked
                parts.setdefault(segment, PlaneParts()).add(target, fit_plane(pixels, shape2d))
            frame_offset = _frame_offset(ds, k, target, plan)
            if frame_offset is not None:
                offset = max(offset, frame_offset)
    for k in plan.unplaced:
        for pixels in _frame_pixels(ds, k, plan.location, plan.kind).values():
            outside += int(np.count_nonzero(pixels))
    for number in sorted(parts):
        if number not in by_number:  # frames of a segment the object does not declare
            extra = LabelMask(f"segment {number}", number)
            labels.append(extra)
            by_number[number] = extra
        by_number[number].offset, by_number[number].mask = parts[number].crop()
    total = inside + outside
    return OnGrid(
        labels, geometry.shape, geometry.affine, len(plan.unplaced),
        outside / total if total else 0.0, offset,
    )  # fmt: skip
