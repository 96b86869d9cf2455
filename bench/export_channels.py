"""Multi-channel export benchmark: BraTS-like MR studies (T1, T1ce, T2, FLAIR) to nnU-Net.

One command::

    .venv/bin/python bench/export_channels.py                      # 2 studies, 240 x 240 x 155
    .venv/bin/python bench/export_channels.py --smoke               # 2 studies, 64 x 64 x 40

Each study has four MR series in one frame of reference: T1 on the reference grid (1 mm),
T1ce on the same grid (copied, no resampling), T2 and FLAIR on an oblique grid (rotated 7
degrees, 1.2 mm, shifted), so half the channels are resampled trilinearly. Int16 values,
uncompressed, written with pydicom; ingested into a fresh SQLite catalog; then a fresh
process runs ``export_dataset`` (nnU-Net, ``--channel`` x 4, no labels, every patient in test)
and reports wall and CPU time, cases per minute and peak RSS (the child's own ``VmHWM``).
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

sys.path.insert(0, str(Path(__file__).resolve().parent))

from export import peak_rss_mib  # bench/export.py: the child's own peak RSS

CHANNELS = (
    ("T1", "SeriesDescription:t1_mprage"),
    ("T1ce", "SeriesDescription:t1_mprage_ce"),
    ("T2", "SeriesDescription:t2_tse"),
    ("FLAIR", "SeriesDescription:t2_flair"),
)


def _series(
    folder: Path, patient: str, study: str, frame: str, description: str, number: int,
    size: int, slices: int, oblique: bool,
) -> None:  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(number)
    angle = math.radians(7.0 if oblique else 0.0)
    spacing = 1.2 if oblique else 1.0
    count = int(slices / spacing) if oblique else slices
    side = int(size / spacing) if oblique else size
    orientation = [math.cos(angle), math.sin(angle), 0.0, -math.sin(angle), math.cos(angle), 0.0]
    series = generate_uid()
    yy, xx = np.mgrid[:side, :side]
    base = (400 * (np.hypot(xx - side / 2, yy - side / 2) < side * 0.4)).astype(np.int16)
    for k in range(count):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.MediaStorageSOPClassUID = MRImageStorage
        ds.SOPClassUID, ds.SOPInstanceUID = MRImageStorage, generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.PatientID, ds.PatientName, ds.Modality = patient, f"Bench^{patient}", "MR"
        ds.StudyDate, ds.SeriesNumber, ds.SeriesDescription = "20240101", number, description
        ds.InstanceNumber = k + 1
        shift = 1.7 if oblique else 0.0
        ds.ImagePositionPatient = [-size / 2 + shift, -size / 2 - shift, spacing * k + shift]
        ds.ImageOrientationPatient = orientation
        ds.PixelSpacing, ds.SliceThickness = [spacing, spacing], spacing
        ds.Rows = ds.Columns = side
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        noise = rng.integers(0, 50, (side, side)).astype(np.int16)
        ds.PixelData = (base + noise).astype(np.int16).tobytes()
        ds.save_as(folder / f"{k:04d}.dcm", enforce_file_format=True)


def make_archive(root: Path, studies: int, size: int, slices: int) -> None:
    """``studies`` BraTS-like studies of four series each."""
    for n in range(studies):
        study, frame = generate_uid(), generate_uid()
        for number, (_, query) in enumerate(CHANNELS, start=1):
            description = query.split(":", 1)[1]
            _series(root / f"s{n}" / description, f"MRB{n:03d}", study, frame, description,
                    number, size, slices, oblique=number > 2)  # fmt: skip


def child(args: argparse.Namespace) -> None:
    """Run the export in this (fresh) process and print its figures as JSON."""
    from radcurate.catalog import open_catalog
    from radcurate.export.channels import Channel
    from radcurate.export.job import ExportOptions, export_dataset
    from radcurate.export.splits import parse_split

    with open_catalog(args.catalog) as catalog:
        options = ExportOptions(
            "bench", "nnunet", Path(args.out), parse_split("test=1.0"),
            channels=tuple(Channel(n, q) for n, q in CHANNELS),
        )  # fmt: skip
        before = resource.getrusage(resource.RUSAGE_SELF)
        start = time.perf_counter()
        report = export_dataset(catalog, options)
        seconds = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime - before.ru_utime - before.ru_stime
    print(json.dumps({"seconds": seconds, "cpu_s": cpu, "peak_rss_mib": peak_rss_mib(),
                      **report.to_dict()}))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=2)
    parser.add_argument("--size", type=int, default=240)
    parser.add_argument("--slices", type=int, default=155)
    parser.add_argument("--smoke", action="store_true", help="64 x 64 x 40, for a quick check")
    parser.add_argument("--json", type=Path, default=None, help="Write the figures here.")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--catalog", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    if args.smoke:
        args.size, args.slices = 64, 40
    from radcurate.catalog import open_catalog
    from radcurate.catalog.curation_types import Selection
    from radcurate.ingest import ingest

    with tempfile.TemporaryDirectory() as work:
        root = Path(work)
        make_archive(root / "archive", args.studies, args.size, args.slices)
        url = f"sqlite:///{root / 'catalog.sqlite'}"
        with open_catalog(url) as catalog:
            ingest([root / "archive"], catalog, workers=1)
            catalog.create_dataset("bench")
            catalog.add_to_dataset("bench", Selection(query="*"))
        done = subprocess.run(
            [sys.executable, __file__, "--child", "--catalog", url, "--out", str(root / "out")],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    cases = figures["exported"]
    summary = {
        "studies": args.studies, "grid": [args.size, args.size, args.slices],
        "channels": len(CHANNELS), "cases": cases, "failed": figures["failed"],
        "wall_s": round(figures["seconds"], 2), "cpu_s": round(figures["cpu_s"], 2),
        "cases_per_min": round(60 * cases / figures["seconds"], 1) if cases else 0.0,
        "peak_rss_mib": round(figures["peak_rss_mib"]),
    }  # fmt: skip
    text = json.dumps(summary, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
