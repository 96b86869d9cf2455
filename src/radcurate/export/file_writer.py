"""Writing an export's files: assembled once in memory, hashed, written past the page cache.

An export writes every file once and never reads it back; routing its gigabytes through the
page cache costs the kernel a fresh page for every 4 kB written (and a virtual machine whose
free memory goes back to its host a host fault for each: on the 2-core benchmark machine that
was 1.2-1.6 CPU ms for a 0.5 MB slice, against 0.45 ms direct; docs/architecture.md, "Export
speed"). So a file of up to :data:`ASSEMBLE_MAX_BYTES` is assembled in a reused, page-aligned
buffer of its thread (header bytes, then the pixel data read from the source file straight into
it), hashed there in one pass, and its whole 4 kB blocks written with ``O_DIRECT`` (the last
partial block through the page cache). Where the file system refuses ``O_DIRECT`` (tmpfs,
some network file systems, platforms without it) or ``RADCURATE_EXPORT_DIRECT_IO=0`` is set,
the same bytes are written through the page cache. The bytes on disk are the same either
way (a test compares).
"""

from __future__ import annotations

import errno
import mmap
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from os import PathLike
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hashlib import _Hash as Hash

__all__ = ["ASSEMBLE_MAX_BYTES", "SourceRange", "direct_io_enabled", "write_file"]

#: files up to this size are assembled in memory and written direct; larger ones are streamed
#: through the page cache in 1 MiB pieces (a multi-frame series is rare, a CT slice is 0.5 MB)
ASSEMBLE_MAX_BYTES = 32 * 1024 * 1024
#: O_DIRECT wants buffer, offset and length aligned to the device's logical block (512 B or
#: 4 kB); 4 kB satisfies both
_ALIGN = 4096
#: errors meaning "this file system does not take O_DIRECT (or this alignment)"
_NO_DIRECT = frozenset({errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP})
#: errors of ``copy_file_range`` that mean "not here" (another file system, an old kernel)
_NO_KERNEL_COPY = frozenset({errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP})

_O_DIRECT: int = getattr(os, "O_DIRECT", 0)
_local = threading.local()
#: devices (``st_dev``) found to refuse O_DIRECT: written through the page cache from then on
_buffered_devices: set[int] = set()


@dataclass(frozen=True, slots=True)
class SourceRange:
    """``count`` bytes of the open file ``fd`` from ``offset`` (read, never decoded)."""

    fd: int
    offset: int
    count: int


def direct_io_enabled() -> bool:
    """Whether export files may be written past the page cache (``RADCURATE_EXPORT_DIRECT_IO``,
    default on where the platform has ``O_DIRECT``)."""
    return bool(_O_DIRECT) and os.environ.get("RADCURATE_EXPORT_DIRECT_IO", "1") != "0"


def write_file(
    path: str | PathLike[str], parts: Sequence[bytes | SourceRange], digest: Hash | None = None
) -> None:
    """Write the concatenation of ``parts`` (bytes, or ranges of open source files) as the
    new file ``path``; ``digest`` is updated with every byte written."""
    total = sum(p.count if isinstance(p, SourceRange) else len(p) for p in parts)
    if total > ASSEMBLE_MAX_BYTES:
        _stream(path, parts, digest)
        return
    view = _assemble(parts, total)
    if digest is not None:
        digest.update(view[:total])
    if direct_io_enabled() and _write_direct(path, view, total):
        return
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    try:
        _write_all(fd, view[:total])
    finally:
        os.close(fd)


def _assemble(parts: Sequence[bytes | SourceRange], total: int) -> memoryview:
    """The parts, read into this thread's aligned buffer (grown as needed)."""
    size = max(_ALIGN, -(-total // _ALIGN) * _ALIGN)
    buffer: mmap.mmap | None = getattr(_local, "buffer", None)
    if buffer is None or len(buffer) < size:
        if buffer is not None:
            buffer.close()
        buffer = _local.buffer = mmap.mmap(-1, max(size, 1 << 20))
    view = memoryview(buffer)
    pos = 0
    for part in parts:
        if isinstance(part, SourceRange):
            done = 0
            while done < part.count:
                n = os.preadv(part.fd, [view[pos + done : pos + part.count]], part.offset + done)
                if n == 0:
                    raise OSError(f"source ended {part.count - done} bytes early")
                done += n
            pos += part.count
        else:
            view[pos : pos + len(part)] = part
            pos += len(part)
    return view


def _write_direct(path: str | PathLike[str], view: memoryview, total: int) -> bool:
    """Write ``view[:total]`` past the page cache: its whole blocks with ``O_DIRECT``, the
    last partial block (under 4 kB) through the page cache on the same descriptor (truncating
    a padded block instead costs more than the write). False (nothing left behind that
    matters: the caller rewrites the file) where this file system refuses it."""
    whole = total // _ALIGN * _ALIGN
    if not whole:
        return False
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _O_DIRECT, 0o666)
    except OSError as exc:
        if exc.errno in _NO_DIRECT:
            return False
        raise
    try:
        if _buffered_devices and os.fstat(fd).st_dev in _buffered_devices:
            return False
        written = 0
        while written < whole:
            n = os.write(fd, view[written:whole])
            if n <= 0 or n % _ALIGN:
                raise OSError(errno.EIO, f"short direct write ({written + n} of {whole})")
            written += n
        if whole != total:
            import fcntl  # POSIX only, as O_DIRECT

            # the descriptor's other status flags (O_APPEND, O_NONBLOCK...) were never set:
            # clearing them all clears O_DIRECT without asking for them first
            fcntl.fcntl(fd, fcntl.F_SETFL, 0)
            _write_all(fd, view[whole:total])
    except OSError as exc:
        if exc.errno not in _NO_DIRECT:
            raise
        _buffered_devices.add(os.fstat(fd).st_dev)
        return False
    finally:
        os.close(fd)
    return True


def _stream(
    path: str | PathLike[str], parts: Sequence[bytes | SourceRange], digest: Hash | None
) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    try:
        for part in parts:
            if isinstance(part, SourceRange):
                copy_range(part.fd, fd, part.offset, part.count, digest)
            else:
                if digest is not None:
                    digest.update(part)
                _write_all(fd, memoryview(part))
    finally:
        os.close(fd)


def _write_all(fd: int, view: memoryview) -> None:
    while view:
        view = view[os.write(fd, view) :]


def copy_range(
    src_fd: int, dst_fd: int, offset: int, count: int, digest: Hash | None = None
) -> None:
    """Append ``count`` bytes of the file ``src_fd`` from ``offset`` to ``dst_fd`` (at its
    position). Without ``digest`` the kernel copies them (``os.copy_file_range``) where the file
    systems allow it; with one, they pass once through a reused buffer that updates it."""
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
    buffer = getattr(_local, "stream", None)
    if buffer is None:
        buffer = _local.stream = bytearray(1 << 20)
    view = memoryview(buffer)
    while done < count:
        n = os.preadv(src_fd, [view[: min(len(buffer), count - done)]], offset + done)
        if n == 0:
            raise OSError(f"source ended {count - done} bytes early")
        if digest is not None:
            digest.update(view[:n])
        _write_all(dst_fd, view[:n])
        done += n
