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
    sizes = {figures[mode]["file_mib"] for mode in ("stream", "api", "in-memory")}
    assert len(sizes) == 1 and sizes.pop() > 0  # the same file every way
    assert figures["seg-stream"]["file_mib"] == figures["seg-in-memory"]["file_mib"]
    for mode in ("stream", "api", "in-memory", "seg-stream", "seg-in-memory"):
        assert figures[mode]["peak_rss_mib"] >= figures[mode]["baseline_rss_mib"] > 0
    assert "target:" in process.stdout
