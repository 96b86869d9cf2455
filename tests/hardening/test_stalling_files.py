"""Issue 13, finding 5: one file stalled a whole ingest.

A 2 GB sparse file whose first 1,000 bytes are a CT header and the rest zeros: pydicom
parsed the zeros as millions of empty elements (< 3 MB/s), and ``ingest`` of its folder
was killed at 900 s with nothing committed for the other files. Now headers are read
with bounds (a size cap, a time limit, zero bytes where elements should be), so such a
file is an error with a clear reason in a fraction of a second and the good files beside
it are committed.
"""

from __future__ import annotations

import shutil
import struct
import time
from pathlib import Path

import pytest
from pydicom.data import get_testdata_file

from radcurate.catalog import open_catalog
from radcurate.dicom.fastheader import read_selected
from radcurate.dicom.instance import RECORD_KEYWORDS
from radcurate.dicom.reading import UnreadableDicomError, read_header
from radcurate.ingest import ingest

GOOD = ("CT_small.dcm", "MR_small.dcm", "rtplan.dcm", "JPEG2000.dcm", "emri_small.dcm")
GIB = 1024**3


def _ct_bytes() -> bytes:
    return Path(str(get_testdata_file("CT_small.dcm"))).read_bytes()


def _sparse(path: Path, head: bytes, size: int = 2 * GIB) -> Path:
    """A file of ``size`` bytes: ``head``, then zeros (sparse: takes no disk)."""
    with open(path, "wb") as handle:
        handle.write(head)
        handle.truncate(size)
    return path


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    for name in GOOD:
        shutil.copy(str(get_testdata_file(name)), folder / name)
    _sparse(folder / "zz_sparse.dcm", _ct_bytes()[:1000])
    return folder


def test_a_header_followed_by_zeros_is_refused_quickly(tmp_path: Path) -> None:
    path = _sparse(tmp_path / "sparse.dcm", _ct_bytes()[:1000])
    start = time.monotonic()
    with pytest.raises(UnreadableDicomError, match="zero bytes where data elements should be"):
        read_header(path)
    assert time.monotonic() - start < 5
    assert read_selected(str(path), RECORD_KEYWORDS) is None  # the fast scanner gives up


def test_an_absurd_length_is_not_read_into_memory(tmp_path: Path) -> None:
    data = _ct_bytes()
    # (0020,000E) Series Instance UID, a value ingest reads, given as a long-VR (UN) element
    # of 1.5 GB: both readers must refuse, not read 1.5 GB into memory
    at = data.index(b"\x20\x00\x0e\x00UI")
    forged = data[:at] + b"\x20\x00\x0e\x00UN\x00\x00" + struct.pack("<I", 1536 * 1024**2)
    path = _sparse(tmp_path / "absurd.dcm", forged)
    with pytest.raises(UnreadableDicomError, match="header larger than 64 MiB"):
        read_selected(str(path), RECORD_KEYWORDS)
    with pytest.raises(UnreadableDicomError, match="header larger than 64 MiB"):
        read_header(path)
    with pytest.raises(UnreadableDicomError, match="header larger than 1000 bytes"):
        read_header(Path(str(get_testdata_file("CT_small.dcm"))), max_bytes=1000)


def test_a_header_parse_past_its_time_limit_is_an_error() -> None:
    with pytest.raises(UnreadableDicomError, match="took more than 0 s"):
        read_header(Path(str(get_testdata_file("CT_small.dcm"))), time_limit_s=0)
    assert read_header(Path(str(get_testdata_file("CT_small.dcm")))).Modality == "CT"


@pytest.mark.parametrize("workers", [1, 2])
def test_good_files_are_committed_beside_a_stalling_file(tmp_path: Path, workers: int) -> None:
    folder = _folder(tmp_path)
    with open_catalog(f"sqlite:///{tmp_path / 'c.sqlite'}") as catalog:
        start = time.monotonic()
        summary = ingest([folder], catalog, workers=workers)
        assert time.monotonic() - start < 30
        assert summary.new_instances == len(GOOD)
        assert summary.errors == 1
        (error,) = catalog.errors()
        assert error.source.endswith("zz_sparse.dcm")
        assert "zero bytes where data elements should be" in error.reason
        assert catalog.info().series == len(GOOD)
