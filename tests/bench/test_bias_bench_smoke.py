"""The bias benchmark still runs end to end on a small catalog (figures are not judged here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIGURES = {"report_tag_ms", "report_field_ms", "report_numeric_ms", "compare_versions_ms",
           "compare_versions_cold_ms", "compare_live_ms"}  # fmt: skip


@pytest.mark.slow
def test_bias_benchmark_smoke(tmp_path: Path) -> None:
    figures = tmp_path / "figures.json"
    process = subprocess.run(
        [sys.executable, "bench/bias.py", "--smoke", "--seed", "11", "--fresh", "--json",
         str(figures)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert process.returncode == 0, process.stdout[-3000:] + process.stderr[-3000:]
    data = json.loads(figures.read_text())
    result = data["result"]
    assert data["series"] == result["series"] == 2000
    assert set(result["figures"]) == FIGURES
    assert all(value > 0 for value in result["figures"].values())
    checks = result["checks"]
    assert checks["tag_pairs"] == 10 and checks["field_pairs_computable"] >= 8
    assert checks["numeric_test"] == "numeric"
    train, test = checks["versions_series"]
    assert train > 0 and test > 0 and train + test <= 2000
    assert checks["live_equals_versions"] is True  # frozen versions = current members
    assert "Manufacturer" in checks["tag_flags"]  # the planted label goes with scanners
    assert "pass/fail" in process.stdout and "report_tag_ms" in process.stdout
