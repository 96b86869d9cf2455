"""``qc-pixels``: quality measures of a series' pixels as ``qc.pixels.*`` fields.

Every frame of the series is decoded once, in geometric order, one at a time: its stored
values feed the digests, the constant-slice count and the clipped fraction; its values
after the Modality LUT (HU for CT) feed the CT noise index (:mod:`.qc_noise`), metal and
truncated-field-of-view checks (:mod:`.qc_pixel_checks`) and, for MR, the MRQy-style
measures (:mod:`.qc_mrqy`). Nothing needs a regular volume: a series with gaps or mixed
positions is measured too. docs/qc-pixels.md lists each field, its formula, tolerance and
failing values, and the measured throughput. ``qc-outliers`` compares the measures within
protocol groups afterwards.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field
from pydicom.dataset import Dataset
from pydicom.pixels.processing import apply_modality_lut
from pydicom.pixels.utils import iter_pixels

from radcurate.analyze.qc_mrqy import mr_measures
from radcurate.analyze.qc_noise import (
    NoiseAccumulator,
    NoiseSettings,
    kernel_pixels,
    kernel_sharpness,
)
from radcurate.analyze.qc_pixel_checks import PixelChecks, PixelCheckSettings, StoredRange
from radcurate.imaging.errors import UndecodableError
from radcurate.imaging.frames import (
    decode_frame,
    frame_attributes,
    frame_count,
    frame_order,
    local_path,
    ordered_instances,
    read_dataset,
)
from radcurate.workflow.checks import QCCheck
from radcurate.workflow.step import SeriesItem, Workflow

__all__ = ["PIXEL_CHECKS", "PixelQC", "PixelQCParams", "pixel_measures"]

F32 = npt.NDArray[np.float32]
#: modalities without image pixels to measure
NON_IMAGE = frozenset({"SEG", "RTSTRUCT", "RTPLAN", "RTRECORD", "SR", "KO", "PR", "REG",
                       "DOC", "OT-NONE", "FID", "AU", "ECG", "HD"})  # fmt: skip
#: MR series bigger than this many voxels get the MR measures on every n-th slice
_MR_MAX_VOXELS = 40_000_000


class PixelQCParams(BaseModel):
    """Parameters of ``qc-pixels`` (the tolerances of docs/qc-pixels.md)."""

    model_config = ConfigDict(extra="forbid")

    kernel_mm: float = Field(6.0, ge=1.0, le=30.0, description="CT noise: local SD kernel (mm)")
    tissue_low_hu: float = Field(0.0, ge=-200, le=200, description="CT noise: soft tissue from")
    tissue_high_hu: float = Field(100.0, ge=-100, le=300, description="... up to (HU)")
    metal_hu: float = Field(3000.0, ge=1500, le=30000, description="CT: metal above (HU)")
    edge_fraction: float = Field(
        0.02, gt=0, le=1, description="CT: body share of the FOV border that is truncation"
    )
    noise_limit_hu: float = Field(
        30.0, gt=0, le=1000, description="CT: noise index limit, standard kernels (HU)"
    )
    noise_limit_sharp_hu: float = Field(
        100.0, gt=0, le=1000, description="CT: noise index limit, sharp kernels (HU)"
    )
    store_frame_digests: bool = Field(
        False, description="Also store the sha256 of every frame (qc.pixels.frame_digests)"
    )


def _check(field: str, title: str, meaning: str, fails: str, tolerance: str = "",
           severity: str = "warning") -> QCCheck:  # fmt: skip
    return QCCheck(f"qc.pixels.{field}", title, meaning, fails, tolerance, "pixels", severity)


#: what ``qc-pixels`` checks (docs/qc-pixels.md has the formulas)
PIXEL_CHECKS: tuple[QCCheck, ...] = (
    _check("noise_high", "CT noise above the limit",
           "The global noise index (qc.pixels.noise_hu, Christianson 2015: mode of the local SD "
           "over soft tissue, HU) is above the limit for the series' kernel "
           "(qc.pixels.noise_limit_hu); protocol-relative: qc.outliers.pixels_z.",
           "qc.pixels.noise_high:true",
           "30 HU for standard kernels, 100 HU for sharp (lung, bone, edge) kernels"),
    _check("constant_slices", "Empty or constant slices",
           "Frames whose stored values are all equal (blank, zero-filled).",
           "qc.pixels.constant_slices:>0", "none allowed", "error"),
    _check("clipped_fraction", "Clipped values",
           "Share of voxels at the stored-value extremes (saturated; CT air floor excluded).",
           "qc.pixels.clipped_fraction:>0.001", "0.1 % of the voxels"),
    _check("truncated_fov", "Truncated field of view",
           "CT: the body touches the edge of the reconstructed field of view.",
           "qc.pixels.truncated_fov:true", "body on >= 2 % of the FOV border of a slice"),
    _check("metal_fraction", "Metal",
           "CT: share of the voxels above 3000 HU (implants, fillings); qc.pixels.metal is "
           "true above the tolerance.",
           "qc.pixels.metal_fraction:>0.00001", "1e-5 of the voxels", "info"),
    _check("duplicate_frames", "Duplicate frames",
           "Frames with the same stored pixels as a frame of another SOP Instance UID.",
           "qc.pixels.duplicate_frames:>0", "none allowed", "error"),
    _check("snr", "MR signal-to-noise",
           "MR: mean foreground / SD of the background (MRQy style, no Rician correction).",
           "qc.pixels.snr:<8", "8"),
    _check("cjv", "MR coefficient of joint variation",
           "MR: (SD foreground + SD background) / |mean foreground - mean background|.",
           "qc.pixels.cjv:>1", "1", "info"),
    _check("efc", "MR entropy focus criterion",
           "MR: normalised image entropy (0..1); ghosting and blur raise it.",
           "qc.pixels.efc:>0.8", "0.8", "info"),
)  # fmt: skip


def _rescaled(stored: npt.NDArray[Any], attrs: Dataset) -> F32:
    """Values after the Modality LUT (slope and intercept in float32 when that is all)."""
    if "ModalityLUTSequence" in attrs:
        return np.asarray(apply_modality_lut(stored, attrs), dtype=np.float32)
    slope = float(attrs.get("RescaleSlope", 1) or 1)
    intercept = float(attrs.get("RescaleIntercept", 0) or 0)
    values = stored.astype(np.float32)
    if slope != 1.0:
        values *= np.float32(slope)
    if intercept != 0.0:
        values += np.float32(intercept)
    return values


def _pixel_mm(attrs: Dataset) -> float | None:
    spacing = attrs.get("PixelSpacing") or attrs.get("ImagerPixelSpacing")
    try:
        return float(spacing[1]) if spacing is not None and len(spacing) == 2 else None
    except (TypeError, ValueError):
        return None


def _is_localizer(ds: Dataset) -> bool:
    """A localizer/scout image (a projection, not a slice: no FOV check or noise)."""
    value = ds.get("ImageType")
    words = [value] if isinstance(value, str) else list(value or [])
    return any(str(w).upper() in ("LOCALIZER", "SCOUT") for w in words)


def iter_frames(item: SeriesItem) -> Iterator[tuple[str, npt.NDArray[Any], Dataset, Dataset]]:
    """``(sop_uid, stored values, frame attributes, data set)`` of every frame, in geometric
    order (instances along the slice normal, frames of a multi-frame object by position).

    Raises
    ------
    UndecodableError
        An instance or frame cannot be read.
    """
    for record in ordered_instances(item.instances):
        ds = read_dataset(record.location)
        if frame_count(ds) == 1:
            yield record.sop_uid, decode_frame(ds, 0, record.location), frame_attributes(ds), ds
            continue
        order = frame_order(ds)
        for index, stored in zip(order, _multiframe(ds, record.location, order), strict=True):
            yield record.sop_uid, stored, frame_attributes(ds, index), ds


def _multiframe(ds: Dataset, location: str, order: list[int]) -> Iterator[npt.NDArray[Any]]:
    """The frames ``order`` of a multi-frame object, decoded in one pass over the file (one
    :func:`decode_frame` per frame would parse a deferred file again for every frame)."""
    item = ds.get_item("PixelData") if "PixelData" in ds else None
    deferred = item is not None and getattr(item, "value", b"") is None
    source: Any = local_path(location) if deferred else ds
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield from iter_pixels(source, indices=order)
    except Exception as exc:  # every decoder failure becomes a reason
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UndecodableError(f"cannot decode the pixel data: {text}") from exc


def pixel_measures(item: SeriesItem, params: PixelQCParams) -> dict[str, Any]:
    """The ``qc.pixels`` values of one series (see the module docstring).

    Raises
    ------
    ValueError
        Not an image series, or no frame decoded.
    UndecodableError
        A frame cannot be decoded.
    """
    modality = str(item.document.get("Modality") or "")
    if modality in NON_IMAGE:
        raise ValueError(f"a {modality} object has no image pixels to measure")
    if not item.instances:
        raise ValueError("the series has no instances")
    checks = PixelChecks(modality, PixelCheckSettings(
        metal_hu=params.metal_hu,
        edge_fraction=params.edge_fraction,
    ))  # fmt: skip
    noise_settings = NoiseSettings(params.kernel_mm, params.tissue_low_hu, params.tissue_high_hu)
    noise: NoiseAccumulator | None = None
    mr_frames: list[F32] = []
    mr_step, mr_seen = _mr_step(item), 0
    for sop_uid, stored, attrs, ds in iter_frames(item):
        values = _rescaled(stored, attrs)
        projection = _is_localizer(ds)
        checks.add(sop_uid, stored, values, StoredRange.of(ds), projection=projection)
        if stored.ndim != 2 or projection:
            continue
        if modality == "CT":
            if noise is None:
                noise = NoiseAccumulator(
                    kernel_pixels(params.kernel_mm, _pixel_mm(attrs)), noise_settings
                )
            noise.add(values)
        elif modality == "MR":
            if mr_seen % mr_step == 0:
                mr_frames.append(values)
            mr_seen += 1
    if checks.frames == 0:
        raise ValueError("no frame decoded")
    out = checks.result()
    if noise is not None:
        value = noise.result()
        if value is not None:
            sharp = kernel_sharpness(item.document.get("ConvolutionKernel")) == "sharp"
            limit = params.noise_limit_sharp_hu if sharp else params.noise_limit_hu
            out["noise_hu"] = round(value, 2)
            out["noise_limit_hu"] = limit
            out["noise_high"] = value > limit
    if mr_frames:
        out.update(_mr_of(mr_frames))
    if params.store_frame_digests:
        out["frame_digests"] = list(checks.digests)
    return out


def _mr_step(item: SeriesItem) -> int:
    """Keep every n-th MR frame so that at most :data:`_MR_MAX_VOXELS` are held (the
    measures are means and ratios over many voxels: a huge series is sampled by slices)."""
    voxels = sum((r.frames or 1) * (r.rows or 0) * (r.columns or 0) for r in item.instances)
    return max(1, -(-voxels // _MR_MAX_VOXELS))


def _mr_of(frames: list[F32]) -> dict[str, float]:
    """MR measures over the frames of the most common shape."""
    shape, _ = Counter(f.shape for f in frames).most_common(1)[0]
    return mr_measures([f for f in frames if f.shape == shape])


class PixelQC(Workflow):
    """Pixel quality measures: CT noise, MR measures, constant slices, clipping, FOV, metal,
    digests."""

    name = "qc-pixels"
    title = "QC: pixel measures"
    description = (
        "CT noise index (HU), MRQy-style MR measures (SNR, CNR, CV, CJV, EFC, FBER), empty "
        "or constant slices, clipped values, truncated field of view, metal, and pixel "
        "digests (duplicate frames); qc.pixels.* fields"
    )
    version = "2"
    Params = PixelQCParams
    checks: ClassVar[tuple[QCCheck, ...]] = PIXEL_CHECKS

    def applies(self, item: SeriesItem) -> bool:
        """Image series (not SEG, RTSTRUCT, SR and other objects without image pixels)."""
        return str(item.document.get("Modality") or "") not in NON_IMAGE

    def process(self, item: SeriesItem, params: Any) -> Mapping[str, Mapping[str, Any]]:
        assert isinstance(params, PixelQCParams)
        try:
            values = pixel_measures(item, params)
        except UndecodableError as exc:
            raise UndecodableError(f"undecodable: {exc}") from None
        return {"qc": {"pixels": values}}
