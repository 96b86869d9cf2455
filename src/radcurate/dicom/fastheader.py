"""A fast reader for the few top-level elements ingest needs from every file.

pydicom parses and converts every element (~1 ms for a CT header); ingest
needs ~50 elements of each file and the full header of only one file per
series. This scanner walks the raw elements of little-endian files (the
transfer syntaxes nearly every archive uses), skips sequences by length or
by their delimiters, and decodes only the wanted tags. Anything unusual
(big endian, deflate, no preamble, inconsistent lengths) returns None and the
caller falls back to pydicom, so this is an accelerator, never a second
source of truth; a test checks both give identical records on every file
pydicom ships.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterable
from functools import cache
from typing import Any, BinaryIO

from pydicom.charset import convert_encodings, decode_bytes
from pydicom.datadict import dictionary_VR, tag_for_keyword

from radcurate.dicom.reading import MAX_HEADER_BYTES, UnreadableDicomError
from radcurate.dicom.values import typed_raw

IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT_BE = "1.2.840.10008.1.2.2"
DEFLATED = ("1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.8.1")

_LONG_VRS = frozenset(
    {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
)
_STRUCT = {"US": "H", "SS": "h", "UL": "I", "SL": "i", "FL": "f", "FD": "d", "UV": "Q", "SV": "q"}
_UNDEFINED = 0xFFFFFFFF
_ITEM, _ITEM_END, _SEQ_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
_PIXEL_DATA = 0x7FE00010
_PIXEL_TAGS = frozenset({_PIXEL_DATA, 0x7FE00008, 0x7FE00009})
_CHARSET = 0x00080005
_READ = 1 << 16
_EXPLICIT_SHORT = struct.Struct("<HH2sH")
_IMPLICIT = struct.Struct("<HHI")
_U32 = struct.Struct("<I")
#: strings that are never character-set encoded (no need to look at the charset)
_ASCII_VRS = frozenset({"AE", "AS", "CS", "DA", "DS", "DT", "IS", "TM", "UI"})


class _Abort(Exception):
    """The file is not one this scanner handles; use pydicom."""


class _TooLarge(Exception):
    """The header runs past :data:`~radcurate.dicom.reading.MAX_HEADER_BYTES`."""

    def __init__(self, needed: int) -> None:
        super().__init__(needed)
        self.needed = needed


class _Truncated(Exception):
    """An element runs past the end of the file before the pixel data."""

    def __init__(self, needed: int, size: int) -> None:
        super().__init__(needed, size)
        self.needed = needed
        self.size = size


@cache
def wanted_tags(keywords: tuple[str, ...]) -> dict[int, str]:
    """Tag number -> keyword for the keywords (cached; built on first use)."""
    out: dict[int, str] = {}
    for keyword in keywords:
        tag = tag_for_keyword(keyword)
        if tag is not None:
            out[int(tag)] = keyword
    return out


class _Buffer:
    def __init__(self, handle: Any) -> None:
        self.handle = handle
        self.data = handle.read(_READ)
        self.eof = len(self.data) < _READ

    def fill(self, end: int) -> None:
        """Read until ``end`` bytes are buffered or the file ends."""
        while end > len(self.data) and not self.eof:
            more = self.handle.read(max(_READ, end - len(self.data)))
            if not more:
                self.eof = True
            self.data += more

    def need(self, end: int) -> None:
        """Like :meth:`fill`, but the file ending first means it is truncated."""
        self.fill(end)
        if end > len(self.data):
            raise _Truncated(end, len(self.data))


def read_selected(path: str, keywords: Iterable[str]) -> tuple[dict[str, Any], str] | None:
    """Typed values of the wanted top-level keywords and the transfer syntax, or None.

    None means "not a file this scanner handles": read it with pydicom.

    Raises
    ------
    UnreadableDicomError
        When the header is cut short: an element runs past the end of the
        file before the pixel data (pydicom would silently return a partial
        header for such a file).
    """
    with open(path, "rb") as handle:
        return _read_selected(handle, wanted_tags(tuple(keywords)))


def read_selected_bytes(data: bytes, keywords: Iterable[str]) -> tuple[dict[str, Any], str] | None:
    """:func:`read_selected` of a Part 10 file held in memory (preamble, meta, data set)."""
    return _read_selected(io.BytesIO(data), wanted_tags(tuple(keywords)))


def _read_selected(handle: BinaryIO, wanted: dict[int, str]) -> tuple[dict[str, Any], str] | None:
    try:
        buf = _Buffer(handle)
        if buf.data[128:132] != b"DICM":
            return None
        offset, syntax = _file_meta(buf)
        if syntax == EXPLICIT_BE or syntax in DEFLATED:
            return None
        raw = _scan(buf, offset, syntax != IMPLICIT_LE, wanted)
        charset = raw.pop(_CHARSET, None)
        encodings = _encodings(charset)
        values: dict[str, Any] = {}
        for tag, (vr, data) in raw.items():
            value = _decode(vr, data, encodings)
            if value is not None:
                values[wanted[tag]] = value
    except _Truncated as cut:
        raise UnreadableDicomError(
            f"truncated header: the file ends at byte {cut.size}, inside an element "
            f"that needs {cut.needed} bytes"
        ) from None
    except _TooLarge as large:
        raise UnreadableDicomError(
            f"header larger than {MAX_HEADER_BYTES // (1024 * 1024)} MiB "
            f"(an element needs the bytes up to {large.needed})"
        ) from None
    except (_Abort, struct.error, UnicodeDecodeError, ValueError, LookupError):
        return None
    return values, syntax


def _element_header(buf: _Buffer, offset: int, explicit: bool) -> tuple[int, int, int]:
    """(tag, value length, value offset) of the element starting at ``offset``."""
    buf.need(offset + 8)
    group, element = struct.unpack_from("<HH", buf.data, offset)
    if not explicit:
        return (group << 16) | element, _U32.unpack_from(buf.data, offset + 4)[0], offset + 8
    if buf.data[offset + 4 : offset + 6] in _LONG_VRS:
        buf.need(offset + 12)
        return (group << 16) | element, _U32.unpack_from(buf.data, offset + 8)[0], offset + 12
    return (group << 16) | element, struct.unpack_from("<H", buf.data, offset + 6)[0], offset + 8


def _file_meta(buf: _Buffer) -> tuple[int, str]:
    offset = 132
    syntax = ""
    while True:
        tag, length, start = _element_header(buf, offset, True)
        if tag >> 16 != 0x0002:
            return offset, syntax
        if length == _UNDEFINED:
            raise _Abort
        buf.need(start + length)
        if tag == 0x00020010:
            syntax = buf.data[start : start + length].decode("ascii").strip(" \x00")
        offset = start + length


def _scan(
    buf: _Buffer, offset: int, explicit: bool, wanted: dict[int, str]
) -> dict[int, tuple[str, bytes]]:
    found: dict[int, tuple[str, bytes]] = {}
    data = buf.data
    size = len(data)
    long_vrs = _LONG_VRS
    previous = -1
    while True:
        if offset > MAX_HEADER_BYTES:
            raise _TooLarge(offset)
        if offset + 12 > size:
            buf.fill(offset + 12)
            data = buf.data
            size = len(data)
            if offset == size:
                return found  # the data set ends cleanly (no pixel data)
            if offset + 8 > size:
                raise _Truncated(offset + 8, size)
        if explicit:
            group, element, vr_bytes, length = _EXPLICIT_SHORT.unpack_from(data, offset)
            if vr_bytes in long_vrs:
                length = _U32.unpack_from(data, offset + 8)[0]
                start = offset + 12
            elif vr_bytes.isalpha() and vr_bytes.isupper():
                start = offset + 8
            else:
                raise _Abort
        else:
            group, element, length = _IMPLICIT.unpack_from(data, offset)
            vr_bytes = b""
            start = offset + 8
        tag = (group << 16) | element
        if tag in _PIXEL_TAGS:  # pixel data (float and double float too): what pydicom stops at
            return found
        if tag <= previous:
            raise _Abort  # out of order (zeros where elements should be, ...): pydicom decides
        previous = tag
        if length == _UNDEFINED:
            offset = _skip_undefined(buf, start, explicit)
            data = buf.data
            size = len(data)
            continue
        end = start + length
        if tag in wanted or tag == _CHARSET:
            if end > MAX_HEADER_BYTES:
                raise _TooLarge(end)  # never read an absurd length into memory
            if end > size:
                buf.need(end)
                data = buf.data
                size = len(data)
            vr = vr_bytes.decode("ascii") if vr_bytes else _implicit_vr(tag)
            found[tag] = (vr, data[start:end])
        offset = end


def _implicit_vr(tag: int) -> str:
    try:
        return str(dictionary_VR(tag))
    except KeyError as exc:
        raise _Abort from exc


def _skip_undefined(buf: _Buffer, offset: int, explicit: bool) -> int:
    """Offset just after an undefined-length sequence (or encapsulated value) starting at offset."""
    while True:
        # item and delimiter tags carry no VR, whatever the transfer syntax
        tag, length, offset = _element_header(buf, offset, False)
        if tag == _SEQ_END:
            return offset
        if tag != _ITEM:
            raise _Abort
        if length == _UNDEFINED:
            offset = _skip_item(buf, offset, explicit)
        else:
            offset += length


def _skip_item(buf: _Buffer, offset: int, explicit: bool) -> int:
    """Offset just after an undefined-length item's delimiter."""
    while True:
        tag, length, start = _element_header(buf, offset, explicit)
        if tag == _ITEM_END:
            return offset + 8
        offset = _skip_undefined(buf, start, explicit) if length == _UNDEFINED else start + length


def _encodings(charset: tuple[str, bytes] | None) -> list[str] | None:
    if charset is None:
        return None
    names = [p.strip(" \x00") for p in charset[1].decode("ascii").split("\\")]
    if not any(names):
        return None
    return list(convert_encodings(names))


def _decode(vr: str, data: bytes, encodings: list[str] | None) -> Any:
    if vr in _STRUCT:
        fmt = _STRUCT[vr]
        count = len(data) // struct.calcsize(fmt)
        if count == 0:
            return None
        return typed_raw(
            vr, list(struct.unpack(f"<{count}{fmt}", data[: count * struct.calcsize(fmt)]))
        )
    if vr in ("SQ", "OB", "OW", "OF", "OD", "OL", "OV", "UN"):
        raise _Abort  # not a wanted kind of value here: let pydicom decide
    if data.isascii() or vr in _ASCII_VRS:
        text = data.decode("latin-1")
    elif encodings:
        text = decode_bytes(data, encodings, set())
    else:
        text = data.decode("latin-1")
    if vr in ("LT", "ST", "UT", "UR"):
        return typed_raw(vr, [text])
    return typed_raw(vr, text.split("\\"))
