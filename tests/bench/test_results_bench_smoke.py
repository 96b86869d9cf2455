"""The results benchmark still runs end to end on a small catalog (figures are not judged here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIGURES = [
    "write_seconds", "count_result_ms", "facet_result_ms", "first_page_result_ms",
    "dashboard_mixed_ms", "count_dicom_ms", "facet_dicom_ms",
    "index_refresh_after_write_seconds", "index_refresh_no_change_ms",
    "count_result_sql_only_ms",
]  # fmt: skip


@pytest.mark.slow
def test_results_benchmark_smoke(tmp_path: Path) -> None:
    figures = tmp_path / "figures.json"
    backends = "sqlite,postgresql" if os.environ.get("RADCURATE_TEST_PG_URL") else "sqlite"
    process = subprocess.run(
        [sys.executable, "bench/results.py", "--smoke", "--seed", "11", "--backends", backends,
         "--fresh", "--json", str(figures)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert process.returncode == 0, process.stdout[-3000:] + process.stderr[-3000:]
    data = json.loads(figures.read_text())
    for backend in backends.split(","):
        result = data["engines"][backend]
        assert result["series"] == 2000
        assert set(result["figures"]) == set(FIGURES)
        assert all(value >= 0 for value in result["figures"].values())
        assert result["write"]["result_sets_written"] == 2000
        assert len(result["result_columns"]) >= 10
        assert set(result["memory"]) >= {"result_columns_mib", "result_columns_mib_per_1m_series",
                                         "result_columns_mib_per_column_per_1m_series"}  # fmt: skip
        checks = result["checks"]
        assert 0 < checks["count_result"] < 2000 and checks["count_dicom"] > 0
        assert checks["first_page_items"] == min(50, checks["first_page_total"]) > 0
        assert checks["dashboard_charts"] == 6
        assert set(checks["facet_result_buckets"]) <= {
            "head", "neck", "chest", "abdomen", "pelvis", "legs", "arms"
        }  # fmt: skip
        assert set(data["verdicts"][backend]) == {
            "write_seconds", "count_result_ms", "facet_result_ms", "first_page_result_ms",
            "dashboard_mixed_ms",
        }  # fmt: skip
        assert backend in process.stdout
    assert "pass/fail" in process.stdout
