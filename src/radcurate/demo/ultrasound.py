"""Ultrasound: RGB sector scans with speckle, single-frame or multi-frame (cine)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from radcurate.demo.ct import set_pixels
from radcurate.demo.dataset import base_dataset, set_instance
from radcurate.demo.plan import PatientPlan, SeriesPlan, StudyPlan
from radcurate.demo.population import make_uid
from radcurate.demo.sink import WriteContext

__all__ = ["US_IMAGE_STORAGE", "US_MULTIFRAME_STORAGE", "render_us", "write_us"]

US_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.6.1"
US_MULTIFRAME_STORAGE = "1.2.840.10008.5.1.4.1.1.3.1"
_ROWS, _COLS = 360, 480
_MM_PER_PX = 0.4


def render_us(series: SeriesPlan) -> npt.NDArray[np.uint8]:
    """Render ``frames x rows x columns x 3`` RGB frames of a liver-like sector scan."""
    rng = np.random.default_rng(series.rng_key)
    y, x = np.mgrid[0:_ROWS, 0:_COLS].astype(np.float32)
    apex = np.float32(_COLS / 2)
    r = np.hypot(x - apex, y + 20)
    theta = np.arctan2(x - apex, y + 20)
    sector = (np.abs(theta) < 0.62) & (r > 40) & (r < _ROWS)
    frames = []
    for f in range(series.frames):
        shift = np.float32(6.0 * np.sin(2 * np.pi * f / max(series.frames, 1)))
        echo = np.full((_ROWS, _COLS), 0.45, dtype=np.float32)
        vessel = ((x - 200) / 38) ** 2 + ((y - 170 - shift) / 26) ** 2 <= 1
        echo[vessel] = 0.04
        diaphragm = np.abs(y - (300 + shift) - 0.0007 * (x - apex) ** 2) < 5
        echo[diaphragm] = 1.4
        echo[y > 305 + shift + 0.0007 * (x - apex) ** 2] = 0.15
        speckle = rng.rayleigh(1.0, size=(_ROWS, _COLS)).astype(np.float32)
        gain = np.exp(-r / 900.0).astype(np.float32)
        gray = np.clip(echo * speckle * gain * 150.0, 0, 255)
        gray[~sector] = 0
        rgb = np.repeat(gray[..., None], 3, axis=2)
        # depth scale (yellow ticks every cm) and focus marker (green)
        for depth in range(0, _ROWS, int(10 / _MM_PER_PX)):
            rgb[depth : depth + 2, _COLS - 18 : _COLS - 8] = (230, 200, 40)
        rgb[200:208, _COLS - 30 : _COLS - 22] = (40, 200, 80)
        frames.append(rgb.astype(np.uint8))
    return np.stack(frames)


def _region() -> Dataset:
    region = Dataset()
    region.RegionSpatialFormat = 1
    region.RegionDataType = 1
    region.RegionFlags = 2
    region.RegionLocationMinX0, region.RegionLocationMinY0 = 0, 0
    region.RegionLocationMaxX1, region.RegionLocationMaxY1 = _COLS - 40, _ROWS - 1
    region.PhysicalUnitsXDirection = region.PhysicalUnitsYDirection = 3  # cm
    region.PhysicalDeltaX = region.PhysicalDeltaY = _MM_PER_PX / 10
    region.ReferencePixelX0, region.ReferencePixelY0 = _COLS // 2, 0
    return region


def write_us(
    ctx: WriteContext, patient: PatientPlan, study: StudyPlan, series: SeriesPlan, keep: bool
) -> None:
    """Write one ultrasound object (multi-frame when the plan asks for frames > 1)."""
    multi = series.frames > 1
    ds = base_dataset(patient, study, series, US_MULTIFRAME_STORAGE if multi else US_IMAGE_STORAGE)
    pixels = render_us(series)
    ds.ImageType = ["ORIGINAL", "PRIMARY", "ABDOMINAL", "0001"]
    ds.SamplesPerPixel = 3
    ds.PhotometricInterpretation = "RGB"
    ds.PlanarConfiguration = 0
    ds.Rows, ds.Columns = _ROWS, _COLS
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.TransducerData = ["C5-1", "", ""]
    ds.TransducerType = "CURVED LINEAR"
    ds.SequenceOfUltrasoundRegions = Sequence([_region()])
    ds.LossyImageCompression = "00"
    ds.PatientOrientation = ""  # Type 2C: required (empty allowed) without an image plane
    if multi:
        ds.NumberOfFrames = series.frames
        ds.FrameIncrementPointer = 0x00181063
        ds.FrameTime = "33.3"
        ds.CineRate = 30
        ds.RecommendedDisplayFrameRate = 30
    uid = make_uid(ctx.seed, series.uid, "instance", 0)
    set_instance(ds, uid, 1)
    set_pixels(ds, pixels if multi else pixels[0])
    ds["PixelData"].VR = "OB"
    ctx.sink.write(ds, patient, study, series)
