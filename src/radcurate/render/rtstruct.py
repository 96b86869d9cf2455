"""RTSTRUCT: contours projected with full geometry into the referenced image."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import numpy.typing as npt

from radcurate.dicom.geometry import position_along, slice_normal
from radcurate.imaging.errors import UndecodableError
from radcurate.imaging.frames import read_dataset
from radcurate.imaging.reference import find_referenced_series
from radcurate.imaging.rtstruct import RTSTRUCT_SOP_CLASS, Contour, project_points, read_contours
from radcurate.imaging.series import SeriesInput
from radcurate.imaging.slices import load_slice, series_slices
from radcurate.optional import import_optional
from radcurate.render.canvas import fit, pil, text_card, to_rgb
from radcurate.render.colors import palette_colour
from radcurate.render.image import caption, slice_orientation
from radcurate.render.result import Rendering, RenderOptions

__all__ = ["RTStructRenderer", "contour_colour"]

RGB = tuple[int, int, int]


def contour_colour(contour: Contour) -> RGB:
    """The colour a contour is drawn in: its ROIDisplayColor, else the palette's for its ROI."""
    return contour.colour if contour.colour is not None else palette_colour(contour.roi)


def _slice_of(
    contour: Contour,
    by_sop: dict[str, int],
    along: list[tuple[float, int]],
    normal: tuple[float, float, float] | None,
    tolerance: float,
) -> int | None:
    for uid in contour.sop_uids:
        if uid in by_sop:
            return by_sop[uid]
    if normal is None or not along:
        return None
    target = position_along(normal, [float(v) for v in contour.points.mean(axis=0)])
    gap, k = min((abs(p - target), k) for p, k in along)
    return k if gap <= tolerance else None


Polygon = tuple[npt.NDArray[np.float64], RGB, bool]


def _draw(
    base: npt.NDArray[np.uint8], polygons: list[Polygon], width: int
) -> npt.NDArray[np.uint8]:
    """Translucent fills (not for EXTERNAL outlines of the body) and opaque outlines."""
    draw_module = import_optional("PIL.ImageDraw", "rendering thumbnails")
    image = pil().fromarray(to_rgb(base), "RGB").convert("RGBA")
    layer = pil().new("RGBA", image.size, (0, 0, 0, 0))
    draw = draw_module.Draw(layer)
    for xy, colour, external in polygons:
        if not external:
            draw.polygon([(float(x), float(y)) for x, y in xy], fill=(*colour, 70))
    for xy, colour, _ in polygons:
        vertices = [(float(x), float(y)) for x, y in xy]
        draw.line([*vertices, vertices[0]], fill=(*colour, 255), width=width)
    return np.asarray(pil().alpha_composite(image, layer).convert("RGB"))


class RTStructRenderer:
    """ROI contours (ROIDisplayColor) on the referenced slice with the most contours."""

    name = "rtstruct"

    def score(self, series: SeriesInput) -> int:
        """50 for RT Structure Set objects."""
        is_rt = series.sop_class_uid == RTSTRUCT_SOP_CLASS or series.modality == "RTSTRUCT"
        return 50 if is_rt else 0

    def render(self, series: SeriesInput, options: RenderOptions) -> Rendering:
        """Contours of the busiest slice over the image, or a card listing the ROIs."""
        record = min(series.instances, key=lambda i: (i.instance_number or 0, i.sop_uid))
        ds = read_dataset(record.location)
        contours = read_contours(ds)
        names = sorted({c.name for c in contours})
        reference = find_referenced_series(series, ds)
        chosen: int | None = None
        if reference is not None and contours:
            slices = series_slices(reference)
            by_sop = {r.sop_uid: k for k, (r, f) in enumerate(slices) if f == 0}
            normal_value = reference.document.get("slice_normal")
            normal = (
                tuple(float(v) for v in normal_value)
                if normal_value and len(normal_value) == 3
                else (slice_normal(slices[0][0].orientation) if slices[0][0].orientation else None)
            )
            along = [
                (position_along(normal, r.position), k)  # type: ignore[arg-type]
                for k, (r, f) in enumerate(slices)
                if f == 0 and r.position is not None and normal is not None
            ]
            spacing = reference.document.get("slice_spacing_median")
            tolerance = 0.5 * float(spacing) if isinstance(spacing, (int, float)) else 1.0
            placed = [_slice_of(c, by_sop, along, normal, tolerance) for c in contours]  # type: ignore[arg-type]
            counts = Counter(k for k in placed if k is not None)
            if counts:
                middle = len(slices) / 2
                chosen = max(counts, key=lambda k: (counts[k], -abs(k - middle)))
        if reference is None or chosen is None:
            note = (
                "referenced series not in the catalog"
                if reference is None
                else "no contour lies on a slice of the referenced series"
            )
            lines = [note, f"{len(names)} ROIs:", *(f"  {n}" for n in names)]
            image, _ = text_card("RTSTRUCT", lines, options.size, accent=(60, 150, 90))
            return Rendering(
                image=image,
                renderer=self.name,
                caption=caption(series.document, [note]),
                reason=note,
                text_lines=("RTSTRUCT", *lines),
                details={"referenced_series_found": reference is not None, "rois": names},
            )
        base = load_slice(reference, chosen)
        attrs = base.attrs
        ipp, iop, spacing_value = (
            attrs.get("ImagePositionPatient"),
            attrs.get("ImageOrientationPatient"),
            base.spacing(),
        )
        if ipp is None or iop is None or spacing_value is None:
            raise UndecodableError("the referenced image has no plane geometry")
        polygons = []
        for contour, k in zip(contours, placed, strict=True):
            if k == chosen:
                xy = project_points(contour.points, ipp, iop, spacing_value)
                polygons.append((xy, contour_colour(contour), contour.external))
        rows, cols = base.display.pixels.shape[:2]
        width = max(1, round(max(rows, cols) / options.size)) if options.size else 1
        drawn = _draw(base.display.pixels, polygons, width)
        details: dict[str, Any] = {
            "referenced_series": reference.series_uid,
            "referenced_series_found": True,
            "slice_sop_uid": base.instance.sop_uid,
            "contours_drawn": len(polygons),
            "rois": names,
            "polygons": [xy.round(2).tolist() for xy, _, _ in polygons],
        }
        pair: list[float] | None = spacing_value
        orientation = slice_orientation(attrs)
        if orientation is not None:  # the display convention, as the image renderer draws it
            drawn, pair = orientation.array(drawn), orientation.spacing(pair)
            details["markers"] = orientation.markers
        return Rendering(
            image=fit(drawn, options.size, pair),
            renderer=self.name,
            caption=caption(
                series.document,
                [f"{len(polygons)} contours on slice {chosen + 1}/{base.count}"],
            ),
            slice_index=chosen,
            details=details,
        )
