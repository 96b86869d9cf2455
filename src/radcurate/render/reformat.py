"""Plane reformats of a volume for the viewer, streamed one slice at a time."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from pydicom.pixels.processing import apply_modality_lut

from radcurate.dicom.geometry import position_along
from radcurate.dicom.instance import InstanceRecord
from radcurate.imaging.frames import decode_frame, frame_attributes, read_dataset
from radcurate.imaging.pixels import to_display
from radcurate.imaging.reformat import plane_cut
from radcurate.imaging.series import SeriesInput
from radcurate.imaging.slices import series_slices
from radcurate.render.canvas import fit
from radcurate.render.image import ImageRenderer, caption
from radcurate.render.plane_cache import PLANES, CachedVolume, volume_key
from radcurate.render.result import Rendering, RenderOptions

__all__ = ["render_plane"]

_NO_RESCALE = ("RescaleSlope", "RescaleIntercept", "ModalityLUTSequence")


def _spacing(attrs: Any) -> list[float] | None:
    value = attrs.get("PixelSpacing")
    return [float(v) for v in value] if value is not None and len(value) == 2 else None


def _volume(records: list[InstanceRecord], rows: int, cols: int) -> CachedVolume | None:
    """The series' decoded volume from :data:`PLANES`, read and kept on a miss; None when it
    is over the cache's budget (then the caller streams one line per slice)."""
    if not PLANES.fits(len(records), rows, cols):
        return None
    key = volume_key(records)
    found = PLANES.get(key)
    if found is not None:
        return found
    values = np.empty((len(records), rows, cols), np.float32)
    middle = len(records) // 2
    mid_ds = mid_attrs = None
    for k, record in enumerate(records):
        ds = read_dataset(record.location)
        attrs = frame_attributes(ds, 0)
        pixels = decode_frame(ds, 0, record.location)
        if pixels.shape[:2] != (rows, cols):
            return None  # not one volume after all: the line-by-line path says why
        values[k] = apply_modality_lut(pixels, attrs)
        if k == middle:
            mid_ds, mid_attrs = ds, attrs
        del pixels
    volume = CachedVolume(values, mid_ds, mid_attrs, _spacing(mid_attrs))
    PLANES.put(key, volume)
    return volume


def render_plane(series: SeriesInput, options: RenderOptions, name: str) -> Rendering:
    """An axial, coronal or sagittal picture of a volume in the plane's display convention.

    ``options.index`` counts along the patient axis (right to left, anterior to
    posterior, inferior to superior: :class:`~radcurate.imaging.reformat.PlaneCut`),
    whatever the stored order. When the plane is the acquired one this is a stored slice;
    otherwise each slice is read once (or cut from the cached volume) and only the row or
    column on the cut is kept.
    """
    slices = series_slices(series)
    records = [record for record, _ in slices]
    cut = plane_cut(records, options.plane)
    if cut.along == 0:  # the acquired plane
        stored = cut.stored(options.index)  # the middle along the patient axis by default
        native = RenderOptions(
            options.size, stored, "native", options.window, options.level, options.reduced_decode
        )
        rendering = ImageRenderer().render_native(series, native, options.plane)
        if rendering.slice_index is not None:
            rendering.slice_index = cut.index_of(rendering.slice_index)
        return rendering
    rows, cols = int(records[0].rows or 0), int(records[0].columns or 0)
    column = cut.along == 1  # keep one column per slice (else one row)
    stored = cut.stored(options.index)
    cached = _volume(records, rows, cols)
    if cached is not None:  # a cut of the decoded volume (PLANES, plane_cache.py)
        values = cached.values[:, :, stored] if column else cached.values[:, stored, :]
        stack = values.astype(np.float64)
        mid_ds, mid_attrs, spacing = (
            cached.middle_dataset,
            cached.middle_attributes,
            cached.spacing,
        )
    else:
        lines: list[npt.NDArray[np.float64]] = []
        middle = len(records) // 2
        mid_ds = mid_attrs = None
        spacing = None
        for k, record in enumerate(records):
            ds = read_dataset(record.location)
            pixels = decode_frame(ds, 0, record.location)
            attrs = frame_attributes(ds, 0)
            line = pixels[:, stored] if column else pixels[stored, :]
            lines.append(np.asarray(apply_modality_lut(line, attrs), dtype=np.float64))
            if k == middle:
                mid_ds, mid_attrs = ds, attrs
                spacing = _spacing(attrs)
            del ds, pixels
        stack = np.stack(lines)  # (slices, in-plane)
    assert mid_ds is not None and mid_attrs is not None
    for keyword in _NO_RESCALE:
        if keyword in mid_attrs:
            delattr(mid_attrs, keyword)
    display = to_display(
        stack,
        mid_ds,
        mid_attrs,
        modality=series.modality,
        window=options.window,
        level=options.level,
    )
    direction = cut.slice_direction
    positions = [position_along(direction, r.position) for r in records]  # type: ignore[arg-type]
    gaps = np.diff(positions)
    slice_gap = float(np.median(gaps)) if gaps.size else 1.0
    pixel_gap = (spacing[0] if column else spacing[1]) if spacing else 1.0
    orientation = cut.orientation
    pair = orientation.spacing([slice_gap, pixel_gap]) if slice_gap > 0 else None
    index = cut.index_of(stored)
    return Rendering(
        image=fit(orientation.array(display.pixels), options.size, pair),
        renderer=name,
        caption=caption(
            series.document,
            [f"{options.plane} {index + 1}/{cut.count}", display.voi],
        ),
        slice_index=index,
        details={
            "slices_read": len(records),
            "cut": "column" if column else "row",
            "stored_index": stored,
            "markers": orientation.markers,
            "display_plane": orientation.plane,
        },
    )
