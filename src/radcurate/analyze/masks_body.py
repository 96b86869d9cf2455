"""The body outline of a CT: what is patient, not air, table, cushions or cables.

Tissue is above ``threshold`` HU (fat is about -100, so -300 keeps skin and fat while the
table's foam and most of its padding fall below it). An opening within each slice with a
disk of ``detach_mm`` radius cuts what is thinner than about twice that (the table's shell,
cables, padding bridges); the largest 3-D component is the trunk, and other components are
kept when they are thick and big enough to be body parts (arms beside the trunk, the other
leg). What the opening shaved off the kept parts comes back (tissue within ``detach_mm``),
and every slice's holes are filled, so lungs, airways and bowel gas are inside the body.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from radcurate.analyze.masks_grid import (
    F32,
    Grid,
    Mask,
    component_sizes,
    disk,
    fill_holes_per_slice,
    in_plane,
    keep_components,
)

__all__ = ["body_mask"]


def body_mask(
    hu: F32,
    grid: Grid,
    *,
    threshold: float = -300.0,
    detach_mm: float = 4.0,
    min_part_ml: float = 30.0,
) -> Mask:
    """The body outline (holes filled slice by slice).

    Parameters
    ----------
    hu
        ``(slices, rows, columns)`` Hounsfield units.
    grid
        Its geometry.
    threshold
        Tissue is above this (HU).
    detach_mm
        In-plane opening radius that separates the table and cables from the body.
    min_part_ml
        Components besides the largest are kept from this volume up (arms, a separate leg).
    """
    tissue = hu > threshold
    radius = max(1, round(detach_mm / min(grid.spacing[1:])))
    structure = in_plane(disk(radius))
    opened = ndimage.binary_opening(tissue, structure=structure)
    labels, count = ndimage.label(opened)
    if count == 0:
        return np.zeros(hu.shape, dtype=bool)
    sizes = component_sizes(labels, count)
    keep = sizes >= max(min_part_ml / grid.voxel_ml, 1.0)
    keep[int(np.argmax(sizes))] = True
    kept = keep_components(labels, keep)
    restored = ndimage.binary_dilation(kept, structure=structure) & tissue | kept
    return fill_holes_per_slice(restored)
