"""An example third-party renderer: ``OT`` (other) series as stripes, one band per instance."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from radcurate.render import Rendering, RenderOptions, SeriesInput

__all__ = ["StripesRenderer"]


class StripesRenderer:
    """Draws ``OT`` (other) series as alternating bands, one per instance."""

    name = "stripes"

    def score(self, series: SeriesInput) -> int:
        """50 for ``OT`` series (above the built-in card), 0 (cannot render) for the rest."""
        return 50 if series.modality == "OT" else 0

    def render(self, series: SeriesInput, options: RenderOptions) -> Rendering:
        """A square of alternating stripes."""
        # imported here, so that loading the plugin stays cheap
        from PIL import Image, ImageDraw

        from radcurate.render import Rendering

        size = options.size or 64
        image = Image.new("RGB", (size, size), (20, 20, 20))
        draw = ImageDraw.Draw(image)
        count = max(len(series.instances), 1)
        for i in range(count):
            if i % 2 == 0:
                top, bottom = size * i // count, size * (i + 1) // count - 1
                draw.rectangle((0, top, size - 1, bottom), fill=(230, 160, 40))
        return Rendering(image, self.name, f"{series.modality} - {count} instance(s)")
