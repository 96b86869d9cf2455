"""bench/ui.py's viewer scrolling figure runs end to end (issue 19) and paints slices.

The rate itself is not judged here (the machine is shared); a viewer that paints nothing
while scrolling (each request cancelled by the next: 0.0 slices/s before the prefetcher)
fails.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import CHROMIUM, WEBUI_INDEX

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_ui_viewer_scrolling_benchmark_smoke(tmp_path: Path) -> None:
    if not CHROMIUM.is_file() or not WEBUI_INDEX.is_file():
        pytest.skip("needs /usr/bin/chromium and the built web UI")
    figures_path = tmp_path / "figures.json"
    command = [sys.executable, str(ROOT / "bench" / "ui.py"), "--smoke", "--viewer-only"]
    command += ["--viewer-slices", "40", "--runs", "1", "--json", str(figures_path)]
    process = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert process.returncode == 0, process.stdout[-3000:] + process.stderr[-3000:]
    assert "viewer scrolling:" in process.stdout
    viewer = json.loads(figures_path.read_text())["viewer"]
    assert viewer["slices"] == 40 and viewer["runs"] == 1
    assert viewer["key_presses_per_s"] > 30
    assert viewer["slices_per_s"]["median"] > 0, viewer
    assert viewer["distinct_slices"][0] > 1, viewer
