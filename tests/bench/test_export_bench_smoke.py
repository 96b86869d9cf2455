"""The export benchmark still runs end to end (nnU-Net with labels from a SEG and an RTSTRUCT,
and a de-identified copy) and reports its figures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench" / "export.py"


def test_export_benchmark_smoke(tmp_path: Path) -> None:
    figures_path = tmp_path / "figures.json"
    process = subprocess.run(
        [sys.executable, str(BENCH), "--smoke", "--json", str(figures_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert process.returncode == 0, process.stdout[-3000:] + process.stderr[-3000:]
    figures = json.loads(figures_path.read_text())
    nnunet, deid = figures["nnunet"], figures["deid"]
    assert nnunet["exported"] == figures["series"] == 2 and nnunet["failed"] == 0
    assert nnunet["series_per_min"] > 0 and 0 < nnunet["peak_rss_mib"] < 2048
    assert deid["failed"] == 0 and deid["instances_per_s"] > 0
    assert "series/min" in process.stdout and "instances/s" in process.stdout
