"""Inputs of the rendering tests and goldens: phantom series, rewritten copies, pydicom files.

Every builder is deterministic (fixed seeds), so ``make_goldens.py`` and the tests
see the same pictures.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from radcurate.catalog import CatalogBackend, open_catalog
from radcurate.ingest import ingest

GOLDEN = Path(__file__).parent / "golden"
GOLDEN_SIZE = 128
#: largest mean absolute difference (0-255, per channel) accepted against a golden
TOLERANCE = 3.0


def make_phantom(root: Path) -> Path:
    """The 3-patient phantom archive (every object kind and compressed syntax)."""
    from radcurate.demo import generate_archive

    archive = root / "archive"
    if not archive.exists():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            generate_archive(archive, patients=3, seed=0)
    return archive


def catalog_of(folders: list[Path], db: Path) -> CatalogBackend:
    """A fresh SQLite catalog of ``folders``."""
    catalog = open_catalog(f"sqlite:///{db}")
    ingest([str(f) for f in folders], catalog, workers=1)
    return catalog


def find(catalog: CatalogBackend, **match: Any) -> str:
    """The SeriesInstanceUID (smallest) of the series whose document matches ``match``."""
    uids = sorted(
        str(d["SeriesInstanceUID"])
        for d in catalog.iter_series_documents()
        if all(d.get(k) == v for k, v in match.items())
    )
    assert uids, f"no series matches {match}"
    return uids[0]


def series_folder(catalog: CatalogBackend, uid: str, out: Path) -> Path:
    """Copy the files of a series into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    for k, record in enumerate(catalog.instances(uid)):
        shutil.copy(record.location, out / f"{k:05d}.dcm")
    return out


def shuffled_copy(catalog: CatalogBackend, uid: str, out: Path, seed: int = 7) -> Path:
    """A copy of a series whose InstanceNumbers are shuffled (geometry unchanged)."""
    folder = series_folder(catalog, uid, out)
    files = sorted(folder.iterdir())
    numbers = np.random.default_rng(seed).permutation(len(files)) + 1
    for path, number in zip(files, numbers, strict=True):
        ds = pydicom.dcmread(path)
        ds.InstanceNumber = int(number)
        ds.save_as(path)
    return folder


def decompressed_copy(catalog: CatalogBackend, uid: str, out: Path) -> Path:
    """A copy of a series re-encoded as Explicit VR Little Endian (pixels decoded)."""
    folder = series_folder(catalog, uid, out)
    for path in sorted(folder.iterdir()):
        ds = pydicom.dcmread(path)
        ds.decompress()
        ds.save_as(path, enforce_file_format=True)
    return folder


def _rotation(ax: float, az: float) -> np.ndarray:
    cx, sx, cz, sz = np.cos(ax), np.sin(ax), np.cos(az), np.sin(az)
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rz @ rx


def oblique_copy(
    catalog: CatalogBackend, uid: str, out: Path
) -> tuple[Path, dict[str, np.ndarray], str]:
    """A copy of a CT series with its geometry rotated (20 deg about x, 25 deg about z),
    and an RTSTRUCT drawn in patient coordinates around the body of three slices.

    Returns
    -------
    (folder, masks, busiest)
        ``masks``: SOP UID -> body mask (HU > -300) of that slice; ``busiest``: the SOP UID of the
        slice that has the most contours (3 contours; the others have 1).
    """
    from radcurate.demo.rtstruct import radial_contour

    folder = series_folder(catalog, uid, out / "ct")
    rotation = _rotation(np.radians(20), np.radians(25))
    new_series = generate_uid(entropy_srcs=["oblique", uid])
    records: list[tuple[float, Path, Dataset]] = []
    for path in sorted(folder.iterdir()):
        ds = pydicom.dcmread(path)
        iop = np.asarray(ds.ImageOrientationPatient, dtype=float)
        ipp = np.asarray(ds.ImagePositionPatient, dtype=float)
        ds.ImageOrientationPatient = [
            round(float(v), 6) for v in np.concatenate([rotation @ iop[:3], rotation @ iop[3:]])
        ]
        ds.ImagePositionPatient = [round(float(v), 4) for v in rotation @ ipp]
        ds.SeriesInstanceUID = new_series
        ds.SOPInstanceUID = generate_uid(entropy_srcs=["oblique", str(ds.SOPInstanceUID)])
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.SeriesDescription = "Oblique copy"
        ds.save_as(path)
        records.append((float(ipp[2]), path, ds))
    records.sort(key=lambda r: r[0])
    picks = [len(records) // 2 - 8, len(records) // 2 + 3, len(records) // 2 + 10]
    busiest = str(records[picks[1]][2].SOPInstanceUID)
    masks: dict[str, np.ndarray] = {}
    contours: list[tuple[int, list[float]]] = []
    for k in picks:
        ds = pydicom.dcmread(records[k][1])
        hu = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
        body = hu > -300
        masks[str(ds.SOPInstanceUID)] = body
        half_cols, half_rows = body.copy(), body.copy()
        half_cols[:, body.shape[1] // 2 :] = False
        half_rows[body.shape[0] // 2 :, :] = False
        origin = np.asarray(ds.ImagePositionPatient, dtype=float)
        row_dir = np.asarray(ds.ImageOrientationPatient[:3], dtype=float)
        col_dir = np.asarray(ds.ImageOrientationPatient[3:], dtype=float)
        dr, dc = (float(v) for v in ds.PixelSpacing)
        shapes = (
            [(1, body)]
            if str(ds.SOPInstanceUID) != busiest
            else [(1, body), (2, half_cols), (3, half_rows)]
        )
        for roi, mask in shapes:
            points = radial_contour(mask, rays=64)
            assert points is not None
            xyz = origin + points[:, 1:2] * dc * row_dir + points[:, 0:1] * dr * col_dir
            contours.append((roi, [round(float(v), 3) for v in xyz.ravel()]))
    rt = _rtstruct(records[0][2], new_series, contours)
    rt_folder = out / "rt"
    rt_folder.mkdir(parents=True, exist_ok=True)
    rt.save_as(rt_folder / "rt.dcm", enforce_file_format=True)
    return out, masks, busiest


def _rtstruct(ct: Dataset, series_uid: str, contours: list[tuple[int, list[float]]]) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.481.3"
    ds.SOPInstanceUID = generate_uid(entropy_srcs=["oblique-rt", series_uid])
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    for keyword in ("PatientID", "PatientName", "StudyInstanceUID", "StudyDate", "StudyID"):
        if keyword in ct:
            setattr(ds, keyword, ct[keyword].value)
    ds.Modality = "RTSTRUCT"
    ds.SeriesInstanceUID = generate_uid(entropy_srcs=["oblique-rt-series", series_uid])
    ds.SeriesDescription = "Oblique contours"
    ds.StructureSetLabel = "OBLIQUE"
    ref_series = Dataset()
    ref_series.SeriesInstanceUID = series_uid
    ref_study = Dataset()
    ref_study.RTReferencedSeriesSequence = Sequence([ref_series])
    ref_for = Dataset()
    ref_for.FrameOfReferenceUID = ct.get("FrameOfReferenceUID", generate_uid())
    ref_for.RTReferencedStudySequence = Sequence([ref_study])
    ds.ReferencedFrameOfReferenceSequence = Sequence([ref_for])
    colours = {1: [255, 255, 0], 2: [0, 255, 0], 3: [255, 0, 255]}
    names = {1: "Body", 2: "Body_right_half", 3: "Body_anterior_half"}
    ds.StructureSetROISequence = Sequence()
    ds.ROIContourSequence = Sequence()
    for roi in sorted({r for r, _ in contours}):
        item = Dataset()
        item.ROINumber = roi
        item.ROIName = names[roi]
        ds.StructureSetROISequence.append(item)
        roi_contour = Dataset()
        roi_contour.ReferencedROINumber = roi
        roi_contour.ROIDisplayColor = colours[roi]
        roi_contour.ContourSequence = Sequence()
        for number, data in contours:
            if number != roi:
                continue
            contour = Dataset()  # no ContourImageSequence: placed by geometry alone
            contour.ContourGeometricType = "CLOSED_PLANAR"
            contour.NumberOfContourPoints = len(data) // 3
            contour.ContourData = data
            roi_contour.ContourSequence.append(contour)
        ds.ROIContourSequence.append(roi_contour)
    return ds


def pydicom_file(name: str) -> Path:
    """A file pydicom ships (found by walking its data folder; never downloaded)."""
    from tests.data import shipped_dicom_roots

    for root in shipped_dicom_roots():
        for path in root.rglob(name):
            return path
    raise FileNotFoundError(name)


def mean_abs_diff(a: Any, b: Any) -> list[float]:
    """Mean absolute difference per RGB channel of two same-sized images."""
    x = np.asarray(a.convert("RGB"), dtype=np.float64)
    y = np.asarray(b.convert("RGB"), dtype=np.float64)
    assert x.shape == y.shape, f"sizes differ: {x.shape} vs {y.shape}"
    return [float(v) for v in np.abs(x - y).mean(axis=(0, 1))]


def matches_golden(image: Any, name: str, tolerance: float = TOLERANCE) -> tuple[bool, list[float]]:
    """Whether ``image`` is within ``tolerance`` of ``golden/<name>.png`` on every channel."""
    from PIL import Image

    golden = Image.open(GOLDEN / f"{name}.png")
    diff = mean_abs_diff(image, golden)
    return max(diff) <= tolerance, diff


class Workspace:
    """The phantom catalog and the derived inputs, built once under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.archive = make_phantom(root)
        self.catalog = catalog_of([self.archive], root / "phantom.sqlite")

    def uid(self, **match: Any) -> str:
        """A phantom series by document fields."""
        return find(self.catalog, **match)

    def ct_uid(self) -> str:
        """The uncompressed abdomen CT the CT goldens show."""
        return self.uid(Modality="CT", SeriesDescription="Abdomen 3.0 B30f")

    def oblique(self) -> tuple[CatalogBackend, dict[str, np.ndarray], str]:
        """Catalog of the oblique CT copy and its RTSTRUCT, the bone masks, the busiest slice."""
        out = self.root / "oblique"
        folder, masks, busiest = oblique_copy(self.catalog, self.ct_uid(), out)
        return catalog_of([folder], self.root / "oblique.sqlite"), masks, busiest

    def undecodable(self) -> CatalogBackend:
        """A catalog of pydicom's MR_truncated.dcm (pixel data cut short)."""
        folder = self.root / "truncated"
        folder.mkdir(exist_ok=True)
        shutil.copy(pydicom_file("MR_truncated.dcm"), folder / "MR_truncated.dcm")
        return catalog_of([folder], self.root / "truncated.sqlite")


def golden_renderings(ws: Workspace) -> dict[str, Any]:
    """Every golden's rendering (``GOLDEN_SIZE`` px), by golden name."""
    from radcurate.render import render_series

    def thumb(catalog: CatalogBackend, uid: str) -> Any:
        return render_series(catalog, uid, size=GOLDEN_SIZE)

    oblique, _, _ = ws.oblique()
    truncated = ws.undecodable()
    return {
        "ct": thumb(ws.catalog, ws.ct_uid()),
        "cr_monochrome1": thumb(ws.catalog, ws.uid(Modality="CR")),
        "us_rgb_multiframe": thumb(ws.catalog, ws.uid(Modality="US", SeriesDescription="Liver")),
        "enhanced_ct": thumb(ws.catalog, ws.uid(SOPClassUID="1.2.840.10008.5.1.4.1.1.2.2")),
        "seg_overlay": thumb(ws.catalog, ws.uid(Modality="SEG")),
        "rtstruct_oblique": thumb(oblique, find(oblique, Modality="RTSTRUCT")),
        "sr_card": thumb(ws.catalog, ws.uid(Modality="SR", SeriesDescription="Radiology report")),
        "undecodable": thumb(truncated, find(truncated, Modality="MR")),
    }
