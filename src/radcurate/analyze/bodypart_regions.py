"""From per-plane features to one region per plane, in craniocaudal order.

Each plane gets a score per region (0-4, :func:`region_scores`); the scores are averaged
along the craniocaudal axis (:func:`smoothed`) and the labels are the path through the
planes, head to feet, that maximises the summed scores (each weighted by the plane's
thickness in mm) minus a fixed cost for every region boundary crossed
(:func:`ordered_path`). Regions can only follow each other as head -> neck -> chest ->
abdomen -> pelvis -> legs, so ribs above the lungs never make a pelvis and a region needs
some length of clear evidence to appear.

Limb pairs (two separate outlines of similar size) and planes without a body are labelled
outside the path (:mod:`radcurate.analyze.bodypart`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from radcurate.analyze.bodypart_features import PlaneFeatures

__all__ = ["ORDERED", "ordered_path", "region_scores", "scores_of", "smoothed"]

F64 = npt.NDArray[np.float64]

#: the regions a path runs through, head to feet
ORDERED = ("head", "neck", "chest", "abdomen", "pelvis", "legs")
HEAD, NECK, CHEST, ABDOMEN, PELVIS, LEGS = range(6)
_TOP = 4.0
#: lung fraction of the planes the pelvis keeps its distance from
_LUNG_LEVEL = 0.10


def _ramp(value: float, low: float, high: float) -> float:
    """0 below ``low``, 1 above ``high``, linear between."""
    return min(1.0, max(0.0, (value - low) / (high - low)))


def region_scores(features: PlaneFeatures, below_lungs_mm: float = np.inf) -> tuple[float, ...]:
    """How well each of :data:`ORDERED` fits one plane (0-4 each).

    ``below_lungs_mm`` is how far the plane lies below the lowest plane of the series whose
    lungs fill 10 % of it (infinite when there is none).

    - chest: the lungs fill the cross-section. Coming from the neck the chest starts at
      a lung fraction of about 0.06 (the apices); going down it ends below 0.14, so the
      lung bases beside the liver dome belong to the abdomen.
    - head: a skull ring (cranial vault), or dense bone over much of the section (skull
      base, face) without lungs.
    - neck: no lungs, no skull ring, a cross-section under about 250 cm².
    - abdomen: no lungs, no skull ring, little lateral bone, a larger cross-section.
    - pelvis: lateral bone (iliac wings, acetabula, femoral heads), no lungs, and at
      least 3-7 cm below the lungs (the lower ribs lie just below them).
    - legs: only from limb pairs (labelled before the path).
    """
    lung = features.lung_fraction
    apex = _ramp(lung, 0.03, 0.09)  # neck | chest boundary near 0.06
    base = _ramp(lung, 0.11, 0.20)  # chest | abdomen boundary near 0.14
    ring = _ramp(features.skull_ring, 0.10, 0.30)
    dense = _ramp(features.bone_fraction, 0.09, 0.16) * (1.0 - apex)
    small = 1.0 - _ramp(features.area_cm2, 180.0, 320.0)
    weak = _ramp(features.lateral_bone_pct, 0.3, 1.0)
    strong = _ramp(features.lateral_bone_pct, 1.8, 3.5)
    soft = (1.0 - ring) * (1.0 - dense)
    chest = 2.0 * apex + 2.0 * base
    head = _TOP * max(ring, dense)
    neck = _TOP * (1.0 - apex) * soft * (0.6 + 0.4 * small)
    far = _ramp(below_lungs_mm, 30.0, 70.0)
    abdomen = _TOP * (1.0 - base) * soft * (1.0 - 0.4 * small) * (1.0 - 0.5 * strong * far)
    pelvis = _TOP * (1.0 - apex) * (1.0 - ring) * (0.5 * weak + 0.5 * strong) * far
    return (head, neck, chest, abdomen, pelvis, 0.0)


def ordered_path(scores: F64, weights: F64, penalty: float) -> npt.NDArray[np.intp]:
    """The region index of each plane (planes head first) that maximises the total score.

    Parameters
    ----------
    scores
        ``(planes, regions)``, planes from head to feet, regions in craniocaudal order.
    weights
        Per plane, what its score counts for (its thickness in mm).
    penalty
        Cost of each region boundary crossed (a jump over a region crosses two).

    Examples
    --------
    >>> s = np.array([[1, 0], [0.4, 0.6], [1, 0], [0, 1], [0, 1]], dtype=float)
    >>> ordered_path(s, np.ones(5), 0.5).tolist()
    [0, 0, 0, 1, 1]
    """
    planes, regions = scores.shape
    total = np.empty((planes, regions))
    back = np.zeros((planes, regions), dtype=np.intp)
    cost = penalty * np.arange(regions, dtype=np.float64)  # boundaries crossed from region 0
    total[0] = scores[0] * weights[0]
    for k in range(1, planes):
        # best predecessor r' <= r, paying penalty * (r - r'): running max of total + cost
        shifted = total[k - 1] + cost
        best = np.maximum.accumulate(shifted)
        arg = _running_argmax(shifted)
        total[k] = best - cost + scores[k] * weights[k]
        back[k] = arg
    path = np.empty(planes, dtype=np.intp)
    path[-1] = int(np.argmax(total[-1]))
    for k in range(planes - 1, 0, -1):
        path[k - 1] = back[k, path[k]]
    return path


def _running_argmax(values: F64) -> npt.NDArray[np.intp]:
    """Index of the maximum of ``values[: r + 1]`` for every ``r`` (first one on ties)."""
    out = np.empty(values.size, dtype=np.intp)
    best = 0
    for r in range(values.size):
        if values[r] > values[best]:
            best = r
        out[r] = best
    return out


def scores_of(features: Sequence[PlaneFeatures], z: F64) -> F64:
    """:func:`region_scores` of every plane (``z``: their craniocaudal positions, mm)."""
    lungs = [zk for f, zk in zip(features, z, strict=True) if f.lung_fraction >= _LUNG_LEVEL]
    lowest = min(lungs) if lungs else np.inf
    rows = [
        region_scores(f, float(lowest - zk) if lungs else np.inf)
        for f, zk in zip(features, z, strict=True)
    ]
    return np.array(rows, dtype=np.float64).reshape(-1, len(ORDERED))


def smoothed(scores: F64, window: int) -> F64:
    """Moving average of each column over ``window`` planes (odd; 1 or less: unchanged).

    Examples
    --------
    >>> smoothed(np.array([[0.0], [3.0], [0.0]]), 3).ravel().tolist()
    [1.5, 1.0, 1.5]
    """
    half = max(0, int(window) // 2)
    if half == 0 or scores.shape[0] < 2:
        return scores
    padded = np.concatenate([scores, np.zeros((1, scores.shape[1]))])
    sums = np.cumsum(padded, axis=0)
    n = scores.shape[0]
    hi = np.minimum(np.arange(n) + half, n - 1)
    lo = np.maximum(np.arange(n) - half, 0)
    total = sums[hi] - np.where(lo[:, None] > 0, sums[lo - 1], 0.0)
    out: F64 = total / (hi - lo + 1)[:, None]
    return out
