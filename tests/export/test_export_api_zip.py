"""The zip an export is downloaded as: written while it is sent, in chunks, the same bytes
for the same folder, and the export folder of a job id never outside the export root."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest

from radcurate.jobs.export import export_folder, remove_export, server_deid_key, zip_stream


def test_the_zip_comes_in_chunks_and_is_the_same_twice(tmp_path: Path) -> None:
    folder = tmp_path / "export"
    (folder / "imagesTr").mkdir(parents=True)
    big = os.urandom(5 << 20)
    (folder / "imagesTr" / "case_0001_0000.nii.gz").write_bytes(big)
    (folder / "manifest.csv").write_text("case,split\n" + "case_0001,train\n" * 10_000)
    chunks = list(zip_stream(folder, "ds-v1-nifti"))
    sizes = [len(c) for c in chunks if c]
    assert len(sizes) >= 5 and max(sizes) <= (1 << 20) + (64 << 10), sizes  # never whole
    data = b"".join(chunks)
    assert data == b"".join(zip_stream(folder, "ds-v1-nifti"))
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.testzip() is None
    assert archive.namelist() == [
        "ds-v1-nifti/imagesTr/case_0001_0000.nii.gz",
        "ds-v1-nifti/manifest.csv",
    ]
    gz, csv = archive.infolist()
    assert gz.compress_type == zipfile.ZIP_STORED and csv.compress_type == zipfile.ZIP_DEFLATED
    assert archive.read(gz.filename) == big
    assert gz.date_time == (1980, 1, 1, 0, 0, 0)


def test_a_job_id_never_names_a_folder_outside_the_root(tmp_path: Path) -> None:
    for bad in ("", ".", "..", "../x", "a/b", ".deid-key", "a\\b"):
        with pytest.raises(ValueError, match="not a job id"):
            export_folder(tmp_path, bad)
    (tmp_path / "abc" / "x").mkdir(parents=True)
    (tmp_path / ".abc.partial-12").mkdir()
    assert remove_export(tmp_path, "abc")
    assert not (tmp_path / "abc").exists() and not (tmp_path / ".abc.partial-12").exists()
    assert not remove_export(tmp_path, "abc")


def test_the_servers_key_is_made_once_and_kept_private(tmp_path: Path) -> None:
    key = server_deid_key(tmp_path, {})
    assert len(key) >= 32 and server_deid_key(tmp_path, {}) == key
    assert (tmp_path / ".deid-key").stat().st_mode & 0o777 == 0o600
    assert server_deid_key(tmp_path, {"RADCURATE_DEID_KEY": "from the environment"}) == (
        "from the environment"
    )
