"""Thumbnail rendering benchmark: series/s and peak memory.

    python bench/thumbnails.py            # full run (a few minutes)
    python bench/thumbnails.py --smoke    # < 30 s, used by tests/render/test_bench_smoke.py
    python bench/thumbnails.py --json figures.json

Corpora (all synthetic, built in a temporary folder):

* ``mixed``: a phantom archive (``radcurate.demo``; CT/MR/CR/DX/US/SEG/RTSTRUCT/SR,
  JPEG 2000 / JPEG-LS / RLE series).
* ``ct512``: 512x512 CT series, uncompressed; ``ct512-j2k``: the same, JPEG 2000 lossless.
* peak RSS, each in a fresh process: the thumbnail and a sagittal reformat of a
  1,000-slice 512x512 series, and the thumbnail of a 120-frame RGB cine.

Figures are rendered in one process (``render_series`` per series, PNG encoding
included via ``ThumbnailCache``) on a warm page cache.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, JPEG2000Lossless, generate_uid

TARGET_SERIES_PER_S = 50.0
TARGET_RSS_MIB = 1024.0


def _ct_slice(size: int, k: int, rng: np.random.Generator) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size] / size - 0.5
    body = (xx / 0.42) ** 2 + (yy / 0.32) ** 2 < 1
    organ = ((xx + 0.12) / 0.12) ** 2 + ((yy + 0.02 * np.sin(k / 9)) / 0.1) ** 2 < 1
    hu = np.where(body, 40.0, -1000.0) + np.where(organ, 60.0, 0.0)
    hu += rng.normal(0, 12, hu.shape)
    return (hu + 1024).clip(0, 4095).astype(np.uint16)


def _base(study: str, series: str, number: int, modality: str) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = UID("1.2.840.10008.1.2.1")
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.PatientID = "BENCH"
    ds.StudyInstanceUID = study
    ds.SeriesInstanceUID = series
    ds.Modality = modality
    ds.InstanceNumber = number
    return ds


def write_ct_series(
    folder: Path, slices: int, *, size: int = 512, j2k: bool = False, seed: int = 0
) -> None:
    """One synthetic CT series of ``slices`` ``size``-square slices."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    study, series = generate_uid(), generate_uid()
    for k in range(slices):
        ds = _base(study, series, k + 1, "CT")
        ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = UID("1.2.840.10008.5.1.4.1.1.2")
        ds.Rows = ds.Columns = size
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
        ds.WindowCenter, ds.WindowWidth = 40, 400
        ds.PixelSpacing = [0.7, 0.7]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [-180, -180, -k * 1.0]
        ds.SliceThickness = 1.0
        ds.PixelData = _ct_slice(size, k, rng).tobytes()
        if j2k:
            ds.compress(JPEG2000Lossless)
        ds.save_as(folder / f"{k:05d}.dcm", enforce_file_format=True)


def write_cine(folder: Path, frames: int) -> None:
    """A 480x640 RGB ultrasound cine of ``frames`` frames."""
    folder.mkdir(parents=True, exist_ok=True)
    ds = _base(generate_uid(), generate_uid(), 1, "US")
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = UID("1.2.840.10008.5.1.4.1.1.3.1")
    ds.Rows, ds.Columns, ds.NumberOfFrames = 480, 640, frames
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "RGB", 0
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    rng = np.random.default_rng(1)
    frame = rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)
    ds.PixelData = np.broadcast_to(frame, (frames, 480, 640, 3)).tobytes()
    ds.save_as(folder / "cine.dcm", enforce_file_format=True)


def _catalog(folder: Path, db: Path) -> Any:
    from radcurate.catalog import open_catalog
    from radcurate.ingest import ingest

    catalog = open_catalog(f"sqlite:///{db}")
    ingest([str(folder)], catalog, workers=1)
    return catalog


def time_corpus(catalog: Any, cache_root: Path, parallel: bool = False) -> dict[str, Any]:
    """Render every series of ``catalog`` into a fresh cache; series/s of a warm pass
    in this process (and with a pool of 2 processes, pool start included, if ``parallel``)."""
    from radcurate.render import ThumbnailCache

    uids = [str(d["SeriesInstanceUID"]) for d in catalog.iter_series_documents()]
    ThumbnailCache(cache_root / "warmup").generate_many(catalog, uids)
    cache = ThumbnailCache(cache_root / "timed")
    start = time.perf_counter()
    report = cache.generate_many(catalog, uids)
    seconds = time.perf_counter() - start
    row: dict[str, Any] = {
        "series": len(uids),
        "seconds": round(seconds, 3),
        "series_per_s": round(len(uids) / seconds, 1),
        "failed": report.failed,
        "undecodable": report.undecodable,
    }
    if parallel:
        from radcurate.render import generate_all

        start = time.perf_counter()
        generate_all(catalog, uids, cache=ThumbnailCache(cache_root / "pool"), workers=2)
        row["series_per_s_2_workers"] = round(len(uids) / (time.perf_counter() - start), 1)
    return row


def _child(spec: dict[str, Any]) -> None:
    """Render in this fresh process and print its peak RSS (``--child``)."""
    from radcurate.catalog import open_catalog
    from radcurate.render import render_series, render_slice

    catalog = open_catalog(spec["catalog"])
    uid = str(next(catalog.iter_series_documents())["SeriesInstanceUID"])
    start = time.perf_counter()
    rendering = (
        render_slice(catalog, uid, plane=spec["plane"], size=256)
        if spec.get("plane")
        else render_series(catalog, uid)
    )
    print(
        json.dumps(
            {
                "seconds": round(time.perf_counter() - start, 3),
                "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                "undecodable": rendering.undecodable,
            }
        )
    )


def peak_rss(catalog_url: str, plane: str | None = None) -> dict[str, Any]:
    """Peak RSS of one rendering in a fresh Python process."""
    spec = json.dumps({"catalog": catalog_url, "plane": plane})
    out = subprocess.run(
        [sys.executable, __file__, "--child", spec], capture_output=True, text=True, check=True
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    """Build the corpora, time them and print the figures."""
    parser = argparse.ArgumentParser(description="thumbnail rendering benchmark")
    parser.add_argument("--smoke", action="store_true", help="small corpora (< 30 s)")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(json.loads(args.child))
        return
    warnings.simplefilter("ignore")
    smoke = args.smoke
    n_plain, n_j2k, per_series = (6, 3, 4) if smoke else (100, 40, 16)
    big_slices, cine_frames = (120, 30) if smoke else (1000, 120)
    figures: dict[str, Any] = {"smoke": smoke}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        from radcurate.demo import generate_archive

        generate_archive(tmp / "mixed", patients=3 if smoke else 20, seed=0)
        figures["mixed"] = time_corpus(_catalog(tmp / "mixed", tmp / "m.sqlite"), tmp / "c1")
        for name, count, j2k in (("ct512", n_plain, False), ("ct512-j2k", n_j2k, True)):
            for s in range(count):
                write_ct_series(tmp / name / f"s{s}", per_series, j2k=j2k, seed=s)
            catalog = _catalog(tmp / name, tmp / f"{name}.sqlite")
            figures[name] = time_corpus(catalog, tmp / f"c-{name}", parallel=not smoke)
        write_ct_series(tmp / "big", big_slices)
        big = _catalog(tmp / "big", tmp / "big.sqlite").url
        figures[f"volume{big_slices}_thumbnail"] = peak_rss(big)
        figures[f"volume{big_slices}_sagittal"] = peak_rss(big, "sagittal")
        write_cine(tmp / "cine", cine_frames)
        figures[f"cine{cine_frames}_thumbnail"] = peak_rss(
            _catalog(tmp / "cine", tmp / "cine.sqlite").url
        )
    print(
        f"{'corpus':28s} {'series':>7s} {'seconds':>8s} {'series/s':>9s} {'peak MiB':>9s}"
        f" {'2 procs':>8s}"
    )
    for name, row in figures.items():
        if not isinstance(row, dict):
            continue
        print(
            f"{name:28s} {row.get('series', 1):>7} {row['seconds']:>8} "
            f"{row.get('series_per_s', '-'):>9} {row.get('peak_rss_mib', '-'):>9}"
            f" {row.get('series_per_s_2_workers', '-'):>8}"
        )
    ct_rate = min(figures["ct512"]["series_per_s"], figures["ct512-j2k"]["series_per_s"])
    rss = max(
        v["peak_rss_mib"] for v in figures.values() if isinstance(v, dict) and "peak_rss_mib" in v
    )
    print(
        f"target: >= {TARGET_SERIES_PER_S:g} CT series/s (measured {ct_rate}), "
        f"peak RSS <= {TARGET_RSS_MIB:g} MiB (measured {rss})"
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
