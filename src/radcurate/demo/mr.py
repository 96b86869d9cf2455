"""MR Image Storage head series (T1-, T2- and FLAIR-like contrasts) from the head phantom."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import UID

from radcurate.demo.ct import instance_uid, write_slices
from radcurate.demo.dataset import base_dataset, code_item
from radcurate.demo.geometry import SliceSampler
from radcurate.demo.phantom import PhantomCache, mr_signal
from radcurate.demo.plan import PatientPlan, SeriesPlan, StudyPlan
from radcurate.demo.sink import WriteContext

__all__ = ["MR_IMAGE_STORAGE", "render_mr", "write_mr"]

MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"

#: contrast -> (ScanningSequence, SequenceVariant, TR, TE, TI, flip angle, echo train)
_SEQUENCE = {
    "T1": ("SE", "SP", 550.0, 12.0, None, 90.0, 1),
    "T2": ("SE", ["SK", "SP"], 4200.0, 95.0, None, 150.0, 15),
    "FLAIR": (["SE", "IR"], ["SK", "SP", "MP"], 9000.0, 85.0, 2500.0, 150.0, 16),
}


def render_mr(
    cache: PhantomCache, study: StudyPlan, series: SeriesPlan
) -> Iterator[tuple[int, npt.NDArray[np.integer]]]:
    """Yield ``(slice position, uint16 pixels)`` with a bias field and Rician noise."""
    geom = series.geometry
    assert geom is not None
    sampler = SliceSampler(cache.template("head"), geom, study.anatomy)
    lut = mr_signal(series.contrast)
    rng = np.random.default_rng(series.rng_key)
    r = np.linspace(-1, 1, geom.rows, dtype=np.float32)[:, None]
    c = np.linspace(-1, 1, geom.columns, dtype=np.float32)[None, :]
    a, b = rng.uniform(-0.15, 0.15, size=2)
    bias = (1.0 + a * r + b * c - 0.1 * (r * r + c * c)).astype(np.float32)
    shape = (geom.rows, geom.columns)
    sigma = np.float32(series.noise)
    gain = np.float32(rng.uniform(0.8, 1.6))
    for k in geom.indices():
        signal = lut[sampler.labels(k)] * bias * gain
        real = signal + sigma * rng.standard_normal(shape, dtype=np.float32)
        imag = sigma * rng.standard_normal(shape, dtype=np.float32)
        mag = np.sqrt(real * real + imag * imag)
        yield k, np.clip(np.rint(mag), 0, 4095).astype(np.uint16)


def _template(seed: int, patient: PatientPlan, study: StudyPlan, series: SeriesPlan) -> Dataset:
    geom = series.geometry
    assert geom is not None
    ds = base_dataset(patient, study, series, MR_IMAGE_STORAGE)
    scan, variant, tr, te, ti, flip, etl = _SEQUENCE[series.contrast]
    b0 = study.scanner.field_strength or 1.5
    ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "ND"]
    ds.FrameOfReferenceUID = UID(study.frame_of_reference)
    ds.PositionReferenceIndicator = ""
    ds.PatientPosition = "HFS"
    ds.ScanningSequence = scan
    ds.SequenceVariant = variant
    ds.ScanOptions = ["SAT1"] if series.contrast == "T1" else ["PFP", "FS"]
    ds.MRAcquisitionType = "2D"
    ds.SequenceName = {"T1": "*se2d1", "T2": "*tse2d1_15", "FLAIR": "*tir2d1_16"}[series.contrast]
    ds.SliceThickness = f"{geom.thickness:g}"
    ds.RepetitionTime = f"{tr * (1.1 if b0 > 2 else 1.0):g}"
    ds.EchoTime = f"{te:g}"
    if ti is not None:
        ds.InversionTime = f"{ti:g}"
    ds.NumberOfAverages = "1" if series.contrast != "T1" else "2"
    ds.ImagingFrequency = f"{42.577478 * b0:.6f}"
    ds.ImagedNucleus = "1H"
    ds.MagneticFieldStrength = f"{b0:g}"
    ds.SpacingBetweenSlices = f"{abs(geom.step):g}"
    ds.EchoTrainLength = etl
    ds.PixelBandwidth = "190" if series.contrast == "T1" else "220"
    ds.ReceiveCoilName = "HeadNeck_20" if b0 > 2 else "Head_12"
    ds.FlipAngle = f"{flip:g}"
    ds.SAR = f"{0.4 + 0.1 * series.index:.2f}"
    ds.ImageOrientationPatient = [f"{v:g}" for v in geom.orientation()]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = geom.rows, geom.columns
    ds.PixelSpacing = [f"{geom.spacing[0]:g}", f"{geom.spacing[1]:g}"]
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.WindowCenter, ds.WindowWidth = "600", "1200"
    ds.AcquisitionNumber = 1
    ds.AnatomicRegionSequence = Sequence([code_item("T-A0100", "SRT", "Brain")])
    refs = []
    for i in series.refs:
        other = study.series[i]
        assert other.geometry is not None
        for k in (0, other.geometry.count // 2, other.geometry.count - 1):
            item = Dataset()
            item.ReferencedSOPClassUID = UID(MR_IMAGE_STORAGE)
            item.ReferencedSOPInstanceUID = UID(instance_uid(seed, other, k))
            refs.append(item)
    if refs:
        ds.ReferencedImageSequence = Sequence(refs)
    return ds


def write_mr(
    ctx: WriteContext, patient: PatientPlan, study: StudyPlan, series: SeriesPlan, keep: bool
) -> None:
    """Write one MR series, one file per slice."""
    ds = _template(ctx.seed, patient, study, series)
    write_slices(ctx, ds, render_mr(ctx.cache, study, series), patient, study, series, keep)
