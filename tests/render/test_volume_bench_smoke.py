"""The volume benchmark runs end to end in smoke mode; streaming never holds the volume."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_volume_benchmark_smoke(tmp_path: Path) -> None:
    figures_path = tmp_path / "figures.json"
    process = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "volume.py"), "--smoke", "--json", str(figures_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert process.returncode == 0, process.stdout[-3000:] + process.stderr[-3000:]
    figures = json.loads(figures_path.read_text())
    # the same voxels every way (file sizes differ: the stream deflates with ISA-L when
    # python-isal is installed, nibabel with zlib)
    voxels = {tuple(figures[mode]["voxels"]) for mode in ("stream", "api", "in-memory")}
    assert len(voxels) == 1 and all(figures[m]["file_mib"] > 0 for m in ("stream", "api"))
    assert figures["seg-stream"]["voxels"] == figures["seg-in-memory"]["voxels"]
    for mode in ("stream", "api", "in-memory", "seg-stream", "seg-in-memory"):
        assert figures[mode]["peak_rss_mib"] >= figures[mode]["baseline_rss_mib"] > 0
    assert "target:" in process.stdout
