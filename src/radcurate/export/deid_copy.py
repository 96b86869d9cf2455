"""De-identified copies of large files without reading their pixel data into Python.

A CT slice is ~0.5 MB of pixel data behind a few kB of header. Reading it whole, joining the
rewritten header to it and writing it back costs three buffer copies and most of the time of a
de-identified export; here only the header goes through
:func:`radcurate.export.deid_stream.deidentify_bytes` and the Pixel Data element is copied
from file to file by the kernel (``os.copy_file_range``). The bytes written are the ones the
whole-file path writes (a test compares them).
"""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Callable
from os import PathLike
from typing import TYPE_CHECKING

from radcurate.export.deid_stream import deidentify_bytes, pixel_data_span, split_before

if TYPE_CHECKING:
    from hashlib import _Hash as Hash

    from radcurate.export.deid import DeidOptions

__all__ = ["copy_range", "deidentify_header"]

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
    copied from file to file (:func:`copy_range`), never decoded. False when the file is not
    such a file (or the fast path declines it): the caller then reads it whole. ``digest`` is
    updated with every byte written."""
    source = os.open(src, os.O_RDONLY)
    try:
        size = os.fstat(source).st_size
        if size < _SPLIT_MIN_BYTES:
            return False
        head = os.pread(source, _FIRST_READ, 0)
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
        target = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        try:
            _write_all(target, out[:cut], digest)
            copy_range(source, target, start, end - start, digest)
            _write_all(target, out[cut:], digest)
        finally:
            os.close(target)
    finally:
        os.close(source)
    return True


def _write_all(fd: int, data: bytes, digest: Hash | None) -> None:
    if digest is not None:
        digest.update(data)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


_buffers = threading.local()


def copy_range(
    src_fd: int, dst_fd: int, offset: int, count: int, digest: Hash | None = None
) -> None:
    """Append ``count`` bytes of the file ``src_fd`` from ``offset`` to ``dst_fd`` (at its
    position). Without ``digest`` the kernel copies them (``os.copy_file_range``) where the file
    systems allow it; with one, they pass once through a reused buffer that updates it (hashing
    while copying costs less than reading the file again for the manifest)."""
    done = 0
    if digest is None:
        try:
            while done < count:
                n = os.copy_file_range(src_fd, dst_fd, count - done, offset + done)
                if n == 0:
                    raise OSError(f"source ended {count - done} bytes early")
                done += n
            return
        except OSError as exc:
            if done or exc.errno not in _NO_KERNEL_COPY:
                raise
    buffer = getattr(_buffers, "buffer", None)
    if buffer is None:
        buffer = _buffers.buffer = bytearray(1 << 20)
    view = memoryview(buffer)
    while done < count:
        n = os.preadv(src_fd, [view[: min(len(buffer), count - done)]], offset + done)
        if n == 0:
            raise OSError(f"source ended {count - done} bytes early")
        if digest is not None:
            digest.update(view[:n])
        written = 0
        while written < n:
            written += os.write(dst_fd, view[written:n])
        done += n


#: errors of ``copy_file_range`` that mean "not here" (another file system, an old kernel)
_NO_KERNEL_COPY = frozenset({errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP})
