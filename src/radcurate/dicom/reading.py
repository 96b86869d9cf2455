"""Reading DICOM headers from files: sniffing, parsing without pixel data, clear reasons."""

from __future__ import annotations

import io
import os
import struct
import time
import warnings
from pathlib import Path
from typing import BinaryIO

from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

#: Media Storage Directory Storage: a DICOMDIR, an index rather than an image
DICOMDIR_SOP_CLASS = "1.2.840.10008.1.3.10"

#: groups a data set without preamble plausibly starts with
_FIRST_GROUPS = frozenset({0x0002, 0x0008})

#: the most bytes a header (everything before the pixel data) may take
MAX_HEADER_BYTES = 64 * 1024 * 1024
#: the most seconds parsing one header may take
HEADER_TIME_LIMIT_S = 30.0
#: zero bytes read element after element (not one value) that mean padding, not a data set
_ZERO_RUN = 64 * 1024
_MIB = 1024 * 1024


class UnreadableDicomError(Exception):
    """A file that cannot be ingested; the message is the one-line reason shown to users."""


def _looks_like_raw_dataset(head: bytes) -> bool:
    """True when the first bytes look like a data set without preamble (old ACR-NEMA style)."""
    if len(head) < 8:
        return False
    group_le = struct.unpack("<H", head[:2])[0]
    group_be = struct.unpack(">H", head[:2])[0]
    return group_le in _FIRST_GROUPS or group_be in _FIRST_GROUPS


class _BoundedReader:
    """A file for pydicom that refuses to read past ``limit`` bytes or ``seconds``.

    pydicom parses element by element: a file of zeros after a few valid elements is read
    as millions of empty elements (< 3 MB/s), and an absurd length is read whole into
    memory. Every ``read`` checks the position, the clock and runs of zero bytes.
    """

    def __init__(self, handle: BinaryIO, limit: int, seconds: float) -> None:
        self.handle = handle
        self.limit = limit
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds
        self.zeros = 0
        self.zeros_from = 0

    def read(self, size: int = -1) -> bytes:
        start = self.handle.tell()
        end = os.fstat(self.handle.fileno()).st_size if size < 0 else start + size
        if end > self.limit:
            raise UnreadableDicomError(
                f"header larger than {_size(self.limit)} (a value at byte {start} "
                f"needs {end - start} bytes)"
            )
        if time.monotonic() > self.deadline:
            raise UnreadableDicomError(f"reading the header took more than {self.seconds:g} s")
        data = self.handle.read(size)
        if size <= 12 and not data.strip(b"\x00"):
            if not self.zeros:
                self.zeros_from = start
            self.zeros += len(data)
            if self.zeros > _ZERO_RUN:
                raise UnreadableDicomError(
                    f"zero bytes where data elements should be, from byte {self.zeros_from} "
                    "(a damaged or zero-padded file)"
                )
        elif data:
            self.zeros = 0
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.handle.seek(offset, whence)

    def tell(self) -> int:
        return self.handle.tell()


def _size(count: int) -> str:
    return f"{count // _MIB} MiB" if count % _MIB == 0 else f"{count} bytes"


def read_header(
    path: str | os.PathLike[str],
    *,
    max_bytes: int = MAX_HEADER_BYTES,
    time_limit_s: float = HEADER_TIME_LIMIT_S,
) -> Dataset:
    """Parse a file's header without its pixel data.

    Parameters
    ----------
    path
        The file.
    max_bytes
        The most bytes the header (everything before the pixel data) may take.
    time_limit_s
        The most seconds parsing may take.

    Raises
    ------
    UnreadableDicomError
        With a one-line reason: not DICOM, truncated, missing the UIDs that
        place it in a series, a header larger than ``max_bytes`` or slower than
        ``time_limit_s``, zero bytes where elements should be, and so on.
    """
    try:
        with open(path, "rb") as handle:
            head = handle.read(132)
            if len(head) == 0:
                raise UnreadableDicomError("empty file")
            has_marker = head[128:132] == b"DICM"
            if not has_marker and not _looks_like_raw_dataset(head):
                raise UnreadableDicomError(
                    "not a DICOM file (no 'DICM' marker and no data set at the start)"
                )
            handle.seek(0)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                bounded = _BoundedReader(handle, max_bytes, time_limit_s)
                dataset = dcmread(bounded, stop_before_pixels=True, force=not has_marker)
                # touch every top-level element now so a truncated header fails here
                _ = list(dataset.keys())
                for required in ("SOPInstanceUID", "SeriesInstanceUID", "StudyInstanceUID"):
                    dataset.get(required)
    except UnreadableDicomError:
        raise
    except InvalidDicomError as exc:
        raise UnreadableDicomError(f"not a valid DICOM file: {exc}") from exc
    except (EOFError, struct.error) as exc:
        raise UnreadableDicomError(f"truncated header: {exc or 'unexpected end of file'}") from exc
    except OSError as exc:
        raise UnreadableDicomError(f"cannot read file: {exc.strerror or exc}") from exc
    except Exception as exc:
        raise UnreadableDicomError(f"corrupt header: {type(exc).__name__}: {exc}") from exc
    return dataset


def is_dicomdir(dataset: Dataset) -> bool:
    """True for a DICOMDIR (Media Storage Directory): it indexes files, it holds no image."""
    meta = getattr(dataset, "file_meta", None)
    sop_class = getattr(meta, "MediaStorageSOPClassUID", None) if meta is not None else None
    return str(sop_class) == DICOMDIR_SOP_CLASS or "DirectoryRecordSequence" in dataset


def dicomdir_references(path: Path) -> tuple[list[Path], list[str]]:
    """Files a DICOMDIR references (resolved next to it), and the ones that are missing."""
    dataset = read_header(path)
    base = path.parent
    found: list[Path] = []
    missing: list[str] = []
    for record in dataset.get("DirectoryRecordSequence", []):
        parts = record.get("ReferencedFileID")
        if not parts:
            continue
        components = [parts] if isinstance(parts, str) else list(parts)
        target = base.joinpath(*[str(c) for c in components])
        if target.is_file():
            found.append(target)
        else:
            # DICOMDIRs are written in upper case; filesystems may differ
            alt = _case_insensitive(base, [str(c) for c in components])
            if alt is not None:
                found.append(alt)
            else:
                missing.append(str(target))
    return found, missing


def _case_insensitive(base: Path, components: list[str]) -> Path | None:
    current = base
    for part in components:
        try:
            names = {p.name.upper(): p for p in current.iterdir()}
        except OSError:
            return None
        nxt = names.get(part.upper())
        if nxt is None:
            return None
        current = nxt
    return current if current.is_file() else None


def syntax_of_bytes(data: bytes) -> str | None:
    """The transfer syntax a Part 10 file's meta information names (None: none found).

    Examples
    --------
    >>> from pydicom.data import get_testdata_file
    >>> syntax_of_bytes(open(get_testdata_file("MR_small_RLE.dcm"), "rb").read())
    '1.2.840.10008.1.2.5'
    """
    try:
        meta = dcmread(io.BytesIO(data), stop_before_pixels=True, force=True).file_meta
    except Exception:  # noqa: BLE001 - not a Part 10 file: no syntax to name
        return None
    syntax = getattr(meta, "TransferSyntaxUID", None)
    return str(syntax) if syntax else None
