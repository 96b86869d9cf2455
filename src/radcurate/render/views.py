"""What the viewer can show of a series: its kind, each plane's slices and edge letters.

The detail view asks this once per series (``GET /api/series/{uid}/views``) so that it
shows window/level only for grey pictures, a slice slider only where there is more than
one slice, the text of an SR as text, and the orientation markers of every plane
(radcurate.imaging.reformat).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from radcurate.catalog import CatalogBackend
from radcurate.dicom.instance import InstanceRecord
from radcurate.imaging.errors import UndecodableError
from radcurate.imaging.reformat import (
    PLANE_AXES,
    display_orientation,
    patient_orientation_markers,
    plane_cut,
)
from radcurate.imaging.series import SeriesInput, load_series
from radcurate.imaging.slices import load_slice, series_slices
from radcurate.render.image import slice_orientation
from radcurate.render.registry import RendererRegistry, default_registry
from radcurate.render.result import RenderOptions

__all__ = ["PlaneView", "SeriesViews", "series_views"]


@dataclass
class PlaneView:
    """One plane of the viewer.

    Attributes
    ----------
    available
        Whether the plane can be drawn (reformats need a volume of consistent geometry).
    count
        Slices in the plane (the slider's range).
    index
        The slice shown first: the middle one, ``(count - 1) // 2`` (for the acquired
        plane, else the nearest that decodes).
    markers
        ``top``/``bottom``/``left``/``right`` -> patient direction letters, when known.
    reason
        Why the plane is not available.
    native_order
        The plane's slice ``k`` is the acquired plane's slice ``k`` (per-slice results
        such as ``ai.bodypart_slices`` apply to it).
    slice_markers
        The acquired plane of a series whose slices lie in several orientations (a
        three-plane localizer): each slice's markers (``markers`` is the middle one's).
    """

    available: bool
    count: int = 0
    index: int = 0
    markers: dict[str, str] | None = None
    reason: str | None = None
    native_order: bool = False
    slice_markers: list[dict[str, str] | None] | None = None


@dataclass
class SeriesViews:
    """How the viewer shows a series.

    Attributes
    ----------
    kind
        ``"image"`` (slices to scroll), ``"text"`` (an SR: ``text`` holds its lines), or
        the renderer drawing it as a picture (``"seg"``, ``"rtstruct"``, ``"waveform"``,
        ``"card"``, ...).
    greyscale
        Grey pixels (window/level applies); False for colour pictures and non-images.
    undecodable, reason
        The pixels cannot be decoded (no slice near the middle decodes), and why.
    planes
        ``native`` (the acquired plane) and ``axial``/``coronal``/``sagittal``.
    text
        The SR's title and content, one line each (leading spaces indent).
    """

    kind: str
    greyscale: bool = False
    undecodable: bool = False
    reason: str | None = None
    planes: dict[str, PlaneView] = field(default_factory=dict)
    text: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The JSON the route answers."""
        return asdict(self)


def _record_markers(record: InstanceRecord) -> dict[str, str] | None:
    """The acquired-plane markers of one slice from its catalogued orientation."""
    iop = record.orientation
    if not iop or len(iop) != 6 or not any(iop[:3]) or not any(iop[3:]):
        return None
    return display_orientation(iop[:3], iop[3:]).markers


def _image_views(series: SeriesInput) -> SeriesViews:
    slices = series_slices(series)
    views = SeriesViews("image")
    middle = (len(slices) - 1) // 2
    native = PlaneView(True, len(slices), middle, native_order=True)
    try:
        try:
            chosen = load_slice(series, middle)
        except UndecodableError:
            chosen = load_slice(series)  # the nearest neighbours of the middle that decode
    except UndecodableError as exc:
        views.undecodable, views.reason = True, str(exc)
        native.available = False
        native.reason = str(exc)
    else:
        native.index = chosen.index
        views.greyscale = chosen.display.pixels.ndim == 2
        orientation = slice_orientation(chosen.attrs)
        native.markers = (
            orientation.markers
            if orientation is not None
            else patient_orientation_markers(chosen.attrs.get("PatientOrientation"))
        )
    views.planes["native"] = native
    records = [record for record, frame in slices]
    if len({tuple(round(v, 3) for v in r.orientation or ()) for r in records}) > 1:
        native.slice_markers = [_record_markers(r) for r in records]
    for plane in PLANE_AXES:
        try:
            cut = plane_cut(records, plane)
        except ValueError as exc:
            views.planes[plane] = PlaneView(False, reason=str(exc))
            continue
        available = not views.undecodable and cut.count > 0
        views.planes[plane] = PlaneView(
            available,
            cut.count,
            (cut.count - 1) // 2,
            cut.orientation.markers,
            views.reason,
            native_order=cut.along == 0 and not cut.reversed,
        )
    return views


def series_views(
    catalog: CatalogBackend, series_uid: str, registry: RendererRegistry | None = None
) -> SeriesViews:
    """What the viewer can show of ``series_uid``; decodes at most a few middle slices.

    Raises
    ------
    KeyError
        No such series.
    """
    series = load_series(catalog, series_uid)
    renderer = (registry or default_registry()).select(series)
    if renderer.name == "image":
        return _image_views(series)
    if renderer.name == "sr":
        try:
            rendering = renderer.render(series, RenderOptions(size=64))
        except UndecodableError as exc:
            return SeriesViews("text", undecodable=True, reason=str(exc))
        return SeriesViews("text", text=list(rendering.text_lines))
    return SeriesViews(renderer.name)
