"""Byte-level fast path of :func:`radcurate.export.deid.deidentify_file`.

Files in little-endian transfer syntaxes (explicit or implicit VR, native or encapsulated pixel
data) are de-identified without building a pydicom Dataset: elements kept by the plan are copied
as byte slices, the others re-encoded, sequences rewritten with undefined lengths. The result is
the same dataset the pydicom path gives (a test compares them). Anything unusual (big endian,
deflate, Clean Descriptors, Retain Safe Private, malformed lengths) returns None and the caller
uses the pydicom path.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING

from pydicom.datadict import tag_for_keyword
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID

from radcurate.export.deid_dates import shift_da, shift_dt
from radcurate.export.deid_residual import RESIDUAL_KEYWORDS, residual_tokens
from radcurate.export.deid_uids import date_shift_days, is_well_known, pseudonym, replace_uid

if TYPE_CHECKING:
    from radcurate.export.deid import DeidOptions

_LONG_VRS = frozenset({b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"UC", b"UN", b"UR",
                       b"UT", b"SV", b"UV"})  # fmt: skip
_IMPLICIT_LE = "1.2.840.10008.1.2"
_BIG_ENDIAN = "1.2.840.10008.1.2.2"
_DEFLATED = ("1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.8.1")
_UNDEFINED = 0xFFFFFFFF
_ITEM, _ITEM_END, _SEQ_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
_HDR = struct.Struct("<HH")
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
#: tag, VR and 16-bit length of an explicit VR element (a long VR's length follows instead)
_EXPLICIT = struct.Struct("<HH2sH")
#: a top-level tag no element reaches: walk everything
_NO_STOP = 1 << 32
_PIXEL_DATA = 0x7FE00010


class _Unsupported(Exception):
    """Falls back to the pydicom path."""


class _Walker:
    __slots__ = ("_days", "_days_of", "explicit", "key", "plan", "residual", "retain_uids",
                 "vr_of")  # fmt: skip

    def __init__(self, plan: dict[int, str], key: bytes, explicit: bool,
                 days: int | Callable[[], int], retain_uids: bool,
                 vr_of: Callable[[int], str]) -> None:  # fmt: skip
        self.plan = plan
        self.key = key
        self.explicit = explicit
        # the date shift is found when a date is first shifted (most option sets shift none,
        # and finding it walks the file up to the Patient ID)
        self._days: int | None = days if isinstance(days, int) else None
        self._days_of = days
        self.retain_uids = retain_uids
        self.vr_of = vr_of
        #: raw values of the patient's identifying attributes met (see deid.RESIDUAL_KEYWORDS)
        self.residual: list[bytes] = []

    @property
    def days(self) -> int:
        """The patient's date shift (``deid_uids.date_shift_days``)."""
        if self._days is None:
            days_of = self._days_of
            self._days = days_of if isinstance(days_of, int) else days_of()
        return self._days

    def header(self, buf: bytes, pos: int) -> tuple[int, bytes, int, int]:
        """(tag, VR, value length, value start) of the element at ``pos``."""
        group, element = _HDR.unpack_from(buf, pos)
        tag = (group << 16) | element
        if group == 0xFFFE:
            return tag, b"", _U32.unpack_from(buf, pos + 4)[0], pos + 8
        if self.explicit:
            vr = buf[pos + 4 : pos + 6]
            if vr in _LONG_VRS:
                return tag, vr, _U32.unpack_from(buf, pos + 8)[0], pos + 12
            return tag, vr, _U16.unpack_from(buf, pos + 6)[0], pos + 8
        vr = b"UN" if group & 1 else self.vr_of(tag).encode()
        return tag, vr, _U32.unpack_from(buf, pos + 4)[0], pos + 8

    def encode(self, tag: int, vr: bytes, value: bytes) -> bytes:
        if len(value) & 1:
            value += b"\0" if vr in (b"UI", b"OB", b"UN") else b" "
        head = _HDR.pack(tag >> 16, tag & 0xFFFF)
        if not self.explicit:
            return head + _U32.pack(len(value)) + value
        if vr in _LONG_VRS:
            return head + vr + b"\0\0" + _U32.pack(len(value)) + value
        if len(value) > 0xFFFF:
            raise _Unsupported
        return head + vr + _U16.pack(len(value)) + value

    def seq_head(self, tag: int) -> bytes:
        head = _HDR.pack(tag >> 16, tag & 0xFFFF)
        return head + (b"SQ\0\0" if self.explicit else b"") + _U32.pack(_UNDEFINED)

    def skip(self, buf: bytes, vr: bytes, length: int, start: int) -> int:
        """End of a value (undefined lengths walked to their delimiter)."""
        if length != _UNDEFINED:
            return start + length
        pos = start
        while pos + 8 <= len(buf):
            tag, _, item_len, item_start = self.header(buf, pos)
            if tag == _SEQ_END:
                return item_start
            if tag == _ITEM:
                if item_len == _UNDEFINED:
                    pos = self._skip_item(buf, item_start)
                else:
                    pos = item_start + item_len
            else:
                raise _Unsupported
        raise _Unsupported

    def _skip_item(self, buf: bytes, pos: int) -> int:
        while pos + 8 <= len(buf):
            tag, vr, length, start = self.header(buf, pos)
            if tag == _ITEM_END:
                return start
            pos = self.skip(buf, vr, length, start)
        raise _Unsupported

    def walk(
        self, buf: bytes, pos: int, end: int, out: list[tuple[int, bytes]], until: int = _NO_STOP
    ) -> int:
        """Process elements from ``pos`` to ``end`` (or an item delimiter) into ``out``; the
        first element with a tag >= ``until`` is left alone and its offset returned."""
        plan = self.plan
        explicit = self.explicit
        size = len(buf)
        # self.header, inlined for the explicit VR syntaxes (this loop is most of the time a
        # de-identified copy holds the GIL)
        element_at = _EXPLICIT.unpack_from
        u32_at = _U32.unpack_from
        while pos < end:
            elem_pos = pos
            if explicit:
                group, element, vr, length = element_at(buf, pos)
                tag = group << 16 | element
                if group == 0xFFFE:
                    vr, length, start = b"", u32_at(buf, pos + 4)[0], pos + 8
                elif vr in _LONG_VRS:
                    length, start = u32_at(buf, pos + 8)[0], pos + 12
                else:
                    start = pos + 8
            else:
                tag, vr, length, start = self.header(buf, pos)
                group = tag >> 16
            if tag >= until:
                return elem_pos
            if tag == _ITEM_END:
                return start
            if vr == b"UN" and explicit and not group & 1 and self.vr_of(tag) != "UN":
                raise _Unsupported  # a standard element stored as UN: the pydicom path
            stop = start + length if length != _UNDEFINED else self.skip(buf, vr, length, start)
            if stop > size:
                raise _Unsupported
            pos = stop
            action = plan.get(tag)
            if action is None:
                if group & 1:  # private, not in the plan: removed (as self.default says)
                    continue
                action = self.default(tag, vr, buf, start, length)
            if tag in _RESIDUAL_TAGS:
                self.residual.append(buf[start:stop])
            if action == "K":
                out.append((tag, buf[elem_pos:stop]))
            elif action == "X":
                continue
            elif vr == b"SQ" or (vr == b"UN" and length == _UNDEFINED):
                if vr == b"UN":
                    raise _Unsupported
                out.append((tag, self.sequence(tag, buf, start, length, action)))
            elif action == "Z":
                out.append((tag, self.encode(tag, vr, b"")))
            else:
                value = buf[start:stop]
                out.append((tag, self.encode(tag, vr, self.value(action, vr, value))))
        return pos

    def sequence(self, tag: int, buf: bytes, start: int, length: int, action: str) -> bytes:
        if action in ("Z", "D"):
            return self.seq_head(tag) + _HDR.pack(0xFFFE, 0xE0DD) + b"\0\0\0\0"
        parts = [self.seq_head(tag)]
        pos = start
        end = len(buf) if length == _UNDEFINED else start + length
        while pos < end:
            item_tag, _, item_len, item_start = self.header(buf, pos)
            if item_tag == _SEQ_END:
                break
            if item_tag != _ITEM:
                raise _Unsupported
            item_end = len(buf) if item_len == _UNDEFINED else item_start + item_len
            elements: list[tuple[int, bytes]] = []
            pos = self.walk(buf, item_start, item_end, elements)
            if item_len != _UNDEFINED:
                pos = item_end
            parts.append(_HDR.pack(0xFFFE, 0xE000) + _U32.pack(_UNDEFINED))
            parts.extend(b for _, b in elements)
            parts.append(_HDR.pack(0xFFFE, 0xE00D) + b"\0\0\0\0")
        parts.append(_HDR.pack(0xFFFE, 0xE0DD) + b"\0\0\0\0")
        return b"".join(parts)

    def default(self, tag: int, vr: bytes, buf: bytes, start: int, length: int) -> str:
        group = tag >> 16
        if group & 1 or tag & 0xFFFF == 0:
            return "X"
        if group & 0xFF00 in (0x5000, 0x6000):
            return "X"
        if vr == b"SQ":
            return "R"
        if vr == b"UI" and not self.retain_uids:
            text = buf[start : start + length].decode("ascii", "replace")
            if any(v.strip("\0 ") and not is_well_known(v) for v in text.split("\\")):
                return "U"
        return "K"

    def value(self, action: str, vr: bytes, raw: bytes) -> bytes:
        text = raw.decode("latin-1").rstrip("\0 ")
        parts = text.split("\\")
        if action == "U" and not text:
            return b""
        if action == "U" or (action == "D" and vr == b"UI"):
            new = [replace_uid(self.key, p) for p in parts if p] or [replace_uid(self.key, "dummy")]
            return "\\".join(new).encode()
        if action == "S":
            if vr == b"DA":
                return "\\".join(shift_da(p, self.days) for p in parts).encode()
            if vr == b"DT":
                return "\\".join(shift_dt(p, self.days) for p in parts).encode()
            return raw
        if action == "P":
            return pseudonym(self.key, text).encode()
        if action == "D":
            from radcurate.export.deid import DUMMY

            dummy = DUMMY.get(vr.decode())
            if dummy is not None:
                return str(dummy).encode()
            if vr in (b"US", b"SS"):
                return b"\0\0"
            if vr in (b"UL", b"SL", b"FL", b"AT"):
                return b"\0\0\0\0"
            if vr in (b"FD", b"SV", b"UV"):
                return b"\0" * 8
            return b"\0\0"
        raise _Unsupported  # C and anything new: the pydicom path


def _string(tag: int, vr: bytes, text: str, walker: _Walker) -> bytes:
    return walker.encode(tag, vr, text.encode("ascii"))


def declines(options: DeidOptions) -> bool:
    """Whether the byte-level path leaves every file to the pydicom path under these options
    (Clean Descriptors and Retain Safe Private rewrite text the walker only copies)."""
    return options.clean_descriptors or options.retain_safe_private


def deidentify_bytes(
    data: bytes,
    options: DeidOptions,
    plan: dict[int, str],
    method: list[tuple[str, str]],
    vr_of: Callable[[int], str],
) -> bytes | None:
    """De-identify a whole Part 10 file held in ``data``; None when unsupported."""
    if declines(options) or data[128:132] != b"DICM":
        return None
    try:
        return _run(data, options, plan, method, vr_of)[0]
    except (_Unsupported, struct.error, UnicodeDecodeError, ValueError, IndexError):
        return None


def deidentify_head(
    head: bytes,
    options: DeidOptions,
    plan: dict[int, str],
    method: list[tuple[str, str]],
    vr_of: Callable[[int], str],
) -> tuple[bytes, int, int] | None:
    """De-identify the elements before the top-level Pixel Data of a Part 10 file whose first
    bytes are ``head``, in one walk: (the rewritten bytes before it, where the Pixel Data
    element starts, where its value ends). The bytes are those :func:`deidentify_bytes` gives
    for ``head[:start]``. None when the Pixel Data is not within ``head``, has an undefined
    length, or the file is one the fast path declines."""
    if declines(options) or head[128:132] != b"DICM":
        return None
    try:
        out, at, walker = _run(head, options, plan, method, vr_of, until=_PIXEL_DATA)
        if at >= len(head):
            return None
        tag, _, length, start = walker.header(head, at)
    except (_Unsupported, struct.error, UnicodeDecodeError, ValueError, IndexError):
        return None
    if tag != _PIXEL_DATA or length == _UNDEFINED:
        return None
    return out, at, start + length


def _run(
    data: bytes,
    options: DeidOptions,
    plan: dict[int, str],
    method: list[tuple[str, str]],
    vr_of: Callable[[int], str],
    until: int = _NO_STOP,
) -> tuple[bytes, int, _Walker]:
    """The rewritten file (of the elements before ``until``), where the walk stopped, and
    the walker (its transfer syntax)."""
    key: bytes = options.key
    meta_walker = _Walker({}, key, True, 0, True, vr_of)
    meta, meta_end, explicit = _file_meta(meta_walker, data)

    def days() -> int:
        probe = _Walker({}, key, explicit, 0, True, vr_of)
        return date_shift_days(key, _find_patient_id(probe, data, meta_end))

    walker = _Walker(plan, key, explicit, days, options.retain_uids, vr_of)
    out: list[tuple[int, bytes]] = []
    stopped = walker.walk(data, meta_end, len(data), out, until)
    body = dict(out)
    if 0x00100020 not in body:
        body[0x00100020] = _string(0x00100020, b"LO", pseudonym(key, ""), walker)
    temporal = "MODIFIED" if options.retain_long_modified_dates else "REMOVED"
    body.update(_added(explicit, tuple(method), temporal))
    _check_residual(walker, body)

    sop_uid = _value_of(walker, body.get(0x00080018))
    new_meta: dict[int, bytes] = {}
    for tag, (vr, value) in meta.items():
        if tag in _META_DROPPED or (tag == 0x00020003 and sop_uid):
            continue
        new_meta[tag] = _meta_element(tag, vr, value)
    if sop_uid:
        new_meta[0x00020003] = meta_walker.encode(0x00020003, b"UI", sop_uid)
    new_meta.update(_added_meta())
    meta_bytes = b"".join(new_meta[t] for t in sorted(new_meta))
    group_length = meta_walker.encode(0x00020000, b"UL", _U32.pack(len(meta_bytes)))
    written = b"".join(
        [b"\0" * 128, b"DICM", group_length, meta_bytes, *(body[t] for t in sorted(body))]
    )
    return written, stopped, walker


@lru_cache(maxsize=64)
def _added(explicit: bool, method: tuple[tuple[str, str], ...], temporal: str) -> dict[int, bytes]:
    """The elements every de-identified file gets (PS3.15 E.1: Patient Identity Removed, the
    method and its codes, Longitudinal Temporal Information Modified), encoded once."""
    walker = _Walker({}, b"", explicit, 0, True, lambda _tag: "UN")
    added = {
        0x00120062: _string(0x00120062, b"CS", "YES", walker),
        0x00120063: _string(
            0x00120063, b"LO", "radcurate E.1 " + " ".join(c for c, _ in method), walker
        ),
    }
    items = [walker.seq_head(0x00120064)]
    for code, meaning in method:
        items.append(_HDR.pack(0xFFFE, 0xE000) + _U32.pack(_UNDEFINED))
        items.append(_string(0x00080100, b"SH", code, walker))
        items.append(_string(0x00080102, b"SH", "DCM", walker))
        items.append(_string(0x00080104, b"LO", meaning, walker))
        items.append(_HDR.pack(0xFFFE, 0xE00D) + b"\0\0\0\0")
    items.append(_HDR.pack(0xFFFE, 0xE0DD) + b"\0\0\0\0")
    added[0x00120064] = b"".join(items)
    added[0x00280303] = _string(0x00280303, b"CS", temporal, walker)
    return added


#: File Meta elements not copied (group length, source AE titles, private information)
_META_DROPPED = frozenset({0x00020000, 0x00020016, 0x00020017, 0x00020018, 0x00020100,
                           0x00020102})  # fmt: skip


@lru_cache(maxsize=256)
def _meta_element(tag: int, vr: bytes, value: bytes) -> bytes:
    """A File Meta element encoded (the class and transfer syntax repeat in every file)."""
    return _Walker({}, b"", True, 0, True, lambda _tag: "UN").encode(tag, vr, value)


@lru_cache(maxsize=1)
def _added_meta() -> dict[int, bytes]:
    """The File Meta elements naming the writer (explicit VR little endian, always)."""
    walker = _Walker({}, b"", True, 0, True, lambda _tag: "UN")
    return {
        0x00020012: walker.encode(0x00020012, b"UI", PYDICOM_IMPLEMENTATION_UID.encode()),
        0x00020013: walker.encode(0x00020013, b"SH", b"RADCURATE_DEID"),
    }


def _file_meta(
    meta_walker: _Walker, data: bytes
) -> tuple[dict[int, tuple[bytes, bytes]], int, bool]:
    """The File Meta elements (tag -> (VR, value)), where the dataset starts, and whether its
    transfer syntax is explicit VR; big endian and deflated syntaxes are unsupported."""
    tag, _, length, start = meta_walker.header(data, 132)
    if tag != 0x00020000:
        raise _Unsupported
    meta_end = start + _U32.unpack_from(data, start)[0] + length
    meta: dict[int, tuple[bytes, bytes]] = {}
    pos = start + length
    while pos < meta_end:
        tag, vr, length, start = meta_walker.header(data, pos)
        meta[tag] = (vr, data[start : start + length])
        pos = start + length
    syntax = meta.get(0x00020010, (b"", b""))[1].decode("ascii").rstrip("\0 ")
    if syntax == _BIG_ENDIAN or syntax in _DEFLATED or not syntax:
        raise _Unsupported
    return meta, meta_end, syntax != _IMPLICIT_LE


def pixel_data_span(head: bytes, vr_of: Callable[[int], str]) -> tuple[int, int] | None:
    """Where the top-level Pixel Data element of a Part 10 file starts and where its value
    ends, found in the file's first bytes ``head``; None when it is not there (or has an
    undefined length, or the file is one the fast path declines).

    Everything before the start (and after the end) is what the fast path rewrites; the
    element itself is kept byte for byte, so a caller may copy it from the file without
    reading it (:mod:`radcurate.export.deid_copy`).
    """
    found = _first_at_or_after(head, 0x7FE00010, vr_of)
    if found is None or found[0] != 0x7FE00010 or found[2] == _UNDEFINED:
        return None
    return found[1], found[3] + found[2]


def split_before(data: bytes, tag: int, vr_of: Callable[[int], str]) -> int | None:
    """Offset of the first top-level element of the Part 10 bytes ``data`` whose tag is at
    least ``tag`` (``len(data)`` when there is none; None when ``data`` cannot be walked)."""
    found = _first_at_or_after(data, tag, vr_of)
    if found is None:
        return None
    return len(data) if found[0] == -1 else found[1]


def _first_at_or_after(
    data: bytes, stop: int, vr_of: Callable[[int], str]
) -> tuple[int, int, int, int] | None:
    """(tag, element offset, value length, value offset) of the first top-level element with
    a tag >= ``stop``; tag -1 when the data ends first (partial elements too); None when the
    bytes are not a file the fast path reads."""
    if data[128:132] != b"DICM":
        return None
    try:
        _, pos, explicit = _file_meta(_Walker({}, b"", True, 0, True, vr_of), data)
        walker = _Walker({}, b"", explicit, 0, True, vr_of)
        while pos + 12 <= len(data):
            tag, vr, length, start = walker.header(data, pos)
            if tag >= stop:
                return tag, pos, length, start
            pos = walker.skip(data, vr, length, start)
    except (_Unsupported, struct.error, UnicodeDecodeError, ValueError, IndexError):
        return None
    return -1, pos, 0, pos


def _value_of(walker: _Walker, element: bytes | None) -> bytes:
    if not element:
        return b""
    _, _, length, start = walker.header(element, 0)
    return element[start : start + length].rstrip(b"\0 ")


def _find_patient_id(walker: _Walker, data: bytes, pos: int) -> str:
    """The top-level Patient ID (before any change), for the date shift."""
    while pos < len(data):
        tag, vr, length, start = walker.header(data, pos)
        if tag == 0x00100020:
            return data[start : start + length].decode("latin-1").strip("\0 ")
        if tag > 0x00100020:
            return ""
        pos = walker.skip(data, vr, length, start)
    return ""


#: tags of deid.RESIDUAL_KEYWORDS (the patient's identifying attributes)
_RESIDUAL_TAGS = frozenset(int(tag_for_keyword(k) or 0) for k in RESIDUAL_KEYWORDS)


def _check_residual(walker: _Walker, body: dict[int, bytes]) -> None:
    """Leave a file whose kept elements repeat the patient's identifiers (free text such as a
    SEG's TrackingID) to the pydicom path, which cleans them; pixel data is not searched."""
    tokens = _tokens(tuple(walker.residual))
    if not tokens:
        return
    kept = b"".join(v for t, v in body.items() if t != 0x7FE00010).lower()
    if any(token in kept for token in tokens):
        raise _Unsupported


@lru_cache(maxsize=256)
def _tokens(raw_values: tuple[bytes, ...]) -> tuple[bytes, ...]:
    """The lower-cased residual tokens of these raw values (the same for every file of a
    patient's series)."""
    values = [raw.decode("latin-1").strip("\0 ") for raw in raw_values]
    return tuple(t.lower().encode("latin-1", "ignore") for t in residual_tokens(values))
