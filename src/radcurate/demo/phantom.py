"""Numerical anatomical phantoms: label volumes for the trunk and the head.

A template is a 3-D label map (one :class:`Label` per voxel) built once per
region from ellipses and ellipsoids, then sampled along any axis-aligned
image plane with nearest-neighbour index arrays.  Per-patient variation is a
scale and a shift applied at sampling time, so a template is never rebuilt.

Coordinates are DICOM patient coordinates (LPS, millimetres): +x towards the
patient's left, +y posterior, +z superior.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np
import numpy.typing as npt

__all__ = [
    "HU",
    "Anatomy",
    "Label",
    "PhantomCache",
    "Template",
    "build_head",
    "build_trunk",
    "hu_lut",
    "mr_signal",
]

LabelArray = npt.NDArray[np.uint8]
FloatArray = npt.NDArray[np.float32]


class Label(IntEnum):
    """Tissue labels of the phantom."""

    AIR = 0
    FAT = 1
    MUSCLE = 2
    LUNG = 3
    BLOOD = 4
    AIRWAY = 5
    LIVER = 6
    SPLEEN = 7
    KIDNEY_CORTEX = 8
    KIDNEY_MEDULLA = 9
    BOWEL = 10
    VERTEBRA_CORTEX = 11
    VERTEBRA_CANCELLOUS = 12
    RIB = 13
    PELVIS = 14
    CSF = 15
    SKULL = 16
    GREY_MATTER = 17
    WHITE_MATTER = 18
    VENTRICLE = 19
    EYE = 20
    DISC = 21


#: Mean Hounsfield units per label.
HU: dict[Label, float] = {
    Label.AIR: -1000.0,
    Label.FAT: -100.0,
    Label.MUSCLE: 40.0,
    Label.LUNG: -850.0,
    Label.BLOOD: 45.0,
    Label.AIRWAY: -990.0,
    Label.LIVER: 60.0,
    Label.SPLEEN: 50.0,
    Label.KIDNEY_CORTEX: 150.0,
    Label.KIDNEY_MEDULLA: 35.0,
    Label.BOWEL: 25.0,
    Label.VERTEBRA_CORTEX: 1000.0,
    Label.VERTEBRA_CANCELLOUS: 350.0,
    Label.RIB: 800.0,
    Label.PELVIS: 700.0,
    Label.CSF: 5.0,
    Label.SKULL: 1200.0,
    Label.GREY_MATTER: 38.0,
    Label.WHITE_MATTER: 28.0,
    Label.VENTRICLE: 5.0,
    Label.EYE: 10.0,
    Label.DISC: 80.0,
}

#: Relative MR signal per label for the T1-like, T2-like and FLAIR-like contrasts.
_MR: dict[str, dict[Label, float]] = {
    "T1": {
        Label.FAT: 1000,
        Label.MUSCLE: 380,
        Label.CSF: 120,
        Label.SKULL: 40,
        Label.GREY_MATTER: 520,
        Label.WHITE_MATTER: 780,
        Label.VENTRICLE: 110,
        Label.EYE: 140,
        Label.BLOOD: 300,
        Label.AIRWAY: 5,
    },
    "T2": {
        Label.FAT: 650,
        Label.MUSCLE: 260,
        Label.CSF: 1500,
        Label.SKULL: 40,
        Label.GREY_MATTER: 880,
        Label.WHITE_MATTER: 600,
        Label.VENTRICLE: 1550,
        Label.EYE: 1400,
        Label.BLOOD: 150,
        Label.AIRWAY: 5,
    },
    "FLAIR": {
        Label.FAT: 700,
        Label.MUSCLE: 300,
        Label.CSF: 90,
        Label.SKULL: 40,
        Label.GREY_MATTER: 820,
        Label.WHITE_MATTER: 620,
        Label.VENTRICLE: 80,
        Label.EYE: 120,
        Label.BLOOD: 150,
        Label.AIRWAY: 5,
    },
}


def hu_lut() -> FloatArray:
    """Return a lookup table ``label -> HU`` (indexable by a label array)."""
    lut = np.zeros(max(Label) + 1, dtype=np.float32)
    for label, value in HU.items():
        lut[label] = value
    return lut


def mr_signal(contrast: str) -> FloatArray:
    """Return a lookup table ``label -> MR signal`` for ``contrast`` (T1, T2, FLAIR)."""
    lut = np.zeros(max(Label) + 1, dtype=np.float32)
    for label, value in _MR[contrast].items():
        lut[label] = value
    return lut


@dataclass(frozen=True)
class Template:
    """A label volume indexed ``[z, y, x]`` with its voxel size and centre.

    Parameters
    ----------
    region
        ``"trunk"`` or ``"head"``.
    labels
        The label volume, axis 0 along +z, axis 1 along +y, axis 2 along +x.
    voxel
        Voxel size in mm as ``(x, y, z)``.
    """

    region: str
    labels: LabelArray
    voxel: tuple[float, float, float]

    def shape_xyz(self) -> tuple[int, int, int]:
        """Number of voxels along x, y and z."""
        nz, ny, nx = self.labels.shape
        return nx, ny, nz


@dataclass(frozen=True)
class Anatomy:
    """Per-patient variation: anatomy scale factors and position of the template centre.

    Parameters
    ----------
    scale
        Scale factors along x, y and z (1.0 = template size).
    centre
        Patient coordinates (mm) of the template centre.
    """

    scale: tuple[float, float, float] = (1.0, 1.0, 1.0)
    centre: tuple[float, float, float] = (0.0, 0.0, 0.0)


def _grid(n: int, voxel: float) -> FloatArray:
    return ((np.arange(n, dtype=np.float32) - (n - 1) / 2.0) * voxel).astype(np.float32)


class _Painter:
    """Paints ellipses into one 2-D slice of a template."""

    def __init__(self, x: FloatArray, y: FloatArray) -> None:
        self.x: FloatArray = x[None, :]
        self.y: FloatArray = y[:, None]
        self.out: LabelArray = np.zeros((y.size, x.size), dtype=np.uint8)

    def ellipse(
        self,
        label: Label,
        cx: float,
        cy: float,
        ax: float,
        ay: float,
        only: tuple[Label, ...] | None = None,
        extra: npt.NDArray[np.bool_] | None = None,
    ) -> npt.NDArray[np.bool_]:
        mask: npt.NDArray[np.bool_] = ((self.x - cx) / max(ax, 1e-3)) ** 2 + (
            (self.y - cy) / max(ay, 1e-3)
        ) ** 2 <= 1.0
        if extra is not None:
            mask &= extra
        if only is not None:
            mask &= np.isin(self.out, np.array(only, dtype=np.uint8))
        self.out[mask] = label
        return mask

    def ellipsoid(
        self,
        label: Label,
        z: float,
        centre: tuple[float, float, float],
        semi: tuple[float, float, float],
        only: tuple[Label, ...] | None = None,
    ) -> None:
        t = 1.0 - ((z - centre[2]) / semi[2]) ** 2
        if t <= 0:
            return
        f = float(np.sqrt(t))
        self.ellipse(label, centre[0], centre[1], semi[0] * f, semi[1] * f, only)


_SOFT = (Label.FAT, Label.MUSCLE, Label.BOWEL, Label.LUNG, Label.BLOOD)


def _trunk_slice(p: _Painter, z: float) -> None:
    ax = 165.0 + (25.0 if z > 200 else 0.0) - (10.0 if z < -200 else 0.0)
    ay = 108.0 if z > -20 else 118.0
    p.ellipse(Label.FAT, 0, 0, ax, ay)
    p.ellipse(Label.MUSCLE, 0, 0, ax - 14, ay - 12)
    if z < -20:  # abdomen: visceral fat and bowel loops
        p.ellipse(Label.FAT, 0, -5, ax - 32, ay - 30, only=(Label.MUSCLE,))
        for k in range(7):
            ang = k * 0.9 + z / 60.0
            p.ellipse(
                Label.BOWEL, 60 * np.cos(ang), -25 + 35 * np.sin(ang), 22, 16, only=(Label.FAT,)
            )
    # lungs with domed bases, heart, trachea, great vessels
    p.ellipsoid(Label.LUNG, z, (-72, 8, 105), (58, 80, 140), only=(Label.MUSCLE,))
    p.ellipsoid(Label.LUNG, z, (72, 8, 100), (54, 78, 140), only=(Label.MUSCLE,))
    p.ellipsoid(Label.BLOOD, z, (22, -22, 95), (62, 52, 60), only=_SOFT)
    p.ellipse(
        Label.BLOOD, 18, 48, 12, 12, only=_SOFT, extra=np.array(-210 < z < 150, dtype=np.bool_)
    )
    if z > 140:
        p.ellipse(Label.AIRWAY, 0, -12, 9, 9)
    # abdominal organs
    p.ellipsoid(Label.LIVER, z, (-62, -8, -45), (92, 82, 90), only=_SOFT)
    p.ellipsoid(Label.SPLEEN, z, (88, 40, -55), (32, 42, 48), only=_SOFT)
    for side in (-1.0, 1.0):
        p.ellipsoid(Label.KIDNEY_CORTEX, z, (side * 72, 52, -140), (28, 24, 55), only=_SOFT)
        p.ellipsoid(Label.KIDNEY_MEDULLA, z, (side * 68, 50, -140), (15, 12, 38))
    # ribs: slanted bony bands on a thoracic annulus
    if -60 < z < 230:
        theta: FloatArray = np.arctan2(p.y, p.x)
        band = ((z + 18.0 * np.cos(theta) + 300.0) % 26.0) < 9.0
        anterior = np.abs(theta + np.pi / 2) < 0.35
        ring = p.ellipse(Label.RIB, 0, 0, ax - 16, ay - 14, only=(Label.MUSCLE,))
        inner = ((p.x / (ax - 24)) ** 2 + (p.y / (ay - 22)) ** 2) <= 1.0
        p.out[ring & (inner | ~band | anterior)] = Label.MUSCLE
        p.ellipse(Label.RIB, 0, -ay + 24, 14, 6)  # sternum
    # spine: vertebral body with cortex, discs, canal, posterior arch
    vy = ay - 62
    disc = ((z + 500.0) % 30.0) < 6.0
    if disc:
        p.ellipse(Label.DISC, 0, vy, 23, 19)
    else:
        p.ellipse(Label.VERTEBRA_CORTEX, 0, vy, 23, 19)
        p.ellipse(Label.VERTEBRA_CANCELLOUS, 0, vy, 19, 15)
        p.ellipse(Label.VERTEBRA_CORTEX, 0, vy + 30, 14, 13)
        p.ellipse(Label.VERTEBRA_CORTEX, 0, vy + 48, 5, 12)
    p.ellipse(Label.CSF, 0, vy + 30, 8, 8)
    if z < -190:  # iliac wings
        for side in (-1.0, 1.0):
            p.ellipse(Label.PELVIS, side * 105, 35, 40, 13, only=(*_SOFT, Label.KIDNEY_CORTEX))


def _head_slice(p: _Painter, z: float) -> None:
    p.ellipsoid(Label.MUSCLE, z, (0, 0, 0), (80, 100, 102))
    p.ellipsoid(Label.FAT, z, (0, 0, 0), (77, 97, 99))
    p.ellipsoid(Label.SKULL, z, (0, 0, 0), (74, 94, 96))
    p.ellipsoid(Label.CSF, z, (0, 0, 0), (67, 87, 89))
    p.ellipsoid(Label.GREY_MATTER, z, (0, 0, 2), (65, 85, 86))
    p.ellipsoid(Label.WHITE_MATTER, z, (0, 0, 4), (56, 75, 76))
    for side in (-1.0, 1.0):
        p.ellipsoid(Label.VENTRICLE, z, (side * 11, -4, 18), (7, 28, 14))
        p.ellipsoid(Label.EYE, z, (side * 32, -70, -40), (12, 12, 12))
    p.ellipsoid(Label.VENTRICLE, z, (0, 8, 2), (2.5, 12, 8))
    p.ellipsoid(Label.AIRWAY, z, (0, -72, -55), (16, 14, 16))
    if z < -62:  # face and skull base: solid soft tissue with bone
        p.out[p.out == Label.CSF] = Label.MUSCLE
        p.out[np.isin(p.out, [Label.GREY_MATTER, Label.WHITE_MATTER])] = Label.MUSCLE


def _build(
    region: str, n_xy: int, voxel_xy: float, z_lo: float, z_hi: float, vz: float
) -> Template:
    x = _grid(n_xy, voxel_xy)
    zs = np.arange(z_lo, z_hi + vz / 2, vz)
    vol: LabelArray = np.zeros((zs.size, n_xy, n_xy), dtype=np.uint8)
    paint = _trunk_slice if region == "trunk" else _head_slice
    for i, z in enumerate(zs):
        p = _Painter(x, x)
        paint(p, float(z))
        vol[i] = p.out
    return Template(region=region, labels=vol, voxel=(voxel_xy, voxel_xy, vz))


def build_trunk() -> Template:
    """Build the chest + abdomen template (z from -250 to +250 mm around its centre)."""
    return _build("trunk", 256, 1.6, -250.0, 250.0, 2.0)


def build_head() -> Template:
    """Build the head template (z from -100 to +110 mm around the brain centre)."""
    return _build("head", 224, 1.0, -100.0, 110.0, 1.0)


#: z range (template coordinates, mm) covered by each scan region.
REGION_Z: dict[str, tuple[float, float, str]] = {
    "chest": (-50.0, 240.0, "trunk"),
    "abdomen": (-250.0, 20.0, "trunk"),
    "head": (-70.0, 100.0, "head"),
}


@dataclass
class PhantomCache:
    """Templates built once per region and reused for every series.

    One cache belongs to one archive generation; it is not global state.
    """

    _templates: dict[str, Template] = field(default_factory=dict)
    _projections: dict[str, FloatArray] = field(default_factory=dict)

    def template(self, region: str) -> Template:
        """Return the template for ``region`` ("chest", "abdomen", "head", "trunk")."""
        name = REGION_Z[region][2] if region in REGION_Z else region
        if name not in self._templates:
            self._templates[name] = build_trunk() if name == "trunk" else build_head()
        return self._templates[name]

    def projection(self, region: str) -> FloatArray:
        """Return the antero-posterior attenuation line integral ``[z, x]`` of a template."""
        name = REGION_Z[region][2] if region in REGION_Z else region
        if name not in self._projections:
            tpl = self.template(name)
            mu = np.clip(hu_lut() + 1000.0, 0, None) / 1000.0 * 0.02  # 1/mm, water = 0.02
            self._projections[name] = mu[tpl.labels].sum(axis=1, dtype=np.float32) * np.float32(
                tpl.voxel[1]
            )
        return self._projections[name]
