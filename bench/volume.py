"""Volume download benchmark: peak RSS and time of a series written as .nii.gz.

    python bench/volume.py                  # a 1,000-slice 512x512 CT (about 1 minute)
    python bench/volume.py --slices 200     # smaller
    python bench/volume.py --smoke --json figures.json   # < 30 s, used by tests

Each mode runs in a fresh process on the same synthetic series (uncompressed, int16
stored, float32 after rescale: 1 MiB per slice in the volume):

* ``stream``: ``write_nifti(series_volume_stream(...))``, slices decoded and gzipped one at
  a time (what ``GET /api/series/{uid}/volume.nii.gz`` sends);
* ``api``: the HTTP endpoint itself through the app, the response streamed to a file;
* ``in-memory``: the whole ``float32`` volume, then nibabel's writer (the former path);
* ``seg-stream`` / ``seg-in-memory``: the same for the label volume of a BINARY DICOM-SEG
  with one frame per slice (2 segments), placed on the CT by plane position.
"""

from __future__ import annotations

import argparse
import importlib
import json
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from thumbnails import write_ct_series

TARGET_RSS_MIB = 1024.0
MODES = ("stream", "api", "in-memory", "seg-stream", "seg-in-memory")


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def child(mode: str, catalog_url: str, uid: str, out: Path) -> dict[str, Any]:
    """Write the volume of ``uid`` to ``out`` in ``mode``; returns its figures."""
    import numpy as np

    from radcurate.catalog import open_catalog
    from radcurate.imaging.nifti import write_nifti
    from radcurate.imaging.seg import seg_label_stream, seg_label_volume
    from radcurate.imaging.volume import series_volume, series_volume_stream

    catalog = open_catalog(catalog_url)
    baseline = _peak_rss_mib()
    start = time.perf_counter()
    if mode == "stream":
        write_nifti(series_volume_stream(catalog, uid), out)
    elif mode == "api":
        from fastapi.testclient import TestClient

        from radcurate.server import ServerSettings, create_app

        settings = ServerSettings(home=out.parent / "home", catalog_url=catalog_url)
        with (
            TestClient(create_app(settings, catalog)) as client,
            client.stream("GET", f"/api/series/{uid}/volume.nii.gz") as response,
            out.open("wb") as target,
        ):
            if response.status_code != 200:
                raise SystemExit(f"HTTP {response.status_code}: {response.read()[:300]!r}")
            for chunk in response.iter_bytes():
                target.write(chunk)
    elif mode == "in-memory":
        nibabel: Any = importlib.import_module("nibabel")
        volume = series_volume(catalog, uid)
        image = nibabel.Nifti1Image(
            np.ascontiguousarray(volume.array.transpose(2, 1, 0)), volume.affine
        )
        nibabel.save(image, str(out))
    elif mode == "seg-stream":
        write_nifti(seg_label_stream(catalog, uid), out)
    elif mode == "seg-in-memory":
        nibabel_seg: Any = importlib.import_module("nibabel")
        labels = seg_label_volume(catalog, uid)
        data = np.ascontiguousarray(labels.array.transpose(2, 1, 0))
        nibabel_seg.save(nibabel_seg.Nifti1Image(data, labels.affine), str(out))
    else:
        raise SystemExit(f"unknown mode {mode}")
    seconds = time.perf_counter() - start
    peak = round(_peak_rss_mib(), 1)
    import nibabel

    voxels = np.asarray(nibabel.load(str(out)).get_fdata(dtype=np.float64))
    return {
        "mode": mode,
        "seconds": round(seconds, 2),
        "file_mib": round(out.stat().st_size / 2**20, 1),
        # what the file holds, whichever deflate wrote it (ISA-L and zlib differ in size)
        "voxels": [*voxels.shape, round(float(voxels.sum()), 3)],
        "baseline_rss_mib": round(baseline, 1),
        "peak_rss_mib": peak,
    }


def write_seg(path: Path, ct: Path, slices: int, size: int) -> None:
    """A BINARY SEG over the CT series in ``ct`` (positions as ``write_ct_series`` writes
    them): one frame per slice, segment 1 a growing disc, segment 2 on every 4th slice."""
    import numpy as np
    import pydicom
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.pixels.utils import pack_bits
    from pydicom.sequence import Sequence
    from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

    first = pydicom.dcmread(next(ct.iterdir()), stop_before_pixels=True)
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = UID("1.2.840.10008.5.1.4.1.1.66.4")
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.PatientID, ds.StudyInstanceUID = first.PatientID, first.StudyInstanceUID
    ds.SeriesInstanceUID, ds.Modality, ds.InstanceNumber = generate_uid(), "SEG", 1
    reference = Dataset()
    reference.SeriesInstanceUID = first.SeriesInstanceUID
    ds.ReferencedSeriesSequence = Sequence([reference])
    ds.SegmentationType = "BINARY"
    ds.Rows = ds.Columns = size
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 1
    ds.HighBit, ds.PixelRepresentation = 0, 0
    segments = []
    for number, label in ((1, "Disc"), (2, "Band")):
        item = Dataset()
        item.SegmentNumber, item.SegmentLabel = number, label
        segments.append(item)
    ds.SegmentSequence = Sequence(segments)
    shared = Dataset()
    orientation, measures = Dataset(), Dataset()
    orientation.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    measures.PixelSpacing, measures.SliceThickness = [0.7, 0.7], 1.0
    shared.PlaneOrientationSequence = Sequence([orientation])
    shared.PixelMeasuresSequence = Sequence([measures])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    yy, xx = np.mgrid[:size, :size] / size - 0.5
    frames, packed = [], []
    for k in range(slices):
        for segment in (1, 2) if k % 4 == 0 else (1,):
            if segment == 1:
                mask = xx**2 + yy**2 < (0.05 + 0.3 * k / slices) ** 2
            else:
                mask = np.abs(yy) < 0.05
            group = Dataset()
            ident, position = Dataset(), Dataset()
            ident.ReferencedSegmentNumber = segment
            position.ImagePositionPatient = [-180, -180, -k * 1.0]
            group.SegmentIdentificationSequence = Sequence([ident])
            group.PlanePositionSequence = Sequence([position])
            frames.append(group)
            packed.append(pack_bits(mask))
    ds.NumberOfFrames = len(frames)
    ds.PerFrameFunctionalGroupsSequence = Sequence(frames)
    ds.PixelData = b"".join(packed)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)


def build(slices: int, size: int, work: Path) -> dict[str, str]:
    """Write the CT series and its SEG, ingest them; returns the catalog URL and the UIDs."""
    from radcurate.catalog import open_catalog
    from radcurate.ingest import ingest

    folder = work / "ct"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        write_ct_series(folder, slices, size=size)
    url = f"sqlite:///{work / 'catalog.sqlite'}"
    write_seg(work / "seg" / "seg.dcm", folder, slices, size)
    with open_catalog(url) as catalog:
        ingest([folder, work / "seg"], catalog, workers=2)
        by_modality = {
            d["Modality"]: str(d["SeriesInstanceUID"]) for d in catalog.iter_series_documents()
        }
    return {"url": url, "uid": by_modality["CT"], "seg_uid": by_modality["SEG"]}


def _python(*args: str) -> str:
    """Run this script in a fresh process; its last line of output.

    Every measurement starts from a small parent: Linux carries a process's peak RSS
    over ``fork``/``exec`` into the child's ``ru_maxrss``.
    """
    process = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, check=False
    )
    if process.returncode != 0:
        raise SystemExit(f"{args[:2]} failed:\n{process.stderr[-3000:]}")
    return process.stdout.strip().splitlines()[-1]


def run(slices: int, size: int, work: Path) -> dict[str, Any]:
    """Build the series (in a child process), then measure every mode in its own process."""
    built = json.loads(_python("--build", str(slices), str(size), str(work)))
    url, uid, seg_uid = built["url"], built["uid"], built["seg_uid"]
    figures: dict[str, Any] = {
        "slices": slices,
        "size": size,
        "volume_mib": slices * size * size * 4 / 2**20,
    }
    for mode in MODES:
        out = work / f"{mode}.nii.gz"
        target = seg_uid if mode.startswith("seg") else uid
        figures[mode] = json.loads(_python("--child", mode, url, target, str(out)))
        out.unlink()
    return figures


def main() -> None:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slices", type=int, default=1000)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--smoke", action="store_true", help="40 slices of 128x128")
    parser.add_argument("--json", type=Path, default=None, help="Also write the figures here.")
    parser.add_argument("--build", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument(
        "--child", nargs=4, metavar=("MODE", "URL", "UID", "OUT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.build:
        slices, size, work = args.build
        print(json.dumps(build(int(slices), int(size), Path(work))))
        return
    if args.child:
        mode, url, uid, out = args.child
        print(json.dumps(child(mode, url, uid, Path(out))))
        return
    slices, size = (40, 128) if args.smoke else (args.slices, args.size)
    with tempfile.TemporaryDirectory(prefix="radcurate-bench-volume-") as tmp:
        figures = run(slices, size, Path(tmp))
    print(f"{slices} slices of {size}x{size}: float32 volume {figures['volume_mib']:.0f} MiB")
    for mode in MODES:
        f = figures[mode]
        print(
            f"  {mode:>13}: peak RSS {f['peak_rss_mib']:7.1f} MiB "
            f"(after imports {f['baseline_rss_mib']:.0f}), {f['seconds']:6.2f} s, "
            f"{f['file_mib']:.1f} MiB written"
        )
    peak = max(figures["stream"]["peak_rss_mib"], figures["seg-stream"]["peak_rss_mib"])
    verdict = "met" if peak <= TARGET_RSS_MIB else "MISSED"
    print(f"target: streamed peak RSS <= {TARGET_RSS_MIB:.0f} MiB: {verdict}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
