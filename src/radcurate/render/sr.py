"""Structured reports: a text card of the content tree (title, findings, measurements)."""

from __future__ import annotations

from collections.abc import Iterator

from pydicom.dataset import Dataset

from radcurate.imaging.frames import read_dataset
from radcurate.render.canvas import text_card
from radcurate.render.image import caption
from radcurate.render.result import Rendering, RenderOptions, SeriesInput

__all__ = ["SRRenderer", "report_lines"]

#: content items that describe the report rather than say something in it
_SKIPPED = frozenset(
    {
        "Language of Content Item and Descendants",
        "Observer Type",
        "Person Observer Name",
        "Device Observer UID",
        "Device Observer Name",
        "Tracking Identifier",
        "Tracking Unique Identifier",
        "Algorithm Name",
        "Algorithm Version",
    }
)
MAX_DEPTH = 8


def _meaning(ds: Dataset, keyword: str) -> str:
    items = ds.get(keyword)
    if items:
        return str(items[0].get("CodeMeaning", items[0].get("CodeValue", "")))
    return ""


def _value(item: Dataset) -> str | None:
    kind = str(item.get("ValueType", ""))
    if kind == "TEXT":
        return str(item.get("TextValue", ""))
    if kind == "NUM":
        measured = item.get("MeasuredValueSequence")
        if not measured:
            return "(no value)"
        number = measured[0].get("NumericValue")
        units = measured[0].get("MeasurementUnitsCodeSequence")
        unit = ""
        if units:
            code = str(units[0].get("CodeValue", ""))
            unit = "" if code in ("1", "{ratio}") else code
        return f"{number} {unit}".strip()
    if kind == "CODE":
        return _meaning(item, "ConceptCodeSequence")
    if kind in ("DATE", "TIME", "DATETIME", "UIDREF", "PNAME"):
        keyword = {
            "DATE": "Date",
            "TIME": "Time",
            "DATETIME": "DateTime",
            "UIDREF": "UID",
            "PNAME": "PersonName",
        }[kind]
        return str(item.get(keyword, ""))
    if kind in ("IMAGE", "COMPOSITE", "WAVEFORM"):
        return "(reference)"
    return None


def _walk(items: list[Dataset], depth: int) -> Iterator[str]:
    if depth > MAX_DEPTH:
        return
    indent = "  " * depth
    for item in items:
        name = _meaning(item, "ConceptNameCodeSequence")
        if name in _SKIPPED:
            continue
        kind = str(item.get("ValueType", ""))
        if kind == "CONTAINER":
            if name:
                yield f"{indent}{name}:"
            yield from _walk(list(item.get("ContentSequence") or []), depth + 1)
            continue
        value = _value(item)
        if value is None:
            continue
        yield f"{indent}{name}: {value}" if name else f"{indent}{value}"
        children = item.get("ContentSequence")
        if children:
            yield from _walk(list(children), depth + 1)


def report_lines(ds: Dataset) -> tuple[str, list[str]]:
    """The title of an SR document and its content as indented text lines."""
    title = _meaning(ds, "ConceptNameCodeSequence") or str(
        ds.get("SeriesDescription", "Structured report")
    )
    lines: list[str] = []
    status = [str(ds.get(k)) for k in ("CompletionFlag", "VerificationFlag") if ds.get(k)]
    if status:
        lines.append(" / ".join(status))
    lines.extend(_walk(list(ds.get("ContentSequence") or []), 0))
    return title, lines


class SRRenderer:
    """SR documents as a text card of their content tree."""

    name = "sr"

    def score(self, series: SeriesInput) -> int:
        """50 for SR objects (Modality SR or an SR storage class)."""
        sop = series.sop_class_uid
        is_sr = series.modality == "SR" or sop.startswith("1.2.840.10008.5.1.4.1.1.88.")
        return 50 if is_sr else 0

    def render(self, series: SeriesInput, options: RenderOptions) -> Rendering:
        """Title bar with the document title; findings and measurements below."""
        record = min(series.instances, key=lambda i: (i.instance_number or 0, i.sop_uid))
        ds = read_dataset(record.location)
        title, lines = report_lines(ds)
        image, _ = text_card(title, lines, options.size, accent=(200, 140, 40))
        return Rendering(
            image=image,
            renderer=self.name,
            caption=caption(series.document, [title]),
            text_lines=(title, *lines),
        )
