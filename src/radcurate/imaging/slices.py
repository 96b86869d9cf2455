"""A series' slices in geometric order, and one slice decoded to its 8-bit display values."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset

from radcurate.dicom.instance import InstanceRecord
from radcurate.imaging.errors import UndecodableError
from radcurate.imaging.frames import (
    decode_frame,
    decode_frame_reduced,
    frame_attributes,
    frame_count,
    frame_order,
    ordered_instances,
    read_dataset,
)
from radcurate.imaging.pixels import Display, to_display
from radcurate.imaging.series import SeriesInput

__all__ = ["HARD_EDGE_LIMIT", "Slice", "load_slice", "series_slices"]

#: a reduced picture with more than this fraction of hard edges (grey steps > 128, e.g. skull
#: under a brain window) is decoded again at full resolution: windowing does not commute
#: with the wavelet's low-pass, and the difference grows with such edges (about 350 x this
#: fraction grey levels of mean difference, measured on phantom and synthetic CT)
HARD_EDGE_LIMIT = 0.004


def _hard_edges(grey: npt.NDArray[np.uint8]) -> float:
    values = grey.astype(np.int16)
    steps = np.zeros(values.shape[:2], dtype=bool)
    if values.ndim == 2 and min(values.shape) > 1:
        steps[:, :-1] |= np.abs(np.diff(values, axis=1)) > 128
        steps[:-1, :] |= np.abs(np.diff(values, axis=0)) > 128
    return float(steps.mean())


@dataclass
class Slice:
    """One decoded slice or frame ready to draw.

    Attributes
    ----------
    display
        The 8-bit picture.
    dataset
        The instance's data set (pixel data possibly deferred).
    attrs
        The frame's flat attributes (spacing, position, orientation, VOI).
    instance
        The instance row it came from.
    frame
        The frame number inside the instance (0 for single-frame objects).
    index, count
        Position in the series' geometric order and the number of slices.
    reduction
        The JPEG 2000 resolution reduction it was decoded at (0: full resolution;
        ``r``: both axes divided by ``2**r``).
    """

    display: Display
    dataset: Dataset
    attrs: Dataset
    instance: InstanceRecord
    frame: int
    index: int
    count: int
    reduction: int = 0

    def spacing(self) -> list[float] | None:
        """PixelSpacing (or ImagerPixelSpacing) as ``[row, column]`` mm."""
        for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
            value = self.attrs.get(keyword)
            if value is not None and len(value) == 2:
                return [float(v) for v in value]
        return None


def series_slices(series: SeriesInput) -> list[tuple[InstanceRecord, int | None]]:
    """The series' slices in geometric order as ``(instance, frame)``.

    A single multi-frame instance gives one entry per frame with ``frame=None``
    (its geometric frame order needs the data set: see :func:`load_slice`).
    """
    ordered = ordered_instances(series.instances, series.document.get("slice_normal"))
    if len(ordered) == 1 and (ordered[0].frames or 1) > 1:
        return [(ordered[0], None)] * int(ordered[0].frames or 1)
    return [(record, 0) for record in ordered]


def load_slice(
    series: SeriesInput,
    index: int | None = None,
    *,
    window: float | None = None,
    level: float | None = None,
    reduce_to: int | None = None,
) -> Slice:
    """Decode the slice at ``index`` (default: the middle one by geometry).

    When that slice is undecodable and ``index`` was not given, the nearest
    decodable neighbours (up to 4) are tried. With ``reduce_to``, grey JPEG 2000
    frames are decoded at the coarsest resolution level that still fills
    ``reduce_to`` pixels (full resolution on any failure).

    Raises
    ------
    UndecodableError
        When no tried slice can be decoded.
    IndexError
        When ``index`` is outside the series.
    """
    slices = series_slices(series)
    if not slices:
        raise UndecodableError("the series has no instances")
    count = len(slices)
    if index is not None and not 0 <= index < count:
        raise IndexError(f"slice {index} out of range (0..{count - 1})")
    start = count // 2 if index is None else index
    tries = [start] if index is not None else _around(start, count, 5)
    first_error: UndecodableError | None = None
    for k in tries:
        record, frame = slices[k]
        try:
            return _decode(series, record, frame, k, count, window, level, reduce_to)
        except UndecodableError as exc:
            first_error = first_error or exc
    assert first_error is not None
    raise first_error


def _around(start: int, count: int, limit: int) -> list[int]:
    order = [start]
    for step in range(1, count):
        for k in (start - step, start + step):
            if 0 <= k < count:
                order.append(k)
        if len(order) >= limit:
            break
    return order[:limit]


def _decode(
    series: SeriesInput,
    record: InstanceRecord,
    frame: int | None,
    index: int,
    count: int,
    window: float | None,
    level: float | None,
    reduce_to: int | None = None,
) -> Slice:
    ds = read_dataset(record.location)
    frames = frame_count(ds)
    if frame is None:
        order = frame_order(ds)
        frame = order[index] if index < len(order) else frames // 2
    elif frames > 1:
        # a series of multi-frame instances: the middle frame of the chosen one
        order = frame_order(ds)
        frame = order[len(order) // 2]
    reduced = decode_frame_reduced(ds, frame, record.location, reduce_to) if reduce_to else None
    pixels, reduction = reduced if reduced is not None else (None, 0)
    if pixels is None:
        pixels = decode_frame(ds, frame, record.location)
    if pixels.ndim == 3 and pixels.shape[-1] not in (3, 4):
        pixels = pixels[0]
    attrs = frame_attributes(ds, frame)
    modality = str(ds.get("Modality", series.modality) or "")
    try:
        display = to_display(pixels, ds, attrs, modality=modality, window=window, level=level)
        if reduction and _hard_edges(display.pixels) > HARD_EDGE_LIMIT:
            pixels, reduction = decode_frame(ds, frame, record.location), 0
            display = to_display(pixels, ds, attrs, modality=modality, window=window, level=level)
    except (ValueError, AttributeError, KeyError, IndexError, NotImplementedError) as exc:
        raise UndecodableError(f"cannot map the pixel values for display: {exc}") from exc
    return Slice(display, ds, attrs, record, frame, index, count, reduction)
