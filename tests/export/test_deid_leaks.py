"""No identifying value of the originals survives in the exported bytes; dciodvfy adds no error.

Inputs: pydicom's test files (nested and private sequences), the PyPI ``deid-data`` samples
(fetched once with pip into the test-data cache, never committed) and the project's phantom.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID

from radcurate.export.deid import DeidOptions, deidentify_file
from radcurate.export.deid_table import BASIC
from tests.reference_data import cache_dir

KEY = b"leak-test-key-42"
DEID_DATA = "deid-data==0.0.20"
PYDICOM_FILES = [
    "CT_small.dcm",
    "MR_small.dcm",
    "rtplan.dcm",
    "rtstruct.dcm",
    "rtdose.dcm",
    "SC_rgb.dcm",
    "SC_rgb_small_odd.dcm",
    "test-SR.dcm",
    "priv_SQ.dcm",
    "nested_priv_SQ.dcm",
    "JPEG2000.dcm",
    "image_dfl.dcm",
]
_TEXT = {"PN", "LO", "SH", "ST", "LT", "UT", "UC", "DA", "DT", "TM", "AE", "CS", "UI", "AS", "UN"}


def deid_data_files() -> list[Path]:
    """The ``deid-data`` sample DICOM files, downloaded once into the test-data cache."""
    root = cache_dir() / "deid-data-0.0.20"
    if not (root / ".complete").is_file():
        download = root / "download"
        download.mkdir(parents=True, exist_ok=True)
        if not any(download.iterdir()):
            command = [sys.executable, "-m", "pip", "download", "--no-deps", "-q"]
            subprocess.run([*command, "-d", str(download), DEID_DATA], check=True, timeout=900)
        archive = next(download.iterdir())
        staging = root / "files"
        shutil.rmtree(staging, ignore_errors=True)
        if archive.suffix == ".whl":
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(staging)
        else:
            shutil.unpack_archive(str(archive), str(staging))
        (root / ".complete").write_text("ok")
    files = sorted(p for p in (root / "files").rglob("*") if p.is_file() and _is_dicom(p))
    return files


def _is_dicom(path: Path) -> bool:
    with path.open("rb") as fh:
        head = fh.read(132)
    return head[128:132] == b"DICM"


def _values(elem_value: object) -> Iterator[str]:
    values = elem_value if isinstance(elem_value, MultiValue | list) else [elem_value]
    for value in values:
        text = value.decode("latin-1", "ignore") if isinstance(value, bytes) else str(value)
        text = text.strip("\0 ")
        if len(text) >= 4 and text.strip("0. -") and text.upper() not in ("NONE", "ANONYMOUS"):
            yield text


def identifying_values(ds: Dataset, *, times_kept: bool = False) -> set[str]:
    """Values the profile must remove or replace (TM too unless the dates option keeps it)."""
    found: set[str] = set()
    kept: set[str] = {PYDICOM_IMPLEMENTATION_UID}  # the writer of every output file

    def visit(_: Dataset, elem: object) -> None:
        tag, vr, value = elem.tag, elem.VR, elem.value  # type: ignore[attr-defined]
        if vr == "SQ" or value is None or vr not in _TEXT or (times_kept and vr == "TM"):
            return
        if tag.is_private or int(tag) in BASIC:
            found.update(_values(value))
        elif vr != "UI":
            kept.update(_values(value))

    ds.walk(visit)
    # a value that is also part of a kept attribute (Institution "TOSHIBA" in Manufacturer
    # "TOSHIBA_MEC") cannot be told apart in the bytes
    return {v for v in found if not any(v in k for k in kept)}


def _assert_clean(src: Path | str, out: bytes, *, times_kept: bool = False) -> int:
    values = identifying_values(dcmread(src, force=True), times_kept=times_kept)
    # every byte of the file but the pixel data (unchanged by design; short values like
    # "abcd" occur in 40 MB of pixels by chance)
    pixels = dcmread(io.BytesIO(out), force=True).get("PixelData")
    if pixels:
        out = out.replace(pixels, b"", 1)
    leaked = sorted(v for v in values if v.encode("latin-1", "ignore") in out)
    assert not leaked, f"{Path(src).name}: {len(leaked)} original values found in output"
    return len(values)


@pytest.mark.parametrize("name", PYDICOM_FILES)
def test_no_original_value_in_pydicom_files(name: str) -> None:
    src = get_testdata_file(name)
    assert src is not None
    out = io.BytesIO()
    deidentify_file(src, out, DeidOptions(key=KEY), force=True)
    assert _assert_clean(src, out.getvalue()) > 0


def test_negative_case_finds_a_leak() -> None:
    """The scan itself must fail when an identifying value is left in."""
    src = get_testdata_file("CT_small.dcm")
    assert src is not None
    raw = Path(src).read_bytes()
    with pytest.raises(AssertionError, match="original values found"):
        _assert_clean(src, raw)


@pytest.mark.slow
def test_no_original_value_in_deid_data_samples(tmp_path: Path) -> None:
    files = deid_data_files()
    assert len(files) >= 5
    for src in files:
        out = io.BytesIO()
        deidentify_file(src, out, DeidOptions(key=KEY, retain_long_modified_dates=True), force=True)
        _assert_clean(src, out.getvalue(), times_kept=True)


def _dciodvfy_errors(path: Path) -> set[str]:
    run = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=60)
    lines = (run.stdout + run.stderr).splitlines()
    return {line.split(" - ", 1)[-1] for line in lines if line.startswith("Error")}


@pytest.mark.skipif(shutil.which("dciodvfy") is None, reason="dicom3tools not installed")
@pytest.mark.parametrize("name", ["CT_small.dcm", "MR_small.dcm", "rtplan.dcm", "SC_rgb.dcm"])
def test_dciodvfy_reports_no_new_errors(name: str, tmp_path: Path) -> None:
    src = get_testdata_file(name)
    assert src is not None
    dst = tmp_path / "out.dcm"
    deidentify_file(src, dst, DeidOptions(key=KEY, retain_long_modified_dates=True))
    new = _dciodvfy_errors(dst) - _dciodvfy_errors(Path(src))
    assert not new, sorted(new)
