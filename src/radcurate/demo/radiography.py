"""CR and DX chest radiographs: antero-posterior projections of the trunk phantom."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from pydicom.sequence import Sequence
from pydicom.uid import UID

from radcurate.demo.ct import set_pixels
from radcurate.demo.dataset import base_dataset, code_item, set_instance
from radcurate.demo.phantom import PhantomCache
from radcurate.demo.plan import PatientPlan, SeriesPlan, StudyPlan
from radcurate.demo.population import make_uid
from radcurate.demo.sink import WriteContext

__all__ = ["CR_IMAGE_STORAGE", "DX_IMAGE_STORAGE", "render_radiograph", "write_radiograph"]

CR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.1"
DX_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.1.1"


def _matrix(study: StudyPlan) -> tuple[int, float]:
    """Detector matrix size and pixel spacing (mm) for a patient of this size."""
    field = float(np.clip(460.0 * study.anatomy.scale[0], 180.0, 430.0))
    n = 1024 if study.scanner.modality == "CR" else 960
    return n, round(field / n, 4)


def render_radiograph(
    cache: PhantomCache, study: StudyPlan, series: SeriesPlan
) -> npt.NDArray[np.uint16]:
    """Render a 12-bit radiograph; high values are bright bone in MONOCHROME2, inverted in 1."""
    proj = cache.projection("trunk")
    tpl = cache.template("trunk")
    n, ps = _matrix(study)
    s = study.anatomy.scale
    nz, nx = proj.shape
    # detector rows run from the neck (template z = 270) feet-ward, columns towards the left
    z = 270.0 - (np.arange(n) + 0.5) * ps / s[2]
    x = (np.arange(n) - (n - 1) / 2) * ps / s[0]
    fz = np.clip(z / tpl.voxel[2] + (nz - 1) / 2, 0, nz - 1.001)
    fx = np.clip(x / tpl.voxel[0] + (nx - 1) / 2, 0, nx - 1.001)
    iz, ix = fz.astype(np.intp), fx.astype(np.intp)
    wz, wx = (fz - iz)[:, None], (fx - ix)[None, :]
    top = proj[iz][:, ix] * (1 - wx) + proj[iz][:, ix + 1] * wx
    bottom = proj[iz + 1][:, ix] * (1 - wx) + proj[iz + 1][:, ix + 1] * wx
    line = (top * (1 - wz) + bottom * wz) * np.float32(s[1])
    rng = np.random.default_rng(series.rng_key)
    value = 300.0 + 3300.0 * (1.0 - np.exp(-line / 3.0)) + rng.normal(0.0, 18.0, line.shape)
    value = np.clip(np.rint(value), 0, 4095)
    if series.photometric == "MONOCHROME1":
        value = 4095 - value
    out: npt.NDArray[np.uint16] = value.astype(np.uint16)
    return out


def write_radiograph(
    ctx: WriteContext, patient: PatientPlan, study: StudyPlan, series: SeriesPlan, keep: bool
) -> None:
    """Write one CR or DX chest radiograph."""
    cr = series.kind == "cr"
    ds = base_dataset(patient, study, series, CR_IMAGE_STORAGE if cr else DX_IMAGE_STORAGE)
    n, ps = _matrix(study)
    ds.ImageType = ["ORIGINAL", "PRIMARY"] if cr else ["ORIGINAL", "PRIMARY", ""]
    infant = study.age[-1] != "Y"
    ds.ViewPosition = "AP" if infant else "PA"
    ds.PatientOrientation = ["L", "F"]
    ds.KVP = "60" if infant else "125"
    ds.ExposureTime = "8" if infant else "20"
    ds.XRayTubeCurrent = "200"
    ds.Exposure = "2" if infant else "4"
    ds.DistanceSourceToDetector = "1000" if infant else "1800"
    ds.ImagerPixelSpacing = [f"{ps:g}", f"{ps:g}"]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = series.photometric
    ds.Rows = ds.Columns = n
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.WindowCenter, ds.WindowWidth = "2048", "4096"
    ds.RescaleIntercept, ds.RescaleSlope = "0", "1"
    ds.RescaleType = "US"  # Type 1C with a rescale (CR and DX alike)
    if cr:
        ds.PlateID = "A" + str(1000 + series.number)
        ds.Sensitivity = "210"
        ds.AcquisitionDeviceProcessingDescription = "CHEST PA"
    else:
        ds.PresentationIntentType = "FOR PRESENTATION"
        ds.DetectorType = "SCINTILLATOR"
        ds.PresentationLUTShape = "INVERSE" if series.photometric == "MONOCHROME1" else "IDENTITY"
        ds.PixelIntensityRelationship = "LOG"
        ds.PixelIntensityRelationshipSign = 1 if series.photometric == "MONOCHROME2" else -1
        # the DX Image and DX Anatomy Imaged modules' Type 1 and 2 attributes
        ds.BurnedInAnnotation = "NO"
        ds.LossyImageCompression = "00"
        ds.ImageLaterality = "U"
        ds.AnatomicRegionSequence = Sequence([code_item("51185008", "SCT", "Chest")])
        ds.AcquisitionContextSequence = Sequence([])
        ds.PositionerType = "COLUMN"  # Type 2 of DX Positioning (ViewPosition is there)
    ds.PatientPosition = ""
    uid = make_uid(ctx.seed, series.uid, "instance", 0)
    set_instance(ds, uid, 1)
    set_pixels(ds, render_radiograph(ctx.cache, study, series))
    ds.SOPInstanceUID = UID(uid)
    ctx.sink.write(ds, patient, study, series)
