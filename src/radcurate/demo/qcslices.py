"""The slices of the QC phantom's CT series: positions, orientations, pixels and header changes.

Every series starts from the same 20 axial slices (see :mod:`radcurate.demo.qcplan`);
:func:`qc_slices` returns what one series writes instead, with its defect planted.
Pixels are sampled from the phantom along each slice's own plane, so tilted and
oblique slices show what such a plane would cut.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from radcurate.demo.ct import storage
from radcurate.demo.geometry import plane_labels
from radcurate.demo.phantom import PhantomCache, hu_lut
from radcurate.demo.plan import SeriesPlan, StudyPlan
from radcurate.demo.qcplan import BASE_NOISE_HU, SLICES, STEP_MM, TOP_Z

__all__ = [
    "ADDED_NOISE_HU",
    "CONFLICT_KERNEL",
    "EMPTY_SLICE",
    "GAP",
    "METAL_HU",
    "OBLIQUE",
    "QCRender",
    "QCSlice",
    "axial_centre",
    "qc_slices",
]

Vec = tuple[float, float, float]
Pixels = npt.NDArray[np.int16]
Overrides = tuple[tuple[str, object], ...]

#: Slice positions left out of the gap series.
GAP = (9, 10)
#: Slice positions rotated in the mixed-orientation series, and by how much (degrees):
#: six of 20, too many to pass for localizers.
OBLIQUE = ((12, 13, 14, 15, 16, 17), 12.0)
TILT_DEGREES = 15.0
UNEVEN_STEPS = (4.4, 5.6, 4.8, 5.2)
#: Slices per acquisition and the slice index where the second one starts.
ACQUISITION = (14, 9)
CONFLICT_SLICE = 6
#: The conflicting copy: another reconstruction kernel, and its noise factor.
CONFLICT_KERNEL = ("LUNG", 3.0)
DUPLICATE_FRAME_SLICE = 12
MISMATCH_SLICE = 7
ADDED_NOISE_HU = 50.0
METAL_HU = 4000.0
#: (template x, template y, radius) in mm of the metal rod, and the slices it crosses.
METAL = ((35.0, 60.0, 10.0), range(5, 15))
EMPTY_SLICE = 10
_AXIAL: tuple[Vec, Vec] = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0))
_CORONAL: tuple[Vec, Vec] = ((1.0, 0.0, 0.0), (0.0, 0.0, -1.0))


@dataclass(frozen=True)
class QCSlice:
    """One file of a QC series.

    Attributes
    ----------
    key
        Which SOP Instance UID it gets (slices with the same key share one).
    number
        InstanceNumber.
    position, row_dir, col_dir
        ImagePositionPatient and the two ImageOrientationPatient vectors.
    pixels
        Stored values (int16; HU = value - 1024).
    overrides
        Header changes: ``(keyword, value)``, ``None`` deletes the attribute.
    extra_file
        A second file of an already written SOP instance (adds no instance).
    """

    key: int
    number: int
    position: Vec
    row_dir: Vec
    col_dir: Vec
    pixels: Pixels
    overrides: Overrides = ()
    extra_file: bool = False


@dataclass
class QCRender:
    """Samples and stores the QC phantom's pixels; remembers series that others reuse."""

    cache: PhantomCache
    study: StudyPlan
    #: series name -> the stored pixels of its slices (reference, duplicate source)
    kept: dict[str, list[Pixels]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        signed, intercept, bits = storage(self.study.scanner)
        if not signed or bits != 16:
            raise ValueError("the QC phantom needs signed 16-bit CT storage (metal above 3071 HU)")
        self.lut = hu_lut()
        self.offset = np.float32(-intercept)
        self.template = self.cache.template("abdomen")

    def labels(self, series: SeriesPlan, centre: Vec, row: Vec, col: Vec) -> npt.NDArray[np.uint8]:
        """Phantom labels of the plane through ``centre`` with the series' matrix and spacing."""
        geom = series.geometry
        assert geom is not None
        origin = _origin(centre, row, col, geom.spacing[0], geom.rows)
        shape = (geom.rows, geom.columns)
        return plane_labels(
            self.template, self.study.anatomy, origin, row, col, geom.spacing, shape
        )

    def hu(self, series: SeriesPlan, centre: Vec, row: Vec, col: Vec) -> npt.NDArray[np.float32]:
        """Noise-free HU of the plane through ``centre`` with the series' matrix and spacing."""
        out: npt.NDArray[np.float32] = self.lut[self.labels(series, centre, row, col)]
        return out

    def store(self, hu: npt.NDArray[np.float32]) -> Pixels:
        """Stored int16 values of ``hu``."""
        values = np.rint(hu + self.offset)
        out: Pixels = np.clip(values, -32768, 32767).astype(np.int16)
        return out


def _origin(centre: Vec, row: Vec, col: Vec, spacing: float, n: int) -> Vec:
    half = (n - 1) / 2 * spacing
    return (
        round(centre[0] - half * (row[0] + col[0]), 4),
        round(centre[1] - half * (row[1] + col[1]), 4),
        round(centre[2] - half * (row[2] + col[2]), 4),
    )


def axial_centre(study: StudyPlan, k: int) -> Vec:
    """Centre of the QC phantom's axial slice position ``k``."""
    return _centre(study, k * STEP_MM)


def _centre(study: StudyPlan, z_offset: float) -> Vec:
    c = study.anatomy.centre
    return (c[0], c[1], round(c[2] + TOP_Z - z_offset, 4))


class _Series:
    """Builds the slices of one series."""

    def __init__(self, render: QCRender, series: SeriesPlan) -> None:
        geom = series.geometry
        if geom is None:
            raise ValueError(f"QC series {series.defect or 'reference'} has no geometry")
        self.render, self.series, self.geometry = render, series, geom
        self.shape = (geom.rows, geom.columns)
        self.rng = np.random.default_rng(series.rng_key)
        self.slices: list[QCSlice] = []

    def noise(self, sigma: float) -> npt.NDArray[np.float32]:
        """Gaussian noise of ``sigma`` HU, the next draw of the series' generator."""
        out = self.rng.standard_normal(self.shape, dtype=np.float32)
        out *= np.float32(sigma)
        return out

    def add(
        self,
        key: int,
        centre: Vec,
        axes: tuple[Vec, Vec] = _AXIAL,
        *,
        number: int | None = None,
        hu: npt.NDArray[np.float32] | None = None,
        pixels: Pixels | None = None,
        overrides: Overrides = (),
        extra_file: bool = False,
    ) -> QCSlice:
        row, col = axes
        if pixels is None:
            if hu is None:
                hu = self.render.hu(self.series, centre, row, col) + self.noise(BASE_NOISE_HU)
            pixels = self.render.store(hu)
        origin = _origin(centre, row, col, self.geometry.spacing[0], self.geometry.rows)
        made = QCSlice(
            key, key + 1 if number is None else number, origin, row, col, pixels, overrides,
            extra_file,
        )  # fmt: skip
        self.slices.append(made)
        return made

    def axial(self, overrides: Overrides = ()) -> None:
        """Add the 20 plain axial slices, each with ``overrides``."""
        for k in range(SLICES):
            self.add(k, axial_centre(self.render.study, k), overrides=overrides)


def _reference(s: _Series) -> None:
    s.axial()
    s.render.kept["reference"] = [x.pixels for x in s.slices]


def _gap(s: _Series) -> None:
    for k in range(SLICES):
        if k not in GAP:
            s.add(k, axial_centre(s.render.study, k))


def _uneven(s: _Series) -> None:
    offset = 0.0
    for k in range(SLICES):
        s.add(k, _centre(s.render.study, round(offset, 4)))
        offset += UNEVEN_STEPS[k % len(UNEVEN_STEPS)]


def _mixed_orientation(s: _Series) -> None:
    which, degrees = OBLIQUE
    a = math.radians(degrees)
    oblique: tuple[Vec, Vec] = ((_r(math.cos(a)), 0.0, _r(-math.sin(a))), (0.0, 1.0, 0.0))
    for k in range(SLICES):
        s.add(k, axial_centre(s.render.study, k), oblique if k in which else _AXIAL)


def _localizer(s: _Series) -> None:
    study = s.render.study
    geom = s.geometry
    # an antero-posterior projection of the trunk, 400 mm long, centred on the axial stack
    c = study.anatomy.centre
    centre = (c[0], c[1], round(c[2] + TOP_Z - (SLICES - 1) * STEP_MM / 2, 4))
    row, col = _CORONAL
    origin = _origin(centre, row, col, geom.spacing[0], geom.rows)
    projection = s.render.cache.projection("abdomen")
    tpl = s.render.template
    nx, _, nz = tpl.shape_xyz()
    steps = np.arange(geom.rows) * geom.spacing[0]
    xs = np.rint((origin[0] + steps - c[0]) / tpl.voxel[0] + (nx - 1) / 2)
    zs = np.rint((origin[2] - steps - c[2]) / tpl.voxel[2] + (nz - 1) / 2)
    ix = np.clip(xs, 0, nx - 1).astype(np.intp)
    iz = np.clip(zs, 0, nz - 1).astype(np.intp)
    hu = np.float32(-1000.0) + np.float32(250.0) * projection[iz[:, None], ix[None, :]]
    image = ("ORIGINAL", "PRIMARY", "LOCALIZER")
    noisy = hu + s.noise(BASE_NOISE_HU)
    s.add(-1, centre, _CORONAL, number=1, hu=noisy, overrides=(("ImageType", image),))
    for k in range(SLICES):
        s.add(k, axial_centre(study, k), number=k + 2)


def _gantry_tilt(s: _Series) -> None:
    a = math.radians(TILT_DEGREES)
    tilted: tuple[Vec, Vec] = ((1.0, 0.0, 0.0), (0.0, _r(math.cos(a)), _r(math.sin(a))))
    # the table moves along z; each tilted plane is centred on the table's position
    tilt: Overrides = (("GantryDetectorTilt", f"{TILT_DEGREES:g}"),)
    for k in range(SLICES):
        s.add(k, axial_centre(s.render.study, k), tilted, overrides=tilt)


def _mixed_acquisitions(s: _Series) -> None:
    per, start = ACQUISITION
    number = 0
    for acquisition, first in ((1, 0), (2, start)):
        for k in range(first, first + per):
            number += 1
            s.add(
                number - 1, axial_centre(s.render.study, k), number=number,
                overrides=(("AcquisitionNumber", acquisition),),
            )  # fmt: skip


def _sop_conflict(s: _Series) -> None:
    s.axial()
    kernel, factor = CONFLICT_KERNEL
    centre = axial_centre(s.render.study, CONFLICT_SLICE)
    hu = s.render.hu(s.series, centre, *_AXIAL) + s.noise(factor * BASE_NOISE_HU)
    # the same UID on a reconstruction with another kernel: other header, other pixels
    s.add(CONFLICT_SLICE, centre, hu=hu, overrides=(("ConvolutionKernel", kernel),),
          extra_file=True)  # fmt: skip


def _duplicate_frame(s: _Series) -> None:
    s.axial()
    again = s.slices[DUPLICATE_FRAME_SLICE]
    s.add(SLICES, axial_centre(s.render.study, DUPLICATE_FRAME_SLICE),
          number=again.number, pixels=again.pixels)  # fmt: skip


def _duplicate_source(s: _Series) -> None:
    s.axial()
    s.render.kept["duplicate_series_source"] = [x.pixels for x in s.slices]


def _duplicate_series(s: _Series) -> None:
    for k, pixels in enumerate(s.render.kept["duplicate_series_source"]):
        s.add(k, axial_centre(s.render.study, k), pixels=pixels)


def _patient_mismatch(s: _Series, sex: str) -> None:
    other = "F" if sex == "M" else "M"
    for k in range(SLICES):
        changed: Overrides = (("PatientSex", other),) if k == MISMATCH_SLICE else ()
        s.add(k, axial_centre(s.render.study, k), overrides=changed)


def _added_noise(s: _Series) -> None:
    for k, clean in enumerate(s.render.kept["reference"]):
        hu = clean.astype(np.float32) - s.render.offset + s.noise(ADDED_NOISE_HU)
        s.add(k, axial_centre(s.render.study, k), hu=hu)


def _metal(s: _Series) -> None:
    (x, y, radius), through = METAL
    geom = s.geometry
    c = s.render.study.anatomy.centre
    ps = geom.spacing[0]
    grid = geom.origin[0] + ps * np.arange(geom.columns), geom.origin[1] + ps * np.arange(geom.rows)
    rod = (grid[0][None, :] - c[0] - x) ** 2 + (grid[1][:, None] - c[1] - y) ** 2 <= radius**2
    for k in range(SLICES):
        centre = axial_centre(s.render.study, k)
        hu = s.render.hu(s.series, centre, *_AXIAL) + s.noise(BASE_NOISE_HU)
        if k in through:
            hu[rod] = np.float32(METAL_HU) + s.noise(BASE_NOISE_HU)[rod]
        s.add(k, centre, hu=hu)


def _empty_slice(s: _Series) -> None:
    for k in range(SLICES):
        centre = axial_centre(s.render.study, k)
        if k == EMPTY_SLICE:
            s.add(k, centre, hu=np.full(s.shape, -1000.0, dtype=np.float32))
        else:
            s.add(k, centre)


def _r(v: float) -> float:
    return round(v, 6)


_BUILDERS: dict[str, Callable[[_Series], None]] = {
    "": _reference,
    "gap": _gap,
    "uneven_spacing": _uneven,
    "mixed_orientation": _mixed_orientation,
    "localizer": _localizer,
    "gantry_tilt": _gantry_tilt,
    "mixed_acquisitions": _mixed_acquisitions,
    "sop_conflict": _sop_conflict,
    "duplicate_frame": _duplicate_frame,
    "duplicate_series_source": _duplicate_source,
    "duplicate_series": _duplicate_series,
    "burned_in": lambda s: s.axial(overrides=(("BurnedInAnnotation", "YES"),)),
    "missing_attributes": lambda s: s.axial(overrides=(("KVP", None), ("AcquisitionNumber", None))),
    "added_noise": _added_noise,
    "truncated_fov": lambda s: s.axial(),
    "metal": _metal,
    "empty_slice": _empty_slice,
}


def qc_slices(render: QCRender, series: SeriesPlan, patient_sex: str) -> list[QCSlice]:
    """The files of one QC CT series, in writing order.

    Raises
    ------
    KeyError
        If ``series.defect`` is not a CT defect of :data:`radcurate.demo.qcplan.DEFECTS`.
    """
    built = _Series(render, series)
    if series.defect == "patient_mismatch":
        _patient_mismatch(built, patient_sex)
    else:
        _BUILDERS[series.defect](built)
    return built.slices
