"""The searchable document of a DICOM header.

Every public and private element becomes a field: public ones under their
keyword (``Modality``), private and unknown ones under their tag number in
DICOM JSON style (``00091001``). Sequences keep all their items as lists of
nested documents. Values are typed by VR (see :mod:`radcurate.dicom.values`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydicom.datadict import keyword_for_tag
from pydicom.dataset import Dataset
from pydicom.tag import BaseTag

from radcurate.dicom.values import FieldType, field_type_for_vr, typed_value

#: elements never copied into documents: pixel data and its large siblings
SKIPPED_TAGS = frozenset({0x7FE00010, 0x7FE00008, 0x7FE00009, 0xFFFAFFFA, 0xFFFCFFFC})

_REPEATING_GROUP_PREFIXES = frozenset({0x50, 0x60})

#: nesting below this depth is cut (real headers rarely go past 6)
MAX_DEPTH = 12


def field_name(tag: BaseTag) -> str:
    """The document field name of a tag: its keyword, or ``GGGGEEEE`` for private/unknown tags.

    Examples
    --------
    >>> from pydicom.tag import Tag
    >>> field_name(Tag(0x0008, 0x0060))
    'Modality'
    >>> field_name(Tag(0x0009, 0x1001))
    '00091001'
    """
    # repeating groups (curves 50xx, overlays 60xx) would collide under one keyword
    if not tag.is_private and (tag.group >> 8) not in _REPEATING_GROUP_PREFIXES:
        keyword = keyword_for_tag(tag)
        if keyword:
            return keyword
    return f"{int(tag):08X}"


@dataclass
class HeaderDocument:
    """A header turned into a document, the type of every field path, and what could not be read."""

    fields: dict[str, Any]
    types: dict[str, FieldType]
    problems: list[str] = field(default_factory=list)


def header_document(dataset: Dataset, *, include_file_meta: bool = True) -> HeaderDocument:
    """Turn a header into a document (all elements, whole sequences, typed values).

    ``types`` maps every field path (``Seq.Keyword`` for fields inside sequence
    items) to its :class:`FieldType`. Elements whose value cannot be decoded are
    left out and listed in ``problems`` with their tag and the reason.
    """
    types: dict[str, FieldType] = {}
    problems: list[str] = []
    fields: dict[str, Any] = {}
    meta = getattr(dataset, "file_meta", None)
    if include_file_meta and meta is not None:
        fields.update(_convert(meta, "", types, problems, 0))
    fields.update(_convert(dataset, "", types, problems, 0))
    return HeaderDocument(fields=fields, types=types, problems=problems)


def _convert(
    dataset: Dataset, prefix: str, types: dict[str, FieldType], problems: list[str], depth: int
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for tag in list(dataset.keys()):
        if tag in SKIPPED_TAGS or tag.element == 0:  # group lengths carry no information
            continue
        name = field_name(tag)
        path = prefix + name
        try:
            element = dataset[tag]
            vr = str(element.VR)
            if vr == "SQ":
                if depth >= MAX_DEPTH:
                    problems.append(f"{_tag_text(tag)}: sequence nested deeper than {MAX_DEPTH}")
                    continue
                items = [
                    _convert(item, path + ".", types, problems, depth + 1) for item in element.value
                ]
                value: Any = items
            else:
                value = typed_value(element)
        except Exception as exc:  # noqa: BLE001  # a bad element must not sink the file
            problems.append(f"{_tag_text(tag)}: {type(exc).__name__}: {exc}")
            continue
        types.setdefault(path, field_type_for_vr(vr))
        if value is None:
            continue
        out[name] = value
    return out


def _tag_text(tag: BaseTag) -> str:
    return f"({tag.group:04X},{tag.element:04X})"


def referenced_series(document: dict[str, Any], own_series: str) -> list[str]:
    """SeriesInstanceUIDs referenced from inside any sequence (SEG, RTSTRUCT, SR, KO, PR).

    Examples
    --------
    >>> doc = {"SeriesInstanceUID": "1.2", "ReferencedSeriesSequence": [
    ...     {"SeriesInstanceUID": "1.3"}, {"SeriesInstanceUID": "1.2"}]}
    >>> referenced_series(doc, "1.2")
    ['1.3']
    """
    found: list[str] = []

    def walk(node: Any, inside_sequence: bool) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "SeriesInstanceUID" and inside_sequence and isinstance(value, str):
                    if value != own_series and value not in found:
                        found.append(value)
                elif isinstance(value, list) and value and isinstance(value[0], dict):
                    for item in value:
                        walk(item, True)

    walk(document, False)
    return found
