"""Labelled cards: the fallback renderer for objects without a picture, and error cards."""

from __future__ import annotations

from typing import Any

from pydicom.uid import UID

from radcurate.render.canvas import text_card
from radcurate.render.result import Rendering, RenderOptions, SeriesInput

__all__ = ["CardRenderer", "label_lines", "sop_class_name", "undecodable_card"]


def sop_class_name(uid: str) -> str:
    """The SOP class name pydicom knows for ``uid`` (the UID itself otherwise)."""
    if not uid:
        return "unknown SOP class"
    name = UID(uid).name
    return name or uid


def label_lines(document: dict[str, Any]) -> list[str]:
    """What a labelled card says about a series."""
    lines = [f"Modality: {document.get('Modality') or '?'}"]
    lines.append(sop_class_name(str(document.get("SOPClassUID") or "")))
    for keyword in ("SeriesDescription", "ContentLabel", "StudyDescription", "Manufacturer"):
        value = document.get(keyword)
        if value:
            lines.append(f"{keyword}: {value}")
    count = document.get("instance_count")
    if count:
        lines.append(f"{count} instance{'s' if count != 1 else ''}")
    return lines


class CardRenderer:
    """Anything else (PDF, KOS, presentation states, ...): a labelled card."""

    name = "card"

    def score(self, series: SeriesInput) -> int:
        """1: accepts every series, so it wins only when nothing else does."""
        return 1

    def render(self, series: SeriesInput, options: RenderOptions) -> Rendering:
        """A card with modality, SOP class name and description."""
        title = str(series.document.get("Modality") or "DICOM object")
        lines = label_lines(series.document)
        image, _ = text_card(title, lines, options.size, accent=(110, 110, 130))
        return Rendering(
            image=image,
            renderer=self.name,
            caption=" - ".join([title, *lines[1:2]]),
            text_lines=(title, *lines),
        )


def undecodable_card(series: SeriesInput, reason: str, options: RenderOptions) -> Rendering:
    """A red card saying why the pixels could not be decoded (``undecodable=True``)."""
    title = "Undecodable"
    lines = [f"{series.modality or 'DICOM'} {series.document.get('SeriesDescription') or ''}"]
    lines.append(reason)
    image, _ = text_card(title, lines, options.size, accent=(190, 50, 50))
    return Rendering(
        image=image,
        renderer="undecodable",
        caption=f"undecodable: {reason}",
        undecodable=True,
        reason=reason,
        text_lines=(title, *lines),
    )
