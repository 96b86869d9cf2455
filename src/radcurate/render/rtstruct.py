"""RTSTRUCT: contours projected with full geometry into the referenced image."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset

from radcurate.dicom.geometry import position_along, slice_normal
from radcurate.optional import import_optional
from radcurate.render.canvas import fit, pil, text_card, to_rgb
from radcurate.render.colors import palette_colour
from radcurate.render.image import caption, load_slice, series_slices
from radcurate.render.reference import find_referenced_series
from radcurate.render.result import Rendering, RenderOptions, SeriesInput, UndecodableError
from radcurate.render.source import read_dataset

__all__ = ["RTSTRUCT_SOP_CLASS", "Contour", "RTStructRenderer", "project_points", "read_contours"]

RTSTRUCT_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.481.3"
RGB = tuple[int, int, int]


@dataclass(frozen=True)
class Contour:
    """One planar contour of an ROI.

    Attributes
    ----------
    roi, name, colour
        ROI number, name and display colour.
    points
        ``(n, 3)`` patient coordinates (mm).
    sop_uids
        SOP Instance UIDs of the images it was drawn on (ContourImageSequence).
    """

    roi: int
    name: str
    colour: RGB
    points: npt.NDArray[np.float64]
    sop_uids: tuple[str, ...]
    external: bool = False


def read_contours(ds: Dataset) -> list[Contour]:
    """Every contour with three or more points, with its ROI's name and colour."""
    names = {
        int(item.ROINumber): str(item.get("ROIName", item.ROINumber))
        for item in ds.get("StructureSetROISequence") or []
        if "ROINumber" in item
    }
    external = {
        int(item.ReferencedROINumber)
        for item in ds.get("RTROIObservationsSequence") or []
        if "ReferencedROINumber" in item and item.get("RTROIInterpretedType") == "EXTERNAL"
    }
    contours: list[Contour] = []
    for roi_item in ds.get("ROIContourSequence") or []:
        number = int(roi_item.get("ReferencedROINumber", 0) or 0)
        colour_value = roi_item.get("ROIDisplayColor")
        colour: RGB = (
            (int(colour_value[0]), int(colour_value[1]), int(colour_value[2]))
            if colour_value is not None and len(colour_value) == 3
            else palette_colour(number)
        )
        for item in roi_item.get("ContourSequence") or []:
            data = item.get("ContourData")
            if not data or len(data) < 9:
                continue
            points = np.asarray([float(v) for v in data], dtype=np.float64).reshape(-1, 3)
            uids = tuple(
                str(ref.ReferencedSOPInstanceUID)
                for ref in item.get("ContourImageSequence") or []
                if "ReferencedSOPInstanceUID" in ref
            )
            name = names.get(number, str(number))
            contours.append(Contour(number, name, colour, points, uids, number in external))
    return contours


def project_points(
    points: npt.NDArray[np.float64],
    position: Sequence[float],
    orientation: Sequence[float],
    spacing: Sequence[float],
) -> npt.NDArray[np.float64]:
    """``(n, 2)`` (column, row) pixel coordinates of patient points on an image plane.

    Solves ``p - IPP = col * dc * R + row * dr * C + d * N`` for (col, row, d) with
    the row and column direction cosines R, C of ImageOrientationPatient, their
    normal N and PixelSpacing ``(dr, dc)`` — exact for oblique planes too.

    Examples
    --------
    >>> project_points(np.array([[10.0, 20.0, 5.0]]), [0, 0, 5], [1, 0, 0, 0, 1, 0], [2, 2])
    array([[ 5., 10.]])
    """
    row_dir = np.asarray(orientation[:3], dtype=np.float64)
    col_dir = np.asarray(orientation[3:], dtype=np.float64)
    normal = np.cross(row_dir, col_dir)
    matrix = np.column_stack([row_dir * float(spacing[1]), col_dir * float(spacing[0]), normal])
    offsets = points - np.asarray(position, dtype=np.float64)
    solved: npt.NDArray[np.float64] = np.linalg.solve(matrix, offsets.T).T.astype(np.float64)
    return solved[:, :2]


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
                polygons.append((xy, contour.colour, contour.external))
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
        return Rendering(
            image=fit(drawn, options.size, spacing_value),
            renderer=self.name,
            caption=caption(
                series.document,
                [f"{len(polygons)} contours on slice {chosen + 1}/{base.count}"],
            ),
            slice_index=chosen,
            details=details,
        )
