"""The networking benchmark still runs end to end (figures are not judged here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_network_benchmark_smoke(tmp_path: Path) -> None:
    if not Path("/usr/bin/storescu").is_file() or not Path("/usr/sbin/Orthanc").is_file():
        pytest.skip("DCMTK or Orthanc is not installed")
    figures_path = tmp_path / "figures.json"
    process = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "network.py"),
            "--smoke",
            "--json",
            str(figures_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert process.returncode == 0, process.stdout[-3000:] + process.stderr[-3000:]
    figures = json.loads(figures_path.read_text())
    assert figures["receive"]["rate"] > 0 and figures["orthanc"]["rate"] > 0
    assert figures["receive_no_fsync"]["rate"] > 0 and figures["orthanc_sync"]["rate"] > 0
    assert figures["ratio_receive"] > 0
    assert set(figures["qido_ms"]) >= {"all, limit 101", "PatientID exact"}
