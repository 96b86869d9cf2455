"""README command 1 (``bash scripts/try.sh``) still works: demo archive, ingest, summary."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_try_script_makes_ingests_and_summarises(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "RADCURATE_CATALOG"}
    env["RADCURATE_HOME"] = str(tmp_path / "home")
    run = subprocess.run(
        ["bash", "scripts/try.sh", "--no-serve"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "making a phantom demo archive" in run.stdout
    assert (tmp_path / "home" / "catalog.sqlite").is_file()
    assert "series" in run.stdout and "Modality" in run.stdout  # info, then the facets table
    assert any((tmp_path / "home" / "thumbnails").rglob("*.png"))
