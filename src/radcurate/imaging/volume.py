"""A series as a 3-D volume (values after rescale) with its NIfTI (RAS) affine.

Voxel ``array[k, j, i]`` is slice ``k`` (geometric order along the slice normal),
row ``j``, column ``i`` of the series. ``affine`` maps the index ``(i, j, k, 1)``
(NIfTI order: x = column, y = row, z = slice) to RAS millimetres, so a NIfTI file
stores the slices one after the other with ``affine`` unchanged (see
:mod:`radcurate.imaging.nifti`). DICOM patient coordinates are LPS; RAS negates the
first two axes.

A volume is planned first (:func:`series_volume_stream`,
:func:`~radcurate.imaging.seg.seg_label_stream`: geometry checked, nothing decoded) and
its slices decoded one at a time, so it can be written without ever holding the whole
array. A stack of single-frame slices and an
enhanced (or legacy converted enhanced) multi-frame object, whose frames are placed
by their functional groups (PlanePosition, PlaneOrientation, PixelMeasures), give
the same grid.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset
from pydicom.pixels.processing import apply_modality_lut
from pydicom.pixels.utils import iter_pixels

from radcurate.dicom.geometry import slice_normal
from radcurate.dicom.instance import InstanceRecord
from radcurate.imaging.codecs import decode_failure
from radcurate.imaging.errors import UndecodableError
from radcurate.imaging.frames import (
    decode_frame,
    frame_attributes,
    frame_count,
    local_path,
    ordered_instances,
    read_dataset,
)
from radcurate.imaging.series import SeriesInput, SeriesLookup, load_series

__all__ = [
    "LPS_TO_RAS",
    "Geometry",
    "Volume",
    "VolumeStream",
    "series_geometry",
    "series_volume",
    "series_volume_stream",
    "volume_geometry",
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
        The instance of each slice, in geometric order (for a multi-frame object,
        the same instance for every slice).
    shape
        ``(slices, rows, columns)``.
    affine
        4x4, voxel index ``(column, row, slice, 1)`` -> RAS mm.
    frames
        For a multi-frame object, the frame index (0-based) of each slice; empty otherwise.
    """

    records: tuple[InstanceRecord, ...]
    shape: tuple[int, int, int]
    affine: F64
    frames: tuple[int, ...] = ()

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


@dataclass(frozen=True)
class VolumeStream:
    """A volume whose geometry is known and whose slices are decoded on demand.

    Attributes
    ----------
    shape, affine, dtype
        As the :class:`Volume` it stands for.
    slices
        Called once per pass: yields each ``(rows, columns)`` slice of ``dtype`` in order.
        Decoding failures surface here (``UndecodableError``, ``ValueError``).
    """

    shape: tuple[int, int, int]
    affine: F64
    dtype: np.dtype[Any]
    slices: Callable[[], Iterator[npt.NDArray[Any]]]
    sop_uids: tuple[str, ...] = ()
    labels: dict[int, str] = field(default_factory=dict)

    @classmethod
    def of(cls, volume: Volume) -> VolumeStream:
        """The stream of an in-memory volume."""
        return cls(
            (volume.array.shape[0], volume.array.shape[1], volume.array.shape[2]),
            volume.affine,
            volume.array.dtype,
            lambda: iter(volume.array),
            volume.sop_uids,
            volume.labels,
        )

    def materialize(self) -> Volume:
        """Decode every slice into one array."""
        array = np.empty(self.shape, dtype=self.dtype)
        count = 0
        for k, plane in enumerate(self.slices()):
            array[k] = plane
            count += 1
        if count != self.shape[0]:
            raise ValueError(f"the volume yielded {count} slices, not {self.shape[0]}")
        return Volume(array, self.affine, self.sop_uids, self.labels)


def _grid(
    positions: F64, iop: Sequence[float], rows: int, columns: int, spacing: Sequence[float]
) -> tuple[list[int], F64]:
    """Geometric order of slices at ``positions`` (LPS, stored order) and the RAS affine.

    Raises
    ------
    ValueError
        A degenerate orientation, two slices at one position, or slices that are not
        evenly spaced on one line.
    """
    normal = slice_normal(iop)
    if normal is None:
        raise ValueError("inconsistent geometry: ImageOrientationPatient is degenerate")
    along = positions @ np.asarray(normal, dtype=np.float64)
    order = sorted(range(len(positions)), key=lambda k: (float(along[k]), k))
    ordered = positions[order]
    count = len(order)
    if count > 1:
        step = (ordered[-1] - ordered[0]) / (count - 1)
        if float(np.dot(step, normal)) <= 1e-6:
            raise ValueError("inconsistent geometry: several slices share one position")
        expected = ordered[0] + np.outer(np.arange(count), step)
        worst = float(np.abs(ordered - expected).max())
        limit = max(_POSITION_TOLERANCE_MM, _POSITION_TOLERANCE_STEP * float(np.linalg.norm(step)))
        if worst > limit:
            raise ValueError(
                f"inconsistent geometry: slice positions are not evenly spaced on one line "
                f"(off by up to {worst:.3g} mm)"
            )
    else:
        step = np.asarray(normal, dtype=np.float64)  # one slice: unit thickness
    row_dir, col_dir = np.asarray(iop[:3], dtype=np.float64), np.asarray(iop[3:], dtype=np.float64)
    d_row, d_col = float(spacing[0]), float(spacing[1])
    lps = np.eye(4)
    lps[:3, 0] = row_dir * d_col  # column index i moves along the row direction
    lps[:3, 1] = col_dir * d_row  # row index j moves along the column direction
    lps[:3, 2] = step
    lps[:3, 3] = ordered[0]
    affine: F64 = LPS_TO_RAS @ lps
    return order, affine


def _check(records: Sequence[InstanceRecord]) -> tuple[list[float], tuple[int, int]]:
    if not records:
        raise ValueError("the series has no instances")
    if any((r.frames or 1) > 1 for r in records):
        raise ValueError("volumes of several multi-frame instances are not supported")
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
    records = ordered_instances(series.instances, slice_normal(iop))
    positions = np.array([r.position for r in records], dtype=np.float64)
    order, affine = _grid(positions, iop, rows, columns, spacing)
    return Geometry(tuple(records[k] for k in order), (len(records), rows, columns), affine)


def _spacing(attrs: Dataset) -> list[float]:
    value = attrs.get("PixelSpacing")
    if value is None or len(value) != 2:
        raise ValueError("inconsistent geometry: the slices have no PixelSpacing")
    return [float(v) for v in value]


def _multiframe_geometry(record: InstanceRecord, ds: Dataset) -> Geometry:
    """The grid of one multi-frame object, from each frame's functional groups."""
    frames = frame_count(ds)
    positions: list[list[float]] = []
    orientations: set[tuple[float, ...]] = set()
    spacings: set[tuple[float, ...]] = set()
    iop: list[float] = []
    for k in range(frames):
        attrs = frame_attributes(ds, k)
        ipp = attrs.get("ImagePositionPatient")
        value = attrs.get("ImageOrientationPatient")
        if ipp is None or len(ipp) != 3:
            raise ValueError(f"inconsistent geometry: frame {k + 1} has no PlanePositionSequence")
        if value is None or len(value) != 6:
            raise ValueError(
                f"inconsistent geometry: frame {k + 1} has no PlaneOrientationSequence"
            )
        positions.append([float(v) for v in ipp])
        iop = [float(v) for v in value]
        orientations.add(tuple(round(v, 4) for v in iop))
        spacings.add(tuple(round(v, 6) for v in _spacing(attrs)))
    if len(orientations) != 1:
        raise ValueError("inconsistent geometry: the frames do not share one orientation")
    if len(spacings) != 1:
        raise ValueError("inconsistent geometry: the frames have several PixelSpacings")
    rows, columns = int(ds.Rows), int(ds.Columns)
    order, affine = _grid(
        np.array(positions, dtype=np.float64), iop, rows, columns, next(iter(spacings))
    )
    return Geometry((record,) * frames, (frames, rows, columns), affine, tuple(order))


def volume_geometry(series: SeriesInput) -> Geometry:
    """The grid of a series: a stack of single-frame slices or one multi-frame object.

    Raises
    ------
    ValueError
        Inconsistent geometry (see :func:`series_geometry`), or several multi-frame
        instances.
    UndecodableError
        The header of an instance cannot be read.
    """
    records = series.instances
    if len(records) == 1 and (records[0].frames or 1) > 1:
        return _multiframe_geometry(records[0], read_dataset(records[0].location, pixels=False))
    _check(records)
    first = ordered_instances(records)[0]
    spacing = _spacing(frame_attributes(read_dataset(first.location, pixels=False)))
    return series_geometry(series, spacing)


def _frames(ds: Dataset, location: str, indices: Sequence[int]) -> Iterator[npt.NDArray[Any]]:
    """Frames ``indices`` of a multi-frame object, in that order, one at a time.

    The header is parsed once (decoding frame by frame from a path would parse it,
    per-frame functional groups included, for every frame).
    """
    item = ds.get_item("PixelData") if "PixelData" in ds else None
    deferred = item is not None and getattr(item, "value", b"") is None
    source: Any = local_path(location) if deferred else ds
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield from iter_pixels(source, indices=list(indices))
    except Exception as exc:  # every decoder failure becomes a reason
        meta = getattr(ds, "file_meta", None)
        syntax = getattr(meta, "TransferSyntaxUID", None) if meta is not None else None
        bits = ds.get("BitsStored")
        text = decode_failure(
            exc, str(syntax) if syntax else None, bits if isinstance(bits, int) else None
        )
        raise UndecodableError(f"cannot decode the pixel data: {text}") from exc


def _rescaled_slices(geometry: Geometry) -> Iterator[npt.NDArray[np.float32]]:
    """Slices after the Modality LUT, decoded one at a time."""
    shape = geometry.shape[1:]
    if geometry.frames:
        record = geometry.records[0]
        ds = read_dataset(record.location)
        frames = _frames(ds, record.location, geometry.frames)
        for frame, pixels in zip(geometry.frames, frames, strict=True):
            if pixels.shape != shape:
                raise ValueError(f"frame {frame + 1} decodes to {pixels.shape}, not {shape}")
            yield modality_lut(pixels, frame_attributes(ds, frame))
        return
    spacing: list[float] | None = None
    for k, record in enumerate(geometry.records):
        ds = read_dataset(record.location)
        # a plain single-frame object is its own flat data set (frame_attributes copies it)
        enhanced = (
            "SharedFunctionalGroupsSequence" in ds or "PerFrameFunctionalGroupsSequence" in ds
        )
        attrs = frame_attributes(ds, 0) if enhanced else ds
        if spacing is None:
            spacing = _spacing(attrs)
        elif not np.allclose(_spacing(attrs), spacing, atol=1e-3):
            raise ValueError(f"inconsistent geometry: slice {k} has another PixelSpacing")
        pixels = decode_frame(ds, 0, record.location)
        if pixels.shape != shape:
            raise ValueError(f"slice {k} decodes to {pixels.shape}, not {shape}")
        yield modality_lut(pixels, attrs)
        del ds, pixels


def modality_lut(pixels: npt.NDArray[Any], attrs: Dataset) -> npt.NDArray[np.float32]:
    """Pixels after the Modality LUT, as ``float32``: pydicom's ``apply_modality_lut``.

    Integer pixels with a rescale slope of 1 and a whole intercept (a CT's, in almost every
    archive) take one float32 pass; the values are the same (whole numbers below 2**24 are
    exact in float32), at a quarter of the time of pydicom's float64 arithmetic.
    """
    slope, intercept = attrs.get("RescaleSlope"), attrs.get("RescaleIntercept")
    if (
        pixels.dtype.kind in "iu"
        and pixels.dtype.itemsize <= 2
        and "ModalityLUTSequence" not in attrs
        and (slope is None or float(slope) == 1.0)
    ):
        shift = float(intercept) if intercept is not None else 0.0
        if shift.is_integer() and abs(shift) < 2**23:
            out = pixels.astype(np.float32)
            if shift:
                out += np.float32(shift)
            return out
    return np.asarray(apply_modality_lut(pixels, attrs), dtype=np.float32)


def series_volume_stream(catalog: SeriesLookup, series_uid: str) -> VolumeStream:
    """Plan the series as a ``float32`` volume after rescale; slices are decoded when iterated.

    Raises
    ------
    KeyError
        No such series in the catalog.
    ValueError
        Inconsistent geometry (see :func:`volume_geometry`).
    """
    geometry = volume_geometry(load_series(catalog, series_uid))
    if geometry.frames:
        uids = tuple(f"{geometry.records[0].sop_uid}#{k + 1}" for k in geometry.frames)
    else:
        uids = tuple(r.sop_uid for r in geometry.records)
    return VolumeStream(
        geometry.shape,
        geometry.affine,
        np.dtype(np.float32),
        lambda: _rescaled_slices(geometry),
        uids,
    )


def series_volume(catalog: SeriesLookup, series_uid: str) -> Volume:
    """The series as a ``float32`` volume after rescale, built slice by slice.

    ``sop_uids`` names each slice's instance (``UID#frame`` for a multi-frame object).

    Raises
    ------
    KeyError
        No such series in the catalog.
    ValueError
        Inconsistent geometry (see :func:`volume_geometry`) or pixel spacing.
    UndecodableError
        A slice cannot be decoded.
    """
    return series_volume_stream(catalog, series_uid).materialize()
