"""Overlays for the viewer: a SEG's segments or an RTSTRUCT's contours on one referenced slice.

The overlay is a transparent RGBA picture of exactly the size of the referenced
series' slice as :func:`radcurate.render.api.render_slice` draws it in the acquired
plane (aspect corrected, no letterbox), so the browser can stack the two and blend
them with any opacity.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from radcurate.catalog import CatalogBackend
from radcurate.dicom.geometry import position_along, slice_normal
from radcurate.imaging.errors import UndecodableError
from radcurate.imaging.frames import frame_attributes, read_dataset
from radcurate.imaging.reference import find_referenced_series
from radcurate.imaging.reformat import PLANE_AXES, DisplayOrientation, plane_cut
from radcurate.imaging.rtstruct import Contour, project_points, read_contours
from radcurate.imaging.seg import seg_label_stream
from radcurate.imaging.series import SeriesInput, load_series
from radcurate.imaging.slices import series_slices
from radcurate.optional import import_optional
from radcurate.render.canvas import pil
from radcurate.render.colors import cielab_to_rgb, palette_colour
from radcurate.render.image import slice_orientation
from radcurate.render.rt_reformat import rt_reformat
from radcurate.render.rtstruct import contour_colour

if TYPE_CHECKING:
    from PIL.Image import Image

__all__ = ["OVERLAY_MODALITIES", "Overlay", "render_overlay"]

#: modalities that can be drawn over their referenced image
OVERLAY_MODALITIES = ("SEG", "RTSTRUCT")
RGB = tuple[int, int, int]
#: alpha of a segment's or ROI's fill (its outline is opaque); the viewer's opacity multiplies it
FILL_ALPHA = 150
#: label volumes kept for reformats (each cut needs every slice): at most this many bytes
_CACHE_BYTES = 256 * 1024 * 1024
_cache: OrderedDict[tuple[Any, ...], npt.NDArray[Any]] = OrderedDict()
_cache_lock = threading.Lock()


@dataclass
class Overlay:
    """One slice's overlay.

    Attributes
    ----------
    image
        RGBA, the size of the referenced slice as the viewer shows it.
    referenced_series
        The image series it lies on.
    index, count
        The slice of the referenced series (acquired plane) and how many it has.
    legend
        ``(number, name, colour)`` of every segment or ROI of the object.
    drawn
        Numbers of the segments or ROIs present on this slice.
    """

    image: Image
    referenced_series: str
    index: int
    count: int
    legend: list[tuple[int, str, RGB]] = field(default_factory=list)
    drawn: list[int] = field(default_factory=list)


def _first_dataset(series: SeriesInput) -> Any:
    record = min(series.instances, key=lambda i: (i.instance_number or 0, i.sop_uid))
    return read_dataset(record.location, pixels=False)


def _native_orientation(reference: SeriesInput, index: int) -> DisplayOrientation | None:
    """How the viewer turns the acquired slice ``index`` (render_slice, plane "native")."""
    record, _ = series_slices(reference)[index]
    return slice_orientation(frame_attributes(read_dataset(record.location, pixels=False)))


def _turned(image: Image, orientation: DisplayOrientation | None) -> Image:
    """``image`` (drawn at the stored geometry) in the display convention."""
    if orientation is None or orientation.identity:
        return image
    turned: Image = pil().fromarray(orientation.array(np.asarray(image)), image.mode)
    return turned


def _aspect_size(reference: SeriesInput, index: int, rows: int, cols: int) -> tuple[int, int]:
    """(width, height) of the stored slice as ``fit`` draws it at native size (non-square
    pixels), before it is turned to the display convention."""
    record, _ = series_slices(reference)[index]
    attrs = frame_attributes(read_dataset(record.location, pixels=False))
    spacing = attrs.get("PixelSpacing") or attrs.get("ImagerPixelSpacing")
    height = float(rows)
    if spacing is not None and len(spacing) == 2 and float(spacing[0]) > 0 < float(spacing[1]):
        ratio = float(spacing[0]) / float(spacing[1])
        if abs(ratio - 1.0) > 0.01:
            height = rows * ratio
    return max(1, cols), max(1, round(height))


def _rgba(label: npt.NDArray[Any], colours: dict[int, RGB]) -> npt.NDArray[np.uint8]:
    """Fills at FILL_ALPHA with opaque one-pixel outlines, transparent elsewhere."""
    out = np.zeros((*label.shape, 4), dtype=np.uint8)
    for number in (int(v) for v in np.unique(label) if v):
        mask = label == number
        inner = mask.copy()
        inner[1:, :] &= mask[:-1, :]
        inner[:-1, :] &= mask[1:, :]
        inner[:, 1:] &= mask[:, :-1]
        inner[:, :-1] &= mask[:, 1:]
        out[mask] = (*colours.get(number, palette_colour(number)), FILL_ALPHA)
        out[mask & ~inner, 3] = 255
    return out


def _seg_legend(seg: SeriesInput) -> list[tuple[int, str, RGB]]:
    record = min(seg.instances, key=lambda i: (i.instance_number or 0, i.sop_uid))
    ds = read_dataset(record.location, pixels=False)
    legend: list[tuple[int, str, RGB]] = []
    for n, item in enumerate(ds.get("SegmentSequence") or []):
        number = int(item.get("SegmentNumber", n + 1))
        lab = item.get("RecommendedDisplayCIELabValue")
        colour = cielab_to_rgb(lab) if lab and len(lab) == 3 else palette_colour(number)
        legend.append((number, str(item.get("SegmentLabel", f"segment {number}")), colour))
    return legend


def _seg_overlay(
    catalog: CatalogBackend, seg: SeriesInput, reference: SeriesInput, index: int, count: int
) -> Overlay:
    legend = _seg_legend(seg)
    # the whole label volume once (cached): scrolling asks for one slice after another
    label = _label_volume(catalog, seg, reference)[index]
    rows, cols = label.shape
    image = pil().fromarray(_rgba(label, {n: c for n, _, c in legend}), "RGBA")
    size = _aspect_size(reference, index, rows, cols)
    if size != image.size:
        image = image.resize(size, pil().Resampling.NEAREST)
    drawn = sorted(int(v) for v in np.unique(label) if v)
    image = _turned(image, _native_orientation(reference, index))
    return Overlay(image, reference.series_uid, index, count, legend, drawn)


_contour_cache: OrderedDict[tuple[Any, ...], list[Contour]] = OrderedDict()


def _contours(rt: SeriesInput) -> list[Contour]:
    """The RTSTRUCT's contours, parsed once per file state (a few recent objects kept)."""
    key = tuple(sorted((i.location, i.mtime_ns, i.size) for i in rt.instances))
    with _cache_lock:
        if key in _contour_cache:
            _contour_cache.move_to_end(key)
            return _contour_cache[key]
    contours = read_contours(_first_dataset(rt))
    with _cache_lock:
        _contour_cache[key] = contours
        while len(_contour_cache) > 8:
            _contour_cache.popitem(last=False)
    return contours


def _rt_overlay(rt: SeriesInput, reference: SeriesInput, index: int, count: int) -> Overlay:
    contours = _contours(rt)
    legend = sorted({(c.roi, c.name, contour_colour(c)) for c in contours})
    slices = series_slices(reference)
    record, frame = slices[index]
    if frame != 0 or record.position is None or not record.orientation:
        raise ValueError("contours are drawn on stacks of single-frame slices with a position")
    attrs = frame_attributes(read_dataset(record.location, pixels=False))
    spacing_value = attrs.get("PixelSpacing")
    if spacing_value is None or len(spacing_value) != 2:
        raise ValueError("the referenced image has no PixelSpacing")
    spacing = [float(v) for v in spacing_value]
    normal = slice_normal(record.orientation)
    gap = reference.document.get("slice_spacing_median")
    tolerance = 0.5 * float(gap) if isinstance(gap, (int, float)) and gap > 0 else 1.0
    here = position_along(normal, record.position) if normal else None
    by_sop = {r.sop_uid: k for k, (r, f) in enumerate(slices) if f == 0}
    rows, cols = int(record.rows or attrs.Rows), int(record.columns or attrs.Columns)
    width, height = _aspect_size(reference, index, rows, cols)
    scale_y = height / rows
    layer = pil().new("RGBA", (width, height), (0, 0, 0, 0))
    draw = import_optional("PIL.ImageDraw", "rendering overlays").Draw(layer)
    drawn: set[int] = set()
    on_slice = []
    for contour in contours:
        placed = next((by_sop[u] for u in contour.sop_uids if u in by_sop), None)
        if placed is None and here is not None and normal is not None:
            along = position_along(normal, [float(v) for v in contour.points.mean(axis=0)])
            placed = index if abs(along - here) <= tolerance else None
        if placed == index:
            xy = project_points(contour.points, record.position, record.orientation, spacing)
            on_slice.append((contour, [(float(x), float(y) * scale_y) for x, y in xy]))
            drawn.add(contour.roi)
    for contour, vertices in on_slice:
        if not contour.external:
            draw.polygon(vertices, fill=(*contour_colour(contour), FILL_ALPHA // 2))
    for contour, vertices in on_slice:
        draw.line([*vertices, vertices[0]], fill=(*contour_colour(contour), 255), width=2)
    layer = _turned(layer, _native_orientation(reference, index))
    return Overlay(layer, reference.series_uid, index, count, legend, sorted(drawn))


def _rt_reformat(rt: SeriesInput, reference: SeriesInput, plane: str, index: int | None) -> Overlay:
    """An RTSTRUCT on a reformat (render/rt_reformat.py); the acquired plane as drawn there."""
    contours = _contours(rt)
    legend = sorted({(c.roi, c.name, contour_colour(c)) for c in contours})
    records = [record for record, _ in series_slices(reference)]
    cut = plane_cut(records, plane)
    if cut.along == 0:
        stored = cut.stored(index)
        native = _rt_overlay(rt, reference, stored, len(records))
        return Overlay(
            native.image,
            reference.series_uid,
            cut.index_of(stored),
            cut.count,
            legend,
            native.drawn,
        )
    gap = reference.document.get("slice_spacing_median")
    tolerance = 0.5 * float(gap) if isinstance(gap, (int, float)) and gap > 0 else 1.0
    image, at, count, drawn = rt_reformat(contours, reference, plane, index, tolerance)
    return Overlay(image, reference.series_uid, at, count, legend, drawn)


def _label_volume(
    catalog: CatalogBackend, seg: SeriesInput, reference: SeriesInput
) -> npt.NDArray[Any]:
    """The SEG's labels in the order of ``series_slices(reference)``, cached by file state."""
    key = (
        catalog.url,
        seg.series_uid,
        reference.series_uid,
        tuple(sorted((i.location, i.mtime_ns, i.size) for i in seg.instances)),
        tuple(sorted((i.sop_uid, i.position) for i in reference.instances)),
    )
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    volume = seg_label_stream(catalog, seg.series_uid).materialize()
    by_uid = {uid: k for k, uid in enumerate(volume.sop_uids)}
    order = [by_uid.get(r.sop_uid, k) for k, (r, _) in enumerate(series_slices(reference))]
    labels = volume.array[order]
    with _cache_lock:
        _cache[key] = labels
        while sum(a.nbytes for a in _cache.values()) > _CACHE_BYTES and len(_cache) > 1:
            _cache.popitem(last=False)
    return labels


def _seg_reformat(
    catalog: CatalogBackend,
    seg: SeriesInput,
    reference: SeriesInput,
    plane: str,
    index: int | None,
) -> Overlay:
    """A SEG on an axial, coronal or sagittal picture of its referenced volume, cut and
    turned as ``render_plane`` does (``index`` counts along the patient axis)."""
    records = [record for record, _ in series_slices(reference)]
    cut = plane_cut(records, plane)
    stored = cut.stored(index)
    labels = _label_volume(catalog, seg, reference)
    attrs = frame_attributes(read_dataset(records[len(records) // 2].location, pixels=False))
    spacing = attrs.get("PixelSpacing")
    if cut.along == 0:
        stack = labels[stored]
        pair = [float(v) for v in spacing] if spacing else None
    else:
        stack = labels[:, :, stored] if cut.along == 1 else labels[:, stored, :]
        direction = cut.slice_direction
        positions = [position_along(direction, r.position) for r in records]  # type: ignore[arg-type]
        gaps = np.diff(positions)
        slice_gap = float(np.median(gaps)) if gaps.size else 1.0
        pixel_gap = float(spacing[0 if cut.along == 1 else 1]) if spacing else 1.0
        pair = [slice_gap, pixel_gap] if slice_gap > 0 else None
    picture = cut.orientation.array(stack)
    shown = cut.orientation.spacing(pair)
    legend = _seg_legend(seg)
    image = pil().fromarray(_rgba(np.ascontiguousarray(picture), {n: c for n, _, c in legend}))
    height = picture.shape[0]
    if shown is not None and shown[0] > 0 < shown[1] and abs(shown[0] / shown[1] - 1.0) > 0.01:
        height = round(picture.shape[0] * shown[0] / shown[1])
    if (picture.shape[1], height) != image.size:
        image = image.resize((picture.shape[1], max(1, height)), pil().Resampling.NEAREST)
    drawn = sorted(int(v) for v in np.unique(stack) if v)
    return Overlay(image, reference.series_uid, cut.index_of(stored), cut.count, legend, drawn)


def render_overlay(
    catalog: CatalogBackend, series_uid: str, index: int | None = None, plane: str = "native"
) -> Overlay:
    """The overlay of a SEG or RTSTRUCT series on slice ``index`` of its referenced series.

    Parameters
    ----------
    index
        Slice of the referenced series as ``/api/series/{uid}/slice`` counts it in
        ``plane``: in geometric order for the acquired plane, the row or column of
        the cut for a reformat; default the middle.
    plane
        ``"native"``, ``"axial"``, ``"coronal"``, ``"sagittal"`` (RTSTRUCT contours on a
        reformat: their sections, render/rt_reformat.py).

    Raises
    ------
    KeyError
        No such series, or its referenced series is not in the catalog.
    TypeError
        The series is neither a SEG nor an RTSTRUCT.
    IndexError
        ``index`` outside the referenced series.
    ValueError
        The geometry does not let the object be placed on the referenced slices, an
        unknown plane.
    UndecodableError
        The segmentation frames cannot be decoded.

    Examples
    --------
    >>> overlay = render_overlay(catalog, seg_uid, 25)  # doctest: +SKIP
    >>> overlay.image.mode, overlay.referenced_series == ct_uid  # doctest: +SKIP
    ('RGBA', True)
    """
    series = load_series(catalog, series_uid)
    modality = str(series.document.get("Modality") or "")
    if modality not in OVERLAY_MODALITIES:
        raise TypeError(
            f"series {series_uid} is a {modality or 'series without modality'}, "
            "not a SEG or an RTSTRUCT"
        )
    if not series.instances:
        raise UndecodableError("the series has no instances")
    # the document's referenced_series first: walking the header converts every value
    reference = find_referenced_series(series) or find_referenced_series(
        series, _first_dataset(series)
    )
    if reference is None:
        raise KeyError(f"the series referenced by {series_uid} is not in the catalog")
    if plane not in ("native", *PLANE_AXES):
        raise ValueError(f"unknown plane {plane!r}: choose native, {', '.join(PLANE_AXES)}")
    if plane != "native":
        if modality == "SEG":
            return _seg_reformat(catalog, series, reference, plane, index)
        return _rt_reformat(series, reference, plane, index)
    count = len(series_slices(reference))
    chosen = count // 2 if index is None else index
    if not 0 <= chosen < count:
        raise IndexError(f"slice {chosen} out of range (0..{count - 1})")
    if modality == "SEG":
        return _seg_overlay(catalog, series, reference, chosen, count)
    return _rt_overlay(series, reference, chosen, count)
