"""The phantom archive: expected counts, repeat runs, and kill-and-resume."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from radcurate.catalog import CatalogBackend, open_catalog
from radcurate.demo import DemoManifest, generate_archive
from radcurate.ingest import ingest


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> DemoManifest:
    return generate_archive(tmp_path_factory.mktemp("phantom") / "archive", patients=10, seed=7)


def _snapshot(catalog: CatalogBackend) -> dict[str, Any]:
    """Everything a user can observe, for comparing two catalogs."""
    return {
        "info": catalog.info().to_dict(),
        "documents": list(catalog.iter_series_documents()),
        "fields": [(f.name, f.type, f.series_count) for f in catalog.fields()],
        "errors": [(e.source, e.reason) for e in catalog.errors()],
        "instances": sorted(
            (r.source, r.sop_uid, r.series_uid)
            for d in catalog.iter_series_documents()
            for r in catalog.instances(d["SeriesInstanceUID"])
        ),
    }


def test_counts_match_the_manifest(archive: DemoManifest, catalog_url: str) -> None:
    with open_catalog(catalog_url) as catalog:
        summary = ingest([archive.root], catalog, workers=2)
        info = catalog.info()
        assert info.patients == archive.patients
        assert info.studies == archive.studies
        assert info.series == archive.series
        assert info.instances == archive.instances
        assert info.files == archive.readable_files
        assert summary.files_seen == archive.files
        errors = {os.path.relpath(e.source, archive.root): e.reason for e in catalog.errors()}
        assert set(errors) == set(archive.unreadable)
        assert "not a DICOM file" in errors[archive.defects["non_dicom_file"]]
        assert errors[archive.defects["truncated_file"]].startswith("truncated header")
        assert info.by_modality == archive.by_modality
        assert info.dirty_series == 0

        again = ingest([archive.root], catalog, workers=2)
        assert not again.changed_anything
        assert again.unchanged == archive.files


def test_defects_show_in_the_documents(archive: DemoManifest, tmp_path: Path) -> None:
    with open_catalog(f"sqlite:///{tmp_path / 'c.sqlite'}") as catalog:
        ingest([archive.root], catalog, workers=1)
        gap = catalog.series_document(archive.defects["missing_slice_series"])
        assert gap is not None
        assert gap["slice_spacing_max"] == pytest.approx(2 * gap["slice_spacing_min"], rel=0.01)
        duplicated = [d for d in catalog.iter_series_documents() if d["duplicate_files"]]
        assert len(duplicated) == 2  # the byte-identical copy; the QC phantom's SOP conflict
        documents = list(catalog.iter_series_documents())
        assert len({d.get("Manufacturer") for d in documents} - {None}) >= 4
        ct = [d for d in documents if d.get("Modality") == "CT"]
        assert all(d["slice_count"] > 1 for d in ct if d.get("instance_count", 0) > 1)
        linked = [d for d in catalog.iter_series_documents() if d.get("referenced_series")]
        assert {d["Modality"] for d in linked} >= {"SEG", "RTSTRUCT"}
        uids = {d["SeriesInstanceUID"] for d in catalog.iter_series_documents()}
        assert all(set(d["referenced_series"]) <= uids for d in linked if d["Modality"] != "SR")


def _committed_files(url: str) -> int:
    try:
        with open_catalog(url) as catalog:
            return catalog.info().files
    except Exception:  # noqa: BLE001  # not created yet, or locked for its first migration
        return 0


def _new_catalog_url(base: str, tmp_path: Path, attempt: int) -> str:
    if base.startswith("sqlite"):
        return f"sqlite:///{tmp_path / f'killed-{attempt}.sqlite'}"
    import psycopg

    name = f"{base.rsplit('/', 1)[1]}_k{attempt}"
    admin = os.environ["RADCURATE_TEST_PG_URL"]
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{base.rsplit('/', 1)[0]}/{name}"


def test_kill_and_resume_is_consistent(
    archive: DemoManifest, catalog_url: str, tmp_path: Path
) -> None:
    with open_catalog(catalog_url) as catalog:
        ingest([archive.root], catalog, workers=1)
        expected = _snapshot(catalog)

    for attempt in range(5):
        url = _new_catalog_url(catalog_url, tmp_path, attempt)
        command = [
            sys.executable, "-c", "from radcurate.cli import main; main()",
            "ingest", str(archive.root), "--catalog", url,
            "--quiet", "--workers", "2", "--batch-files", "16", "--no-thumbnails",
        ]  # fmt: skip
        env = {**os.environ, "RADCURATE_HOME": str(tmp_path / f"home{attempt}")}
        proc = subprocess.Popen(command, start_new_session=True, env=env)
        committed = 0
        while proc.poll() is None:
            committed = _committed_files(url)
            if committed > 0:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                break
            time.sleep(0.002)
        if proc.returncode == -signal.SIGKILL and 0 < committed < archive.readable_files:
            break
    else:
        pytest.fail("ingest always finished before it could be killed; make the archive larger")

    with open_catalog(url) as catalog:
        partial = catalog.info()
        assert 0 < partial.files < archive.readable_files
        if url.startswith("sqlite"):
            conn = sqlite3.connect(url[len("sqlite:///") :])
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            conn.close()
        resumed = ingest([archive.root], catalog, workers=2)
        assert resumed.new_instances == archive.readable_files - partial.files
        assert _snapshot(catalog) == expected
