"""What the segmentation checks measure on labels placed on their source grid: connected
components and fragments, volumes, the share outside the body, overlapping labels; and the
body of the source image those are measured against.

The body: CT voxels above ``body_hu`` (-500 HU: fat, skin and every organ, not air or the
lungs' inside, which the fill brings back), MR voxels above Otsu's threshold of the volume's
histogram; holes filled slice by slice (lungs, bowel gas, dark marrow), then the largest 3-D
component and every component at least ``part_fraction`` of its size (an arm beside the
trunk, the other leg). Other modalities have no body mask (the check does not run there).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from radcurate.analyze.masks_grid import fill_holes_per_slice
from radcurate.analyze.qc_seg_masks import LabelMask
from radcurate.imaging.series import SeriesLookup
from radcurate.imaging.volume import series_volume, series_volume_stream

__all__ = [
    "CONNECTIVITY",
    "Components",
    "Overlap",
    "body_of",
    "components_of",
    "otsu_threshold",
    "outside_fraction",
    "overlaps",
]

Mask = npt.NDArray[np.bool_]
#: 3-D 26-connectivity: voxels touching by a face, an edge or a corner are connected
CONNECTIVITY = np.ones((3, 3, 3), dtype=bool)


@dataclass(frozen=True)
class Components:
    """The 26-connected components of one label."""

    #: every component, however small
    count: int
    #: stray pieces (see :func:`components_of`)
    fragments: int


def _on_border(labels: npt.NDArray[np.int32], offset: tuple[int, int, int],
               grid: tuple[int, int, int]) -> set[int]:  # fmt: skip
    """Components of a crop that touch a face of the whole grid (cut by the field of view)."""
    touching: set[int] = set()
    for axis in range(3):
        faces = []
        if offset[axis] == 0:
            faces.append(0)
        if offset[axis] + labels.shape[axis] == grid[axis]:
            faces.append(labels.shape[axis] - 1)
        for face in faces:
            touching.update(int(v) for v in np.unique(np.take(labels, face, axis=axis)) if v)
    return touching


def components_of(
    label: LabelMask, grid: tuple[int, int, int], voxel_ml: float, min_ml: float, ratio: float
) -> Components:
    """Count the label's components, and the stray pieces among them: components beside the
    largest that are at least ``min_ml`` (smaller ones are specks of partial volume), under
    ``ratio`` times the largest (a part that big belongs to a many-part structure: the other
    kidney, a vertebra, the other lung) and clear of the grid's faces (a piece at the edge of
    the field of view is a structure cut by it, as bowel that leaves the volume and comes
    back).

    Examples
    --------
    >>> mask = np.zeros((9, 9, 20), dtype=bool)
    >>> mask[2:7, 2:7, 1:6] = mask[2:7, 2:7, 8:13] = True  # two equal parts
    >>> mask[4, 4, 16] = True  # and a stray voxel
    >>> components_of(LabelMask("x", 1, mask=mask), (9, 9, 20), 1.0, 1.0, 0.2)
    Components(count=3, fragments=1)
    """
    if not label.voxels:
        return Components(0, 0)
    labels, count = ndimage.label(label.mask, structure=CONNECTIVITY)
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    sizes[0] = 0
    if count < 2:
        return Components(count, 0)
    largest = int(np.argmax(sizes))
    candidates = (sizes * voxel_ml >= min_ml) & (sizes < ratio * sizes[largest])
    candidates[[0, largest]] = False
    for border in _on_border(labels, label.offset, grid):
        candidates[border] = False
    return Components(count, int(np.count_nonzero(candidates)))


def otsu_threshold(values: npt.NDArray[np.floating], bins: int = 256) -> float:
    """Otsu's threshold: the cut of the histogram with the largest between-class variance.

    Examples
    --------
    >>> otsu_threshold(np.array([0.0] * 50 + [10.0] * 50)) < 10
    True
    """
    finite = values[np.isfinite(values)]
    if not finite.size or float(finite.min()) == float(finite.max()):
        return float(finite.max()) if finite.size else 0.0
    hist, edges = np.histogram(finite, bins=bins)
    centres = (edges[:-1] + edges[1:]) / 2
    weight0 = np.cumsum(hist).astype(np.float64)
    weight1 = weight0[-1] - weight0
    sum0 = np.cumsum(hist * centres)
    mean0 = sum0 / np.maximum(weight0, 1)
    mean1 = (sum0[-1] - sum0) / np.maximum(weight1, 1)
    between = weight0 * weight1 * (mean0 - mean1) ** 2
    return float(edges[int(np.argmax(between)) + 1])


def _keep_body(tissue: Mask, part_fraction: float) -> Mask:
    filled = fill_holes_per_slice(tissue)
    labels, count = ndimage.label(filled, structure=CONNECTIVITY)
    if count == 0:
        return filled
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    sizes[0] = 0
    keep = sizes >= part_fraction * sizes.max()
    keep[0] = False
    body: Mask = keep[labels]
    return body


def body_of(
    catalog: SeriesLookup, source_uid: str, modality: str, *, body_hu: float = -500.0,
    part_fraction: float = 0.1,
) -> tuple[Mask, str] | None:  # fmt: skip
    """The body mask of the source series and how it was found (``"ct>-500hu"``,
    ``"mr-otsu"``), or None for a modality without a body rule.

    Raises
    ------
    ValueError
        Inconsistent geometry of the source.
    UndecodableError
        A slice of the source cannot be decoded.
    """
    if modality == "CT":
        stream = series_volume_stream(catalog, source_uid)  # thresholded slice by slice
        tissue = np.empty(stream.shape, dtype=bool)
        for k, plane in enumerate(stream.slices()):
            tissue[k] = plane > body_hu
        return _keep_body(tissue, part_fraction), f"ct>{body_hu:g}hu"
    if modality == "MR":
        values = series_volume(catalog, source_uid).array
        return _keep_body(values > otsu_threshold(values), part_fraction), "mr-otsu"
    return None


def outside_fraction(label: LabelMask, body: Mask) -> float:
    """Share of the label's voxels outside ``body`` (0 for an empty label)."""
    total = label.voxels
    if not total:
        return 0.0
    inside = int(np.count_nonzero(label.mask & body[label.box()]))
    return (total - inside) / total


@dataclass(frozen=True)
class Overlap:
    """Two labels sharing voxels."""

    first: str
    second: str
    voxels: int
    #: the shared voxels as a share of the smaller label
    fraction: float


def _intersection(a: LabelMask, b: LabelMask) -> int:
    box_a, box_b = a.box(), b.box()
    common = [
        slice(max(p.start, q.start), min(p.stop, q.stop)) for p, q in zip(box_a, box_b, strict=True)
    ]
    if any(s.stop <= s.start for s in common):
        return 0
    part_a = a.mask[
        tuple(slice(s.start - o, s.stop - o) for s, o in zip(common, a.offset, strict=True))
    ]
    part_b = b.mask[
        tuple(slice(s.start - o, s.stop - o) for s, o in zip(common, b.offset, strict=True))
    ]
    return int(np.count_nonzero(part_a & part_b))


def overlaps(labels: Sequence[LabelMask]) -> list[Overlap]:
    """Every pair of labels (containers left out) that shares voxels, in declaration order."""
    candidates = [m for m in labels if not m.container and m.voxels]
    counts = {m.label: m.voxels for m in candidates}
    found: list[Overlap] = []
    for n, a in enumerate(candidates):
        for b in candidates[n + 1 :]:
            shared = _intersection(a, b)
            if shared:
                smaller = min(counts[a.label], counts[b.label])
                found.append(Overlap(a.label, b.label, shared, shared / smaller))
    return found
