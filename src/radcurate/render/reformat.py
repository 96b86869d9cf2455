"""Plane reformats of a volume for the viewer, streamed one slice at a time."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from pydicom.pixels.processing import apply_modality_lut

from radcurate.dicom.geometry import position_along, slice_normal
from radcurate.dicom.instance import InstanceRecord
from radcurate.imaging.frames import decode_frame, frame_attributes, read_dataset
from radcurate.imaging.pixels import to_display
from radcurate.imaging.reformat import PLANE_AXES, check_volume, orient_plane
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
    """A sagittal, coronal or axial cut through a volume; each slice is read once and only
    the row or column on the cut is kept."""
    slices = series_slices(series)
    records = [record for record, _ in slices]
    iop = check_volume(records)
    row_dir, col_dir = np.asarray(iop[:3]), np.asarray(iop[3:])
    normal = np.asarray(slice_normal(iop) or (0.0, 0.0, 1.0))
    axis = PLANE_AXES[options.plane]
    strengths = [abs(normal[axis]), abs(row_dir[axis]), abs(col_dir[axis])]
    along = int(np.argmax(strengths))
    if along == 0:  # the acquired plane
        native = RenderOptions(
            options.size,
            options.index,
            "native",
            options.window,
            options.level,
            options.reduced_decode,
        )
        return ImageRenderer().render(series, native)
    rows, cols = int(records[0].rows or 0), int(records[0].columns or 0)
    # along == 1: cut perpendicular to the row direction, i.e. keep one column per slice
    limit = cols if along == 1 else rows
    cut = limit // 2 if options.index is None else options.index
    if not 0 <= cut < limit:
        raise IndexError(f"{options.plane} index {cut} out of range (0..{limit - 1})")
    cached = _volume(records, rows, cols)
    if cached is not None:  # a cut of the decoded volume (PLANES, plane_cache.py)
        values = cached.values[:, :, cut] if along == 1 else cached.values[:, cut, :]
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
            line = pixels[:, cut] if along == 1 else pixels[cut, :]
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
    in_plane_dir = col_dir if along == 1 else row_dir
    positions = [position_along(tuple(normal), r.position) for r in records]  # type: ignore[arg-type]
    gaps = np.diff(positions)
    slice_gap = float(np.median(gaps)) if gaps.size else 1.0
    pixel_gap = (spacing[0] if along == 1 else spacing[1]) if spacing else 1.0
    picture, transposed = orient_plane(display.pixels, normal, in_plane_dir)
    pair = [pixel_gap, slice_gap] if transposed else [slice_gap, pixel_gap]
    return Rendering(
        image=fit(picture, options.size, pair if slice_gap > 0 else None),
        renderer=name,
        caption=caption(
            series.document,
            [f"{options.plane} reformat at {'column' if along == 1 else 'row'} {cut}", display.voi],
        ),
        slice_index=cut,
        details={"slices_read": len(records), "cut": "column" if along == 1 else "row"},
    )
