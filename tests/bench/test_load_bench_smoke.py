"""The load benchmark still runs end to end on a small catalog (latencies are not judged here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
KINDS = {"search", "next_page", "count", "dashboard", "autocomplete"}


@pytest.mark.slow
def test_load_benchmark_smoke(tmp_path: Path) -> None:
    figures = tmp_path / "figures.json"
    pg = os.environ.get("RADCURATE_TEST_PG_URL")
    process = subprocess.run(
        [sys.executable, "bench/load.py", "--smoke", "--seed", "11", "--json", str(figures),
         *(["--pg", pg] if pg else [])],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert process.returncode == 0, process.stdout[-3000:] + process.stderr[-3000:]
    data = json.loads(figures.read_text())
    assert data["series"] == 2000 and data["clients"] == 4
    for backend in ["sqlite", "postgresql"] if pg else ["sqlite"]:
        result = data["engines"][backend]
        # the mix is made of valid requests: every answer is a 2xx, none dropped
        assert result["server_errors"] == 0, result["error_samples"]
        assert result["client_errors"] == 0, result["error_samples"]
        assert result["dropped"] == 0, result["dropped_samples"]
        assert set(result["kinds"]) == KINDS
        assert result["requests"] == sum(k["requests"] for k in result["kinds"].values()) > 20
        assert all(0 < k["p50_ms"] <= k["p99_ms"] for k in result["kinds"].values())
        assert result["requests_per_second"] > 0
        # the demo was ingested into the same catalog while the clients ran
        summary = result["ingest"]["summary"]
        assert summary["run"]["new_series"] > 0
        assert summary["catalog"]["series"] == 2000 + summary["run"]["new_series"]
        assert backend in process.stdout
    assert "ratio to target" in process.stdout
