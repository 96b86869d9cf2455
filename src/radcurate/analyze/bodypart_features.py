"""What one axial cross-section of a CT shows: the image features the body-part annotator reads.

Each plane (values in HU, reduced to pixels of about 3 mm by block means, see
:func:`reduce_plane`) is summarised as a :class:`PlaneFeatures`:

outlines
    Tissue is ``HU > body_hu`` (-500) with its holes filled, opened with a 3x3 cross
    (drops table edges, cables, noise) and split into connected outlines; outlines under
    5 cm² are ignored.
    Two outlines of similar size (the smaller at least 40 % of the larger, each at least
    20 cm²) and nothing bigger are a *limb pair* (both legs or both arms in the field).
trunk
    The largest outline with its holes filled (lungs, bowel gas) and with what hangs on it
    through a neck narrower than 4 cm cut off (arms lying against the trunk): an opening
    by reconstruction with a 20 mm disc, computed with two distance transforms.
lungs
    Air (``HU < air_hu``, -400) inside the trunk in pieces of at least 1 cm², as a
    fraction of the trunk area. Mid-chest 0.25-0.45; bowel gas in the abdomen stays
    under 0.06.
bone
    ``HU >= bone_hu`` (200) inside the trunk, as a fraction of its area (skull base and
    face 0.1-0.3, elsewhere under 0.1; contrast-filled vessels count too).
skull ring
    Soft tissue enclosed by bone (holes of the bone mask) as a fraction of the trunk: the
    brain inside the cranial vault gives 0.4-0.75; a vertebra's canal or a rib cage cut
    obliquely stays under 0.05.
lateral bone
    Bone farther than 30 % of the half-width from the trunk's centre along the patient's
    left-right axis, in percent of the trunk area: iliac wings, acetabula and femoral
    heads give 1-6 %, lower ribs 0-2 %, shoulders 3-8 % (but those lie above the lungs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from radcurate.optional import import_optional

__all__ = [
    "EMPTY",
    "PlaneFeatures",
    "Thresholds",
    "plane_features",
    "reduce_factor",
    "reduce_plane",
]

F32 = npt.NDArray[np.float32]
Mask = npt.NDArray[np.bool_]

#: pixel size the planes are reduced to before their features are read (mm)
TARGET_PIXEL_MM = 3.0
_MIN_OUTLINE_CM2 = 5.0
_MIN_LIMB_CM2 = 20.0
_LIMB_RATIO = 0.4
_ARM_NECK_MM = 20.0
_MIN_AIR_CM2 = 1.0
_LATERAL = 0.3


@dataclass(frozen=True)
class Thresholds:
    """HU thresholds of the features (see the module docstring)."""

    body_hu: float = -500.0
    air_hu: float = -400.0
    bone_hu: float = 200.0


@dataclass(frozen=True)
class PlaneFeatures:
    """The features of one cross-section (see the module docstring).

    Attributes
    ----------
    area_cm2
        Area of the trunk outline (filled, arms cut off); 0 when no body is seen.
    limb_pair
        Two separate outlines of similar size and nothing larger.
    lung_fraction, bone_fraction, skull_ring
        Fractions of the trunk area.
    lateral_bone_pct
        Lateral bone in percent of the trunk area.
    """

    area_cm2: float
    limb_pair: bool
    lung_fraction: float
    bone_fraction: float
    skull_ring: float
    lateral_bone_pct: float


EMPTY = PlaneFeatures(0.0, False, 0.0, 0.0, 0.0, 0.0)


def _ndimage() -> Any:
    return import_optional("scipy.ndimage", "the CT body-part annotator")


def reduce_factor(spacing: tuple[float, float], target_mm: float = TARGET_PIXEL_MM) -> int:
    """The block size that brings pixels of ``spacing`` (row, column mm) to about ``target_mm``.

    Examples
    --------
    >>> reduce_factor((0.78, 0.78)), reduce_factor((3.0, 3.0))
    (4, 1)
    """
    return max(1, round(target_mm / max(spacing[0], spacing[1], 1e-6)))


def reduce_plane(plane: npt.NDArray[Any], factor: int) -> F32:
    """Block means of ``factor`` x ``factor`` pixels (a ragged edge is dropped).

    Examples
    --------
    >>> reduce_plane(np.arange(16, dtype=np.float32).reshape(4, 4), 2).tolist()
    [[2.5, 4.5], [10.5, 12.5]]
    """
    if factor <= 1:
        return np.asarray(plane, dtype=np.float32)
    rows, cols = plane.shape[0] // factor * factor, plane.shape[1] // factor * factor
    if rows == 0 or cols == 0:
        return np.asarray(plane, dtype=np.float32)
    blocks = np.asarray(plane[:rows, :cols], dtype=np.float32).reshape(
        rows // factor, factor, cols // factor, factor
    )
    reduced: F32 = blocks.sum(axis=3, dtype=np.float32).sum(axis=1) / np.float32(factor * factor)
    return reduced


def _fill_holes(ndi: Any, mask: Mask) -> Mask:
    """``mask`` with every background region that does not touch the border filled in
    (what ``binary_fill_holes`` does, with one labelling instead of iterated dilations)."""
    background, count = ndi.label(~mask)
    if count == 0:
        return mask
    edge = np.concatenate([background[0], background[-1], background[:, 0], background[:, -1]])
    open_air = np.zeros(count + 1, dtype=np.bool_)
    open_air[edge] = True
    open_air[0] = False  # label 0 is the mask itself
    filled: Mask = ~open_air[background]
    return filled


def _trunk(ndi: Any, outline: Mask, pixel_mm: float) -> Mask:
    """``outline`` without what hangs on it through a neck narrower than twice the radius."""
    depth = ndi.distance_transform_edt(outline) * pixel_mm
    core, count = ndi.label(depth > _ARM_NECK_MM)
    if count == 0:
        return outline
    sizes = np.bincount(core.ravel())[1:]
    kept = core == int(np.argmax(sizes)) + 1
    reach = ndi.distance_transform_edt(~kept) * pixel_mm
    trunk: Mask = outline & (reach <= _ARM_NECK_MM + pixel_mm)
    return trunk


def _lateral_bone_pct(
    trunk: Mask, bone: Mask, spacing: tuple[float, float], left_right: tuple[float, float]
) -> float:
    """Bone farther than 30 % of the half-width from the centre along the left-right axis."""
    rows, cols = np.nonzero(trunk)
    along = rows * (spacing[0] * left_right[0]) + cols * (spacing[1] * left_right[1])
    low, high = float(along.min()), float(along.max())
    half = (high - low) / 2
    if half <= 0:
        return 0.0
    brows, bcols = np.nonzero(bone)
    bone_along = brows * (spacing[0] * left_right[0]) + bcols * (spacing[1] * left_right[1])
    lateral = int(np.count_nonzero(np.abs(bone_along - (low + high) / 2) > _LATERAL * half))
    return 100.0 * lateral / rows.size


def plane_features(
    plane: npt.NDArray[Any],
    spacing: tuple[float, float],
    left_right: tuple[float, float] = (0.0, 1.0),
    thresholds: Thresholds = Thresholds(),
) -> PlaneFeatures:
    """The features of one cross-section.

    Parameters
    ----------
    plane
        HU values, ``(rows, columns)``, best reduced to pixels of about 3 mm first.
    spacing
        Pixel size ``(row, column)`` in mm.
    left_right
        The patient's left-right direction in the plane as ``(row, column)`` components
        (a unit vector; its sign does not matter).
    """
    ndi = _ndimage()
    pixel_cm2 = spacing[0] * spacing[1] / 100.0
    cross = ndi.generate_binary_structure(2, 1)
    # fill before opening: a thin chest wall (a child's, at 3 mm) must not open the lungs
    tissue = ndi.binary_opening(_fill_holes(ndi, plane > thresholds.body_hu), cross)
    labels, count = ndi.label(tissue)
    if count == 0:
        return EMPTY
    areas = np.bincount(labels.ravel())[1:] * pixel_cm2
    order = np.argsort(areas)[::-1]
    if areas[order[0]] < _MIN_OUTLINE_CM2:
        return EMPTY
    limb_pair = bool(
        count > 1
        and areas[order[1]] >= _MIN_LIMB_CM2
        and areas[order[1]] >= _LIMB_RATIO * areas[order[0]]
    )
    outline = _fill_holes(ndi, labels == order[0] + 1)
    trunk = _trunk(ndi, outline, (spacing[0] + spacing[1]) / 2)
    trunk_pixels = int(np.count_nonzero(trunk))
    area = trunk_pixels * pixel_cm2

    air_labels, air_count = ndi.label(trunk & (plane < thresholds.air_hu))
    lung = 0.0
    if air_count:
        air_areas = np.bincount(air_labels.ravel())[1:] * pixel_cm2
        lung = float(air_areas[air_areas >= _MIN_AIR_CM2].sum()) / area

    bone = trunk & (plane >= thresholds.bone_hu)
    bone_pixels = int(np.count_nonzero(bone))
    ring = lateral = 0.0
    if bone_pixels:
        enclosed = int(np.count_nonzero(_fill_holes(ndi, bone))) - bone_pixels
        ring = enclosed / trunk_pixels
        lateral = _lateral_bone_pct(trunk, bone, spacing, left_right)
    return PlaneFeatures(
        area_cm2=area,
        limb_pair=limb_pair,
        lung_fraction=lung,
        bone_fraction=bone_pixels / trunk_pixels,
        skull_ring=ring,
        lateral_bone_pct=lateral,
    )
