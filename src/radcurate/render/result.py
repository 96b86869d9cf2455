"""What a renderer returns and how it is asked to render.

A renderer is given a :class:`~radcurate.imaging.series.SeriesInput` and raises
:class:`~radcurate.imaging.errors.UndecodableError`; both are part of the renderer
interface and are exported here too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from radcurate.imaging.errors import UndecodableError
from radcurate.imaging.series import SeriesInput

if TYPE_CHECKING:
    from PIL.Image import Image

__all__ = ["RenderOptions", "Rendering", "SeriesInput", "UndecodableError"]


@dataclass(frozen=True)
class RenderOptions:
    """How to render.

    Attributes
    ----------
    size
        Edge of the square output image in pixels; ``None`` keeps the native
        resolution (used by the viewer).
    index
        Slice (or frame) index in geometric order; ``None`` lets the renderer choose.
    plane
        ``"axial"``, ``"coronal"`` or ``"sagittal"`` (reformats volumes) or
        ``"native"`` (the acquired plane).
    window, level
        Window width and centre overriding the header's VOI (grey-scale images).
    reduced_decode
        Let thumbnails (``size`` <= 256) decode JPEG 2000 frames at a reduced
        resolution level that still fills ``size``; the viewer's slices turn it off.
    """

    size: int | None = 256
    index: int | None = None
    plane: str = "native"
    window: float | None = None
    level: float | None = None
    reduced_decode: bool = True


@dataclass
class Rendering:
    """A rendered picture of a series and what it shows.

    Attributes
    ----------
    image
        An RGB ``PIL.Image.Image``.
    renderer
        Name of the renderer that made it.
    caption
        One line saying what is shown (e.g. ``"CT Abdomen - slice 40/80"``).
    undecodable
        True when the pixels could not be decoded (the caller flags ``qc.undecodable``).
    reason
        Why it is undecodable (or another note such as a missing referenced series).
    slice_index
        Index of the shown slice/frame in geometric order, when there is one.
    text_lines
        The text drawn on a card (SR, labelled and error cards), for search and tests.
    details
        Renderer-specific facts (e.g. ``{"referenced_series_found": False}``).
    """

    image: Image
    renderer: str
    caption: str
    undecodable: bool = False
    reason: str | None = None
    slice_index: int | None = None
    text_lines: tuple[str, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)

    def metadata(self) -> dict[str, Any]:
        """The JSON-able part of the rendering (everything but the image)."""
        return {
            "renderer": self.renderer,
            "caption": self.caption,
            "undecodable": self.undecodable,
            "reason": self.reason,
            "slice_index": self.slice_index,
            "text_lines": list(self.text_lines),
            "details": self.details,
        }
