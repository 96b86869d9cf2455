"""The structures the CT mask annotator finds, their coded concepts, and one function that
computes them all from a CT volume.

Large volumes are processed on a working grid of about ``working_mm`` voxels (2 x 2 x 2
blocks of a 0.7 mm CT): the rules are about structures of centimetres, and the work and
memory shrink eightfold. Masks come back on the full grid (each working voxel repeated over
its block), which is the grid of the source slices a DICOM Segmentation references.

Examples
--------
>>> import numpy as np
>>> hu = np.full((4, 32, 32), -1000, dtype=np.float32)
>>> hu[:, 6:26, 6:26] = 40  # a block of soft tissue in air
>>> masks = compute_masks(hu, np.diag([2.0, 2.0, 2.0, 1.0]), ("body",))
>>> round(masks.volume_ml("body"), 1)
12.8
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code
from scipy import ndimage

from radcurate.analyze.masks_body import body_mask
from radcurate.analyze.masks_bone import bone_mask
from radcurate.analyze.masks_fat import subcutaneous_fat_mask
from radcurate.analyze.masks_grid import (
    F32,
    F64,
    Grid,
    Mask,
    block_mean,
    upsample,
    working_factors,
    working_grid,
)
from radcurate.analyze.masks_lung import lung_masks

__all__ = [
    "STRUCTURES",
    "MaskSet",
    "MaskSettings",
    "Structure",
    "compute_masks",
]


@dataclass(frozen=True)
class Structure:
    """One segment: its result name, label and SNOMED CT coded concepts.

    Attributes
    ----------
    name
        The key under ``ai.volume_ml`` (lower_snake).
    label
        SegmentLabel.
    category, type
        SegmentedPropertyCategory (CID 7150) and SegmentedPropertyType (CID 7151 / 7166).
    modifier
        SegmentedPropertyTypeModifier: laterality (CID 244), or None.
    color
        Recommended display colour (RGB).
    """

    name: str
    label: str
    category: Code
    type: Code
    modifier: Code | None = None
    color: tuple[int, int, int] = (128, 128, 128)


#: every structure, in segment-number order
STRUCTURES: tuple[Structure, ...] = (
    Structure("body", "Body", codes.SCT.AnatomicalStructure, codes.SCT.EntireBody, None,
              (177, 122, 101)),
    Structure("lung_left", "Left lung", codes.SCT.AnatomicalStructure, codes.SCT.Lung,
              codes.SCT.Left, (128, 174, 128)),
    Structure("lung_right", "Right lung", codes.SCT.AnatomicalStructure, codes.SCT.Lung,
              codes.SCT.Right, (111, 184, 210)),
    Structure("bone", "Bone", codes.SCT.Tissue, codes.SCT.Bone, None, (241, 214, 145)),
    Structure("subcutaneous_fat", "Subcutaneous fat", codes.SCT.Tissue,
              codes.SCT.AdiposeTissue, None, (230, 220, 70)),
)  # fmt: skip

_BY_NAME = {s.name: s for s in STRUCTURES}
_IN_PLANE_SQUARE = np.ones((1, 3, 3), dtype=bool)
#: the names of every structure, in segment order
ALL_NAMES = tuple(_BY_NAME)


@dataclass(frozen=True)
class MaskSettings:
    """Thresholds of the mask rules (the modules' docstrings explain each)."""

    working_mm: float = 2.5
    body_hu: float = -300.0
    lung_hu: float = -400.0
    gas_hu: float = -950.0
    max_gas_fraction: float = 0.25
    min_lung_ml: float = 10.0
    bone_low_hu: float = 120.0
    bone_seed_hu: float = 300.0
    denoise: bool = True


@dataclass
class MaskSet:
    """Masks on a working grid and the full grid they stand for."""

    shape: tuple[int, int, int]
    affine: F64
    factors: tuple[int, int, int]
    working: dict[str, Mask] = field(default_factory=dict)
    _volumes: dict[str, float] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        """The structures computed, in segment order."""
        return [s.name for s in STRUCTURES if s.name in self.working]

    def full(self, name: str) -> Mask:
        """The mask of ``name`` on the full grid."""
        return upsample(self.working[name], self.factors, self.shape)

    def volume_ml(self, name: str) -> float:
        """Volume of ``name`` in millilitres (counted on the full grid)."""
        if name not in self._volumes:
            voxel = abs(float(np.linalg.det(self.affine[:3, :3]))) / 1000.0
            self._volumes[name] = int(np.count_nonzero(self.full(name))) * voxel
        return self._volumes[name]


def structure(name: str) -> Structure:
    """The :class:`Structure` called ``name`` (KeyError when unknown)."""
    return _BY_NAME[name]


def compute_masks(
    hu: F32,
    affine: F64,
    names: Iterable[str] = ALL_NAMES,
    settings: MaskSettings | None = None,
) -> MaskSet:
    """The masks of ``names`` for a CT volume.

    Parameters
    ----------
    hu
        ``(slices, rows, columns)`` in HU (``series_volume(...).array``).
    affine
        Voxel ``(column, row, slice, 1)`` -> RAS mm (``series_volume(...).affine``).
    names
        Structures to compute (:data:`STRUCTURES`' names); the body is always computed.
    """
    settings = settings or MaskSettings()
    wanted = set(names)
    unknown = wanted - set(_BY_NAME)
    if unknown:
        raise ValueError(f"unknown structures: {', '.join(sorted(unknown))}")
    grid = Grid((hu.shape[0], hu.shape[1], hu.shape[2]), np.asarray(affine, dtype=np.float64))
    factors = working_factors(grid, settings.working_mm)
    work = block_mean(np.asarray(hu, dtype=np.float32), factors)
    wgrid = working_grid(grid, factors)
    out = MaskSet(grid.shape, grid.affine, factors)
    # air, fat and lung are told apart on a denoised copy: noise of 100 HU (thin slices,
    # sharp kernels) otherwise punches holes in the chest wall and turns lung into "gas";
    # blocks of 4 pixels or more are averaged enough (and more blur would close thin walls)
    averaged = factors[1] * factors[2] >= 4
    smooth = work if averaged or not settings.denoise else ndimage.uniform_filter(work, (1, 3, 3))
    body = body_mask(smooth, wgrid, threshold=settings.body_hu)
    if smooth is not work:  # the mean pulls the skin's edge pixels below the threshold
        body |= ndimage.binary_dilation(body, structure=_IN_PLANE_SQUARE) & (
            work > settings.body_hu
        )
    out.working["body"] = body
    lungs_wanted = wanted & {"lung_left", "lung_right", "bone"}
    lungs = None
    if lungs_wanted:
        found = lung_masks(
            work, body, wgrid, smooth=smooth,
            threshold=settings.lung_hu, gas_hu=settings.gas_hu,
            max_gas_fraction=settings.max_gas_fraction, min_ml=settings.min_lung_ml,
        )  # fmt: skip
        lungs = found.left | found.right
        if "lung_left" in wanted:
            out.working["lung_left"] = found.left
        if "lung_right" in wanted:
            out.working["lung_right"] = found.right
    if "bone" in wanted:
        out.working["bone"] = bone_mask(
            work, body, wgrid, lungs=lungs,
            low_hu=settings.bone_low_hu, seed_hu=settings.bone_seed_hu,
        )  # fmt: skip
    if "subcutaneous_fat" in wanted:
        out.working["subcutaneous_fat"] = subcutaneous_fat_mask(work, body, wgrid)
    return out


def ordered(names: Sequence[str]) -> list[Structure]:
    """The structures named, in segment order."""
    return [s for s in STRUCTURES if s.name in set(names)]
