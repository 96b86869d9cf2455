"""Slice geometry: the slice normal and positions along it."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

Vector = tuple[float, float, float]


def slice_normal(orientation: Sequence[float]) -> Vector | None:
    """The unit normal of an ImageOrientationPatient (row x column direction cosines).

    Examples
    --------
    >>> slice_normal([1, 0, 0, 0, 1, 0])
    (0.0, 0.0, 1.0)
    """
    if len(orientation) != 6:
        return None
    r = orientation[:3]
    c = orientation[3:]
    n = (r[1] * c[2] - r[2] * c[1], r[2] * c[0] - r[0] * c[2], r[0] * c[1] - r[1] * c[0])
    norm = math.sqrt(sum(x * x for x in n))
    if norm < 1e-6:
        return None
    return (n[0] / norm + 0.0, n[1] / norm + 0.0, n[2] / norm + 0.0)


def position_along(normal: Vector, position: Sequence[float]) -> float:
    """Distance of an ImagePositionPatient along the slice normal (mm)."""
    return sum(n * p for n, p in zip(normal, position, strict=True))


def spacing_statistics(positions: Sequence[float]) -> dict[str, float] | None:
    """Min, max, mean and median gap between sorted distinct positions (mm).

    Examples
    --------
    >>> spacing_statistics([0.0, 2.5, 5.0, 10.0])
    {'min': 2.5, 'max': 5.0, 'mean': 3.3333, 'median': 2.5}
    """
    ordered = sorted(set(round(p, 4) for p in positions))
    if len(ordered) < 2:
        return None
    gaps = sorted(b - a for a, b in itertools.pairwise(ordered))
    mid = len(gaps) // 2
    median = gaps[mid] if len(gaps) % 2 else (gaps[mid - 1] + gaps[mid]) / 2
    return {
        "min": round(gaps[0], 4),
        "max": round(gaps[-1], 4),
        "mean": round(sum(gaps) / len(gaps), 4),
        "median": round(median, 4),
    }
