"""QC benchmark: header checks' cost on ingest, pixel checks' throughput, the CT noise index
against added noise.

One command::

    .venv/bin/python bench/qc.py                            # everything (a few minutes)
    .venv/bin/python bench/qc.py --smoke --json figures.json  # < 60 s, used by tests

1. **Header checks on ingest**: a phantom demo archive (``radcurate.demo``) ingested into a
   fresh catalog with the header checks on and off (``ingest(..., header_qc=...)``) after
   one untimed warm-up ingest, alternating which goes first, median of ``--repeats``; the
   ratio on/off against the target of at most 10 % more time. Where ``ingest`` does not
   accept ``header_qc`` the part says so and is skipped.
2. **Pixel checks throughput**: ``--series`` CT phantoms of 512 x 512 x 100 (a body of soft
   tissue, fat, bone and organs with 12 HU of noise) written as uncompressed DICOM,
   ingested, then ``qc-pixels`` run as a job in this one process (``--workers 1``):
   series/min against the target of 20, the median seconds per series of
   ``pixel_measures`` alone, and the job's CPU seconds per series (what the rate would be
   on one core of its own: the wall-clock rate follows the machine's load).
3. **Noise index validation**: the global noise index (Christianson 2015) of
   TotalSegmentator 2.18.0's real CTs (the 20-slice DICOM CT and the 112-slice NIfTI CT;
   fetched once by ``tests/reference_data.py``) and of a phantom, with Gaussian noise of
   σ ∈ {0, 10, 20, 40} HU added: measured against √(g₀² + σ²) (tolerance 10 %).

The phantom writers here are also what tests/qc uses to make its series.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, MRImageStorage, generate_uid

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # tests.reference_data fetches the reference scans

F32 = npt.NDArray[np.float32]
TARGET_SERIES_PER_MIN = 20.0
TARGET_HEADER_OVERHEAD = 0.10
NOISE_TOLERANCE = 0.10
SIGMAS = (0.0, 10.0, 20.0, 40.0)


# -- phantoms -----------------------------------------------------------------------------------
def phantom_ct(
    slices: int = 12, size: int = 128, *, noise: float = 12.0, seed: int = 0,
    truncated: bool = False, metal: bool = False, fov_mm: float = 360.0,
) -> F32:  # fmt: skip
    """A CT phantom in HU, ``(slices, size, size)``: an elliptic body of soft tissue (40 HU)
    under a fat layer (-100 HU), a spine (700 HU), two organs (60 and 20 HU), air around
    (-1000 HU), Gaussian noise of ``noise`` HU. ``truncated``: the body is wider than the
    image; ``metal``: a 4000 HU rod beside the spine."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    cy, cx = (size - 1) / 2.0, (size - 1) / 2.0
    ax, ay = (0.62 if truncated else 0.40) * size, 0.28 * size

    def ellipse(a: float, b: float, dx: float = 0.0, dy: float = 0.0) -> Any:
        return ((x - cx - dx) / a) ** 2 + ((y - cy - dy) / b) ** 2 <= 1.0

    plane = np.full((size, size), -1000.0, dtype=np.float32)
    plane[ellipse(ax, ay)] = -100.0
    plane[ellipse(ax - 0.03 * size, ay - 0.03 * size)] = 40.0
    plane[ellipse(0.12 * size, 0.08 * size, -0.12 * size, -0.04 * size)] = 60.0
    plane[ellipse(0.07 * size, 0.06 * size, 0.14 * size, 0.0)] = 20.0
    plane[ellipse(0.04 * size, 0.04 * size, 0.0, 0.18 * size)] = 700.0
    if metal:
        plane[ellipse(0.025 * size, 0.025 * size, 0.08 * size, 0.16 * size)] = 4000.0
    volume = np.repeat(plane[None], slices, axis=0)
    if noise > 0:
        volume += rng.normal(0.0, noise, volume.shape).astype(np.float32)
    return volume


def write_series(
    folder: Path, values: npt.NDArray[Any], *, series_uid: str, modality: str = "CT",
    study_uid: str = "2.25.7301", pixel_mm: float = 0.7, thickness: float = 2.5,
    description: str = "QC phantom", manufacturer: str = "ACME", model: str = "Phantom 1",
    kernel: str | None = "B30f", bits_stored: int = 16, signed: bool = True,
    intercept: float = 0.0, sop_uids: list[str] | None = None, patient_id: str = "QC1",
) -> list[Path]:  # fmt: skip
    """``values`` (``(slices, rows, columns)``, HU for CT) as uncompressed single-frame DICOM
    slices; stored = values - intercept, rounded and clipped to the stored range."""
    folder.mkdir(parents=True, exist_ok=True)
    low, high = (-(1 << (bits_stored - 1)), (1 << (bits_stored - 1)) - 1) if signed else (
        0, (1 << bits_stored) - 1)  # fmt: skip
    stored = np.clip(np.rint(np.asarray(values, np.float64) - intercept), low, high)
    stored = stored.astype(np.int16 if signed else np.uint16)
    paths = []
    for k in range(stored.shape[0]):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        sop_class = CTImageStorage if modality == "CT" else MRImageStorage
        ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = sop_class
        ds.SOPInstanceUID = (sop_uids[k] if sop_uids else
                             generate_uid(entropy_srcs=[series_uid, str(k)]))  # fmt: skip
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, series_uid
        ds.FrameOfReferenceUID = study_uid + ".1"
        ds.PatientID, ds.PatientName = patient_id, "QC^Phantom"
        ds.Modality, ds.SeriesDescription, ds.SeriesNumber = modality, description, 1
        ds.Manufacturer, ds.ManufacturerModelName = manufacturer, model
        if kernel is not None and modality == "CT":
            ds.ConvolutionKernel = kernel
        ds.StudyDate, ds.StudyTime = "20240301", "090000"
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.InstanceNumber = k + 1
        ds.ImagePositionPatient = [0.0, 0.0, round(thickness * k, 4)]
        ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        ds.PixelSpacing = [pixel_mm, pixel_mm]
        ds.SliceThickness = thickness
        ds.Rows, ds.Columns = stored.shape[1], stored.shape[2]
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, bits_stored, bits_stored - 1
        ds.PixelRepresentation = 1 if signed else 0
        if modality == "CT":
            ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = intercept, 1, "HU"
        ds.PixelData = stored[k].tobytes()
        path = folder / f"{k:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


# -- 1. header checks on ingest -----------------------------------------------------------------
def header_cost(work: Path, patients: int, repeats: int) -> dict[str, Any]:
    """Ingest seconds of a demo archive with the header checks on and off (alternating)."""
    from radcurate.catalog import open_catalog
    from radcurate.demo import generate_archive
    from radcurate.ingest import ingest

    if "header_qc" not in inspect.signature(ingest).parameters:
        return {"skipped": "ingest() has no header_qc parameter yet (the header checks "
                           "cannot be switched off): nothing to compare"}  # fmt: skip
    manifest = generate_archive(work / "archive", patients=patients, seed=5)
    times: dict[str, list[float]] = {"on": [], "off": []}
    with open_catalog(f"sqlite:///{work / 'warm.sqlite'}") as catalog:
        ingest([manifest.root], catalog, workers=1)  # files in the page cache, imports done
    for repeat in range(repeats):
        for mode in ("off", "on") if repeat % 2 == 0 else ("on", "off"):
            with open_catalog(f"sqlite:///{work / f'{mode}{repeat}.sqlite'}") as catalog:
                start = time.perf_counter()
                switch: dict[str, Any] = {"header_qc": mode == "on"}
                ingest([manifest.root], catalog, workers=1, **switch)
                times[mode].append(time.perf_counter() - start)
    on, off = statistics.median(times["on"]), statistics.median(times["off"])
    return {
        "patients": patients, "repeats": repeats, "files": manifest_files(manifest.root),
        "on_s": round(on, 3), "off_s": round(off, 3), "ratio": round(on / off, 3),
        "runs": times,
    }  # fmt: skip


def manifest_files(root: Path) -> int:
    """Files under a folder."""
    return sum(1 for p in root.rglob("*") if p.is_file())


# -- 2. pixel checks throughput -----------------------------------------------------------------
def throughput(work: Path, series: int, slices: int, size: int) -> dict[str, Any]:
    """``qc-pixels`` as a one-process job over ``series`` CT phantoms: series/min."""
    from radcurate.analyze.qc_pixels import PixelQC, PixelQCParams, pixel_measures
    from radcurate.catalog import open_catalog
    from radcurate.ingest import ingest
    from radcurate.jobs import run_job
    from radcurate.jobs.workflows import WORKFLOW_KIND, workflow_job
    from radcurate.workflow import WorkflowSelection
    from radcurate.workflow.step import SeriesItem

    uids = [f"2.25.7302.{n + 1}" for n in range(series)]
    for n, uid in enumerate(uids):
        hu = phantom_ct(slices, size, seed=n, metal=n % 3 == 2, truncated=n % 4 == 3)
        write_series(work / "files" / uid, hu, series_uid=uid, pixel_mm=360.0 / size,
                     study_uid=f"2.25.7303.{n + 1}")  # fmt: skip
    with open_catalog(f"sqlite:///{work / 'pixels.sqlite'}") as catalog:
        ingest([work / "files"], catalog, workers=1)
        start, cpu = time.perf_counter(), time.process_time()
        job = workflow_job(PixelQC(), WorkflowSelection(query="*"), {}, workers=1)
        record = run_job(catalog, WORKFLOW_KIND, job)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        result = dict(record.result or {})
        params = PixelQCParams.model_validate({})
        each = []
        for uid in uids[: min(3, series)]:
            begin = time.perf_counter()
            pixel_measures(SeriesItem(catalog, uid), params)
            each.append(time.perf_counter() - begin)
    return {
        "series": series, "shape": [slices, size, size], "processed": result.get("processed"),
        "failed": result.get("failed"), "seconds": round(seconds, 2),
        "series_per_min": round(60.0 * (result.get("processed") or 0) / seconds, 1),
        "median_series_s": round(statistics.median(each), 3),
        "cpu_s_per_series": round(cpu / max(1, series), 3),
        "load_average": round(os.getloadavg()[0], 2),
    }  # fmt: skip


# -- 3. noise index validation ------------------------------------------------------------------
def _reference_scans(smoke: bool) -> list[tuple[str, F32, float]]:
    """``(name, HU volume, pixel mm)`` of the real CTs (and a phantom)."""
    from tests.reference_data import totalsegmentator_reference

    annotate = _annotate_bench()
    root = totalsegmentator_reference()
    hu, affine = annotate.dicom_folder(root / "example_ct_dicom")
    scans = [("TotalSegmentator DICOM CT (20 x 512 x 512)", hu, float(abs(affine[0, 0])))]
    if not smoke:
        nii, nii_affine = annotate.nifti(root / "example_ct.nii.gz")
        pixel_mm = float(np.linalg.norm(nii_affine[:3, 0]))
        scans.append(("TotalSegmentator abdomen CT (NIfTI, 112 x 3 mm)", nii.astype(np.float32),
                      pixel_mm))  # fmt: skip
    scans.append(("phantom (12 x 256 x 256, 5 HU noise)", phantom_ct(12, 256, noise=5.0), 1.4))
    return scans


def _annotate_bench() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_annotate", ROOT / "bench" / "annotate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def noise_response(hu: F32, pixel_mm: float, sigmas: tuple[float, ...] = SIGMAS,
                   seed: int = 11) -> list[dict[str, float]]:  # fmt: skip
    """The noise index with Gaussian noise of each σ added, against √(g₀² + σ²)."""
    from radcurate.analyze.qc_noise import noise_index

    rng = np.random.default_rng(seed)
    rows: list[dict[str, float]] = []
    g0: float | None = None
    for sigma in sigmas:
        noisy = hu + rng.normal(0.0, sigma, hu.shape).astype(np.float32) if sigma else hu
        measured = noise_index(noisy, pixel_mm)
        if measured is None:
            raise ValueError("no soft tissue: no noise index")
        g0 = measured if g0 is None else g0
        expected = float(np.hypot(g0, sigma))
        rows.append({"sigma": sigma, "measured": round(measured, 2),
                     "expected": round(expected, 2),
                     "ratio": round(measured / expected, 3)})  # fmt: skip
    return rows


def noise_validation(smoke: bool) -> list[dict[str, Any]]:
    """Every reference scan's response to added noise."""
    out = []
    for name, hu, pixel_mm in _reference_scans(smoke):
        start = time.perf_counter()
        rows = noise_response(hu, pixel_mm)
        out.append({"name": name, "rows": rows, "seconds": round(time.perf_counter() - start, 2)})
    return out


# -- report -------------------------------------------------------------------------------------
def report(figures: dict[str, Any]) -> None:
    """Print the figures against the targets."""
    header = figures.get("header")
    if header is not None:
        if "skipped" in header:
            print(f"header checks on ingest: skipped: {header['skipped']}")
        else:
            extra = header["ratio"] - 1.0
            verdict = "met" if extra <= TARGET_HEADER_OVERHEAD else "NOT met"
            print(f"header checks on ingest ({header['files']} files, {header['patients']} "
                  f"patients, median of {header['repeats']}):")  # fmt: skip
            print(f"  {'off (baseline)':<16}{header['off_s']:>8.2f} s")
            print(f"  {'on':<16}{header['on_s']:>8.2f} s   x{header['ratio']:.3f} "
                  f"({100 * extra:+.1f} %; target <= +{100 * TARGET_HEADER_OVERHEAD:.0f} %: "
                  f"{verdict})")  # fmt: skip
    pixels = figures.get("throughput")
    if pixels is not None:
        rate = pixels["series_per_min"]
        verdict = "met" if rate >= TARGET_SERIES_PER_MIN else "NOT met"
        shape = " x ".join(str(v) for v in pixels["shape"])
        print(f"pixel checks (qc-pixels job, 1 process, load average "
              f"{pixels['load_average']} on {os.cpu_count()} cores) on {pixels['series']} CT "
              f"series of {shape}:")  # fmt: skip
        print(f"  {pixels['seconds']:.1f} s = {rate:.1f} series/min (target >= "
              f"{TARGET_SERIES_PER_MIN:.0f}: {verdict}, x{rate / TARGET_SERIES_PER_MIN:.2f}); "
              f"pixel_measures alone {pixels['median_series_s']:.2f} s per series "
              f"(median)")  # fmt: skip
        cpu = pixels["cpu_s_per_series"]
        print(f"  CPU time {cpu:.2f} s per series: {60.0 / cpu:.0f} series/min on one "
              f"unshared core")  # fmt: skip
    for scan in figures.get("noise", []):
        print(f"noise index on {scan['name']} ({scan['seconds']:.1f} s):")
        print(f"  {'sigma HU':>9} {'measured':>9} {'sqrt(g0²+σ²)':>13} {'ratio':>7}")
        for row in scan["rows"]:
            ok = abs(row["ratio"] - 1.0) <= NOISE_TOLERANCE
            print(f"  {row['sigma']:>9.0f} {row['measured']:>9.2f} {row['expected']:>13.2f} "
                  f"{row['ratio']:>7.3f} {'' if ok else ' OUT OF 10 %'}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="small sizes, < 60 s")
    parser.add_argument("--series", type=int, default=10, help="CT phantoms for throughput")
    parser.add_argument("--slices", type=int, default=100)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--patients", type=int, default=3, help="demo archive for ingest")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--parts", default="header,throughput,noise",
                        help="comma-separated parts to run")  # fmt: skip
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if args.smoke:
        args.series, args.slices, args.size, args.patients, args.repeats = 2, 20, 256, 1, 1
    parts = set(args.parts.split(","))
    figures: dict[str, Any] = {"smoke": args.smoke}
    with tempfile.TemporaryDirectory(prefix="radcurate-qc-bench-") as folder:
        work = Path(folder)
        if "header" in parts:
            (work / "header").mkdir()
            figures["header"] = header_cost(work / "header", args.patients, args.repeats)
        if "throughput" in parts:
            (work / "pixels").mkdir()
            figures["throughput"] = throughput(work / "pixels", args.series, args.slices,
                                               args.size)  # fmt: skip
        if "noise" in parts:
            figures["noise"] = noise_validation(args.smoke)
    report(figures)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
