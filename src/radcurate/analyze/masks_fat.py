"""Subcutaneous fat of a CT: fat (-190..-30 HU) between the skin and the muscle wall.

The muscle wall is what is denser than fat once a ``skin_mm`` band under the body's surface
is set aside (the skin would otherwise enclose everything); an in-plane closing of
``wall_close_mm`` bridges the wall's gaps and filling each slice gives the inside of the
trunk (or of each limb). Fat in the body outside that is subcutaneous. The inside is smooth,
so it is computed on a grid of about ``wall_grid_mm`` voxels, which keeps the wide closing
cheap on fine volumes. Skeletal muscle is not separated: without a model, HU cannot tell
it from the organs beside it.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from radcurate.analyze.masks_grid import (
    F32,
    Grid,
    Mask,
    block_mean,
    disk,
    fill_holes_per_slice,
    in_plane,
    upsample,
    working_grid,
)

__all__ = ["FAT_HU", "subcutaneous_fat_mask"]

#: the usual CT range of adipose tissue (HU)
FAT_HU = (-190.0, -30.0)


def _inside_wall(hu: F32, body: Mask, grid: Grid, skin_mm: float, close_mm: float) -> Mask:
    """What the muscle wall encloses, slice by slice."""
    step = min(grid.spacing[1:])
    skin = max(1, round(skin_mm / step))
    under_skin = ndimage.binary_erosion(body, structure=in_plane(disk(skin)))
    wall = (hu > FAT_HU[1]) & under_skin
    radius = max(1, round(close_mm / step))
    pad = ((0, 0), (radius, radius), (radius, radius))
    closed = ndimage.binary_closing(np.pad(wall, pad), structure=in_plane(disk(radius)))
    return fill_holes_per_slice(closed[:, radius:-radius, radius:-radius])


def subcutaneous_fat_mask(
    hu: F32,
    body: Mask,
    grid: Grid,
    *,
    skin_mm: float = 6.0,
    wall_close_mm: float = 12.0,
    wall_grid_mm: float = 3.0,
) -> Mask:
    """Subcutaneous fat (see the module docstring for the parameters)."""
    step = max(1, round(wall_grid_mm / min(grid.spacing[1:])))
    factors = (1, step, step)  # the closing acts in-plane: keep every slice
    coarse_grid = working_grid(grid, factors)
    coarse_hu = block_mean(hu, factors)
    coarse_body = block_mean(body.astype(np.float32), factors) > 0.5
    inside = _inside_wall(coarse_hu, coarse_body, coarse_grid, skin_mm, wall_close_mm)
    inside_full = upsample(inside, factors, hu.shape)
    # the body's edge pixels mix skin with air: their values fall in the fat range too
    inner = ndimage.binary_erosion(body, structure=in_plane(disk(1)))
    fat: Mask = (hu >= FAT_HU[0]) & (hu <= FAT_HU[1]) & inner & ~inside_full
    return fat
