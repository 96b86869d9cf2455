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
    SLICE_WISE,
    Grid,
    Mask,
    component_sizes,
    disk,
    fill_holes_per_slice,
    in_plane,
    keep_components,
)

__all__ = ["body_mask"]

#: share of a hole's rim on the body for the hole to count as inside it
_RIM_ON_BODY = 0.6
#: a hole at least this thick (mm, in-plane) is inside the body whatever its rim
_THICK_HOLE_MM = 10.0


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
    body = fill_holes_per_slice(restored)
    pixel_mm = min(grid.spacing[1:])
    return body | _enclosed_by_thin_wall(tissue, body, structure, pixel_mm)


def _enclosed_by_thin_wall(tissue: Mask, body: Mask, structure: Mask, pixel_mm: float) -> Mask:
    """Air the opening let out: holes that only the full tissue mask closes (a chest wall
    thinner than the opening, as in small patients), with the thin wall itself. A hole is
    taken when the body makes most of its rim, or when it is thick (lungs); the gap between
    the back and the table is thin and has the table as half its rim."""
    holes = fill_holes_per_slice(tissue | body) & ~tissue & ~body
    if not holes.any():
        return holes
    labels, count = ndimage.label(holes, structure=SLICE_WISE)
    owner = ndimage.grey_dilation(labels, footprint=SLICE_WISE)
    rim = (owner > 0) & (labels == 0)
    total = np.bincount(owner[rim], minlength=count + 1)
    on_body = np.bincount(owner[rim & body], minlength=count + 1)
    area = np.bincount(labels.ravel(), minlength=count + 1)
    thickness_mm = 2.0 * area / np.maximum(total, 1) * pixel_mm  # a disk's radius, a strip's width
    enclosed = (on_body >= _RIM_ON_BODY * np.maximum(total, 1)) | (thickness_mm >= _THICK_HOLE_MM)
    enclosed[0] = False
    found: Mask = enclosed[labels]
    wall: Mask = ndimage.binary_dilation(found, structure=structure) & tissue
    return found | wall
