"""A series as a 3-D volume (values after rescale) with its NIfTI (RAS) affine, and SEG labels.

Voxel ``array[k, j, i]`` is slice ``k`` (geometric order along the slice normal),
row ``j``, column ``i`` of the series. ``affine`` maps the index ``(i, j, k, 1)``
(NIfTI order: x = column, y = row, z = slice) to RAS millimetres, so
``write_nifti`` stores ``array.transpose(2, 1, 0)`` with ``affine`` unchanged.
DICOM patient coordinates are LPS; RAS negates the first two axes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset
from pydicom.pixels.processing import apply_modality_lut
from pydicom.pixels.utils import iter_pixels

from radcurate.catalog import CatalogBackend
from radcurate.dicom.geometry import slice_normal
from radcurate.dicom.instance import InstanceRecord
from radcurate.optional import import_optional
from radcurate.render.api import load_series
from radcurate.render.reference import find_referenced_series
from radcurate.render.result import SeriesInput, UndecodableError
from radcurate.render.source import (
    decode_frame,
    frame_attributes,
    frame_count,
    ordered_instances,
    read_dataset,
)

__all__ = [
    "LPS_TO_RAS",
    "Geometry",
    "Volume",
    "seg_label_volume",
    "series_geometry",
    "series_volume",
    "write_nifti",
]

F64 = npt.NDArray[np.float64]
#: DICOM LPS -> NIfTI RAS: negate x and y
LPS_TO_RAS: F64 = np.diag([-1.0, -1.0, 1.0, 1.0])
#: largest deviation of a slice position from the evenly spaced line (mm, or of the step)
_POSITION_TOLERANCE_MM = 0.05
_POSITION_TOLERANCE_STEP = 0.05


@dataclass(frozen=True)
class Geometry:
    """Where the voxels of a series lie.

    Attributes
    ----------
    records
        The instances in geometric order (one per slice).
    shape
        ``(slices, rows, columns)``.
    affine
        4x4, voxel index ``(column, row, slice, 1)`` -> RAS mm.
    """

    records: tuple[InstanceRecord, ...]
    shape: tuple[int, int, int]
    affine: F64

    @property
    def lps_affine(self) -> F64:
        """The same map into DICOM patient (LPS) coordinates."""
        lps: F64 = LPS_TO_RAS @ self.affine
        return lps

    def slice_of(self, position: Sequence[float]) -> int | None:
        """Index of the slice an LPS point lies on (within a quarter of the spacing), or None."""
        point = LPS_TO_RAS @ np.array([*[float(v) for v in position], 1.0])
        index = np.linalg.solve(self.affine, point)
        k = round(float(index[2]))
        if abs(index[2] - k) > 0.25 or not 0 <= k < self.shape[0]:
            return None
        return k


@dataclass(frozen=True)
class Volume:
    """A 3-D array and its NIfTI affine.

    Attributes
    ----------
    array
        ``(slices, rows, columns)``: ``float32`` values after the Modality LUT/rescale
        (HU for CT), or ``uint8``/``uint16`` labels.
    affine
        4x4, voxel index ``(column, row, slice, 1)`` -> RAS mm (the NIfTI affine).
    sop_uids
        SOP Instance UID of each slice.
    """

    array: npt.NDArray[Any]
    affine: F64
    sop_uids: tuple[str, ...] = ()
    labels: dict[int, str] = field(default_factory=dict)


def _check(records: Sequence[InstanceRecord]) -> tuple[list[float], tuple[int, int]]:
    if not records:
        raise ValueError("the series has no instances")
    if any((r.frames or 1) > 1 for r in records):
        raise ValueError("volumes of multi-frame instances are not supported")
    orientations = {tuple(round(v, 4) for v in r.orientation or ()) for r in records}
    if len(orientations) != 1 or () in orientations:
        raise ValueError("inconsistent geometry: the slices do not share one orientation")
    sizes = {(r.rows, r.columns) for r in records}
    if len(sizes) != 1 or None in next(iter(sizes)):
        raise ValueError(f"inconsistent geometry: the slices have {len(sizes)} matrix sizes")
    if any(r.position is None for r in records):
        raise ValueError("inconsistent geometry: a slice has no ImagePositionPatient")
    rows, columns = next(iter(sizes))
    assert rows is not None and columns is not None
    return [float(v) for v in next(iter(orientations))], (int(rows), int(columns))


def series_geometry(series: SeriesInput, spacing: Sequence[float]) -> Geometry:
    """The voxel grid of a stack of single-frame slices.

    Parameters
    ----------
    spacing
        PixelSpacing ``(row spacing, column spacing)`` in mm.

    Raises
    ------
    ValueError
        Several orientations or matrix sizes, a slice without a position, two slices
        at one position, or slices that are not evenly spaced on one line.
    """
    iop, (rows, columns) = _check(series.instances)
    normal = slice_normal(iop)
    if normal is None:
        raise ValueError("inconsistent geometry: ImageOrientationPatient is degenerate")
    records = ordered_instances(series.instances, normal)
    positions = np.array([r.position for r in records], dtype=np.float64)
    count = len(records)
    if count > 1:
        step = (positions[-1] - positions[0]) / (count - 1)
        along = float(np.dot(step, normal))
        if along <= 1e-6:
            raise ValueError("inconsistent geometry: several slices share one position")
        expected = positions[0] + np.outer(np.arange(count), step)
        worst = float(np.abs(positions - expected).max())
        limit = max(_POSITION_TOLERANCE_MM, _POSITION_TOLERANCE_STEP * float(np.linalg.norm(step)))
        if worst > limit:
            raise ValueError(
                f"inconsistent geometry: slice positions are not evenly spaced on one line "
                f"(off by up to {worst:.3g} mm)"
            )
    else:
        step = np.asarray(normal, dtype=np.float64)  # one slice: unit thickness
    row_dir, col_dir = np.asarray(iop[:3]), np.asarray(iop[3:])
    d_row, d_col = float(spacing[0]), float(spacing[1])
    lps = np.eye(4)
    lps[:3, 0] = row_dir * d_col  # column index i moves along the row direction
    lps[:3, 1] = col_dir * d_row  # row index j moves along the column direction
    lps[:3, 2] = step
    lps[:3, 3] = positions[0]
    return Geometry(tuple(records), (count, rows, columns), LPS_TO_RAS @ lps)


def _spacing(attrs: Dataset) -> list[float]:
    value = attrs.get("PixelSpacing")
    if value is None or len(value) != 2:
        raise ValueError("inconsistent geometry: the slices have no PixelSpacing")
    return [float(v) for v in value]


def series_volume(catalog: CatalogBackend, series_uid: str) -> Volume:
    """The series as a ``float32`` volume after rescale, built slice by slice.

    Raises
    ------
    KeyError
        No such series in the catalog.
    ValueError
        Inconsistent geometry (see :func:`series_geometry`) or pixel spacing.
    UndecodableError
        A slice cannot be decoded.
    """
    series = load_series(catalog, series_uid)
    _check(series.instances)
    first = ordered_instances(series.instances)[0]
    first_attrs = frame_attributes(read_dataset(first.location, pixels=False))
    spacing = _spacing(first_attrs)
    geometry = series_geometry(series, spacing)
    array = np.empty(geometry.shape, dtype=np.float32)
    for k, record in enumerate(geometry.records):
        ds = read_dataset(record.location)
        attrs = frame_attributes(ds, 0)
        if not np.allclose(_spacing(attrs), spacing, atol=1e-3):
            raise ValueError(f"inconsistent geometry: slice {k} has another PixelSpacing")
        pixels = decode_frame(ds, 0, record.location)
        if pixels.shape != geometry.shape[1:]:
            raise ValueError(f"slice {k} decodes to {pixels.shape}, not {geometry.shape[1:]}")
        array[k] = apply_modality_lut(pixels, attrs)
        del ds, pixels
    return Volume(array, geometry.affine, tuple(r.sop_uid for r in geometry.records))


def _frame_facts(ds: Dataset, k: int) -> tuple[int, list[str], list[float] | None]:
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
    ipp = frame_attributes(ds, k).get("ImagePositionPatient")
    point = [float(v) for v in ipp] if ipp is not None and len(ipp) == 3 else None
    return segment, sources, point


def _fit_plane(mask: npt.NDArray[Any], shape: tuple[int, int]) -> npt.NDArray[Any]:
    """Nearest-neighbour resize of a frame to the referenced matrix (same field of view)."""
    if mask.shape == shape:
        return mask
    rows = np.arange(shape[0]) * mask.shape[0] // shape[0]
    cols = np.arange(shape[1]) * mask.shape[1] // shape[1]
    fitted: npt.NDArray[Any] = mask[rows][:, cols]
    return fitted


def seg_label_volume(catalog: CatalogBackend, seg_uid: str) -> Volume:
    """The segments of a DICOM-SEG series as a label volume on its referenced series' grid.

    Same shape and affine as :func:`series_volume` of the referenced series; voxel
    values are SegmentNumbers (0: no segment; where segments overlap the higher
    number wins). Frames are placed by their source SOP Instance UID, else by
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
    series = load_series(catalog, seg_uid)
    record = min(series.instances, key=lambda i: (i.instance_number or 0, i.sop_uid))
    ds = read_dataset(record.location)
    reference = find_referenced_series(series, ds)
    if reference is None:
        raise KeyError(f"the series referenced by segmentation {seg_uid} is not in the catalog")
    _check(reference.instances)
    first = ordered_instances(reference.instances)[0]
    spacing = _spacing(frame_attributes(read_dataset(first.location, pixels=False)))
    geometry = series_geometry(reference, spacing)
    by_sop = {r.sop_uid: k for k, r in enumerate(geometry.records)}
    kind = str(ds.get("SegmentationType", "BINARY")).upper()
    labels = {
        int(item.get("SegmentNumber", n + 1)): str(item.get("SegmentLabel", ""))
        for n, item in enumerate(ds.get("SegmentSequence") or [])
    }
    top = max([*labels, 1])
    dtype = np.uint8 if top <= 255 else np.uint16
    volume = np.zeros(geometry.shape, dtype=dtype)
    frames = frame_count(ds)
    try:
        for k, frame in enumerate(iter_pixels(ds)):
            if k >= frames:
                break
            segment, sources, point = _frame_facts(ds, k)
            target = next((by_sop[s] for s in sources if s in by_sop), None)
            if target is None and point is not None:
                target = geometry.slice_of(point)
            if target is None:
                raise ValueError(f"frame {k + 1} of the segmentation lies on no referenced slice")
            plane = volume[target]
            if kind == "LABELMAP":
                values = _fit_plane(np.asarray(frame), plane.shape)
                np.maximum(plane, values.astype(dtype), out=plane)
                continue
            if kind == "FRACTIONAL":
                high = float(frame.max(initial=0))
                mask = frame > high / 2 if high > 0 else frame > 0
            else:
                mask = frame > 0
            mask = _fit_plane(np.asarray(mask), plane.shape)
            plane[mask & (plane < segment)] = segment
    except ValueError:
        raise
    except Exception as exc:  # decoder failures become a reason
        raise UndecodableError(f"cannot decode the segmentation frames: {exc}") from exc
    return Volume(volume, geometry.affine, tuple(r.sop_uid for r in geometry.records), labels)


def write_nifti(volume: Volume, path: str | Path) -> Path:
    """Write ``volume`` as NIfTI-1 (``.nii`` or ``.nii.gz``): ``(x, y, z)`` data, RAS affine.

    Needs nibabel (the ``nifti`` extra).
    """
    nibabel = import_optional("nibabel", "writing NIfTI volumes")
    data = np.ascontiguousarray(volume.array.transpose(2, 1, 0))
    image = nibabel.Nifti1Image(data, volume.affine)
    image.header.set_xyzt_units("mm")
    image.set_qform(volume.affine, code=1)  # scanner anatomical
    image.set_sform(volume.affine, code=1)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    nibabel.save(image, str(target))
    return target
