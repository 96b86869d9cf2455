"""The data dictionary entries (tag, VR, name) of the keys of a series document.

A document keys public elements by keyword (``SliceThickness``), elements without one
(private, unknown) by their 8-digit tag (``00431028``), and facts radcurate derives
(``instance_count``, ``slice_positions``) by names that are no DICOM keyword; the header
table of the web UI shows the tag and VR of each (``/api/series/{uid}/header``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pydicom import datadict

_HEX_TAG = re.compile(r"^[0-9A-Fa-f]{8}$")


@dataclass(frozen=True)
class Entry:
    """One key's dictionary entry: ``tag`` as 8 hex digits, ``vr``, ``name``.

    ``tag`` is "" for a derived fact, ``vr`` "" where the dictionary does not know it (a
    private element), ``name`` the standard's name of the element.
    """

    tag: str
    vr: str
    name: str
    private: bool = False


def _private(key: str, creators: Mapping[str, Any]) -> Entry:
    number = int(key, 16)
    tag = key.upper()
    element = number & 0xFFFF
    if 0x10 <= element <= 0xFF:
        return Entry(tag, "LO", "Private Creator", private=True)
    creator = creators.get(f"{tag[:4]}00{element >> 8:02X}")
    if isinstance(creator, str):
        try:
            vr = datadict.private_dictionary_VR(number, creator)
            name = datadict.private_dictionary_description(number, creator)
        except KeyError:
            return Entry(tag, "", f"Private element of {creator}", private=True)
        return Entry(tag, vr, f"{name} ({creator})", private=True)
    return Entry(tag, "", "Private element", private=True)


def entry(key: str, creators: Mapping[str, Any] | None = None) -> Entry:
    """The dictionary entry of one document key; ``creators``: the dataset (or sequence
    item) of the key, whose private creator elements name its private elements.

    Examples
    --------
    >>> entry("SliceThickness")
    Entry(tag='00180050', vr='DS', name='Slice Thickness', private=False)
    >>> entry("00431028")
    Entry(tag='00431028', vr='', name='Private element', private=True)
    >>> entry("00431028", {"00430010": "GEMS_PARM_01"})
    Entry(tag='00431028', vr='OB', name='Unique image iden (GEMS_PARM_01)', private=True)
    >>> entry("instance_count")
    Entry(tag='', vr='', name='Derived by radcurate', private=False)
    """
    if _HEX_TAG.match(key):
        number = int(key, 16)
        tag = key.upper()
        if (number >> 16) % 2 == 1:
            return _private(key, creators or {})
        return (
            _public(tag, number)
            if datadict.dictionary_has_tag(number)
            else Entry(tag, "", "Unknown element")
        )
    found = datadict.tag_for_keyword(key)
    if found is None:
        return Entry("", "", "Derived by radcurate")
    return _public(f"{found:08X}", found)


def _public(tag: str, number: int) -> Entry:
    return Entry(tag, datadict.dictionary_VR(number), datadict.dictionary_description(number))


def _entries(document: Mapping[str, Any]) -> Iterator[tuple[str, Entry]]:
    for key, value in document.items():
        yield key, entry(key, document)
        if isinstance(value, list):
            for item in value:
                if isinstance(item, Mapping):
                    yield from _entries(item)


def document_entries(document: Mapping[str, Any]) -> dict[str, Entry]:
    """The entry of every key of ``document``, sequence items' keys included (a private key
    used with different creators in different items gets the first one's).

    Examples
    --------
    >>> doc = {"Modality": "CT", "ProcedureCodeSequence": [{"CodeValue": "CTHD"}]}
    >>> sorted((k, e.tag, e.vr) for k, e in document_entries(doc).items())
    [('CodeValue', '00080100', 'SH'), ('Modality', '00080060', 'CS'), \
('ProcedureCodeSequence', '00081032', 'SQ')]
    """
    out: dict[str, Entry] = {}
    for key, found in _entries(document):
        out.setdefault(key, found)
    return out
