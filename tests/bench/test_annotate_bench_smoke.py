"""The CT annotation benchmark still runs end to end (figures are reported, accuracy checked
loosely here: tests/annotation/test_ct_masks.py holds the real thresholds)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench" / "annotate.py"


def test_annotate_benchmark_smoke(tmp_path: Path) -> None:
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
    crop = figures["accuracy"][0]
    assert crop["dice"]["body_coverage"] >= 0.99
    assert crop["dice"]["lungs"] >= 0.85 and crop["dice"]["bone"] >= 0.75
    assert [s["name"].split(" (")[0] for s in figures["accuracy"]] == [
        "abdomen CT crop",
        "abdomen-pelvis CT",
        "DICOM CT",
    ]
    speed = figures["speed"]["median"]
    assert speed["masks_s"] > 0 and speed["seg_s"] > 0
    assert 0 < speed["peak_rss_mib"] < 2048
    throughput = figures["throughput"]
    assert throughput["ct_series"] >= 1 and throughput["series_per_min"] > 0
    assert "body part + masks" in process.stdout and "series/min" in process.stdout
