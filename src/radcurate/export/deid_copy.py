"""De-identified copies of large files without reading their pixel data into Python.

A CT slice is ~0.5 MB of pixel data behind a few kB of header. Reading it whole, joining the
rewritten header to it and writing it back costs three buffer copies and most of the time of a
de-identified export; here only the header goes through the byte-level path
(:func:`radcurate.export.deid_stream.deidentify_head`: one walk of the first 16 KiB, which
finds the Pixel Data as it rewrites what comes before), and the Pixel Data element is read from
the source file straight into the buffer the new file is assembled and hashed in, then
written past the page cache (:func:`radcurate.export.file_writer.write_file`). The bytes
written are the ones the whole-file path writes (a test compares them).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from os import PathLike
from typing import TYPE_CHECKING

from radcurate.export.deid_stream import (
    declines,
    deidentify_bytes,
    deidentify_head,
    pixel_data_span,
    split_before,
)
from radcurate.export.file_writer import SourceRange, write_file

if TYPE_CHECKING:
    from hashlib import _Hash as Hash

    from radcurate.export.deid import DeidOptions

__all__ = ["deidentify_header"]

#: files at least this large take the header path; the header must lie in the first
#: _HEAD_BYTES (a larger header reads the whole file)
_SPLIT_MIN_BYTES = 128 * 1024
_HEAD_BYTES = 256 * 1024
#: most headers end within this many bytes (read first; a longer one reads _HEAD_BYTES)
_FIRST_READ = 16 * 1024
#: elements after the pixel data (trailing padding, signatures) are rewritten too when they
#: take at most this many bytes; more reads the whole file
_TAIL_MAX_BYTES = 64 * 1024


def deidentify_header(
    src: str | PathLike[str],
    dst: str | PathLike[str],
    options: DeidOptions,
    plan: dict[int, str],
    method: list[tuple[str, str]],
    vr_of: Callable[[int], str],
    digest: Hash | None = None,
) -> bool:
    """The byte-level path for a file with a top-level Pixel Data of defined length: only the
    elements before it (and a short tail after it) are read and rewritten; the pixel data is
    copied from file to file (:func:`radcurate.export.file_writer.write_file`), never decoded.
    False when the file is not such a file (or the fast path declines it): the caller then
    reads it whole. ``digest`` is updated with every byte written.

    A header longer than the first read, or elements after the pixel data, take a second
    look: the Pixel Data found first, then what lies around it rewritten."""
    if declines(options):  # nothing to walk for: the caller's pydicom path
        return False
    source = os.open(src, os.O_RDONLY)
    try:
        size = os.fstat(source).st_size
        if size < _SPLIT_MIN_BYTES:
            return False
        head = os.pread(source, _FIRST_READ, 0)
        found = deidentify_head(head, options, plan, method, vr_of)
        if found is not None and found[2] == size:  # the common case: one walk, no tail
            header, start, end = found
            write_file(dst, [header, SourceRange(source, start, end - start)], digest)
            return True
        span = pixel_data_span(head, vr_of)
        if span is None:  # a long header: look further
            head = os.pread(source, _HEAD_BYTES, 0)
            span = pixel_data_span(head, vr_of)
        if span is None or span[1] > size or size - span[1] > _TAIL_MAX_BYTES:
            return False
        start, end = span
        tail = os.pread(source, size - end, end) if end < size else b""
        out = deidentify_bytes(head[:start] + tail, options, plan, method, vr_of)
        if out is None:
            return False
        cut = split_before(out, 0x7FE00011, vr_of) if tail else len(out)
        if cut is None:
            return False
        pixels = SourceRange(source, start, end - start)
        write_file(dst, [out[:cut], pixels, out[cut:]], digest)
    finally:
        os.close(source)
    return True
