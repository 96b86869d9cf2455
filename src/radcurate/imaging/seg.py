"""DICOM-SEG: where each frame lies and which segment it holds, binary masks, and the
segments as a label volume on the grid of the referenced series."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset

from radcurate.imaging.frames import decode_frame, frame_count, read_dataset
from radcurate.imaging.reference import find_referenced_series
from radcurate.imaging.series import SeriesInput, SeriesLookup, load_series
from radcurate.imaging.volume import Geometry, Volume, VolumeStream, volume_geometry

__all__ = [
    "SEG_SOP_CLASS",
    "SegPlacement",
    "binary_mask",
    "fit_plane",
    "frame_facts",
    "place_seg_frames",
    "seg_label_stream",
    "seg_label_volume",
]

#: Segmentation Storage
SEG_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.66.4"


def frame_facts(ds: Dataset, k: int) -> tuple[int, list[str], list[float] | None]:
    """``(segment number, source SOP Instance UIDs, ImagePositionPatient)`` of frame ``k``.

    The segment comes from SegmentIdentificationSequence (1 when absent), the sources
    from DerivationImageSequence/SourceImageSequence (each once, in order), the
    position from the plane position functional group (None when absent).
    """
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    group = per_frame[k] if per_frame and k < len(per_frame) else Dataset()
    segment = 1
    ident = group.get("SegmentIdentificationSequence")
    if ident:
        segment = int(ident[0].get("ReferencedSegmentNumber", 1))
    sources: list[str] = []
    for derivation in group.get("DerivationImageSequence") or []:
        for source in derivation.get("SourceImageSequence") or []:
            if "ReferencedSOPInstanceUID" in source:
                sources.append(str(source.ReferencedSOPInstanceUID))
    ipp = _frame_position(ds, group)
    point = [float(v) for v in ipp] if ipp is not None and len(ipp) == 3 else None
    return segment, list(dict.fromkeys(sources)), point


def _frame_position(ds: Dataset, group: Dataset) -> Any:
    """ImagePositionPatient of a frame as :func:`~radcurate.imaging.frames.frame_attributes`
    resolves it (the per-frame group, else the shared one, else the top level), without
    flattening every attribute."""
    shared = ds.get("SharedFunctionalGroupsSequence")
    for source in (group, shared[0] if shared else None):
        items = source.get("PlanePositionSequence") if source is not None else None
        if items and "ImagePositionPatient" in items[0]:
            return items[0].ImagePositionPatient
    return ds.get("ImagePositionPatient")


def binary_mask(frame: npt.NDArray[Any], kind: str) -> npt.NDArray[np.bool_]:
    """The pixels a BINARY or FRACTIONAL frame marks: non-zero ones, for FRACTIONAL those
    above half the frame's maximum."""
    if kind == "FRACTIONAL":
        top = float(frame.max(initial=0))
        return np.asarray(frame > top / 2 if top > 0 else frame > 0)
    return np.asarray(frame > 0)


def fit_plane(mask: npt.NDArray[Any], shape: tuple[int, int]) -> npt.NDArray[Any]:
    """Nearest-neighbour resize of a frame to the referenced matrix (same field of view)."""
    if mask.shape == shape:
        return mask
    rows = np.arange(shape[0]) * mask.shape[0] // shape[0]
    cols = np.arange(shape[1]) * mask.shape[1] // shape[1]
    fitted: npt.NDArray[Any] = mask[rows][:, cols]
    return fitted


def _label_slices(
    ds: Dataset,
    location: str,
    geometry: Geometry,
    placed: dict[int, list[tuple[int, int]]],
    kind: str,
    dtype: np.dtype[Any],
) -> Iterator[npt.NDArray[Any]]:
    """Each label slice, from the segmentation frames placed on it (decoded one at a time)."""
    for target in range(geometry.shape[0]):
        plane = np.zeros(geometry.shape[1:], dtype=dtype)
        for k, segment in placed.get(target, ()):
            frame = np.asarray(decode_frame(ds, k, location))
            if kind == "LABELMAP":
                np.maximum(plane, fit_plane(frame, plane.shape).astype(dtype), out=plane)
                continue
            mask = fit_plane(binary_mask(frame, kind), plane.shape)
            plane[mask & (plane < segment)] = segment
        yield plane


@dataclass(frozen=True)
class SegPlacement:
    """Where the frames of a DICOM-SEG go on the grid of its referenced series.

    Attributes
    ----------
    dataset, location
        The Segmentation (its first instance) and where it is stored.
    reference, geometry
        The referenced series and its voxel grid.
    kind
        SegmentationType (BINARY, FRACTIONAL or LABELMAP).
    labels
        SegmentNumber -> SegmentLabel of every declared segment.
    placed
        Slice index -> ``(frame index, segment number)`` of the frames on that slice.
    unplaced
        Frames (0-based) that lie on no slice of the referenced series.
    """

    dataset: Dataset
    location: str
    reference: SeriesInput
    geometry: Geometry
    kind: str
    labels: dict[int, str]
    placed: dict[int, list[tuple[int, int]]]
    unplaced: tuple[int, ...] = ()


def place_seg_frames(catalog: SeriesLookup, seg_uid: str) -> SegPlacement:
    """Place every frame of a DICOM-SEG on a slice of its referenced series, by the frame's
    source SOP Instance UID, else by its position; nothing is decoded.

    Raises
    ------
    KeyError
        No such series, or its referenced series is not in the catalog.
    ValueError
        The referenced series' geometry is inconsistent.
    """
    series = load_series(catalog, seg_uid)
    record = min(series.instances, key=lambda i: (i.instance_number or 0, i.sop_uid))
    ds = read_dataset(record.location)
    # the document's references first: walking the header converts every value
    reference = find_referenced_series(series) or find_referenced_series(series, ds)
    if reference is None:
        raise KeyError(f"the series referenced by segmentation {seg_uid} is not in the catalog")
    geometry = volume_geometry(reference)
    by_sop = {} if geometry.frames else {r.sop_uid: k for k, r in enumerate(geometry.records)}
    labels = {
        int(item.get("SegmentNumber", n + 1)): str(item.get("SegmentLabel", ""))
        for n, item in enumerate(ds.get("SegmentSequence") or [])
    }
    placed: dict[int, list[tuple[int, int]]] = {}
    unplaced: list[int] = []
    for k in range(frame_count(ds)):
        segment, sources, point = frame_facts(ds, k)
        target = next((by_sop[s] for s in sources if s in by_sop), None)
        if target is None and point is not None:
            target = geometry.slice_of(point)
        if target is None:
            unplaced.append(k)
        else:
            placed.setdefault(target, []).append((k, segment))
    kind = str(ds.get("SegmentationType", "BINARY")).upper()
    return SegPlacement(
        ds, record.location, reference, geometry, kind, labels, placed, tuple(unplaced)
    )


def seg_label_stream(catalog: SeriesLookup, seg_uid: str) -> VolumeStream:
    """Plan the label volume of a DICOM-SEG (see :func:`seg_label_volume`); every frame is
    placed before anything is decoded, and each slice is decoded when iterated.

    Raises
    ------
    KeyError
        No such series, or its referenced series is not in the catalog.
    ValueError
        A frame lies on no slice of the referenced series, or its geometry is inconsistent.
    """
    plan = place_seg_frames(catalog, seg_uid)
    if plan.unplaced:
        raise ValueError(
            f"frame {plan.unplaced[0] + 1} of the segmentation lies on no referenced slice"
        )
    ds, geometry, labels = plan.dataset, plan.geometry, plan.labels
    dtype = np.dtype(np.uint8 if max([*labels, 1]) <= 255 else np.uint16)
    uids = (
        tuple(f"{geometry.records[0].sop_uid}#{k + 1}" for k in geometry.frames)
        if geometry.frames
        else tuple(r.sop_uid for r in geometry.records)
    )
    return VolumeStream(
        geometry.shape,
        geometry.affine,
        dtype,
        lambda: _label_slices(ds, plan.location, geometry, plan.placed, plan.kind, dtype),
        uids,
        labels,
    )


def seg_label_volume(catalog: SeriesLookup, seg_uid: str) -> Volume:
    """The segments of a DICOM-SEG series as a label volume on its referenced series' grid.

    Same shape and affine as :func:`~radcurate.imaging.volume.series_volume` of the
    referenced series; voxel values are SegmentNumbers (0: no segment; where segments
    overlap the higher number wins). Frames are placed by their source SOP Instance UID, else by
    their position. BINARY, FRACTIONAL (>= half the maximum) and LABELMAP.

    Raises
    ------
    KeyError
        No such series, or its referenced series is not in the catalog.
    ValueError
        A frame lies on no slice of the referenced series, or its geometry is inconsistent.
    UndecodableError
        The segmentation's frames cannot be decoded.
    """
    return seg_label_stream(catalog, seg_uid).materialize()
