"""Stored pixel values -> 8-bit display values: Modality LUT, VOI, MONOCHROME1, colour."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset
from pydicom.pixels.processing import (
    apply_color_lut,
    apply_modality_lut,
    apply_voi,
    apply_windowing,
)

__all__ = ["DEFAULT_WINDOWS", "Display", "to_display"]

U8 = npt.NDArray[np.uint8]

#: modality -> (width, centre) used when the header has no VOI
DEFAULT_WINDOWS: dict[str, tuple[float, float]] = {"CT": (400.0, 40.0)}
#: modality -> (low, high) percentiles used when the header has no VOI and no default window
PERCENTILES: dict[str, tuple[float, float]] = {"PT": (0.0, 99.5), "NM": (0.0, 99.5)}
ROBUST = (1.0, 99.0)


@dataclass(frozen=True)
class Display:
    """An 8-bit picture and how its grey levels were chosen.

    Attributes
    ----------
    pixels
        ``(rows, columns)`` grey or ``(rows, columns, 3)`` RGB, ``uint8``.
    voi
        How the values were mapped (``"W400/L40 header"``, ``"1-99% percentiles"``, ``"RGB"``).
    """

    pixels: U8
    voi: str


def _first(value: Any) -> float:
    if isinstance(value, (list, tuple)) or (
        hasattr(value, "__getitem__") and not isinstance(value, (str, bytes))
    ):
        return float(value[0])
    return float(value)


def _window(values: npt.NDArray[Any], width: float, centre: float, function: str) -> U8:
    """pydicom's windowing (LINEAR, LINEAR_EXACT, SIGMOID) onto 0..255."""
    spec = Dataset()
    spec.PhotometricInterpretation = "MONOCHROME2"
    spec.BitsStored = 8
    spec.PixelRepresentation = 0
    spec.WindowWidth = max(width, 1.0 if function == "LINEAR" else 1e-6)
    spec.WindowCenter = centre
    spec.VOILUTFunction = function
    out = np.asarray(apply_windowing(values, spec), dtype=np.float64)
    grey: U8 = np.clip(np.rint(out), 0, 255).astype(np.uint8)
    return grey


def _stretch(values: npt.NDArray[Any], low: float, high: float) -> U8:
    if high <= low:
        high = low + 1.0
    scaled = (values.astype(np.float32) - np.float32(low)) * np.float32(255.0 / (high - low))
    grey: U8 = np.clip(scaled, 0, 255).astype(np.uint8)
    return grey


def _percentiles(values: npt.NDArray[Any], low: float, high: float) -> tuple[float, float]:
    step = max(1, int(np.sqrt(values.size / 65536)))
    sample = values[::step, ::step] if values.ndim == 2 else values
    lo, hi = np.percentile(sample, [low, high])
    return float(lo), float(hi)


def _colour(frame: npt.NDArray[Any], ds: Dataset, attrs: Dataset) -> Display:
    photometric = str(attrs.get("PhotometricInterpretation", "")).upper()
    if photometric == "PALETTE COLOR":
        rgb = apply_color_lut(frame, ds)
        depth = 16 if rgb.dtype.itemsize > 1 and int(rgb.max(initial=0)) > 255 else 8
        return Display(_to_u8(rgb, depth), "PALETTE COLOR")
    bits = int(attrs.get("BitsStored", 8) or 8)
    return Display(_to_u8(frame, bits), "RGB" if photometric == "RGB" else f"{photometric}->RGB")


def _to_u8(values: npt.NDArray[Any], bits: int) -> U8:
    if values.dtype == np.uint8 and bits <= 8:
        return values
    if bits > 8:
        return (values.astype(np.uint32) >> (bits - 8)).clip(0, 255).astype(np.uint8)
    return values.clip(0, 255).astype(np.uint8)


def to_display(
    frame: npt.NDArray[Any],
    ds: Dataset,
    attrs: Dataset,
    *,
    modality: str = "",
    window: float | None = None,
    level: float | None = None,
) -> Display:
    """Map a decoded frame to 8-bit display values, following PS3.3 C.11.

    Parameters
    ----------
    frame
        Decoded stored values of one frame (YBR already converted to RGB).
    ds
        The data set (for palette colour tables).
    attrs
        The frame's flat attributes (:func:`~radcurate.imaging.frames.frame_attributes`).
    modality
        Chooses the default VOI when the header has none (CT: W400/L40; others: percentiles).
    window, level
        Window width and centre overriding the header.
    """
    photometric = str(attrs.get("PhotometricInterpretation", "MONOCHROME2")).upper()
    if frame.ndim == 3 or photometric not in ("MONOCHROME1", "MONOCHROME2"):
        if frame.ndim == 2 and photometric != "PALETTE COLOR":
            photometric = "MONOCHROME2"
        else:
            return _colour(frame, ds, attrs)
    values = apply_modality_lut(frame, attrs)
    function = str(attrs.get("VOILUTFunction", "LINEAR") or "LINEAR").upper()
    if function not in ("LINEAR", "LINEAR_EXACT", "SIGMOID"):
        function = "LINEAR"
    if window is not None and level is not None:
        grey = _window(values, window, level, function)
        voi = f"W{window:g}/L{level:g}"
    elif "WindowCenter" in attrs and "WindowWidth" in attrs and attrs.WindowWidth:
        width, centre = _first(attrs.WindowWidth), _first(attrs.WindowCenter)
        grey = _window(values, width, centre, function)
        voi = f"W{width:g}/L{centre:g} header" + ("" if function == "LINEAR" else f" {function}")
    elif attrs.get("VOILUTSequence"):
        lut = apply_voi(values.astype(np.int64) if values.dtype.kind == "f" else values, attrs)
        data = np.asarray(attrs.VOILUTSequence[0].LUTData)
        grey = _stretch(lut, float(data.min()), float(data.max()))
        voi = "VOI LUT"
    elif modality in DEFAULT_WINDOWS:
        width, centre = DEFAULT_WINDOWS[modality]
        grey = _window(values, width, centre, "LINEAR")
        voi = f"W{width:g}/L{centre:g} default"
    else:
        low, high = PERCENTILES.get(modality, ROBUST)
        lo, hi = _percentiles(values, low, high)
        grey = _stretch(values, lo, hi)
        voi = f"{low:g}-{high:g}% percentiles"
    if photometric == "MONOCHROME1":
        grey = np.subtract(255, grey, dtype=np.uint8)
        voi += ", inverted"
    return Display(grey, voi)
