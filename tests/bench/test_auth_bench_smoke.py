"""The auth benchmark still runs end to end on a small catalog (figures are not judged here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIGURES = {"password_check_ms", "count_open_ms", "search_open_ms", "count_token_ms",
           "count_scoped_ms", "search_scoped_ms"}  # fmt: skip


def test_auth_benchmark_smoke(tmp_path: Path) -> None:
    figures = tmp_path / "figures.json"
    process = subprocess.run(
        [sys.executable, "bench/auth.py", "--smoke", "--json", str(figures)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert process.returncode == 0, process.stdout[-3000:] + process.stderr[-3000:]
    data = json.loads(figures.read_text())
    assert data["series"] == 2000 and set(data["figures"]) == FIGURES
    assert all(value > 0 for value in data["figures"].values())
    assert "target:" in process.stdout
