"""MR image quality measures in the style of MRQy (Sadri et al., Medical Physics 2020).

MRQy ("MRQy — an open-source tool for quality control of MR imaging data") describes each
scan by measures computed on a foreground (the body) and a background (the air around
it). Here the foreground comes from one Otsu threshold over the whole series (its stored
values after the Modality LUT), holes filled slice by slice; the background is the rest.
With ``μF, σF`` and ``μB, σB`` the mean and standard deviation of the foreground and
background voxels:

=========  ===================================================  ==========================
measure    formula                                              reading
=========  ===================================================  ==========================
``snr``    ``μF / σB``                                           higher is better
``cnr``    ``(μF − μB) / σB``                                    higher is better
``cv``     ``σF / μF``                                           lower is better
``cjv``    ``(σF + σB) / |μF − μB|``                             lower is better
``efc``    ``−Σ (x/xmax) ln(x/xmax) / Emax`` over every voxel,   0 (all energy in one voxel)
           ``xmax = √Σx²``, ``Emax = −√N ln(1/√N)``               .. 1 (uniform); ghosting
                                                                and blur raise it
``fber``   ``mean(F²) / mean(B²)``                               higher is better
=========  ===================================================  ==========================

Measures that divide by zero (a zero-filled background: ``σB = 0``) are left out rather
than infinite. The magnitude background is Rayleigh distributed; like MRQy, no correction
is made, so the figures compare series with each other, not with a phantom's true SNR.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from scipy import ndimage

__all__ = ["MR_MEASURES", "foreground_mask", "mr_measures", "otsu_threshold"]

F32 = npt.NDArray[np.float32]
#: the measures :func:`mr_measures` can return, in order
MR_MEASURES = ("snr", "cnr", "cv", "cjv", "efc", "fber")
#: the Otsu histogram's bins
_OTSU_BINS = 256
#: at most this many voxels enter the Otsu histogram (evenly strided)
_OTSU_SAMPLE = 2_000_000


def otsu_threshold(values: npt.NDArray[np.floating]) -> float:
    """Otsu's threshold (maximal between-class variance) of ``values`` in 256 bins.

    Examples
    --------
    >>> x = np.concatenate([np.zeros(1000), np.full(1000, 100.0)])
    >>> 0.0 < otsu_threshold(x) < 100.0
    True
    """
    flat = np.asarray(values, dtype=np.float64).ravel()
    if flat.size > _OTSU_SAMPLE:
        flat = flat[:: math.ceil(flat.size / _OTSU_SAMPLE)]
    low, high = float(flat.min()), float(flat.max())
    if high <= low:
        return low
    counts, edges = np.histogram(flat, bins=_OTSU_BINS, range=(low, high))
    centres = 0.5 * (edges[:-1] + edges[1:])
    weight_low = np.cumsum(counts).astype(np.float64)
    weight_high = weight_low[-1] - weight_low
    sum_low = np.cumsum(counts * centres)
    mean_low = sum_low / np.maximum(weight_low, 1.0)
    mean_high = (sum_low[-1] - sum_low) / np.maximum(weight_high, 1.0)
    between = weight_low * weight_high * (mean_low - mean_high) ** 2
    return float(edges[int(np.argmax(between[:-1])) + 1])


def foreground_mask(volume: F32, threshold: float) -> npt.NDArray[np.bool_]:
    """Voxels above ``threshold``, holes filled in each slice (the body, not its dark parts)."""
    mask = volume > threshold
    for k in range(mask.shape[0]):
        if mask[k].any():
            mask[k] = ndimage.binary_fill_holes(mask[k])
    return mask


def _ratio(top: float, bottom: float) -> float | None:
    return top / bottom if bottom > 0 and math.isfinite(top / bottom) else None


def mr_measures(frames: Sequence[F32]) -> dict[str, float]:
    """The MRQy-style measures of a series' frames (same shape, values after rescale).

    Returns
    -------
    dict
        ``snr``, ``cnr``, ``cv``, ``cjv``, ``efc``, ``fber`` (those that are defined), plus
        ``foreground_fraction``. Empty when the series has no contrast at all.
    """
    if not frames:
        return {}
    volume = np.stack([np.asarray(f, dtype=np.float32) for f in frames])
    threshold = otsu_threshold(volume)
    mask = foreground_mask(volume, threshold)
    fg, bg = volume[mask].astype(np.float64), volume[~mask].astype(np.float64)
    if fg.size == 0 or bg.size == 0:
        return {}
    mu_f, sd_f = float(fg.mean()), float(fg.std())
    mu_b, sd_b = float(bg.mean()), float(bg.std())
    out: dict[str, float | None] = {
        "snr": _ratio(mu_f, sd_b),
        "cnr": _ratio(mu_f - mu_b, sd_b),
        "cv": _ratio(sd_f, mu_f),
        "cjv": _ratio(sd_f + sd_b, abs(mu_f - mu_b)),
        "efc": _efc(volume),
        "fber": _ratio(float(np.mean(fg * fg)), float(np.mean(bg * bg))),
        "foreground_fraction": fg.size / volume.size,
    }
    return {k: round(v, 4) for k, v in out.items() if v is not None}


def _efc(volume: F32) -> float | None:
    """Entropy focus criterion (Atkinson et al. 1997), normalised to 0..1 as MRIQC does."""
    x = np.clip(volume.astype(np.float64).ravel(), 0.0, None)
    n = x.size
    energy = math.sqrt(float(np.dot(x, x)))
    if n < 2 or energy <= 0:
        return None
    p = x[x > 0] / energy
    entropy = -float(np.sum(p * np.log(p)))
    maximum = -n * (1.0 / math.sqrt(n)) * math.log(1.0 / math.sqrt(n))
    return entropy / maximum
