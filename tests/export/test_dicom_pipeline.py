"""A ``dicom`` export hands the next series to its copying threads before the last ones
finish (``dicom_job.IN_FLIGHT``), and a large de-identified one some series to helper
processes (``export/copy_helpers.py``): the files, the manifest (order, statuses, sha256) and
a failed series in the middle come out exactly as when each series is waited for on the
export's own threads."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path
from typing import Any

import pytest
from pydicom import dcmread
from pydicom.data import get_testdata_file

from radcurate.catalog import open_catalog
from radcurate.catalog.curation_types import Selection
from radcurate.export import copy_helpers, dicom_job
from radcurate.export.deid import DeidOptions
from radcurate.export.job import ExportOptions, export_dataset
from radcurate.export.splits import parse_split
from radcurate.ingest import ingest

SERIES, SLICES = 5, 6


def _archive(folder: Path) -> None:
    source = get_testdata_file("CT_small.dcm")
    assert source is not None
    for s in range(SERIES):
        for n in range(SLICES):
            ds = dcmread(source)
            ds.PatientID = f"PAT{s % 2}"
            ds.SeriesInstanceUID = f"1.2.826.0.1.3680043.8.498.77.{s + 1}"
            ds.SOPInstanceUID = f"1.2.826.0.1.3680043.8.498.77.{s + 1}.{n + 1}"
            ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
            ds.InstanceNumber = n + 1
            ds.save_as(folder / f"s{s}_{n}.dcm")


def _export(tmp_path: Path, name: str, deid: bool) -> Path:
    out = tmp_path / name
    with open_catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}") as catalog:
        options = ExportOptions(
            "d", "dicom", out, parse_split("train=1.0"),
            deid=DeidOptions(key=b"pipeline-key-1") if deid else None, layout="series",
        )  # fmt: skip
        report = export_dataset(catalog, options)
    assert report.exported == SERIES - 1 and report.failed == 1
    return out


def _prepare(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    _archive(tmp_path / "in")
    with open_catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}") as catalog:
        ingest([tmp_path / "in"], catalog, workers=1)  # in place: the files stay in "in"
        catalog.create_dataset("d")
        catalog.add_to_dataset("d", Selection(query="*"))
    (tmp_path / "in" / "s2_3.dcm").unlink()  # series 3 of 5 fails on its fourth file


@pytest.mark.parametrize("deid", [False, True], ids=["copy", "deidentified"])
def test_pipelined_series_give_the_files_and_manifest_of_one_at_a_time(
    tmp_path: Path, deid: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    _prepare(tmp_path)
    monkeypatch.setenv("RADCURATE_EXPORT_HELPERS", "0")
    monkeypatch.setattr(dicom_job, "IN_FLIGHT", 0)
    waited = _export(tmp_path, "one-at-a-time", deid)
    monkeypatch.setattr(dicom_job, "IN_FLIGHT", 3)
    pipelined = _export(tmp_path, "pipelined", deid)
    _same_export(pipelined, waited)


def test_helper_processes_give_the_files_and_manifest_of_the_threads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _prepare(tmp_path)
    monkeypatch.setenv("RADCURATE_EXPORT_HELPERS", "0")
    threads = _export(tmp_path, "threads", True)
    monkeypatch.setenv("RADCURATE_EXPORT_HELPERS", "2")
    given: list[int] = []
    real = copy_helpers.CopyHelpers.submit

    def counted(self: copy_helpers.CopyHelpers, *args: Any, **kwargs: Any) -> Any:
        given.append(1)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(copy_helpers.CopyHelpers, "submit", counted)
    # the helpers get every series they accept once up: wait for them before the first
    monkeypatch.setattr(copy_helpers, "MIN_INSTANCES", 0)
    monkeypatch.setattr(dicom_job, "_helpers", _ready_helpers(dicom_job._helpers))
    helped = _export(tmp_path, "helpers", True)
    assert given, "no series was copied by a helper"
    _same_export(helped, threads)


def _ready_helpers(make: Any) -> Any:
    def ready(*args: Any) -> Any:
        helpers = make(*args)
        assert helpers is not None
        for future in helpers._ready:
            future.result(timeout=120)
        return helpers

    return ready


def _same_export(pipelined: Path, waited: Path) -> None:

    def files(root: Path) -> dict[str, bytes]:
        return {p.relative_to(root).as_posix(): p.read_bytes()
                for p in sorted(root.rglob("*.dcm"))}  # fmt: skip

    assert files(pipelined) == files(waited)
    assert len(files(pipelined)) == (SERIES - 1) * SLICES  # nothing of the failed series
    assert (pipelined / "manifest.csv").read_bytes() == (waited / "manifest.csv").read_bytes()
    with (pipelined / "manifest.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["status"] for r in rows] == ["exported", "exported", "failed", "exported",
                                           "exported"]  # fmt: skip
    failed = rows[2]["case"]
    assert not (pipelined / failed).exists()
    sums = (pipelined / "SHA256SUMS").read_text()  # the digests taken while copying
    for path, data in files(pipelined).items():
        assert f"{hashlib.sha256(data).hexdigest()}  {path}\n" in sums
