"""The QC benchmark still runs end to end (header cost on ingest, pixel checks throughput,
noise index against added noise); figures reported, checked loosely here
(tests/qc holds the real thresholds)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench" / "qc.py"


def test_qc_benchmark_smoke(tmp_path: Path) -> None:
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
    header = figures["header"]
    assert "skipped" in header or (header["on_s"] > 0 and header["off_s"] > 0)
    throughput = figures["throughput"]
    assert throughput["processed"] == throughput["series"] == 2
    assert throughput["failed"] == 0 and throughput["series_per_min"] > 0
    assert throughput["cpu_s_per_series"] > 0
    assert [scan["name"].split(" (")[0] for scan in figures["noise"]] == [
        "TotalSegmentator DICOM CT",
        "phantom",
    ]
    for scan in figures["noise"]:
        assert [row["sigma"] for row in scan["rows"]] == [0.0, 10.0, 20.0, 40.0]
        assert all(abs(row["ratio"] - 1.0) <= 0.10 for row in scan["rows"])
    assert "series/min" in process.stdout and "sqrt(g0²+σ²)" in process.stdout
    assert "header checks on ingest" in process.stdout
