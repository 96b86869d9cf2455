"""Reading instances: files, frames (also JPEG 2000 at reduced resolution), per-frame
attributes, geometric order."""

from __future__ import annotations

import io
import math
import warnings
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.encaps import get_frame
from pydicom.pixels.utils import pixel_array
from pydicom.uid import UID

from radcurate.dicom.geometry import position_along, slice_normal
from radcurate.dicom.instance import InstanceRecord
from radcurate.imaging.codecs import decode_failure
from radcurate.imaging.errors import UndecodableError
from radcurate.optional import import_optional

__all__ = [
    "J2K_SYNTAXES",
    "decode_frame",
    "decode_frame_reduced",
    "frame_attributes",
    "frame_count",
    "frame_order",
    "local_path",
    "ordered_instances",
    "read_dataset",
    "reduction_for",
]

#: files larger than this are read header-first and decoded one frame at a time
LARGE_FILE = 16 << 20

#: attributes copied into the flat per-frame view of a data set
_FRAME_KEYWORDS = (
    "PhotometricInterpretation",
    "BitsAllocated",
    "BitsStored",
    "PixelRepresentation",
    "SamplesPerPixel",
    "Rows",
    "Columns",
    "RescaleSlope",
    "RescaleIntercept",
    "RescaleType",
    "ModalityLUTSequence",
    "WindowCenter",
    "WindowWidth",
    "VOILUTFunction",
    "VOILUTSequence",
    "PixelSpacing",
    "ImagerPixelSpacing",
    "ImagePositionPatient",
    "ImageOrientationPatient",
    "PresentationLUTShape",
)
#: functional-group macros whose attributes apply to a frame
_GROUP_MACROS = (
    "PixelValueTransformationSequence",
    "FrameVOILUTSequence",
    "PixelMeasuresSequence",
    "PlanePositionSequence",
    "PlaneOrientationSequence",
)


def local_path(location: str) -> str:
    """The file path of an instance location (``file://`` URLs accepted)."""
    return location[len("file://") :] if location.startswith("file://") else location


def read_dataset(location: str, *, pixels: bool = True) -> Dataset:
    """Read an instance; large files are read without their pixel data (decoded per frame).

    Raises
    ------
    UndecodableError
        When the file cannot be read as DICOM.
    """
    source: Any = local_path(location)
    if location.startswith(("http://", "https://")):  # an instance kept in a PACS (WADO-RS)
        from radcurate.storage.locations import read_location

        try:
            source = io.BytesIO(read_location(location))
        except OSError as exc:
            raise UndecodableError(f"cannot fetch the instance from the PACS: {exc}") from exc
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if not pixels:
                return dcmread(source, stop_before_pixels=True)
            ds = dcmread(source, defer_size=LARGE_FILE)
    except Exception as exc:  # any parse failure is a reason, not a crash
        raise UndecodableError(f"cannot read the file: {exc}") from exc
    return ds


def frame_count(ds: Dataset) -> int:
    """NumberOfFrames (1 when absent or invalid)."""
    try:
        return max(1, int(ds.get("NumberOfFrames", 1) or 1))
    except (TypeError, ValueError):
        return 1


def _syntax(ds: Dataset) -> str | None:
    meta = getattr(ds, "file_meta", None)
    uid = getattr(meta, "TransferSyntaxUID", None) if meta is not None else None
    return str(uid) if uid else None


def _bits(ds: Dataset) -> int | None:
    value = ds.get("BitsStored")
    return value if isinstance(value, int) else None


def _syntax_name(ds: Dataset) -> str:
    uid = _syntax(ds)
    return UID(uid).name if uid else "unknown transfer syntax"


def _bit_packed_frame(ds: Dataset, index: int, location: str | None
                      ) -> npt.NDArray[np.uint8] | None:  # fmt: skip
    """Frame ``index`` of native 1-bit multi-frame pixel data whose frames do not fill whole
    bytes, or None for any other pixel data.

    Such frames follow one another bit by bit (PS3.5 8.1.1: a frame may start inside a byte),
    and pydicom 3.0 decodes every frame but the first wrongly (pydicom#2134, fixed after
    3.0.2 by #2140): a BINARY Segmentation of 91 x 117 frames fails from its second frame.
    ``location`` is where to read the pixel data when ``ds`` was read without it.
    """
    syntax = _syntax(ds)
    if ds.get("BitsAllocated") != 1 or frame_count(ds) < 2 or syntax is None:
        return None
    if UID(syntax).is_compressed:
        return None
    rows, columns = int(ds.Rows), int(ds.Columns)
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    count = rows * columns * samples
    if count % 8 == 0:
        return None
    data = dcmread(local_path(location)).PixelData if location is not None else ds.PixelData
    start = index * count
    end = (start + count + 7) // 8
    if end > len(data):
        raise ValueError(f"there is not enough pixel data for frame {index + 1}")
    chunk = np.frombuffer(data, dtype=np.uint8, count=end - start // 8, offset=start // 8)
    bits = np.unpackbits(chunk, bitorder="little")[start % 8 : start % 8 + count]
    shape = (rows, columns) if samples == 1 else (rows, columns, samples)
    return bits.reshape(shape)


def decode_frame(ds: Dataset, index: int, location: str | None = None) -> npt.NDArray[Any]:
    """Decode frame ``index`` of ``ds`` (YBR converted to RGB; stored values otherwise).

    Only that frame is decoded; when ``ds`` was read with deferred pixel data the
    frame is read from ``location``.

    Raises
    ------
    UndecodableError
        Missing or truncated pixel data, an unsupported transfer syntax, ...
    """
    if not any(k in ds for k in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")):
        raise UndecodableError("the object has no pixel data")
    frames = frame_count(ds)
    if not 0 <= index < frames:
        raise IndexError(f"frame {index} out of range (0..{frames - 1})")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            item = ds.get_item("PixelData") if "PixelData" in ds else None
            deferred = item is not None and getattr(item, "value", b"") is None
            which = index if frames > 1 else None
            packed = _bit_packed_frame(ds, index, location if deferred else None)
            if packed is not None:
                return packed
            if deferred and location is not None:
                return pixel_array(local_path(location), index=which)
            return pixel_array(ds, index=which)
    except Exception as exc:  # every decoder failure becomes a reason
        text = decode_failure(exc, _syntax(ds), _bits(ds))
        raise UndecodableError(
            f"cannot decode the pixel data ({_syntax_name(ds)}): {text}"
        ) from exc


#: JPEG 2000 (lossless, lossy) and HTJ2K transfer syntaxes: decodable at reduced resolution
J2K_SYNTAXES = frozenset(
    {
        "1.2.840.10008.1.2.4.90",
        "1.2.840.10008.1.2.4.91",
        "1.2.840.10008.1.2.4.201",
        "1.2.840.10008.1.2.4.202",
        "1.2.840.10008.1.2.4.203",
    }
)
#: Pillow's grey modes for J2K codestreams -> the bit depth its decoder scales values to
_PIL_GREY_BITS = {"L": 8, "I;16": 16, "I;16L": 16}


def _decomposition_levels(codestream: bytes) -> int | None:
    """Wavelet decomposition levels from the main header's COD segment (``None``: not found)."""
    start = codestream.find(b"\xff\x4f\xff\x51")  # SOC, SIZ (also inside a JP2 box)
    if start < 0:
        return None
    at = start + 2
    while at + 4 <= len(codestream):
        marker = codestream[at : at + 2]
        length = int.from_bytes(codestream[at + 2 : at + 4], "big")
        if marker == b"\xff\x52":  # COD: Lcod, Scod, SGcod (4 bytes), then the levels
            return codestream[at + 9] if at + 9 < len(codestream) else None
        if marker in (b"\xff\x90", b"\xff\x93") or marker[0] != 0xFF:  # SOT/SOD: past header
            return None
        at += 2 + length
    return None


def reduction_for(rows: int, columns: int, size: int, spacing: Sequence[float] | None) -> int:
    """The largest power-of-two reduction ``r`` whose picture still fills ``size`` pixels.

    The extent is measured as :func:`~radcurate.render.canvas.fit` draws it (rows
    stretched by the PixelSpacing ratio), so fitting never enlarges a reduced frame.
    """
    ratio = 1.0
    if spacing is not None and len(spacing) == 2 and spacing[0] > 0 and spacing[1] > 0:
        ratio = float(spacing[0]) / float(spacing[1])
    r = 0
    while True:
        power = 1 << (r + 1)
        width, height = math.ceil(columns / power), math.ceil(rows / power)
        if max(width, height * ratio) < size or min(width, height) < 8:
            return r
        r += 1


def _codestream(ds: Dataset, index: int, location: str | None) -> bytes:
    """The encapsulated codestream of frame ``index`` (read from the file when deferred)."""
    frames = frame_count(ds)
    offsets: tuple[bytes, bytes] | None = None
    if "ExtendedOffsetTable" in ds and "ExtendedOffsetTableLengths" in ds:
        offsets = (bytes(ds.ExtendedOffsetTable), bytes(ds.ExtendedOffsetTableLengths))
    item = ds.get_item("PixelData")
    if item is not None and getattr(item, "value", b"") is None:
        if location is None:
            raise ValueError("deferred pixel data without a file location")
        with open(local_path(location), "rb") as handle:
            handle.seek(int(getattr(item, "value_tell")))  # noqa: B009 - RawDataElement
            return get_frame(handle, index, extended_offsets=offsets, number_of_frames=frames)
    return get_frame(ds.PixelData, index, extended_offsets=offsets, number_of_frames=frames)


def decode_frame_reduced(
    ds: Dataset,
    index: int,
    location: str | None,
    size: int,
) -> tuple[npt.NDArray[Any], int] | None:
    """Frame ``index`` of a grey JPEG 2000 object decoded at reduced resolution.

    The codestream's resolution level ``r`` (each level halves both axes) is the
    coarsest one whose picture still fills ``size`` pixels; the values are the
    stored values of the frame's low-pass image (the same Modality LUT and VOI
    apply), and the picture covers the same field of view as the full frame.

    Returns
    -------
    (pixels, r) or None
        ``None`` when the object is not grey JPEG 2000, reducing gains nothing, or
        anything fails (the caller then decodes at full resolution).
    """
    meta = getattr(ds, "file_meta", None)
    syntax = str(getattr(meta, "TransferSyntaxUID", "") or "") if meta is not None else ""
    if syntax not in J2K_SYNTAXES or "PixelData" not in ds:
        return None
    try:
        attrs = frame_attributes(ds, index)
        if int(attrs.get("SamplesPerPixel", 1) or 1) != 1:
            return None
        if str(attrs.get("PhotometricInterpretation", "")).upper() not in (
            "MONOCHROME1",
            "MONOCHROME2",
        ):
            return None
        rows, columns = int(attrs.Rows), int(attrs.Columns)
        spacing = attrs.get("PixelSpacing") or attrs.get("ImagerPixelSpacing")
        reduce = reduction_for(rows, columns, size, spacing)
        if reduce < 1:
            return None
        codestream = _codestream(ds, index, location)
        levels = _decomposition_levels(codestream)
        if levels is not None:
            reduce = min(reduce, levels)
        if reduce < 1:
            return None
        return _pil_decode(
            codestream, reduce, rows, columns, int(attrs.PixelRepresentation)
        ), reduce
    except Exception:  # noqa: BLE001 - any failure: decode at full resolution instead
        return None


def _pil_decode(
    codestream: bytes, reduce: int, rows: int, columns: int, representation: int
) -> npt.NDArray[Any]:
    pil = import_optional("PIL.Image", "decoding JPEG 2000 at reduced resolution")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        image = pil.open(io.BytesIO(codestream))
        image.reduce = reduce
        image.load()
    bits = _PIL_GREY_BITS.get(image.mode)
    if bits is None:
        raise ValueError(f"unexpected decoded mode {image.mode}")
    power = 1 << reduce
    expected = (math.ceil(rows / power), math.ceil(columns / power))
    # Pillow scales values to the mode's depth and offsets signed ones: undo both
    info = _siz(codestream)
    if info is None or info[0] != 1 or info[1] > bits or info[2] != bool(representation):
        raise ValueError("precision or signedness does not match the data set")
    precision, signed = info[1], info[2]
    values = np.asarray(image, dtype=np.int32) >> (bits - precision)
    if signed:
        values -= 1 << (precision - 1)
    if values.shape != expected:
        raise ValueError(f"decoded shape {values.shape} is not {expected}")
    return _smooth(values)


def _smooth(values: npt.NDArray[np.int32]) -> npt.NDArray[np.int32]:
    """A separable [1, 4, 1]/6 filter: brings the wavelet low-pass (5/3 taps keep more
    high frequencies and noise) close to the bilinear reduction of the full-resolution path."""
    out = values.astype(np.float32)
    for axis in (0, 1):
        if out.shape[axis] < 3:
            continue
        padded = np.pad(out, [(1, 1) if a == axis else (0, 0) for a in (0, 1)], mode="edge")
        lo = padded[:-2] if axis == 0 else padded[:, :-2]
        mid = padded[1:-1] if axis == 0 else padded[:, 1:-1]
        hi = padded[2:] if axis == 0 else padded[:, 2:]
        out = (lo + 4.0 * mid + hi) / 6.0
    smoothed: npt.NDArray[np.int32] = np.rint(out).astype(np.int32)
    return smoothed


def _siz(codestream: bytes) -> tuple[int, int, bool] | None:
    """(components, precision of the first, signed) from the SIZ segment."""
    start = codestream.find(b"\xff\x4f\xff\x51")
    if start < 0 or start + 43 > len(codestream):
        return None
    siz = start + 4  # Lsiz
    components = int.from_bytes(codestream[siz + 36 : siz + 38], "big")
    ssiz = codestream[siz + 38]
    return components, (ssiz & 0x7F) + 1, bool(ssiz & 0x80)


def frame_attributes(ds: Dataset, index: int = 0) -> Dataset:
    """A flat data set of the attributes that transform frame ``index``'s pixels.

    Top-level attributes first, then the shared and the per-frame functional
    groups of enhanced objects (rescale, VOI window, spacing, position).
    """
    flat = Dataset()
    if hasattr(ds, "file_meta"):
        flat.file_meta = ds.file_meta
    # elements are shared, not rebuilt by keyword (setattr made each one anew: most of the
    # time of reading a SEG's 200 frames); their values were shared before too
    for keyword in _FRAME_KEYWORDS:
        if keyword in ds:
            flat.add(ds[keyword])
    groups: list[Dataset] = []
    shared = ds.get("SharedFunctionalGroupsSequence")
    if shared:
        groups.append(shared[0])
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    if per_frame and index < len(per_frame):
        groups.append(per_frame[index])
    for group in groups:
        for macro in _GROUP_MACROS:
            items = group.get(macro)
            if not items:
                continue
            for element in items[0]:
                if element.keyword:
                    flat.add(element)
    return flat


def _normal_of(orientations: Sequence[Sequence[float] | None]) -> tuple[float, float, float] | None:
    common = Counter(tuple(round(v, 4) for v in o) for o in orientations if o and len(o) == 6)
    if not common:
        return None
    return slice_normal(common.most_common(1)[0][0])


def ordered_instances(
    instances: Sequence[InstanceRecord], normal: Sequence[float] | None = None
) -> list[InstanceRecord]:
    """Instances in geometric order: by position along the slice normal (not InstanceNumber).

    Instances without a position go last, by InstanceNumber then SOP Instance UID.
    """
    axis = tuple(normal) if normal and len(normal) == 3 else None
    if axis is None:
        axis = _normal_of([i.orientation for i in instances])

    def key(record: InstanceRecord) -> tuple[int, float, int, str]:
        number = record.instance_number if record.instance_number is not None else 0
        if axis is not None and record.position is not None:
            return (0, position_along(axis, record.position), number, record.sop_uid)  # type: ignore[arg-type]
        return (1, 0.0, number, record.sop_uid)

    return sorted(instances, key=key)


def frame_order(ds: Dataset) -> list[int]:
    """Frame indices of a multi-frame object in geometric order when per-frame positions exist.

    Falls back to stored order.
    """
    frames = frame_count(ds)
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    if not per_frame or len(per_frame) != frames:
        return list(range(frames))
    positions: list[list[float] | None] = []
    orientations: list[list[float] | None] = []
    for k in range(frames):
        flat = frame_attributes(ds, k)
        ipp = flat.get("ImagePositionPatient")
        iop = flat.get("ImageOrientationPatient")
        positions.append([float(v) for v in ipp] if ipp is not None and len(ipp) == 3 else None)
        orientations.append([float(v) for v in iop] if iop is not None and len(iop) == 6 else None)
    normal = _normal_of(orientations)
    if normal is None or any(p is None for p in positions):
        return list(range(frames))
    along = [position_along(normal, p) for p in positions if p is not None]
    return sorted(range(frames), key=lambda k: (along[k], k))
