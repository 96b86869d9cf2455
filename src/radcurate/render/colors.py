"""Colours for overlays: DICOM CIELab to sRGB, and a fixed palette."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["PALETTE", "cielab_to_rgb", "palette_colour"]

RGB = tuple[int, int, int]

#: used when an object recommends no colour (distinct, readable on grey)
PALETTE: tuple[RGB, ...] = (
    (255, 64, 64),
    (64, 200, 64),
    (64, 128, 255),
    (255, 200, 0),
    (200, 64, 255),
    (0, 220, 220),
    (255, 128, 0),
    (255, 105, 180),
    (160, 255, 96),
    (128, 128, 255),
)

#: CIE D65 reference white (X, Y, Z)
_WHITE = (0.95047, 1.0, 1.08883)


def palette_colour(number: int) -> RGB:
    """The palette colour of a 1-based segment or ROI number."""
    return PALETTE[(max(1, number) - 1) % len(PALETTE)]


def _gamma(linear: float) -> int:
    linear = min(1.0, max(0.0, linear))
    value = 12.92 * linear if linear <= 0.0031308 else 1.055 * linear ** (1 / 2.4) - 0.055
    return round(value * 255)


def cielab_to_rgb(dicom_lab: Sequence[int]) -> RGB:
    """sRGB of a DICOM-scaled CIELab triplet (PS3.3 C.10.7.1.1: 0..65535 per component).

    Examples
    --------
    >>> cielab_to_rgb([65535, 32896, 32896])
    (255, 255, 255)
    >>> cielab_to_rgb([0, 32896, 32896])
    (0, 0, 0)
    """
    lum = dicom_lab[0] * 100.0 / 65535.0
    a = dicom_lab[1] * 255.0 / 65535.0 - 128.0
    b = dicom_lab[2] * 255.0 / 65535.0 - 128.0
    fy = (lum + 16.0) / 116.0
    fx = fy + a / 500.0
    fz = fy - b / 200.0

    def inverse(t: float) -> float:
        return t**3 if t > 6.0 / 29.0 else 3 * (6.0 / 29.0) ** 2 * (t - 4.0 / 29.0)

    x, y, z = (w * inverse(f) for w, f in zip(_WHITE, (fx, fy, fz), strict=True))
    r = 3.2404542 * x - 1.5371385 * y - 0.4985314 * z
    g = -0.9692660 * x + 1.8760108 * y + 0.0415560 * z
    bl = 0.0556434 * x - 0.2040259 * y + 1.0572252 * z
    return (_gamma(r), _gamma(g), _gamma(bl))
