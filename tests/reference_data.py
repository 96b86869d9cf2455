"""Real scans other projects publish on PyPI, fetched once into a cache at test set-up.

Never committed: the files are downloaded with pip (the package registry is reachable in CI)
into ``$RADCURATE_TEST_DATA`` (default ``~/.cache/radcurate-test-data``) and reused.

- TotalSegmentator 2.18.0's *source* distribution (Apache-2.0) carries
  ``tests/reference_files/``: an abdomen-pelvis CT (NIfTI, 3 mm) with reference label maps,
  an abdominal MR, a contrast chest CT and a real 20-slice DICOM CT series with its label map.
- dcm-classifier's wheel ships a trained ONNX model classifying MR series from headers.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

TOTALSEGMENTATOR = "totalsegmentator==2.18.0"
DCM_CLASSIFIER = "dcm-classifier==0.9.9"


def cache_dir() -> Path:
    """Where fetched data is kept."""
    root = os.environ.get("RADCURATE_TEST_DATA") or str(
        Path.home() / ".cache" / "radcurate-test-data"
    )
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _download(requirement: str, into: Path, *, source: bool) -> Path:
    """``pip download`` one distribution (no dependencies); returns the file."""
    into.mkdir(parents=True, exist_ok=True)
    found = [p for p in into.iterdir() if p.suffix in (".gz", ".whl", ".zip")]
    if found:
        return found[0]
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(into)]
    command += ["--no-binary", ":all:"] if source else ["--only-binary", ":all:"]
    subprocess.run([*command, requirement], check=True, timeout=900)
    return next(p for p in into.iterdir() if p.suffix in (".gz", ".whl", ".zip"))


def totalsegmentator_reference() -> Path:
    """TotalSegmentator's ``tests/reference_files`` folder (downloaded and unpacked once)."""
    root = cache_dir() / "totalsegmentator-2.18.0"
    done = root / "reference_files"
    if (root / ".complete").is_file():
        return done
    archive = _download(TOTALSEGMENTATOR, root / "download", source=True)
    staging = root / ".staging"
    with tarfile.open(archive) as tar:
        members = [m for m in tar.getmembers() if "/tests/reference_files/" in m.name]
        for member in members:
            member.name = member.name.split("/tests/reference_files/", 1)[1]
        tar.extractall(staging, members=[m for m in members if m.name], filter="data")
    if done.exists():
        import shutil

        shutil.rmtree(done)
    staging.rename(done)
    (root / ".complete").write_text(TOTALSEGMENTATOR)
    return done


def dcm_classifier_model() -> Path:
    """dcm-classifier's ONNX model file (from its wheel, downloaded once)."""
    root = cache_dir() / "dcm-classifier-0.9.9"
    model = root / "ova_rf_classifier.onnx"
    if model.is_file():
        return model
    wheel = _download(DCM_CLASSIFIER, root / "download", source=False)
    with zipfile.ZipFile(wheel) as archive:
        data = archive.read("dcm_classifier/models/ova_rf_classifier.onnx")
    tmp = model.with_suffix(".part")
    tmp.write_bytes(data)
    tmp.rename(model)
    return model
