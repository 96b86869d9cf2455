"""The search benchmark still runs end to end on a small catalog (figures are not judged here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_search_benchmark_smoke(tmp_path: Path) -> None:
    figures = tmp_path / "figures.json"
    backends = "sqlite,postgresql" if os.environ.get("RADCURATE_TEST_PG_URL") else "sqlite"
    process = subprocess.run(
        [sys.executable, "bench/search.py", "--series", "3000", "--repeat", "1", "--seed", "11",
         "--backends", backends, "--fresh", "--json", str(figures)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert process.returncode == 0, process.stdout[-3000:] + process.stderr[-3000:]
    engines = json.loads(figures.read_text())["engines"]
    for backend in backends.split(","):
        result = engines[backend]
        assert result["series"] == 3000
        assert set(result["ms"]) >= {"first_page", "exact_count", "dashboard_6_fields"}
        assert result["checks"]["deep_page_items"] == 50
        assert result["checks"]["point_lookup_found"] == 1
        assert result["checks"]["first_page_total"] > 0  # the query finds real IDC series
        assert backend in process.stdout
    assert "targets (embedded)" in process.stdout
