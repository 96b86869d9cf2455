"""Pixel checks of one series, filled frame by frame: constant slices, clipped values,
truncated field of view, metal, value statistics and the pixel digests.

:class:`PixelChecks` sees every frame once, in geometric order, as its stored values
(what the file holds, before the Modality LUT) and its values after rescale (HU for CT),
and keeps only counters and hashes, so a series of any length is checked in the memory
of one slice. docs/qc-pixels.md explains each figure and its tolerance.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage

__all__ = ["PixelCheckSettings", "PixelChecks", "StoredRange", "frame_digest"]

F32 = npt.NDArray[np.float32]
#: constant-slice indexes listed at most (the count has them all)
MAX_LISTED = 20


@dataclass(frozen=True)
class StoredRange:
    """The values a frame's stored pixels can take (from BitsStored, PixelRepresentation).

    Attributes
    ----------
    low, high
        The representable extremes (None for float pixel data: nothing can clip).
    padding
        PixelPaddingValue (voxels outside the scanned area, never counted as clipped).
    """

    low: int | None
    high: int | None
    padding: int | None = None

    @classmethod
    def of(cls, attrs: Any) -> StoredRange:
        """The range of a (flat, per-frame) data set.

        Examples
        --------
        >>> from pydicom.dataset import Dataset
        >>> ds = Dataset()
        >>> ds.BitsStored, ds.PixelRepresentation = 12, 0
        >>> StoredRange.of(ds)
        StoredRange(low=0, high=4095, padding=None)
        """
        bits = attrs.get("BitsStored")
        if bits is None or "FloatPixelData" in attrs or "DoubleFloatPixelData" in attrs:
            return cls(None, None)
        bits = int(bits)
        signed = int(attrs.get("PixelRepresentation", 0) or 0) == 1
        low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
        padding = attrs.get("PixelPaddingValue")
        return cls(low, high, int(padding) if isinstance(padding, int) else None)


@dataclass(frozen=True)
class PixelCheckSettings:
    """Thresholds of the checks (the workflow's parameters)."""

    #: CT: voxels above this are metal (HU)
    metal_hu: float = 3000.0
    #: CT: a larger share of metal voxels makes ``metal`` true (1e-5: 262 voxels of a
    #: 512 x 512 x 100 series, about 0.3 ml at 0.7 x 0.7 x 2.5 mm)
    metal_fraction: float = 1e-5
    #: CT: the body is what is denser than this (HU)
    body_hu: float = -500.0
    #: CT: below this is padding outside the reconstructed field of view (HU)
    padding_hu: float = -1500.0
    #: CT: a slice is truncated when the body covers this share of the FOV's border
    edge_fraction: float = 0.02
    #: CT: the low stored extreme counts as clipped only above this value (HU): air and
    #: padding sit at the bottom of the range by design
    floor_hu: float = -1000.0


def frame_digest(stored: npt.NDArray[Any]) -> str:
    """sha256 of a frame's stored values (dtype and shape included).

    Examples
    --------
    >>> a = np.zeros((2, 2), np.int16)
    >>> frame_digest(a) == frame_digest(a.copy()) != frame_digest(a.astype(np.uint16))
    True
    """
    array = np.ascontiguousarray(stored)
    digest = hashlib.sha256(f"{array.dtype.str}{array.shape}".encode())
    digest.update(array.data)
    return digest.hexdigest()


def _body_edge_fraction(hu: F32, settings: PixelCheckSettings, padded: Any) -> float:
    """Share of the border of the field of view (the image edge, or the edge of the
    padding outside a round reconstruction) covered by the body, at half resolution."""
    small = hu[::2, ::2]
    fov = small > settings.padding_hu
    if padded is not None:
        fov &= ~padded[::2, ::2]
    body = fov & (small > settings.body_hu)
    if not body.any():
        return 0.0
    labels, count = ndimage.label(body)
    if count > 1:  # the body is the largest component (not the table or a blanket)
        sizes = np.bincount(labels.ravel())
        sizes[0] = 0
        body = labels == int(np.argmax(sizes))
    border = fov & ~ndimage.binary_erosion(fov, border_value=0)
    ring = int(border.sum())
    return float((body & border).sum()) / ring if ring else 0.0


@dataclass
class PixelChecks:
    """Counters over the frames of one series (see the module docstring).

    Parameters
    ----------
    modality
        ``CT`` turns on the HU checks (metal, truncated field of view).
    """

    modality: str
    settings: PixelCheckSettings = field(default_factory=PixelCheckSettings)
    frames: int = 0
    voxels: int = 0
    constant: list[int] = field(default_factory=list)
    clipped: int = 0
    grey_voxels: int = 0
    metal_voxels: int = 0
    edge_fractions: list[float] = field(default_factory=list)
    digests: list[str] = field(default_factory=list)
    duplicates: list[int] = field(default_factory=list)
    _owner: dict[str, str] = field(default_factory=dict)
    _sum: float = 0.0
    _square: float = 0.0

    @property
    def is_ct(self) -> bool:
        """Whether the HU checks run."""
        return self.modality == "CT"

    def add(
        self, sop_uid: str, stored: npt.NDArray[Any], values: F32, stored_range: StoredRange,
        *, projection: bool = False,
    ) -> None:  # fmt: skip
        """Count one frame: ``stored`` as decoded, ``values`` after rescale (same shape).

        ``projection``: a localizer (its body spans the image by design: no FOV check).
        """
        index = self.frames
        self.frames += 1
        self.voxels += int(stored.size)
        digest = frame_digest(stored)
        self.digests.append(digest)
        low, high = (stored.min(), stored.max()) if stored.size else (0, 0)
        if low == high:
            self.constant.append(index)
        else:  # same content under another SOP Instance UID (constant frames are "empty")
            owner = self._owner.setdefault(digest, sop_uid)
            if owner != sop_uid:
                self.duplicates.append(index)
        if stored.ndim != 2:  # colour: no clipping, HU or statistics
            return
        self.grey_voxels += int(stored.size)
        flat = values.astype(np.float64, copy=False)
        self._sum += float(flat.sum())
        self._square += float(np.einsum("ij,ij->", flat, flat))
        padded = stored == stored_range.padding if stored_range.padding is not None else None
        self._count_clipped(stored, values, stored_range, padded, (low, high))
        if self.is_ct:
            self.metal_voxels += int(np.count_nonzero(values > self.settings.metal_hu))
            if not projection:
                self.edge_fractions.append(_body_edge_fraction(values, self.settings, padded))

    def _count_clipped(
        self, stored: npt.NDArray[Any], values: F32, stored_range: StoredRange, padded: Any,
        extremes: tuple[Any, Any],
    ) -> None:  # fmt: skip
        if stored_range.high is not None and extremes[1] >= stored_range.high:
            at_high = stored == stored_range.high
            if padded is not None:
                at_high &= ~padded
            self.clipped += int(np.count_nonzero(at_high))
        if stored_range.low is not None and extremes[0] <= stored_range.low:
            at_low = stored == stored_range.low
            if padded is not None:
                at_low &= ~padded
            if self.is_ct:
                at_low &= values > self.settings.floor_hu
            self.clipped += int(np.count_nonzero(at_low))

    def series_digest(self) -> str:
        """sha256 over the sorted frame digests: the same frames in any order or split into
        other instances give the same series digest."""
        return hashlib.sha256("\n".join(sorted(self.digests)).encode()).hexdigest()

    def result(self) -> dict[str, Any]:
        """The ``qc.pixels`` values these counters give."""
        out: dict[str, Any] = {
            "frames": self.frames,
            "constant_slices": len(self.constant),
            "constant_slice_indexes": self.constant[:MAX_LISTED],
            "duplicate_frames": len(self.duplicates),
            "duplicate_frame_indexes": self.duplicates[:MAX_LISTED],
            "series_digest": self.series_digest(),
        }
        if self.grey_voxels:
            mean = self._sum / self.grey_voxels
            variance = max(0.0, self._square / self.grey_voxels - mean * mean)
            out["mean_value"] = round(mean, 3)
            out["sd_value"] = round(variance**0.5, 3)
            out["clipped_fraction"] = round(self.clipped / self.grey_voxels, 6)
        if self.is_ct and self.grey_voxels:
            fraction = self.metal_voxels / self.grey_voxels
            out["metal_fraction"] = round(fraction, 7)
            out["metal"] = fraction > self.settings.metal_fraction
            worst = max(self.edge_fractions, default=0.0)
            slices = sum(f >= self.settings.edge_fraction for f in self.edge_fractions)
            out["fov_edge_fraction"] = round(worst, 4)
            out["truncated_fov_slices"] = slices
            out["truncated_fov"] = slices > 0
        return out
