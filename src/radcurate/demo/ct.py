"""CT Image Storage series rendered from the phantom, one slice per file."""

from __future__ import annotations

import copy
from collections.abc import Iterator

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import UID

from radcurate.demo.dataset import base_dataset, code_item, set_instance
from radcurate.demo.fastwrite import SliceEncoder
from radcurate.demo.geometry import SliceSampler
from radcurate.demo.phantom import PhantomCache, hu_lut
from radcurate.demo.plan import EXPLICIT, PatientPlan, SeriesPlan, StudyPlan
from radcurate.demo.population import Scanner, make_uid
from radcurate.demo.sink import WriteContext, compress

__all__ = [
    "CT_IMAGE_STORAGE",
    "NOISY_FACTOR",
    "ct_template",
    "instance_uid",
    "render_ct",
    "sampler_for",
    "set_pixels",
    "storage",
    "write_ct",
    "write_slices",
]

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
#: How much noisier the deliberately noisy series is.
NOISY_FACTOR = 10.0

_WINDOWS = {
    "soft": ([40, 400], [400, 1500]),
    "lung": ([-600, 40], [1500, 400]),
    "head": ([40, 80], [80, 300]),
    "bone": ([400], [1800]),
}


def storage(scanner: Scanner) -> tuple[bool, float, int]:
    """(signed, rescale intercept, bits stored) of a scanner's CT pixels."""
    if scanner.storage == "signed":
        return True, -1024.0, 16
    if scanner.storage == "signed0":
        return True, 0.0, 16
    return False, -1024.0, 12


def instance_uid(seed: int, series: SeriesPlan, k: int) -> str:
    """SOP Instance UID of slice position ``k`` of a series."""
    return make_uid(seed, series.uid, "instance", k)


def sampler_for(cache: PhantomCache, study: StudyPlan, series: SeriesPlan) -> SliceSampler:
    """The label sampler of a CT or MR series (labels of each slice position)."""
    assert series.geometry is not None
    return SliceSampler(cache.template(series.region), series.geometry, study.anatomy)


def render_ct(
    cache: PhantomCache, study: StudyPlan, series: SeriesPlan
) -> Iterator[tuple[int, npt.NDArray[np.integer]]]:
    """Yield ``(slice position, stored pixel array)`` for every written slice.

    The noise comes from a generator seeded by the series alone, so a series can
    be re-rendered independently of the rest of the archive.
    """
    geom = series.geometry
    assert geom is not None
    sampler = sampler_for(cache, study, series)
    signed, intercept, bits = storage(study.scanner)
    lut = hu_lut() - np.float32(intercept)
    lo, hi = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
    dtype = np.int16 if signed else np.uint16
    rng = np.random.default_rng(series.rng_key)
    sigma = np.float32(series.noise * (NOISY_FACTOR if series.defect == "noisy" else 1.0))
    shape = (geom.rows, geom.columns)
    for k in range(geom.count):
        noise = rng.standard_normal(shape, dtype=np.float32)
        if k == geom.missing:
            continue
        values = lut[sampler.labels(k)]
        values += noise * sigma
        np.rint(values, out=values)
        np.clip(values, lo, hi, out=values)
        yield k, values.astype(dtype)


def ct_template(patient: PatientPlan, study: StudyPlan, series: SeriesPlan) -> Dataset:
    """The attributes every slice of a CT series shares (no instance, position or pixels)."""
    geom = series.geometry
    kernel = series.kernel
    assert geom is not None and kernel is not None
    ds = base_dataset(patient, study, series, CT_IMAGE_STORAGE)
    signed, intercept, bits = storage(study.scanner)
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.FrameOfReferenceUID = UID(study.frame_of_reference)
    ds.PositionReferenceIndicator = ""
    ds.PatientPosition = "FFS" if geom.row_dir[0] < 0 else "HFS"
    ds.AcquisitionNumber = 1
    ds.SliceThickness = f"{geom.thickness:g}"
    ds.KVP = "120" if kernel.role != "head" else "130"
    ds.DataCollectionDiameter = "500"
    ds.ReconstructionDiameter = f"{geom.spacing[1] * geom.columns:g}"
    ds.GantryDetectorTilt = "0"
    ds.TableHeight = f"{140 + study.anatomy.centre[1] / 4:.1f}"
    ds.RotationDirection = "CW"
    ds.ExposureTime = "500"
    ds.XRayTubeCurrent = str(80 + int(series.noise * 7) % 300)
    ds.ConvolutionKernel = kernel.name
    ds.CTDIvol = round(4.0 + series.noise / 3, 2)
    ds.ImageOrientationPatient = [f"{v:g}" for v in geom.orientation()]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = geom.rows, geom.columns
    ds.PixelSpacing = [f"{geom.spacing[0]:g}", f"{geom.spacing[1]:g}"]
    ds.BitsAllocated = 16
    ds.BitsStored = bits
    ds.HighBit = bits - 1
    ds.PixelRepresentation = int(signed)
    centres, widths = _WINDOWS[kernel.role]
    ds.WindowCenter = centres if len(centres) > 1 else centres[0]
    ds.WindowWidth = widths if len(widths) > 1 else widths[0]
    ds.RescaleIntercept = f"{intercept:g}"
    ds.RescaleSlope = "1"
    ds.RescaleType = "HU"
    if series.region == "abdomen":
        ds.ContrastBolusAgent = "Omnipaque 350"
        ds.ContrastBolusRoute = "IV"
    if series.region == "head":
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL", "HEAD"]
    ds.ReferencedImageSequence = Sequence(
        [
            _ref(CT_IMAGE_STORAGE, make_uid(0, series.uid, "localizer", i), "Localizer")
            for i in range(2)
        ]
    )
    return ds


def _ref(sop_class: str, sop_uid: str, purpose: str) -> Dataset:
    item = Dataset()
    item.ReferencedSOPClassUID = UID(sop_class)
    item.ReferencedSOPInstanceUID = UID(sop_uid)
    item.PurposeOfReferenceCodeSequence = Sequence([code_item("121311", "DCM", purpose)])
    return item


def write_ct(
    ctx: WriteContext, patient: PatientPlan, study: StudyPlan, series: SeriesPlan, keep: bool
) -> None:
    """Write one CT series, one file per slice; keep the datasets if asked (for derived objects)."""
    geom = series.geometry
    assert geom is not None
    ds = ct_template(patient, study, series)
    write_slices(ctx, ds, render_ct(ctx.cache, study, series), patient, study, series, keep)


def write_slices(
    ctx: WriteContext,
    ds: Dataset,
    slices: Iterator[tuple[int, npt.NDArray[np.integer]]],
    patient: PatientPlan,
    study: StudyPlan,
    series: SeriesPlan,
    keep: bool,
) -> None:
    """Write single-frame slices of a series (CT or MR); fast path when uncompressed."""
    geom = series.geometry
    assert geom is not None
    kept: list[Dataset] = []
    encoder: SliceEncoder | None = None
    normal = geom.normal
    for k, pixels in slices:
        number = k + 1  # a missing slice leaves a gap in instance numbers too
        uid = instance_uid(ctx.seed, series, k)
        xyz = geom.position(k)
        pos = [f"{v:g}" for v in xyz]
        loc = f"{sum(a * b for a, b in zip(xyz, normal, strict=True)):g}"
        if keep or encoder is None or series.transfer_syntax != EXPLICIT:
            set_instance(ds, uid, number)
            ds.ImagePositionPatient = pos
            ds.SliceLocation = loc
            set_pixels(ds, pixels)
            compress(ctx, ds, pixels, series.transfer_syntax)
            ctx.sink.write(ds, patient, study, series)
            if keep:
                kept.append(_copy(ds, pixels))
            if "PixelData" in ds and ds.file_meta.TransferSyntaxUID == EXPLICIT:
                encoder = SliceEncoder(ds)
        else:
            data = encoder.encode(uid, number, pos, loc, pixels.tobytes())
            ctx.sink.write_encoded(data, patient, study, series, number, uid)
    if keep:
        ctx.kept[series.index] = kept


def _copy(ds: Dataset, pixels: npt.NDArray[np.integer]) -> Dataset:
    """An uncompressed deep copy of the current slice, for derived objects."""
    del ds.PixelData
    out = copy.deepcopy(ds)
    set_pixels(out, pixels)
    return out


def set_pixels(ds: Dataset, pixels: npt.NDArray[np.integer]) -> None:
    """Replace the pixel data with uncompressed ``pixels`` (explicit VR little endian)."""
    if "PixelData" in ds:
        del ds.PixelData
    ds.file_meta.TransferSyntaxUID = UID(EXPLICIT)
    ds.PixelData = pixels.tobytes()
    ds["PixelData"].VR = "OW"
