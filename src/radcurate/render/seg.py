"""DICOM-SEG: segments drawn over the referenced image at the slice they cover most."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset
from pydicom.pixels.utils import iter_pixels, pixel_array

from radcurate.imaging.errors import UndecodableError
from radcurate.imaging.frames import frame_attributes, frame_count, read_dataset
from radcurate.imaging.reference import find_referenced_series, slice_index_for
from radcurate.imaging.seg import SEG_SOP_CLASS, binary_mask, fit_plane, frame_facts
from radcurate.imaging.series import SeriesInput
from radcurate.imaging.slices import load_slice
from radcurate.render.canvas import blend_masks, fit
from radcurate.render.colors import cielab_to_rgb, palette_colour
from radcurate.render.image import caption, slice_orientation
from radcurate.render.result import Rendering, RenderOptions

__all__ = ["SegRenderer"]

RGB = tuple[int, int, int]


@dataclass
class _Target:
    """Frames of the SEG that lie on one source slice."""

    sop_uids: set[str] = field(default_factory=set)
    point: list[float] | None = None
    frames: list[tuple[int, int]] = field(default_factory=list)  # (frame, segment)
    area: dict[int, int] = field(default_factory=dict)  # segment -> pixels

    def rank(self) -> tuple[int, int]:
        return (sum(1 for v in self.area.values() if v > 0), sum(self.area.values()))


def _segment_colours(ds: Dataset) -> tuple[dict[int, RGB], dict[int, str]]:
    colours: dict[int, RGB] = {}
    labels: dict[int, str] = {}
    for item in ds.get("SegmentSequence") or []:
        number = int(item.get("SegmentNumber", len(colours) + 1))
        lab = item.get("RecommendedDisplayCIELabValue")
        colours[number] = cielab_to_rgb(lab) if lab and len(lab) == 3 else palette_colour(number)
        labels[number] = str(item.get("SegmentLabel", f"segment {number}"))
    return colours, labels


def _targets(ds: Dataset) -> list[_Target]:
    kind = str(ds.get("SegmentationType", "BINARY")).upper()
    frames = frame_count(ds)
    targets: dict[Any, _Target] = defaultdict(_Target)
    for k, frame in enumerate(iter_pixels(ds)):
        segment, sources, point = frame_facts(ds, k)
        key: Any = tuple(sorted(sources)) or (tuple(round(v, 2) for v in point) if point else k)
        target = targets[key]
        target.sop_uids.update(sources)
        target.point = target.point or point
        if kind == "LABELMAP":
            for number in (int(v) for v in np.unique(frame) if v):
                target.frames.append((k, number))
                target.area[number] = target.area.get(number, 0) + int((frame == number).sum())
        else:
            target.frames.append((k, segment))
            area = int(binary_mask(frame, kind).sum())
            target.area[segment] = target.area.get(segment, 0) + area
        if k + 1 >= frames:
            break
    return list(targets.values())


def _masks(
    ds: Dataset, target: _Target, shape: tuple[int, int], colours: dict[int, RGB]
) -> list[tuple[npt.NDArray[np.bool_], RGB]]:
    kind = str(ds.get("SegmentationType", "BINARY")).upper()
    multi = frame_count(ds) > 1
    out: list[tuple[npt.NDArray[np.bool_], RGB]] = []
    for k, segment in sorted(target.frames, key=lambda f: f[1]):
        frame = pixel_array(ds, index=k if multi else None)
        mask = frame == segment if kind == "LABELMAP" else binary_mask(frame, kind)
        out.append((fit_plane(mask, shape), colours.get(segment, palette_colour(segment))))
    return out


class SegRenderer:
    """Segments (colour from RecommendedDisplayCIELabValue) over their source image."""

    name = "seg"

    def score(self, series: SeriesInput) -> int:
        """50 for Segmentation Storage objects."""
        return 50 if series.sop_class_uid == SEG_SOP_CLASS or series.modality == "SEG" else 0

    def render(self, series: SeriesInput, options: RenderOptions) -> Rendering:
        """Draw the slice where most segments (then the largest area) are."""
        record = min(series.instances, key=lambda i: (i.instance_number or 0, i.sop_uid))
        ds = read_dataset(record.location)
        if "PixelData" not in ds:
            raise UndecodableError("the segmentation has no pixel data")
        try:
            targets = _targets(ds)
        except Exception as exc:  # decoder failures become a reason
            raise UndecodableError(f"cannot decode the segmentation frames: {exc}") from exc
        if not targets:
            raise UndecodableError("the segmentation has no frames")
        target = max(targets, key=_Target.rank)
        colours, labels = _segment_colours(ds)
        shown = sorted(s for s, area in target.area.items() if area > 0)
        reference = find_referenced_series(series, ds)
        index = None
        if reference is not None:
            index = slice_index_for(reference, target.sop_uids, target.point)
        details: dict[str, Any] = {
            "segments": [labels.get(s, str(s)) for s in shown],
            "referenced_series": reference.series_uid if reference else None,
            "referenced_series_found": reference is not None,
        }
        rows, cols = int(ds.Rows), int(ds.Columns)
        spacing = frame_attributes(ds, target.frames[0][0]).get("PixelSpacing")
        note = None
        if reference is not None and index is not None:
            base = load_slice(reference, index)
            rgb_base = base.display.pixels
            spacing = base.spacing() or spacing
            where = f"on {reference.modality or 'image'} slice {index + 1}/{base.count}"
            details["slice_sop_uid"] = base.instance.sop_uid
        else:
            rgb_base = np.zeros((rows, cols), dtype=np.uint8)
            note = (
                "referenced series not in the catalog: mask alone"
                if reference is None
                else "referenced slice not found in the referenced series: mask alone"
            )
            where = note
        shape = (int(rgb_base.shape[0]), int(rgb_base.shape[1]))
        masks = _masks(ds, target, shape, colours)
        edge = max(shape)
        outline = max(1, round(edge / options.size)) if options.size else 1
        from radcurate.render.canvas import to_rgb

        drawn = blend_masks(to_rgb(rgb_base), masks, alpha=0.35, outline=outline)
        pair = [float(v) for v in spacing] if spacing else None
        orientation = slice_orientation(
            base.attrs
            if reference is not None and index is not None
            else frame_attributes(ds, target.frames[0][0])
        )
        if orientation is not None:  # the display convention, as the image renderer draws it
            drawn, pair = orientation.array(drawn), orientation.spacing(pair)
            details["markers"] = orientation.markers
        image = fit(drawn, options.size, pair)
        return Rendering(
            image=image,
            renderer=self.name,
            caption=caption(series.document, [f"{len(shown)} segments {where}"]),
            reason=note,
            slice_index=index,
            details=details,
        )
