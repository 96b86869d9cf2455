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

import os
import secrets
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "AcceptItem",
    "FilePart",
    "Part",
    "decode",
    "encode",
    "new_boundary",
    "parse_accept",
    "parse_header",
    "split_file",
]

#: bytes read at a time when a body on disk is scanned or copied
CHUNK = 1 << 20
#: the most bytes of headers one body part may have
MAX_PART_HEADER = 16 << 10


class MultipartError(ValueError):
    """A request body is not a valid multipart/related message."""


@dataclass(frozen=True)
class Part:
    """One body part: its bytes and content type (plus optional extra headers)."""

    data: bytes
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FilePart:
    """One body part copied to its own file (see :func:`split_file`)."""

    path: Path
    content_type: str
    size: int
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


def _find_all(path: Path, needle: bytes, *, first_only: bool = False) -> list[int]:
    """Where ``needle`` starts in the file, scanning it a chunk at a time."""
    found: list[int] = []
    carry = b""
    consumed = 0  # offset of ``carry[0]`` in the file
    with path.open("rb") as handle:
        while True:
            chunk = handle.read(CHUNK)
            window = carry + chunk
            start = 0
            while (hit := window.find(needle, start)) >= 0:
                found.append(consumed + hit)
                start = hit + len(needle)
                if first_only:
                    return found
            if not chunk:
                return found
            keep = min(len(needle) - 1, len(window) - start)  # a needle may straddle chunks
            consumed += len(window) - keep
            carry = window[len(window) - keep :]


def _copy_range(source: Path, start: int, end: int, folder: Path) -> Path:
    fd, name = tempfile.mkstemp(dir=folder, prefix=".stow-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, source.open("rb") as handle:
            handle.seek(start)
            left = end - start
            while left > 0:
                chunk = handle.read(min(CHUNK, left))
                if not chunk:
                    raise MultipartError("the body ended early")
                out.write(chunk)
                left -= len(chunk)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name)


def split_file(path: Path, boundary: str, folder: Path) -> list[FilePart]:
    """The parts of a multipart/related body held in a file, each copied to a file in
    ``folder``; memory stays at a chunk or two whatever the size of the body.

    The caller deletes the part files (also when this raises: none are left then).

    Raises
    ------
    MultipartError
        As :func:`decode`, or when a part's headers are longer than 16 KiB.
    """
    needle = b"\r\n--" + boundary.encode("latin-1")
    first = _find_all(path, needle[2:], first_only=True)  # the first one needs no CRLF
    if not first:
        raise MultipartError(f"the body does not contain the boundary {boundary!r}")
    # positions as if each delimiter began with CRLF
    hits = [first[0] - 2] + [h for h in _find_all(path, needle) if h + 2 > first[0]]
    size = path.stat().st_size
    parts: list[FilePart] = []
    try:
        with path.open("rb") as handle:
            for index, hit in enumerate(hits):
                position = hit + len(needle)  # just after the delimiter, in the file
                handle.seek(position)
                head = handle.read(MAX_PART_HEADER + 4)
                if head[:2] == b"--":
                    return parts
                if index + 1 == len(hits):
                    raise MultipartError("the body ends inside a part (no closing boundary)")
                if head[:2] == b"\r\n":
                    position += 2
                    head = head[2:]
                end = hits[index + 1]
                head = head[: max(0, end - position)]
                headers_end = head.find(b"\r\n\r\n")
                if headers_end < 0:
                    if end - position > MAX_PART_HEADER:
                        raise MultipartError("a body part has headers longer than 16 KiB")
                    raise MultipartError(
                        "a body part has no blank line between its headers and content"
                    )
                headers: dict[str, str] = {}
                for line in head[:headers_end].decode("latin-1").split("\r\n"):
                    name, colon, value = line.partition(":")
                    if colon:
                        headers[name.strip().lower()] = value.strip()
                content_type = headers.pop("content-type", "application/octet-stream")
                start = position + headers_end + 4
                copied = _copy_range(path, start, min(end, size), folder)
                parts.append(FilePart(copied, content_type, end - start, headers))
    except BaseException:
        for part in parts:
            part.path.unlink(missing_ok=True)
        raise
    raise MultipartError("the body ends inside a part (no closing boundary)")
