"""The curation benchmark still runs end to end on both engines (figures are not judged)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench" / "curation.py"


def test_curation_benchmark_smoke(tmp_path: Path) -> None:
    figures_path = tmp_path / "figures.json"
    process = subprocess.run(
        [
            sys.executable,
            str(BENCH),
            "--series",
            "2000",
            "--repeats",
            "2",
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
    engines = ["sqlite"] + (["postgresql"] if os.environ.get("RADCURATE_TEST_PG_URL") else [])
    for engine in engines:
        result = figures["engines"][engine]
        assert result["selected"] == 200
        for step in ("resolve", "tag", "untag", "add", "remove", "freeze", "count"):
            assert result["median_seconds"][step] >= 0
        assert len(result["all_seconds"]["freeze"]) == 2
    assert "target: embedded bulk tag/add of 200 series" in process.stdout
