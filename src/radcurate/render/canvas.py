"""Pictures: fitting to a square, overlays, and text cards (Pillow, imported lazily)."""

from __future__ import annotations

import functools
import textwrap
from collections.abc import Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from radcurate.optional import import_optional

if TYPE_CHECKING:
    from PIL.Image import Image
    from PIL.ImageFont import FreeTypeFont, ImageFont

__all__ = ["blend_masks", "fit", "pil", "text_card", "to_rgb"]

U8 = npt.NDArray[np.uint8]
RGB = tuple[int, int, int]

BACKGROUND: RGB = (0, 0, 0)
CARD_BACKGROUND: RGB = (28, 32, 40)
CARD_TEXT: RGB = (230, 232, 236)


@functools.cache
def pil() -> ModuleType:
    """The ``PIL.Image`` module (Pillow is the ``render`` extra)."""
    return import_optional("PIL.Image", "rendering thumbnails")


@functools.cache
def _font(size: int) -> FreeTypeFont | ImageFont:
    font_module = import_optional("PIL.ImageFont", "rendering thumbnails")
    return font_module.load_default(size=size)  # type: ignore[no-any-return]


def to_rgb(pixels: U8) -> U8:
    """Grey ``(r, c)`` or RGB ``(r, c, 3)`` to a contiguous RGB array."""
    if pixels.ndim == 2:
        return np.repeat(pixels[:, :, None], 3, axis=2)
    return np.ascontiguousarray(pixels[:, :, :3])


def fit(
    pixels: U8,
    size: int | None,
    spacing: Sequence[float] | None = None,
) -> Image:
    """An RGB image of ``pixels``, corrected for non-square pixels and letterboxed.

    Parameters
    ----------
    pixels
        Grey or RGB ``uint8`` array.
    size
        Edge of the square result; ``None`` keeps the native size (aspect corrected only).
    spacing
        ``(row spacing, column spacing)`` in mm (PixelSpacing order), if known.
    """
    image_module = pil()
    image: Image = image_module.fromarray(to_rgb(pixels), "RGB")
    rows, cols = pixels.shape[:2]
    height, width = float(rows), float(cols)
    if spacing is not None and len(spacing) == 2 and spacing[0] > 0 and spacing[1] > 0:
        ratio = float(spacing[0]) / float(spacing[1])
        if abs(ratio - 1.0) > 0.01:
            height = rows * ratio
    if size is None:
        target = (max(1, round(width)), max(1, round(height)))
        if target != image.size:
            image = image.resize(target, image_module.Resampling.BILINEAR)
        return image
    scale = size / max(width, height)
    target = (max(1, round(width * scale)), max(1, round(height * scale)))
    if target != image.size:
        image = image.resize(target, image_module.Resampling.BILINEAR, reducing_gap=2.0)
    if target == (size, size):
        return image
    canvas: Image = image_module.new("RGB", (size, size), BACKGROUND)
    canvas.paste(image, ((size - target[0]) // 2, (size - target[1]) // 2))
    return canvas


def _outline(mask: npt.NDArray[np.bool_], width: int) -> npt.NDArray[np.bool_]:
    inner = mask.copy()
    for _ in range(max(1, width)):
        shrunk = inner.copy()
        shrunk[1:, :] &= inner[:-1, :]
        shrunk[:-1, :] &= inner[1:, :]
        shrunk[:, 1:] &= inner[:, :-1]
        shrunk[:, :-1] &= inner[:, 1:]
        inner = shrunk
    return mask & ~inner


def blend_masks(
    rgb: U8,
    masks: Sequence[tuple[npt.NDArray[np.bool_], RGB]],
    *,
    alpha: float = 0.35,
    outline: int = 1,
) -> U8:
    """Draw each mask as a translucent fill plus an opaque outline of its colour."""
    out = rgb.astype(np.float32)
    for mask, colour in masks:
        if not mask.any():
            continue
        col = np.asarray(colour, dtype=np.float32)
        out[mask] = out[mask] * (1.0 - alpha) + col * alpha
        out[_outline(mask, outline)] = col
    return np.clip(out, 0, 255).astype(np.uint8)


def _wrap(lines: Sequence[str], width: int) -> list[str]:
    wrapped: list[str] = []
    for line in lines:
        indent = len(line) - len(line.lstrip(" "))
        parts = textwrap.wrap(
            line.strip(), width=max(8, width - indent), subsequent_indent="  "
        ) or [""]
        wrapped.extend(" " * indent + part for part in parts)
    return wrapped


def text_card(
    title: str,
    lines: Sequence[str],
    size: int | None,
    *,
    accent: RGB = (90, 140, 220),
    picture: Any = None,
) -> tuple[Image, tuple[str, ...]]:
    """A square card: a coloured title bar, then ``lines`` wrapped to fit.

    Parameters
    ----------
    title
        Shown in the title bar.
    lines
        Body text; leading spaces indent; lines that do not fit are cut with "...".
    size
        Edge of the card (``None``: 512).
    accent
        Colour of the title bar.
    picture
        Optional RGB ``uint8`` array drawn below the text (e.g. a waveform trace).

    Returns
    -------
    (image, lines)
        The card and the text lines drawn on it (title first).
    """
    edge = size or 512
    image_module = pil()
    draw_module = import_optional("PIL.ImageDraw", "rendering thumbnails")
    card: Image = image_module.new("RGB", (edge, edge), CARD_BACKGROUND)
    draw = draw_module.Draw(card)
    title_px = max(9, edge // 16)
    body_px = max(8, edge // 22)
    bar = int(title_px * 1.7)
    draw.rectangle((0, 0, edge, bar), fill=accent)
    title_font, body_font = _font(title_px), _font(body_px)
    title_text = _wrap([title], max(8, int(edge / (title_px * 0.55))))[0]
    draw.text(
        (body_px // 2, (bar - title_px) // 2), title_text, fill=(255, 255, 255), font=title_font
    )
    chars = max(8, int((edge - body_px) / (body_px * 0.55)))
    body = _wrap(lines, chars)
    line_h = int(body_px * 1.25)
    bottom = edge - (edge // 2 if picture is not None else 0)
    capacity = max(0, (bottom - bar - body_px // 2) // line_h)
    shown = body[:capacity]
    if len(body) > capacity and capacity:
        shown[-1] = "..."
    y = bar + body_px // 2
    for line in shown:
        draw.text((body_px // 2, y), line, fill=CARD_TEXT, font=body_font)
        y += line_h
    if picture is not None:
        trace = image_module.fromarray(to_rgb(picture), "RGB").resize(
            (edge - body_px, edge // 2 - body_px // 2), image_module.Resampling.BILINEAR
        )
        card.paste(trace, (body_px // 2, edge // 2))
    return card, (title_text, *shown)
