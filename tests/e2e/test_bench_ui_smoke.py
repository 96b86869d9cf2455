"""bench/ui.py still runs end to end on the phantom archive (figures are not judged here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import CHROMIUM, WEBUI_INDEX

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_ui_benchmark_smoke(tmp_path: Path) -> None:
    if not CHROMIUM.is_file() or not WEBUI_INDEX.is_file():
        pytest.skip("needs /usr/bin/chromium and the built web UI")
    figures_path = tmp_path / "figures.json"
    process = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "ui.py"), "--smoke", "--json", str(figures_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert process.returncode == 0, process.stdout[-3000:] + process.stderr[-3000:]
    figures = json.loads(figures_path.read_text())
    assert figures["series"] == 22
    assert figures["first_paint_ms"]["median"] > 0
    # 22 series in pages of 4: the first page and five more while scrolling
    assert figures["pages_loaded"] == 6
    assert figures["scroll_page_fetch_ms"]["count"] == 5
