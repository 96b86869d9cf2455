"""The image renderer: CT/MR/PT/NM slices, CR/DX/MG/XA, colour, US and multi-frame objects."""

from __future__ import annotations

from typing import Any

from radcurate.imaging.reformat import (
    DisplayOrientation,
    display_orientation,
    patient_orientation_markers,
)
from radcurate.imaging.series import SeriesInput
from radcurate.imaging.slices import Slice, load_slice
from radcurate.render.canvas import fit
from radcurate.render.result import Rendering, RenderOptions

__all__ = ["REDUCED_DECODE_MAX", "ImageRenderer", "caption", "slice_orientation"]

#: thumbnails up to this edge decode JPEG 2000 frames at reduced resolution
REDUCED_DECODE_MAX = 256
#: SOP classes with pixel data that are not pictures of the patient
_NOT_IMAGES = ("1.2.840.10008.5.1.4.1.1.66.4", "1.2.840.10008.5.1.4.1.1.66.7")


def caption(document: dict[str, Any], parts: list[str]) -> str:
    """``"<Modality> <SeriesDescription> - part - part"``."""
    head = " ".join(str(document[k]) for k in ("Modality", "SeriesDescription") if document.get(k))
    return " - ".join([head or "series", *parts])


def slice_orientation(attrs: Any, plane: str | None = None) -> DisplayOrientation | None:
    """The display orientation of a slice from its ImageOrientationPatient (the nearest
    standard plane unless ``plane`` is given); None without one."""
    iop = attrs.get("ImageOrientationPatient")
    if iop is None or len(iop) != 6:
        return None
    values = [float(v) for v in iop]
    if not any(values[:3]) or not any(values[3:]):
        return None
    return display_orientation(values[:3], values[3:], plane)


def _oriented(chosen: Slice, plane: str | None) -> tuple[Any, list[float] | None, dict[str, Any]]:
    """The slice's pixels and spacing turned to the display convention, and its markers."""
    pixels, spacing = chosen.display.pixels, chosen.spacing()
    orientation = slice_orientation(chosen.attrs, plane)
    if orientation is not None:
        pixels, spacing = orientation.array(pixels), orientation.spacing(spacing)
        return pixels, spacing, {"markers": orientation.markers, "display_plane": orientation.plane}
    markers = patient_orientation_markers(chosen.attrs.get("PatientOrientation"))
    return pixels, spacing, {"markers": markers} if markers else {}


class ImageRenderer:
    """Pictures of the patient: the middle slice (by geometry) or frame, windowed."""

    name = "image"

    def score(self, series: SeriesInput) -> int:
        """10 for anything with rows and columns that is not a segmentation."""
        if series.sop_class_uid in _NOT_IMAGES:
            return 0
        has_pixels = series.document.get("Rows") or any(i.rows for i in series.instances[:1])
        return 10 if has_pixels else 0

    def render(self, series: SeriesInput, options: RenderOptions) -> Rendering:
        """Render the chosen slice (or a reformat when ``options.plane`` asks for one).

        The acquired plane (and every thumbnail) is shown in the display convention of
        the standard plane nearest to it (radcurate.imaging.reformat): flipped or
        transposed, never resampled.
        """
        if options.plane not in ("native", ""):
            from radcurate.render.reformat import render_plane

            return render_plane(series, options, self.name)
        return self.render_native(series, options)

    def render_native(
        self, series: SeriesInput, options: RenderOptions, plane: str | None = None
    ) -> Rendering:
        """The stored slice ``options.index``, turned to ``plane``'s display convention
        (default: the standard plane nearest to it)."""
        small = options.size is not None and options.size <= REDUCED_DECODE_MAX
        chosen = load_slice(
            series,
            options.index,
            window=options.window,
            level=options.level,
            reduce_to=options.size if options.reduced_decode and small else None,
        )
        pixels, spacing, oriented = _oriented(chosen, plane)
        image = fit(pixels, options.size, spacing)
        label = "frame" if chosen.instance.frames and chosen.instance.frames > 1 else "slice"
        text = caption(
            series.document,
            [f"{label} {chosen.index + 1}/{chosen.count}", chosen.display.voi],
        )
        details: dict[str, Any] = {
            "sop_uid": chosen.instance.sop_uid,
            "frame": chosen.frame,
            "decode_reduction": chosen.reduction,
            **oriented,
        }
        return Rendering(
            image=image,
            renderer=self.name,
            caption=text,
            slice_index=chosen.index,
            details=details,
        )
