"""Render a series from the catalog: pick the renderer, turn failures into cards."""

from __future__ import annotations

from radcurate.catalog import CatalogBackend
from radcurate.imaging.errors import UndecodableError
from radcurate.imaging.series import SeriesInput, load_series
from radcurate.render.card import undecodable_card
from radcurate.render.registry import RendererRegistry, default_registry
from radcurate.render.result import Rendering, RenderOptions

__all__ = ["PLANES", "render", "render_series", "render_slice"]

PLANES = ("native", "axial", "coronal", "sagittal")


def render(
    series: SeriesInput,
    options: RenderOptions,
    registry: RendererRegistry | None = None,
) -> Rendering:
    """Render ``series`` with the best renderer; undecodable pixels give an error card."""
    chosen = (registry or default_registry()).select(series)
    try:
        return chosen.render(series, options)
    except UndecodableError as exc:
        return undecodable_card(series, str(exc), options)


def render_series(
    catalog: CatalogBackend,
    series_uid: str,
    *,
    size: int = 256,
    registry: RendererRegistry | None = None,
) -> Rendering:
    """The gallery thumbnail of a series: a ``size`` x ``size`` RGB picture.

    Examples
    --------
    >>> r = render_series(catalog, uid)  # doctest: +SKIP
    >>> r.image.size, r.renderer, r.undecodable  # doctest: +SKIP
    ((256, 256), 'image', False)
    """
    return render(load_series(catalog, series_uid), RenderOptions(size=size), registry)


def render_slice(
    catalog: CatalogBackend,
    series_uid: str,
    index: int | None = None,
    *,
    plane: str = "native",
    window: float | None = None,
    level: float | None = None,
    size: int | None = None,
    registry: RendererRegistry | None = None,
) -> Rendering:
    """One slice for the viewer, at native resolution unless ``size`` is given.

    Parameters
    ----------
    index
        Slice index in geometric order (for reformats: the row/column of the cut);
        default the middle.
    plane
        ``"native"`` (acquired plane), or ``"axial"``, ``"coronal"``, ``"sagittal"``
        (reformatted from a volume of consistent geometry, streamed slice by slice).
    window, level
        Window width and centre overriding the header.

    Raises
    ------
    ValueError
        For an unknown plane, or a reformat of a series without consistent geometry.
    IndexError
        For an index outside the series.
    """
    if plane not in PLANES:
        raise ValueError(f"unknown plane {plane!r}: choose one of {', '.join(PLANES)}")
    options = RenderOptions(
        size=size, index=index, plane=plane, window=window, level=level, reduced_decode=False
    )
    return render(load_series(catalog, series_uid), options, registry)
