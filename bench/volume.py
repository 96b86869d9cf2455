"""Volume download benchmark: peak RSS and time of a series written as .nii.gz.

    python bench/volume.py                  # a 1,000-slice 512x512 CT (about 1 minute)
    python bench/volume.py --slices 200     # smaller
    python bench/volume.py --smoke --json figures.json   # < 30 s, used by tests

Each mode runs in a fresh process on the same synthetic series (uncompressed, int16
stored, float32 after rescale: 1 MiB per slice in the volume):

* ``stream``: ``write_nifti(series_volume_stream(...))``, slices decoded and gzipped one at
  a time (what ``GET /api/series/{uid}/volume.nii.gz`` sends);
* ``api``: the HTTP endpoint itself through the app, the response streamed to a file;
* ``in-memory``: the whole ``float32`` volume, then nibabel's writer (the former path).
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
MODES = ("stream", "api", "in-memory")


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def child(mode: str, catalog_url: str, uid: str, out: Path) -> dict[str, Any]:
    """Write the volume of ``uid`` to ``out`` in ``mode``; returns its figures."""
    import numpy as np

    from radcurate.catalog import open_catalog
    from radcurate.render.volume import series_volume, series_volume_stream, write_nifti

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
    else:
        raise SystemExit(f"unknown mode {mode}")
    seconds = time.perf_counter() - start
    return {
        "mode": mode,
        "seconds": round(seconds, 2),
        "file_mib": round(out.stat().st_size / 2**20, 1),
        "baseline_rss_mib": round(baseline, 1),
        "peak_rss_mib": round(_peak_rss_mib(), 1),
    }


def run(slices: int, size: int, work: Path) -> dict[str, Any]:
    """Build the series, then measure every mode in its own process."""
    from radcurate.catalog import open_catalog
    from radcurate.ingest import ingest

    folder = work / "ct"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        write_ct_series(folder, slices, size=size)
    url = f"sqlite:///{work / 'catalog.sqlite'}"
    with open_catalog(url) as catalog:
        ingest([folder], catalog, workers=2)
        (document,) = list(catalog.iter_series_documents())
    uid = str(document["SeriesInstanceUID"])
    figures: dict[str, Any] = {
        "slices": slices,
        "size": size,
        "volume_mib": slices * size * size * 4 / 2**20,
    }
    for mode in MODES:
        out = work / f"{mode}.nii.gz"
        process = subprocess.run(
            [sys.executable, __file__, "--child", mode, url, uid, str(out)],
            capture_output=True,
            text=True,
            check=False,
        )
        if process.returncode != 0:
            raise SystemExit(f"{mode} failed:\n{process.stderr[-3000:]}")
        figures[mode] = json.loads(process.stdout.strip().splitlines()[-1])
        out.unlink()
    return figures


def main() -> None:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slices", type=int, default=1000)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--smoke", action="store_true", help="40 slices of 128x128")
    parser.add_argument("--json", type=Path, default=None, help="Also write the figures here.")
    parser.add_argument(
        "--child", nargs=4, metavar=("MODE", "URL", "UID", "OUT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
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
            f"  {mode:>9}: peak RSS {f['peak_rss_mib']:7.1f} MiB "
            f"(after imports {f['baseline_rss_mib']:.0f}), {f['seconds']:6.2f} s, "
            f"{f['file_mib']:.1f} MiB written"
        )
    verdict = "met" if figures["stream"]["peak_rss_mib"] <= TARGET_RSS_MIB else "MISSED"
    print(f"target: streamed peak RSS <= {TARGET_RSS_MIB:.0f} MiB: {verdict}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
