"""Reading instances for rendering: files, frames, per-frame attributes, geometric order."""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy.typing as npt
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.pixels.utils import pixel_array
from pydicom.uid import UID

from radcurate.dicom.geometry import position_along, slice_normal
from radcurate.dicom.instance import InstanceRecord
from radcurate.render.result import UndecodableError

__all__ = [
    "decode_frame",
    "frame_attributes",
    "frame_count",
    "frame_order",
    "local_path",
    "ordered_instances",
    "read_dataset",
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
    path = local_path(location)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if not pixels:
                return dcmread(path, stop_before_pixels=True)
            ds = dcmread(path, defer_size=LARGE_FILE)
    except Exception as exc:  # any parse failure is a reason, not a crash
        raise UndecodableError(f"cannot read the file: {exc}") from exc
    return ds


def frame_count(ds: Dataset) -> int:
    """NumberOfFrames (1 when absent or invalid)."""
    try:
        return max(1, int(ds.get("NumberOfFrames", 1) or 1))
    except (TypeError, ValueError):
        return 1


def _syntax_name(ds: Dataset) -> str:
    meta = getattr(ds, "file_meta", None)
    uid = getattr(meta, "TransferSyntaxUID", None) if meta is not None else None
    return UID(str(uid)).name if uid else "unknown transfer syntax"


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
            if deferred and location is not None:
                return pixel_array(local_path(location), index=which)
            return pixel_array(ds, index=which)
    except Exception as exc:  # every decoder failure becomes a reason
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UndecodableError(
            f"cannot decode the pixel data ({_syntax_name(ds)}): {text}"
        ) from exc


def frame_attributes(ds: Dataset, index: int = 0) -> Dataset:
    """A flat data set of the attributes that transform frame ``index``'s pixels.

    Top-level attributes first, then the shared and the per-frame functional
    groups of enhanced objects (rescale, VOI window, spacing, position).
    """
    flat = Dataset()
    if hasattr(ds, "file_meta"):
        flat.file_meta = ds.file_meta
    for keyword in _FRAME_KEYWORDS:
        if keyword in ds:
            setattr(flat, keyword, ds[keyword].value)
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
                    setattr(flat, element.keyword, element.value)
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
