"""The multi-channel export benchmark still runs end to end (4-channel studies, two channels
resampled) and reports every study exported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench" / "export_channels.py"


def test_export_channels_benchmark_smoke(tmp_path: Path) -> None:
    figures_path = tmp_path / "figures.json"
    process = subprocess.run(
        [sys.executable, str(BENCH), "--smoke", "--json", str(figures_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert process.returncode == 0, process.stdout[-3000:] + process.stderr[-3000:]
    figures = json.loads(figures_path.read_text())
    assert figures["cases"] == figures["studies"] > 0 and figures["failed"] == 0
    assert figures["channels"] == 4 and figures["cases_per_min"] > 0
    assert 0 < figures["peak_rss_mib"] < 2048
