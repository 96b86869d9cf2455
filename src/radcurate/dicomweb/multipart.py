"""``multipart/related`` bodies (RFC 2387) and ``Accept`` negotiation for DICOMweb.

Examples
--------
>>> parts = [Part(b"abc", "application/dicom")]
>>> body = b"".join(encode(parts, "BOUNDARY"))
>>> [p.data for p in decode(body, "BOUNDARY")]
[b'abc']
>>> [(a.media_type, a.params) for a in parse_accept('multipart/related; type="application/dicom"')]
[('multipart/related', {'type': 'application/dicom'})]
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

__all__ = ["AcceptItem", "Part", "decode", "encode", "new_boundary", "parse_accept", "parse_header"]


class MultipartError(ValueError):
    """A request body is not a valid multipart/related message."""


@dataclass(frozen=True)
class Part:
    """One body part: its bytes and content type (plus optional extra headers)."""

    data: bytes
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AcceptItem:
    """One media range of an ``Accept`` header."""

    media_type: str
    params: dict[str, str]
    quality: float = 1.0


def new_boundary() -> str:
    """A random boundary that never occurs by chance in DICOM data."""
    return "radcurate-" + secrets.token_hex(16)


def encode(parts: Iterable[Part], boundary: str) -> Iterator[bytes]:
    """The body of a multipart/related message, part by part (for streaming)."""
    dash = f"--{boundary}".encode("ascii")
    for part in parts:
        head = [f"Content-Type: {part.content_type}"]
        head += [f"{k}: {v}" for k, v in part.headers.items()]
        yield dash + b"\r\n" + "\r\n".join(head).encode("latin-1") + b"\r\n\r\n"
        yield part.data
        yield b"\r\n"
    yield dash + b"--\r\n"


def _split_params(text: str) -> list[str]:
    out: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == ";" and not quoted:
            out.append("".join(current))
            current = []
        else:
            current.append(char)
    out.append("".join(current))
    return out


def parse_header(value: str) -> tuple[str, dict[str, str]]:
    """A ``Content-Type``-style header: its media type (lower case) and parameters.

    Examples
    --------
    >>> parse_header('multipart/related; type="application/dicom"; boundary=XYZ')
    ('multipart/related', {'type': 'application/dicom', 'boundary': 'XYZ'})
    """
    pieces = _split_params(value)
    media = pieces[0].strip().lower()
    params: dict[str, str] = {}
    for piece in pieces[1:]:
        name, sep, raw = piece.partition("=")
        if not sep:
            continue
        raw = raw.strip()
        if len(raw) >= 2 and raw[0] == raw[-1] == '"':
            raw = raw[1:-1]
        params[name.strip().lower()] = raw
    return media, params


def _split_accept(header: str) -> list[str]:
    out: list[str] = []
    current: list[str] = []
    quoted = False
    for char in header:
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            out.append("".join(current))
            current = []
        else:
            current.append(char)
    out.append("".join(current))
    return [p for p in out if p.strip()]


def parse_accept(header: str | None) -> list[AcceptItem]:
    """The media ranges of an ``Accept`` header, best first (stable for equal quality)."""
    if not header:
        return []
    items = []
    for raw in _split_accept(header):
        media, params = parse_header(raw)
        quality = 1.0
        if "q" in params:
            try:
                quality = float(params.pop("q"))
            except ValueError:
                quality = 0.0
        if quality > 0:
            items.append(AcceptItem(media, params, quality))
    return sorted(items, key=lambda item: -item.quality)


def decode(body: bytes, boundary: str) -> list[Part]:
    """The parts of a multipart/related body.

    Raises
    ------
    MultipartError
        When the boundary never occurs or a part has no header/body separator.
    """
    delimiter = b"--" + boundary.encode("latin-1")
    start = body.find(delimiter)
    if start < 0:
        raise MultipartError(f"the body does not contain the boundary {boundary!r}")
    parts = []
    position = start + len(delimiter)
    while True:
        if body[position : position + 2] == b"--":
            break
        if body[position : position + 2] == b"\r\n":
            position += 2
        end = body.find(b"\r\n" + delimiter, position)
        if end < 0:
            raise MultipartError("the body ends inside a part (no closing boundary)")
        raw = body[position:end]
        head, sep, data = raw.partition(b"\r\n\r\n")
        if not sep:
            raise MultipartError("a body part has no blank line between its headers and content")
        headers: dict[str, str] = {}
        for line in head.decode("latin-1").split("\r\n"):
            name, colon, value = line.partition(":")
            if colon:
                headers[name.strip().lower()] = value.strip()
        content_type = headers.pop("content-type", "application/octet-stream")
        parts.append(Part(data, content_type, headers))
        position = end + 2 + len(delimiter)
    return parts
