"""The ingest benchmark still runs end to end (not a timed test: figures are not judged)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench" / "ingest.py"
ORTHANC = Path("/usr/sbin/Orthanc")


@pytest.mark.slow
def test_ingest_benchmark_smoke(tmp_path: Path) -> None:
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
    engines = figures["engines"]

    expected = ["sqlite"]
    if os.environ.get("RADCURATE_TEST_PG_URL"):
        expected.append("postgresql")
    if ORTHANC.is_file() or os.environ.get("CI"):
        expected.append("orthanc")
    for engine in expected:
        result = engines[engine]
        assert "skipped" not in result, f"{engine}: {result.get('skipped')}"
        assert result["instances"] > 0
        assert result["median_seconds"] > 0
        assert result["peak_rss_mib"] > 0
        assert engine in process.stdout  # the table row was printed
    # radcurate and the PACS indexed the same archive (Orthanc rejects a few deliberate defects)
    if "orthanc" in expected:
        assert engines["orthanc"]["instances"] >= 0.9 * engines["sqlite"]["instances"]
    assert "target: embedded ingest" in process.stdout
