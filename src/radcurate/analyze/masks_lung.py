"""Left and right lung of a CT, without bowel gas.

Air inside the body (below ``threshold`` HU) falls into 3-D components. Lung parenchyma is
not pure air: its vessels, septa and partial volumes put nearly every voxel between about
-950 and -500 HU, while gas in the stomach and bowel is mostly below -950. A component is
lung when it is large enough and at most ``max_gas_fraction`` of it is below ``gas_hu``
(the issue's "bowel gas is not lung" rule; a threshold alone scored Dice 0.43 on the
abdomen CT because of the colon). The trachea and main bronchi usually join both lungs
into one component; their lumen is pure air, so without its voxels below ``gas_hu`` the
component falls apart into the two lungs (the trachea stays out of both). Where the lungs
still touch, the component is eroded until it falls apart and each voxel goes to the nearer
part; failing that, the body's midline splits it. Each lung's vessels are filled in slice
by slice. Left and right come from the affine (RAS: +x is the patient's right), never from
the array's column order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from radcurate.analyze.masks_grid import (
    F32,
    F64,
    Grid,
    Labels,
    Mask,
    component_sizes,
    fill_holes_per_slice,
)

__all__ = ["LungMasks", "lung_masks"]

#: erosion steps tried to separate the lungs joined by the airways
_MAX_SPLIT_EROSIONS = 8
#: a component with at least this share of its voxels on each side of the midline is both lungs
_JOINED_SHARE = 0.1
#: a part counts as a lung when it holds this share of the largest part
_SPLIT_MIN_SHARE = 0.15
#: pure-air components from this volume up that reach the midline are airways (ml, mm)
_AIRWAY_MIN_ML = 1.0
_AIRWAY_MIDLINE_MM = 12.0
#: voxels of a component sampled to tell which side of the midline it lies on
_SIDE_SAMPLES = 20000


@dataclass(frozen=True)
class LungMasks:
    """The lungs found: ``left`` and ``right`` (patient sides)."""

    left: Mask
    right: Mask


def _lung_components(
    hu: F32, body: Mask, grid: Grid, threshold: float, gas_hu: float,
    max_gas_fraction: float, min_ml: float,
) -> Mask:  # fmt: skip
    """Air components inside the body that look like lung, not gas."""
    air = (hu < threshold) & body
    labels, count = ndimage.label(air)
    if count == 0:
        return air
    sizes = component_sizes(labels, count)
    gas = np.bincount(labels[hu < gas_hu], minlength=count + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        gas_fraction = np.where(sizes > 0, gas / np.maximum(sizes, 1), 1.0)
    keep = (sizes * grid.voxel_ml >= min_ml) & (gas_fraction <= max_gas_fraction)
    keep[0] = False
    return np.asarray(keep[labels])


def _midline_x(body: Mask, grid: Grid) -> float:
    """RAS x of the body's centre (the mean of its voxels)."""
    centre = np.array(ndimage.center_of_mass(body), dtype=np.float64)
    return float(grid.ras(centre)[0])


def _right_share(piece: Mask, offset: F64, grid: Grid, midline: float) -> float:
    """Share of ``piece``'s voxels on the patient's right of the midline (a sample of them)."""
    points = np.argwhere(piece)
    if len(points) > _SIDE_SAMPLES:
        points = points[:: len(points) // _SIDE_SAMPLES]
    return float(np.mean(grid.ras(points + offset)[:, 0] > midline))


def _two_parts(mask: Mask) -> tuple[Labels, int, int] | None:
    """Labels of ``mask`` and its two largest components when the second is large too."""
    labels, count = ndimage.label(mask)
    if count < 2:
        return None
    sizes = component_sizes(labels, count)
    order = np.argsort(sizes)[::-1]
    first, second = int(order[0]), int(order[1])
    if sizes[second] < _SPLIT_MIN_SHARE * sizes[first]:
        return None
    return labels, first, second


def _nearest_split(component: Mask) -> Labels | None:
    """Erode a component (on every second voxel) until two large parts appear; each voxel
    goes to the nearer part (1 or 2). None when it never falls apart."""
    coarse = component[::2, ::2, ::2]
    eroded = coarse
    for _ in range(_MAX_SPLIT_EROSIONS):
        eroded = ndimage.binary_erosion(eroded)
        if not eroded.any():
            return None
        found = _two_parts(eroded)
        if found is None:
            continue
        labels, first, second = found
        seeds = np.where(labels == first, 1, np.where(labels == second, 2, 0)).astype(np.int32)
        _, nearest = ndimage.distance_transform_edt(seeds == 0, return_indices=True)
        assigned = seeds[tuple(nearest)]
        for axis in range(3):
            assigned = np.repeat(assigned, 2, axis=axis)
        k, j, i = component.shape
        parts: Labels = np.where(component, assigned[:k, :j, :i], 0).astype(np.int32)
        return parts
    return None


def _airways(lungs: Mask, hu: F32, grid: Grid, gas_hu: float, midline: float) -> Mask:
    """The trachea and main bronchi: pure air (below ``gas_hu``) in the lung components that
    reaches the midline, with a voxel of wall around it."""
    gas = lungs & (hu < gas_hu)
    labels, count = ndimage.label(gas)
    if count == 0:
        return gas
    sizes = component_sizes(labels, count)
    central = np.zeros(count + 1, dtype=bool)
    for index, box in enumerate(ndimage.find_objects(labels), start=1):
        if box is None or sizes[index] * grid.voxel_ml < _AIRWAY_MIN_ML:
            continue
        offset = np.array([b.start for b in box], dtype=np.float64)
        points = np.argwhere(labels[box] == index)
        x = grid.ras(points[:: max(1, len(points) // _SIDE_SAMPLES)] + offset)[:, 0]
        central[index] = bool(np.any(np.abs(x - midline) < _AIRWAY_MIDLINE_MM))
    central[0] = False
    if not central.any():
        return np.zeros_like(lungs)
    tree: Mask = ndimage.binary_dilation(central[labels]) & lungs
    return tree


def _split(
    component: Mask, hu: F32, gas_hu: float, offset: F64, grid: Grid, midline: float,
) -> tuple[Mask, Mask]:  # fmt: skip
    """``(left, right)`` of a component that spans both sides of the midline."""
    found = _two_parts(component & (hu >= gas_hu))
    if found is not None:  # the airways were the bridge; they stay out of both lungs
        labels, first, second = found
        one, two = labels == first, labels == second
        if _right_share(one, offset, grid, midline) > _right_share(two, offset, grid, midline):
            return two, one
        return one, two
    parts = _nearest_split(component)
    if parts is not None:
        one, two = parts == 1, parts == 2
        if _right_share(one, offset, grid, midline) > _right_share(two, offset, grid, midline):
            return two, one
        return one, two
    # no bridge to cut: the midline decides
    k, j, i = np.nonzero(component)
    x = grid.ras(np.stack([k, j, i], axis=1) + offset)[:, 0]
    right = np.zeros_like(component)
    right[k[x > midline], j[x > midline], i[x > midline]] = True
    return component & ~right, right


def lung_masks(
    hu: F32,
    body: Mask,
    grid: Grid,
    *,
    threshold: float = -400.0,
    gas_hu: float = -950.0,
    max_gas_fraction: float = 0.25,
    min_ml: float = 10.0,
    smooth: F32 | None = None,
) -> LungMasks:
    """The left and right lung (vessels inside them included).

    Parameters
    ----------
    hu, grid
        The CT and its geometry.
    smooth
        A denoised copy of ``hu``: components are found and judged on it (noise would
        break the chest wall and make lung look like gas), then each lung takes the voxels
        of ``hu`` below ``threshold`` within one voxel of it.
    body
        The body outline (:func:`~radcurate.analyze.masks_body.body_mask`).
    threshold
        Lung is below this (HU).
    gas_hu, max_gas_fraction
        A component with more than this share of voxels below ``gas_hu`` is gas, not lung.
    min_ml
        Smaller components are not lung.
    """
    raw = hu
    hu = raw if smooth is None else smooth
    lungs = _lung_components(hu, body, grid, threshold, gas_hu, max_gas_fraction, min_ml)
    left = np.zeros(hu.shape, dtype=bool)
    right = np.zeros(hu.shape, dtype=bool)
    if not lungs.any():
        return LungMasks(left, right)
    midline = _midline_x(body, grid)
    lungs &= ~_airways(lungs, hu, grid, gas_hu, midline)
    labels, count = ndimage.label(lungs)
    small = component_sizes(labels, count) * grid.voxel_ml < min_ml
    labels[small[labels]] = 0
    for index, box in enumerate(ndimage.find_objects(labels), start=1):
        if box is None:
            continue
        component = labels[box] == index
        offset = np.array([b.start for b in box], dtype=np.float64)
        share = _right_share(component, offset, grid, midline)
        if min(share, 1.0 - share) < _JOINED_SHARE:
            (right if share > 0.5 else left)[box] |= component
            continue
        part_left, part_right = _split(component, hu[box], gas_hu, offset, grid, midline)
        left[box] |= part_left
        right[box] |= part_right
    if smooth is not None:
        air = (raw < threshold) & body
        left_near = ndimage.binary_dilation(left) & air
        right_near = ndimage.binary_dilation(right) & air
        left, right = left_near & ~right, right_near & ~left
    return LungMasks(fill_holes_per_slice(left), fill_holes_per_slice(right))
