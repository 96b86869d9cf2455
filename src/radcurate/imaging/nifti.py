"""NIfTI-1 files of volumes, written slice by slice (plain or gzip-compressed, also as a stream).

The data of a NIfTI file is x fastest, then y, then z: with voxel ``array[k, j, i]``
(slice, row, column) that is each slice in C order, one after the other, so a volume
is written as it is decoded and never held whole, nor its compressed copy.
"""

from __future__ import annotations

import os
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from radcurate.optional import import_optional

if TYPE_CHECKING:
    from radcurate.imaging.volume import Volume, VolumeStream

__all__ = ["nifti_bytes", "nifti_gzip", "nifti_header", "write_nifti"]

#: 348-byte header + 4-byte extension flag (no extensions)
VOX_OFFSET = 352
#: compressed chunks are gathered up to this size before they are yielded
_CHUNK = 1 << 20


def nifti_header(shape: tuple[int, int, int], affine: Any, dtype: np.dtype[Any]) -> bytes:
    """The 352 bytes before the data: ``(x, y, z)`` = ``(columns, rows, slices)``, the RAS
    affine as qform and sform (scanner anatomical), millimetres. Needs nibabel."""
    nibabel = import_optional("nibabel", "writing NIfTI volumes")
    header = nibabel.Nifti1Header()
    header.set_data_dtype(dtype)
    header.set_data_shape((shape[2], shape[1], shape[0]))
    header.set_qform(affine, code=1)
    header.set_sform(affine, code=1)
    header.set_xyzt_units("mm")
    header["vox_offset"] = VOX_OFFSET
    header["scl_slope"] = 1.0
    header["scl_inter"] = 0.0
    block: bytes = header.binaryblock
    return block + b"\0\0\0\0"


def nifti_bytes(stream: VolumeStream) -> Iterator[bytes]:
    """The uncompressed ``.nii`` file: the header, then each slice as it is decoded.

    Raises
    ------
    ValueError
        When the stream yields a slice of another shape, or another number of slices.
    """
    yield nifti_header(stream.shape, stream.affine, stream.dtype)
    little = stream.dtype.newbyteorder("<")
    count = 0
    for plane in stream.slices():
        if plane.shape != stream.shape[1:]:
            raise ValueError(f"slice {count} has shape {plane.shape}, not {stream.shape[1:]}")
        yield np.ascontiguousarray(plane, dtype=little).tobytes()
        count += 1
    if count != stream.shape[0]:
        raise ValueError(f"the volume yielded {count} slices, not {stream.shape[0]}")


def nifti_gzip(stream: VolumeStream, compresslevel: int = 1) -> Iterator[bytes]:
    """The ``.nii.gz`` file as chunks of about 1 MiB, compressed slice by slice.

    Level 1 (nibabel's default) compresses a CT about as well as 6 at several times the speed.
    With python-isal installed (the ``nifti`` extra) Intel's ISA-L deflate does it, about four
    times faster than zlib at the same size on CT (measured: 0.65 s vs 2.5 s, 62 vs 63 MB for
    512 x 512 x 200 int16).
    """
    compressor = _gzip_compressor(compresslevel)
    pending: list[bytes] = []
    size = 0
    for raw in nifti_bytes(stream):
        out = compressor.compress(raw)
        if out:
            pending.append(out)
            size += len(out)
        if size >= _CHUNK:
            yield b"".join(pending)
            pending, size = [], 0
    pending.append(compressor.flush())
    yield b"".join(pending)


def _gzip_compressor(compresslevel: int) -> Any:
    """A gzip-wrapping deflate compressor (mtime 0, so equal input gives equal bytes): ISA-L's
    when python-isal is installed (levels 0-3), else zlib's."""
    try:
        from isal import isal_zlib
    except ImportError:
        return zlib.compressobj(compresslevel, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    level = min(max(compresslevel, 0), isal_zlib.ISAL_BEST_COMPRESSION)
    return isal_zlib.compressobj(level, isal_zlib.DEFLATED, 16 + isal_zlib.MAX_WBITS)


def write_nifti(volume: Volume | VolumeStream, path: str | Path, compresslevel: int = 1) -> Path:
    """Write a volume (or a stream, decoded slice by slice) as NIfTI-1: gzip-compressed
    when ``path`` ends in ``.gz``. The file appears whole or not at all.

    Needs nibabel (the ``nifti`` extra) for the header.
    """
    from radcurate.imaging.volume import VolumeStream

    stream = volume if isinstance(volume, VolumeStream) else VolumeStream.of(volume)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    chunks = nifti_gzip(stream, compresslevel) if target.suffix == ".gz" else nifti_bytes(stream)
    handle, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".nii")
    try:
        with os.fdopen(handle, "wb") as out:
            for chunk in chunks:
                out.write(chunk)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
