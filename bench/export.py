"""Export benchmark: CT series (512 x 512 x 100-300 slices) with labels to nnU-Net, and a
de-identified DICOM copy.

One command::

    .venv/bin/python bench/export.py                                 # 8 CTs of 200 slices
    .venv/bin/python bench/export.py --smoke --json figures.json     # < 60 s, used by tests

Synthetic CTs (int16, uncompressed, a water cylinder with a denser core and noise) are
written with pydicom; half get a DICOM-SEG (highdicom, BINARY, two segments on every slice),
half an RTSTRUCT (a circular contour of each structure on every slice), so both label paths
are timed. They are ingested into a fresh SQLite catalog and put in one dataset. Then a fresh
process runs ``export_dataset`` (nnU-Net, every patient in train: every case gets an image
and a label map) and reports its wall time and peak RSS (its own ``VmHWM``); a second fresh
process copies the version de-identified (``--deidentify``'s path): instances/s, beside the
same copy without de-identification (a byte copy, hashed for the manifest) as the baseline.
Each export runs ``--repeat`` times (default 3, interleaved; dirty pages are written back
before each, so no run pays for the last one's); medians are reported. Every run writes into
a folder of its own, and all are deleted only when the bench ends (8 CTs: ~2.5 GB a round):
ext4 without a journal (this machine's) skips every inode freed in the last 60 s (360 s
while its inode table block is dirty; ``recently_deleted`` in the kernel's ``ialloc.c``)
when it creates a file, looking each up in turn. A run started 11 s after deleting the last
run's 1,600 files (what this bench did until 2026-12-04) spent 14 % of its CPU there and
4 % more spinning on the folder's lock behind it (``perf``; 34 % fewer CPU samples in a run
started 70 s after the deletion; docs/architecture.md, "Export speed"). An export into a
fresh folder, as users run one, pays for none of that.
Targets (issue 17): >= 60 series/min and <= 2 GiB for nnU-Net with labels;
>= 2,000 instances/s de-identified.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import UID, CTImageStorage, ExplicitVRLittleEndian, generate_uid

ROOT = Path(__file__).resolve().parents[1]
TARGET_SERIES_PER_MIN = 60.0
TARGET_RSS_MIB = 2048.0
TARGET_DEID_PER_S = 2000.0
RTSTRUCT_CLASS = UID("1.2.840.10008.5.1.4.1.1.481.3")


def _ct_slices(folder: Path, n: int, slices: int, size: int) -> list[Dataset]:
    """One synthetic CT series; returns its datasets (headers and pixels) in slice order."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(n)
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    yy, xx = np.mgrid[:size, :size]
    radius = np.hypot(xx - size / 2, yy - size / 2)
    base = np.where(radius < size * 0.4, 0, -1000) + np.where(radius < size * 0.15, 60, 0)
    written = []
    for k in range(slices):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
        ds.PatientID, ds.PatientName = f"MRN{n:06d}", f"Roe^Morgan{n}"
        ds.StudyDate, ds.Modality, ds.Manufacturer = "20240101", "CT", "BENCH"
        ds.FrameOfReferenceUID = frame
        ds.PatientBirthDate, ds.PatientSex, ds.StudyTime = "19700101", "O", "120000"
        ds.ReferringPhysicianName, ds.StudyID, ds.AccessionNumber = "", "1", ""
        ds.SeriesNumber = 1
        ds.SeriesDescription, ds.InstanceNumber = "bench ct", k + 1
        ds.ImagePositionPatient = [-size * 0.35, -size * 0.35, 1.5 * k]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing, ds.SliceThickness = [0.7, 0.7], 1.5
        ds.Rows = ds.Columns = size
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleIntercept, ds.RescaleSlope = 0, 1
        noise = rng.normal(0, 20, (size, size)).astype(np.int16)
        ds.PixelData = (base + noise).astype(np.int16).tobytes()
        ds.save_as(folder / f"{k:04d}.dcm", enforce_file_format=True)
        written.append(ds)
    return written


def _masks(size: int, slices: int) -> np.ndarray[Any, np.dtype[np.bool_]]:
    yy, xx = np.mgrid[:size, :size]
    radius = np.hypot(xx - size / 2, yy - size / 2)
    plane = np.stack([radius < size * 0.4, radius < size * 0.15], axis=-1)
    return np.broadcast_to(plane, (slices, size, size, 2)).copy()


def _seg(folder: Path, sources: list[Dataset], size: int) -> None:
    import highdicom as hd
    from pydicom.sr.codedict import codes

    algorithm = hd.AlgorithmIdentificationSequence(
        name="bench", family=codes.cid7162.ArtificialIntelligence, version="1"
    )
    segments = [
        hd.seg.SegmentDescription(
            segment_number=k + 1, segment_label=label,
            segmented_property_category=codes.SCT.Tissue,
            segmented_property_type=codes.SCT.Tissue, algorithm_type="AUTOMATIC",
            algorithm_identification=algorithm,
        )
        for k, label in enumerate(("body", "core"))
    ]  # fmt: skip
    seg = hd.seg.Segmentation(
        source_images=sources, pixel_array=_masks(size, len(sources)),
        segmentation_type="BINARY", segment_descriptions=segments,
        series_instance_uid=generate_uid(), series_number=2, sop_instance_uid=generate_uid(),
        instance_number=1, manufacturer="bench", manufacturer_model_name="bench",
        software_versions="1", device_serial_number="1",
    )  # fmt: skip
    seg.save_as(folder / "seg.dcm")


def _rtstruct(folder: Path, sources: list[Dataset], size: int) -> None:
    first = sources[0]
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = RTSTRUCT_CLASS
    ds.SOPClassUID, ds.SOPInstanceUID = RTSTRUCT_CLASS, generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = first.StudyInstanceUID, generate_uid()
    ds.PatientID, ds.PatientName, ds.Modality = first.PatientID, first.PatientName, "RTSTRUCT"
    ds.StructureSetLabel, ds.InstanceNumber = "bench", 1
    ref_series = Dataset()
    ref_series.SeriesInstanceUID = first.SeriesInstanceUID
    ref_series.ContourImageSequence = Sequence()
    study_ref = Dataset()
    study_ref.RTReferencedSeriesSequence = Sequence([ref_series])
    frame = Dataset()
    frame.FrameOfReferenceUID = first.FrameOfReferenceUID
    frame.RTReferencedStudySequence = Sequence([study_ref])
    ds.ReferencedFrameOfReferenceSequence = Sequence([frame])
    rois, contours = [], []
    angles = np.linspace(0, 2 * np.pi, 64, endpoint=False)
    for number, (name, share) in enumerate((("body", 0.4), ("core", 0.15)), start=1):
        roi = Dataset()
        roi.ROINumber, roi.ROIName = number, name
        roi.ReferencedFrameOfReferenceUID = first.FrameOfReferenceUID
        rois.append(roi)
        items = []
        for src in sources:
            x0, y0, z = (float(v) for v in src.ImagePositionPatient)
            r = share * size * 0.7
            cx, cy = x0 + size / 2 * 0.7, y0 + size / 2 * 0.7
            points = np.column_stack(
                [cx + r * np.cos(angles), cy + r * np.sin(angles), np.full(64, z)]
            )
            item = Dataset()
            image = Dataset()
            image.ReferencedSOPClassUID = src.SOPClassUID
            image.ReferencedSOPInstanceUID = src.SOPInstanceUID
            item.ContourImageSequence = Sequence([image])
            item.ContourGeometricType, item.NumberOfContourPoints = "CLOSED_PLANAR", 64
            item.ContourData = [round(float(v), 3) for v in points.ravel()]
            items.append(item)
        contour = Dataset()
        contour.ReferencedROINumber = number
        contour.ContourSequence = Sequence(items)
        contours.append(contour)
    ds.StructureSetROISequence = Sequence(rois)
    ds.ROIContourSequence = Sequence(contours)
    ds.save_as(folder / "rtstruct.dcm", enforce_file_format=True)


def make_archive(root: Path, series: int, slices: int, size: int) -> None:
    """``series`` CTs, each with a SEG (even) or an RTSTRUCT (odd)."""
    for n in range(series):
        folder = root / f"ct{n:02d}"
        sources = _ct_slices(folder, n, slices, size)
        (_seg if n % 2 == 0 else _rtstruct)(folder, sources, size)


def peak_rss_mib() -> float:
    """This process's own peak RSS: ``VmHWM`` of ``/proc/self/status`` (exec starts a new
    memory map, so it counts this program alone). ``getrusage``'s ``ru_maxrss`` (the fallback
    off Linux) starts from the forking parent's peak on Linux, and the parent held the
    archive it generated: every child reported the parent's 931 MiB until 2026-12-04."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(args: argparse.Namespace) -> None:
    """Run one export in this (fresh) process and print its figures as JSON."""
    from radcurate.catalog import open_catalog
    from radcurate.export.job import ExportOptions, export_dataset
    from radcurate.export.splits import parse_split

    deid = None
    if args.format == "dicom" and not args.plain:
        from radcurate.export.deid import DeidOptions

        deid = DeidOptions(key=b"bench-export-key")
    with open_catalog(args.catalog) as catalog:
        options = ExportOptions(
            "bench",
            args.format,
            Path(args.out),
            parse_split("train=1.0"),
            deid=deid,
            workers=args.workers,
        )
        phase = _Phase()
        before = _cpu()
        start = time.perf_counter()
        report = export_dataset(catalog, options, phase)
        seconds = time.perf_counter() - start
    cpu = _cpu() - before
    peak = peak_rss_mib()
    figures = {"seconds": seconds, "cpu_s": cpu, "peak_rss_mib": peak,
               "phase_s": phase.seconds(), **report.to_dict()}  # fmt: skip
    print(json.dumps(figures))


def _cpu() -> float:
    """CPU seconds of this process and of the processes it waited for (an export's helper
    processes)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    helpers = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + helpers.ru_utime + helpers.ru_stime


class _Phase:
    """The export's progress sink, timing its main phase: from the first series started to
    the last one done (planning, manifests, card and checksums are around it)."""

    def __init__(self) -> None:
        self.first: float | None = None
        self.last: float | None = None

    def progress(
        self, done: int | None = None, total: int | None = None, message: str | None = None
    ) -> None:
        now = time.perf_counter()
        if done == 0 and self.first is None:
            self.first = now
        if done is not None and done == total:
            self.last = now

    def check(self) -> None:
        return None

    def seconds(self) -> float | None:
        if self.first is None or self.last is None:
            return None
        return self.last - self.first


#: bytes of output a round writes per instance, at most (the copies: 0.5 MB a slice; nnU-Net
#: less), for the free-space check
_OUT_BYTES_PER_INSTANCE = 530_000


def _run_child(
    catalog: str, fmt: str, out: Path, plain: bool = False, workers: int = 2,
    src: Path | None = None, helpers: bool = True,
) -> dict[str, Any]:  # fmt: skip
    """One export in a fresh process into the new folder ``out`` (kept: see the docstring;
    ``src``: another checkout's ``src`` folder imported instead of this one's; ``helpers``
    False: the de-identified copy on the export's own threads alone)."""
    env = dict(os.environ)
    if not helpers:
        env["RADCURATE_EXPORT_HELPERS"] = "0"
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(src), env.get("PYTHONPATH", "")]).rstrip(":")
    os.sync()  # the last run's dirty pages written back now, not during this one
    done = subprocess.run(
        [sys.executable, __file__, "--child", "--catalog", catalog, "--format", fmt,
         "--out", str(out), "--workers", str(workers), *(["--plain"] if plain else [])],
        capture_output=True, text=True, cwd=ROOT, check=False, env=env,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"export child failed:\n{done.stderr[-3000:]}")
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(float(r[key]) for r in runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="2 small CTs (< 60 s)")
    parser.add_argument("--series", type=int, default=8)
    parser.add_argument("--slices", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each export (medians)")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    parser.add_argument(
        "--compare-src", type=Path, default=None, metavar="DIR",
        help="also run the de-identified copy with the radcurate of another checkout's "
        "src folder (e.g. a clone of an older commit), interleaved: side-by-side figures",
    )  # fmt: skip
    parser.add_argument(
        "--copy-only", action="store_true",
        help="only the DICOM copies (e.g. --copy-only --series 24 --repeat 2: a copy large "
        "enough for the helper processes, timed beside the same copy without them)",
    )  # fmt: skip
    parser.add_argument("--plain", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=2, help=argparse.SUPPRESS)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--catalog", help=argparse.SUPPRESS)
    parser.add_argument("--format", default="nnunet", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    series, slices = (2, 24) if args.smoke else (args.series, args.slices)
    repeat = 1 if args.smoke else max(1, args.repeat)
    from radcurate.catalog import open_catalog
    from radcurate.catalog.curation_types import Selection
    from radcurate.export.copy_helpers import helper_count
    from radcurate.ingest import ingest

    instances = series * (slices + 1)
    #: helpers start for this copy: time it beside the same copy on threads alone
    helped = helper_count(instances) > 0
    kinds = 3 + (args.compare_src is not None) + helped - args.copy_only
    need = repeat * kinds * series * (slices + 1) * _OUT_BYTES_PER_INSTANCE * 1.3
    free = shutil.disk_usage(tempfile.gettempdir()).free
    if free < need:
        raise SystemExit(
            f"bench/export.py keeps every run's output until it ends (see its docstring) and "
            f"needs ~{need / 1e9:.1f} GB free in {tempfile.gettempdir()} ({free / 1e9:.1f} GB "
            f"are): point TMPDIR at a larger disk, or use fewer --repeat or --series"
        )
    with tempfile.TemporaryDirectory(prefix="radcurate-bench-export-") as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        make_archive(root / "archive", series, slices, 512)
        made = time.perf_counter() - start
        url = f"sqlite:///{root / 'catalog.sqlite'}"
        with open_catalog(url) as catalog:
            ingest([root / "archive"], catalog, workers=1)
            catalog.create_dataset("bench")
            catalog.add_to_dataset("bench", Selection(query="*"))
            catalog.freeze_dataset("bench")
        runs: dict[str, list[dict[str, Any]]] = {"nnunet": [], "deid": [], "plain": [],
                                                 "compare": [], "threads": []}  # fmt: skip
        for n in range(repeat):  # interleaved, so a noisy spell touches every kind alike
            if not args.copy_only:
                runs["nnunet"].append(_run_child(url, "nnunet", root / f"nnunet{n}"))
            runs["deid"].append(_run_child(url, "dicom", root / f"deid{n}"))
            if helped:
                runs["threads"].append(
                    _run_child(url, "dicom", root / f"threads{n}", helpers=False)
                )
            if args.compare_src is not None:
                runs["compare"].append(_run_child(
                    url, "dicom", root / f"compare{n}", src=args.compare_src.resolve()
                ))  # fmt: skip
            runs["plain"].append(_run_child(url, "dicom", root / f"plain{n}", plain=True))
    nnunet, deid, plain = runs["nnunet"], runs["deid"], runs["plain"]
    figures: dict[str, Any] = {
        "series": series, "slices": slices, "size": 512, "archive_s": made, "repeat": repeat,
        "deid": {
            "instances": instances, "seconds": _median(deid, "seconds"),
            "instances_per_s": instances / _median(deid, "seconds"),
            "copy_instances_per_s": instances / _median(deid, "phase_s"),
            "cpu_ms_per_instance": 1000 * _median(deid, "cpu_s") / instances,
            "peak_rss_mib": max(float(r["peak_rss_mib"]) for r in deid),
            "failed": max(int(r["failed"]) for r in deid),
            "runs_s": [round(float(r["seconds"]), 3) for r in deid],
        },
        "plain_copy": {
            "instances_per_s": instances / _median(plain, "seconds"),
            "copy_instances_per_s": instances / _median(plain, "phase_s"),
            "cpu_ms_per_instance": 1000 * _median(plain, "cpu_s") / instances,
        },
    }  # fmt: skip
    d, c = figures["deid"], figures["plain_copy"]
    print(
        f"medians of {repeat} run(s), each in a fresh process; load average now "
        f"{os.getloadavg()[0]:.1f}"
    )
    if nnunet:
        exported = int(nnunet[0]["exported"])
        nn: dict[str, Any] = {
            "exported": exported, "failed": max(int(r["failed"]) for r in nnunet),
            "seconds": _median(nnunet, "seconds"),
            "series_per_min": 60 * exported / _median(nnunet, "seconds"),
            "cpu_s_per_series": _median(nnunet, "cpu_s") / max(1, exported),
            "peak_rss_mib": max(float(r["peak_rss_mib"]) for r in nnunet),
            "runs_s": [round(float(r["seconds"]), 3) for r in nnunet],
        }  # fmt: skip
        figures["nnunet"] = nn
        print(
            f"nnU-Net with labels: {series} CTs of 512x512x{slices}: {nn['seconds']:.1f} s, "
            f"{nn['series_per_min']:.1f} series/min (target >= {TARGET_SERIES_PER_MIN:.0f}: "
            f"{nn['series_per_min'] / TARGET_SERIES_PER_MIN:.2f}x), peak RSS "
            f"{nn['peak_rss_mib']:.0f} MiB (target <= {TARGET_RSS_MIB:.0f}); "
            f"{nn['cpu_s_per_series']:.2f} CPU s a series (2 idle cores: "
            f"{120 / nn['cpu_s_per_series']:.0f} series/min at most)"
        )
    print(
        f"de-identified DICOM copy{' (with helper processes)' if helped else ''}: "
        f"{instances} instances in {d['seconds']:.2f} s, "
        f"{d['instances_per_s']:.0f} instances/s (target >= {TARGET_DEID_PER_S:.0f}: "
        f"{d['instances_per_s'] / TARGET_DEID_PER_S:.2f}x); {d['cpu_ms_per_instance']:.2f} CPU ms "
        f"an instance; the copying phase alone (without planning, manifests, card): "
        f"{d['copy_instances_per_s']:.0f} instances/s "
        f"({d['copy_instances_per_s'] / TARGET_DEID_PER_S:.2f}x)"
    )
    print(
        f"baseline, the same export without de-identification (a byte copy, hashed): "
        f"{c['instances_per_s']:.0f} instances/s (copying phase {c['copy_instances_per_s']:.0f}), "
        f"{c['cpu_ms_per_instance']:.2f} CPU ms an instance; de-identified / plain: "
        f"{d['instances_per_s'] / c['instances_per_s']:.2f}"
    )
    if runs["threads"]:
        alone = runs["threads"]
        figures["deid_threads"] = t = {
            "instances_per_s": instances / _median(alone, "seconds"),
            "copy_instances_per_s": instances / _median(alone, "phase_s"),
            "cpu_ms_per_instance": 1000 * _median(alone, "cpu_s") / instances,
            "runs_s": [round(float(r["seconds"]), 3) for r in alone],
        }
        print(
            f"the same de-identified copy on the export's threads alone "
            f"(RADCURATE_EXPORT_HELPERS=0): {t['instances_per_s']:.0f} instances/s (copying "
            f"phase {t['copy_instances_per_s']:.0f}), {t['cpu_ms_per_instance']:.2f} CPU ms an "
            f"instance; with helpers / without: {d['instances_per_s'] / t['instances_per_s']:.2f}"
            f" (copying phase {d['copy_instances_per_s'] / t['copy_instances_per_s']:.2f})"
        )
    if runs["compare"]:
        other = runs["compare"]
        figures["deid_compared"] = {
            "src": str(args.compare_src),
            "instances_per_s": instances / _median(other, "seconds"),
            "copy_instances_per_s": instances / _median(other, "phase_s"),
            "cpu_ms_per_instance": 1000 * _median(other, "cpu_s") / instances,
            "runs_s": [round(float(r["seconds"]), 3) for r in other],
        }
        o = figures["deid_compared"]
        print(
            f"the same de-identified copy with {args.compare_src}: "
            f"{o['instances_per_s']:.0f} instances/s (copying phase "
            f"{o['copy_instances_per_s']:.0f}), {o['cpu_ms_per_instance']:.2f} CPU ms an "
            f"instance; this checkout / that one: {d['instances_per_s'] / o['instances_per_s']:.2f}"
            f" (copying phase {d['copy_instances_per_s'] / o['copy_instances_per_s']:.2f})"
        )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
