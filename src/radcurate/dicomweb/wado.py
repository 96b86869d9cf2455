"""WADO-RS (PS3.18 §10.4): instances, metadata, frames, bulk data and rendered images.

Transfer syntaxes: instances and frames are answered as stored unless the
client asks for another syntax; the only conversion offered is decoding
compressed frames to Explicit VR Little Endian (the default for
``application/octet-stream``). Each part's ``Content-Type`` names its syntax.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydicom.dataset import Dataset
from pydicom.encaps import generate_frames
from pydicom.uid import UID

from radcurate.dicom.instance import InstanceRecord
from radcurate.dicomweb.dicomjson import dataset_to_json
from radcurate.dicomweb.multipart import AcceptItem, parse_accept
from radcurate.dicomweb.sources import instance_bytes, read_instance

__all__ = [
    "EXPLICIT_LE",
    "FramesTooLargeError",
    "NotAcceptableError",
    "choose_frame_syntax",
    "frame_media_type",
    "frames",
    "instance_metadata",
]

EXPLICIT_LE = "1.2.840.10008.1.2.1"
IMPLICIT_LE = "1.2.840.10008.1.2"
DEFLATED_LE = "1.2.840.10008.1.2.1.99"
#: compressed transfer syntax -> the media type of its frames (PS3.18 Table 8.7.3-2)
FRAME_MEDIA = {
    "1.2.840.10008.1.2.4.50": "image/jpeg",
    "1.2.840.10008.1.2.4.51": "image/jpeg",
    "1.2.840.10008.1.2.4.57": "image/jpeg",
    "1.2.840.10008.1.2.4.70": "image/jpeg",
    "1.2.840.10008.1.2.4.80": "image/jls",
    "1.2.840.10008.1.2.4.81": "image/jls",
    "1.2.840.10008.1.2.4.90": "image/jp2",
    "1.2.840.10008.1.2.4.91": "image/jp2",
    "1.2.840.10008.1.2.4.92": "image/jpx",
    "1.2.840.10008.1.2.4.93": "image/jpx",
    "1.2.840.10008.1.2.4.201": "image/jphc",
    "1.2.840.10008.1.2.4.202": "image/jphc",
    "1.2.840.10008.1.2.4.203": "image/jphc",
    "1.2.840.10008.1.2.5": "image/dicom-rle",
}
_MEDIA_ALIASES = {"image/x-dicom-rle": "image/dicom-rle", "image/x-jls": "image/jls"}
#: syntaxes whose pixel data bytes are little-endian native values, as Explicit VR LE has them
_NATIVE_LE = frozenset({EXPLICIT_LE, IMPLICIT_LE, DEFLATED_LE})


class NotAcceptableError(ValueError):
    """None of the media types the client accepts can be produced (a 406)."""


@dataclass(frozen=True)
class FrameChoice:
    """How frames are answered: the syntax, whether they are decoded, the part media type."""

    syntax: str
    decode: bool
    media_type: str


def frame_media_type(syntax: str, requested: str = "application/octet-stream") -> str:
    """The part ``Content-Type`` of frames in ``syntax``."""
    return f"{requested}; transfer-syntax={syntax}"


def _is_native(syntax: str) -> bool:
    return syntax in _NATIVE_LE or syntax == "1.2.840.10008.1.2.2"


def choose_frame_syntax(accept: str | None, stored: str) -> FrameChoice:
    """Negotiate the frames' transfer syntax from an ``Accept`` header.

    Examples
    --------
    >>> star = 'multipart/related; type="application/octet-stream"; transfer-syntax=*'
    >>> choose_frame_syntax(star, "1.2.840.10008.1.2.4.90").syntax
    '1.2.840.10008.1.2.4.90'
    >>> choose_frame_syntax(None, "1.2.840.10008.1.2.4.90").decode
    True
    """
    items = parse_accept(accept) or [AcceptItem("multipart/related", {})]
    for item in items:
        choice = _frame_choice(item, stored)
        if choice is not None:
            return choice
    raise NotAcceptableError(
        f"the frames are stored as {stored} ({UID(stored).name}); this server offers them as "
        f"stored (transfer-syntax=*) or decoded (application/octet-stream; "
        f"transfer-syntax={EXPLICIT_LE}), not as {accept!r}"
    )


def _frame_choice(item: AcceptItem, stored: str) -> FrameChoice | None:
    if item.media_type in ("multipart/related", "*/*", "multipart/*"):
        media = item.params.get("type", "application/octet-stream").lower()
    else:
        media = item.media_type
    media = _MEDIA_ALIASES.get(media, media)
    wanted = item.params.get("transfer-syntax")
    if media in ("application/octet-stream", "*/*", "application/*"):
        if wanted == "*":
            if _is_native(stored) and stored != "1.2.840.10008.1.2.2":
                return FrameChoice(EXPLICIT_LE, False, "application/octet-stream")
            if stored == "1.2.840.10008.1.2.2":
                return FrameChoice(EXPLICIT_LE, True, "application/octet-stream")
            return FrameChoice(stored, False, FRAME_MEDIA.get(stored, "application/octet-stream"))
        if wanted in (None, EXPLICIT_LE):
            return FrameChoice(EXPLICIT_LE, stored not in _NATIVE_LE, "application/octet-stream")
        if wanted == stored and stored in FRAME_MEDIA:
            return FrameChoice(stored, False, "application/octet-stream")
        return None
    if FRAME_MEDIA.get(stored) == media and wanted in (None, "*", stored):
        return FrameChoice(stored, False, media)
    return None


def _frame_count(ds: Dataset) -> int:
    try:
        return max(1, int(ds.get("NumberOfFrames", 1) or 1))
    except (TypeError, ValueError):
        return 1


def _native_frame_size(ds: Dataset) -> int:
    bits = int(ds.BitsAllocated)
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    pixels = int(ds.Rows) * int(ds.Columns) * samples
    return (pixels * bits + 7) // 8


class FramesTooLargeError(Exception):
    """The frames asked for would make an answer over the server's byte cap."""


def _check_size(total: int, max_bytes: int | None) -> None:
    if max_bytes is not None and total > max_bytes:
        raise FramesTooLargeError(
            f"the frames asked for make {total} bytes, over this server's cap of {max_bytes} "
            "bytes for one answer: ask for fewer frames at a time"
        )


def frames(
    location: str,
    numbers: Sequence[int],
    choice: FrameChoice,
    max_bytes: int | None = None,
) -> list[bytes]:
    """The bytes of frames ``numbers`` (1-based) of an instance.

    Parameters
    ----------
    max_bytes
        The most bytes of frames one answer may hold; checked before any frame is
        copied or decoded (decoded sizes from Rows, Columns, Samples and Bits Allocated).

    Raises
    ------
    IndexError
        When a frame number is out of range.
    ValueError
        When the instance has no pixel data or cannot be decoded.
    FramesTooLargeError
        When the frames would make more than ``max_bytes``.
    """
    ds = read_instance(location, pixels=True)
    if "PixelData" not in ds:
        raise ValueError("the instance has no pixel data")
    count = _frame_count(ds)
    for number in numbers:
        if not 1 <= number <= count:
            raise IndexError(f"frame {number} does not exist: the instance has {count} frame(s)")
    syntax = str(ds.file_meta.TransferSyntaxUID)
    if choice.decode:
        _check_size(_native_frame_size(ds) * len(numbers), max_bytes)
        return [_decoded(ds, n - 1, count) for n in numbers]
    data = ds.PixelData
    if ds["PixelData"].is_undefined_length or syntax in FRAME_MEDIA:
        encoded = list(generate_frames(data, number_of_frames=count))
        _check_size(sum(len(encoded[n - 1]) for n in numbers), max_bytes)
        return [encoded[n - 1] for n in numbers]
    size = _native_frame_size(ds)
    _check_size(size * len(numbers), max_bytes)
    if int(ds.BitsAllocated) == 1:
        # bit-packed frames need not start on a byte boundary: decode and repack
        return [_decoded(ds, n - 1, count) for n in numbers]
    return [bytes(data[(n - 1) * size : n * size]) for n in numbers]


def _decoded(ds: Dataset, index: int, count: int) -> bytes:
    from pydicom.pixels.utils import pack_bits, pixel_array

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            array = pixel_array(ds, index=index if count > 1 else None)
        except Exception as exc:
            raise ValueError(f"cannot decode the pixel data: {exc}") from exc
    if int(ds.BitsAllocated) == 1:
        return bytes(pack_bits(array, pad=False))
    bits = int(ds.BitsAllocated)
    dtype = {8: "u1", 16: "u2", 32: "u4", 64: "u8"}.get(bits, "u2")
    signed = int(ds.get("PixelRepresentation", 0) or 0) == 1
    kind = ("<i" if signed else "<u") + dtype[1:]
    return np.ascontiguousarray(array).astype(kind, copy=False).tobytes()


def instance_metadata(record: InstanceRecord, instance_url: str) -> dict[str, Any]:
    """The DICOM JSON metadata of one instance; bulk data by URI under ``instance_url``."""
    ds = read_instance(record.location, pixels=False)

    def bulk(path: str) -> str:
        return f"{instance_url}/bulkdata/{path}"

    out = dataset_to_json(ds, bulk)
    meta = getattr(ds, "file_meta", None)
    syntax = str(getattr(meta, "TransferSyntaxUID", "") or record.transfer_syntax or "")
    if record.rows or record.frames or _may_have_pixels(ds):
        encapsulated = bool(syntax) and not _is_native(syntax)
        bits = int(ds.get("BitsAllocated", 16) or 16)
        vr = "OB" if encapsulated or bits <= 8 else "OW"
        out["7FE00010"] = {"vr": vr, "BulkDataURI": f"{instance_url}/frames/{_frame_list(ds)}"}
    if syntax:
        # the stored syntax, as Orthanc and dcm4chee report it (group 0002 is otherwise left out)
        out["00020010"] = {"vr": "UI", "Value": [syntax]}
    return dict(sorted(out.items()))


def _may_have_pixels(ds: Dataset) -> bool:
    return "Rows" in ds and "Columns" in ds and "BitsAllocated" in ds


def _frame_list(ds: Dataset) -> str:
    return ",".join(str(n) for n in range(1, _frame_count(ds) + 1))


def bulkdata(location: str, path: str) -> tuple[bytes, str]:
    """The value of a binary element by its tag path (``7FE00010``, ``00540016/0/00181072``)."""
    ds = read_instance(location, pixels=True)
    element: Any = None
    current: Any = ds
    steps = path.strip("/").split("/")
    try:
        for position, step in enumerate(steps):
            if position % 2 == 0:
                element = current[int(step, 16)]
                current = element.value
            else:
                current = current[int(step)]
    except (KeyError, ValueError, IndexError, TypeError):
        raise KeyError(f"no bulk data at {path!r}") from None
    if element is None or not isinstance(element.value, (bytes, bytearray)):
        raise KeyError(f"{path!r} is not a binary element")
    return bytes(element.value), str(ds.file_meta.TransferSyntaxUID)


def rendered(
    location: str, frame: int | None, accept: str | None, size: int | None = None
) -> tuple[bytes, str]:
    """A frame as a consumer picture (JPEG unless PNG is preferred), windowed as the header says."""
    from radcurate.imaging.frames import decode_frame, frame_attributes, frame_count
    from radcurate.imaging.pixels import to_display
    from radcurate.render.canvas import pil

    media = "image/jpeg"
    for item in parse_accept(accept):
        if item.media_type in ("image/png", "image/jpeg"):
            media = item.media_type
            break
        if item.media_type == "image/gif":
            media = "image/png"
            break
    ds = read_instance(location, pixels=True)
    count = frame_count(ds)
    index = (frame - 1) if frame is not None else count // 2
    if not 0 <= index < count:
        raise IndexError(f"frame {frame} does not exist: the instance has {count} frame(s)")
    pixels = decode_frame(ds, index, location if not location.startswith("http") else None)
    if pixels.ndim == 3 and pixels.shape[-1] not in (3, 4):
        pixels = pixels[0]
    display = to_display(
        pixels, ds, frame_attributes(ds, index), modality=str(ds.get("Modality", ""))
    )
    image = pil().fromarray(display.pixels)
    if size:
        image.thumbnail((size, size))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG" if media == "image/png" else "JPEG", quality=90)
    return buffer.getvalue(), media


def retrieve_syntax_ok(accept: str | None, stored: str | None) -> bool:
    """Whether whole instances in ``stored`` syntax satisfy the ``Accept`` header."""
    items = parse_accept(accept)
    if not items:
        return True
    for item in items:
        media = item.params.get("type", "application/dicom").lower()
        if item.media_type in ("*/*", "application/dicom"):
            media = "application/dicom"
        if item.media_type not in ("multipart/related", "*/*", "application/dicom", "multipart/*"):
            continue
        if media not in ("application/dicom", "*/*"):
            continue
        wanted = item.params.get("transfer-syntax", "*")
        if wanted == "*" or wanted == stored or stored is None:
            return True
        if wanted == EXPLICIT_LE and stored in _NATIVE_LE:
            return True
    return False


def instance_file(record: InstanceRecord) -> bytes:
    """The stored file of an instance."""
    return instance_bytes(record.location)
