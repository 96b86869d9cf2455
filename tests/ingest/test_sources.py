"""Where files come from and go to: DICOMDIRs, missing paths, the copy store."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pydicom

from radcurate.catalog import open_catalog
from radcurate.ingest import ingest
from tests.data import shipped_dicom_roots

DICOMDIR_TREE = shipped_dicom_roots()[0] / "test_files" / "dicomdirtests"


def _referenced(dicomdir: Path) -> set[str]:
    ds = pydicom.dcmread(dicomdir)
    out = set()
    for record in ds.DirectoryRecordSequence:
        if "ReferencedFileID" in record:
            parts = record.ReferencedFileID
            parts = [parts] if isinstance(parts, str) else list(parts)
            out.add(str(dicomdir.parent.joinpath(*parts)))
    return out


def test_dicomdir_path_ingests_the_files_it_lists(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    shutil.copytree(DICOMDIR_TREE, tree)
    dicomdir = tree / "DICOMDIR"
    listed = _referenced(dicomdir)
    assert len(listed) > 5
    with open_catalog(f"sqlite:///{tmp_path / 'c.sqlite'}") as catalog:
        summary = ingest([dicomdir], catalog, workers=1)
        assert summary.new_instances == len(listed)
        sources = {
            r.source
            for d in catalog.iter_series_documents()
            for r in catalog.instances(d["SeriesInstanceUID"])
        }
        assert sources == listed


def test_dicomdir_with_missing_files_reports_them(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    shutil.copytree(DICOMDIR_TREE, tree)
    victim = sorted(_referenced(tree / "DICOMDIR"))[0]
    os.remove(victim)
    with open_catalog(f"sqlite:///{tmp_path / 'c.sqlite'}") as catalog:
        ingest([tree / "DICOMDIR"], catalog, workers=1)
        reasons = {e.source: e.reason for e in catalog.errors()}
        assert "listed in DICOMDIR" in reasons[victim]


def test_missing_path_is_an_error_and_the_rest_goes_on(tmp_path: Path) -> None:
    with open_catalog(f"sqlite:///{tmp_path / 'c.sqlite'}") as catalog:
        summary = ingest([tmp_path / "nope", DICOMDIR_TREE / "77654033"], catalog, workers=1)
        assert summary.new_instances > 0
        assert [e.reason for e in catalog.errors()] == ["no such file or folder"]


def test_copy_store_layout_is_idempotent_and_collision_free(tmp_path: Path) -> None:
    source = tmp_path / "in"
    shutil.copytree(DICOMDIR_TREE / "77654033", source)
    first = sorted(p for p in source.rglob("*") if p.is_file())[0]
    # a different file claiming the same SOP Instance UID must not overwrite the first
    clash = pydicom.dcmread(first)
    clash.PatientName = "Someone^Else"
    clash.save_as(source / "zz-clash.dcm")
    store = tmp_path / "store"
    with open_catalog(f"sqlite:///{tmp_path / 'c.sqlite'}") as catalog:
        ingest([source], catalog, store_url=f"file://{store}", workers=1)
        stored = sorted(p for p in store.rglob("*") if p.is_file())
        files = sorted(p for p in source.rglob("*") if p.is_file())
        assert len(stored) == len(files)
        assert not any(p.name.endswith(".part") for p in stored)
        ds = pydicom.dcmread(first)
        home = store / ds.StudyInstanceUID / ds.SeriesInstanceUID
        assert (home / f"{ds.SOPInstanceUID}.dcm").read_bytes() == first.read_bytes()
        assert len(list(home.glob(f"{ds.SOPInstanceUID}.*.dcm"))) == 1
        locations = {
            r.location
            for d in catalog.iter_series_documents()
            for r in catalog.instances(d["SeriesInstanceUID"])
        }
        assert locations == {str(p) for p in stored}
        again = ingest([source], catalog, store_url=f"file://{store}", workers=1)
        assert not again.changed_anything
        assert sorted(p for p in store.rglob("*") if p.is_file()) == stored
