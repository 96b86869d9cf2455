"""The thumbnail benchmark runs end to end in smoke mode (figures are not judged here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_thumbnail_benchmark_smoke(tmp_path: Path) -> None:
    figures_path = tmp_path / "figures.json"
    process = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "thumbnails.py"),
            "--smoke",
            "--json",
            str(figures_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert process.returncode == 0, process.stdout[-3000:] + process.stderr[-3000:]
    figures = json.loads(figures_path.read_text())
    for corpus in ("mixed", "ct512", "ct512-j2k"):
        assert figures[corpus]["series_per_s"] > 0
        assert figures[corpus]["failed"] == 0
    assert all(
        v["peak_rss_mib"] > 0 for k, v in figures.items() if k.startswith(("volume", "cine"))
    )
    assert "target:" in process.stdout
