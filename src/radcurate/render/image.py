"""The image renderer: CT/MR/PT/NM slices, CR/DX/MG/XA, colour, US and multi-frame objects."""

from __future__ import annotations

from typing import Any

from radcurate.imaging.series import SeriesInput
from radcurate.imaging.slices import load_slice
from radcurate.render.canvas import fit
from radcurate.render.result import Rendering, RenderOptions

__all__ = ["REDUCED_DECODE_MAX", "ImageRenderer", "caption"]

#: thumbnails up to this edge decode JPEG 2000 frames at reduced resolution
REDUCED_DECODE_MAX = 256
#: SOP classes with pixel data that are not pictures of the patient
_NOT_IMAGES = ("1.2.840.10008.5.1.4.1.1.66.4", "1.2.840.10008.5.1.4.1.1.66.7")


def caption(document: dict[str, Any], parts: list[str]) -> str:
    """``"<Modality> <SeriesDescription> - part - part"``."""
    head = " ".join(str(document[k]) for k in ("Modality", "SeriesDescription") if document.get(k))
    return " - ".join([head or "series", *parts])


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
        """Render the chosen slice (or a reformat when ``options.plane`` asks for one)."""
        if options.plane not in ("native", ""):
            from radcurate.render.reformat import render_plane

            return render_plane(series, options, self.name)
        small = options.size is not None and options.size <= REDUCED_DECODE_MAX
        chosen = load_slice(
            series,
            options.index,
            window=options.window,
            level=options.level,
            reduce_to=options.size if options.reduced_decode and small else None,
        )
        image = fit(chosen.display.pixels, options.size, chosen.spacing())
        label = "frame" if chosen.instance.frames and chosen.instance.frames > 1 else "slice"
        text = caption(
            series.document,
            [f"{label} {chosen.index + 1}/{chosen.count}", chosen.display.voi],
        )
        details: dict[str, Any] = {
            "sop_uid": chosen.instance.sop_uid,
            "frame": chosen.frame,
            "decode_reduction": chosen.reduction,
        }
        return Rendering(
            image=image,
            renderer=self.name,
            caption=text,
            slice_index=chosen.index,
            details=details,
        )
