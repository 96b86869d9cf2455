"""The export benchmark still runs end to end (nnU-Net with labels from a SEG and an RTSTRUCT,
and a de-identified copy) and reports its figures."""

from __future__ import annotations

import json
import os
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


def test_export_benchmark_copy_only_with_helpers_smoke(tmp_path: Path) -> None:
    """``--copy-only`` on a copy that starts helper processes (forced here: the smoke copy is
    small) times it beside the same copy on the export's threads alone."""
    figures_path = tmp_path / "figures.json"
    process = subprocess.run(
        [sys.executable, str(BENCH), "--smoke", "--copy-only", "--json", str(figures_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "RADCURATE_EXPORT_HELPERS": "1"},
    )  # fmt: skip
    assert process.returncode == 0, process.stdout[-3000:] + process.stderr[-3000:]
    figures = json.loads(figures_path.read_text())
    assert "nnunet" not in figures and "series/min" not in process.stdout
    assert figures["deid"]["failed"] == 0 and figures["deid_threads"]["instances_per_s"] > 0
    assert "with helpers / without" in process.stdout
