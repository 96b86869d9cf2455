"""Issue 13, finding 6: a file removed from disk leaves the catalog at the next ingest of its
folder (and the run says so); a whole folder removed takes its series with it; a folder that
cannot be listed is not taken as emptied; a file kept in a store stays when its original goes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from radcurate.catalog import open_catalog
from radcurate.cli import main
from radcurate.ingest import ingest
from tests.workflows.conftest import series_uid, write_series


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "archive"
    write_series(root / "a", series_uid(1), "CT", "CHEST", "three", 3)
    write_series(root / "b" / "deep", series_uid(2), "CT", "CHEST", "two", 2)
    return root


def test_removed_file_and_folder_leave_the_catalog(folder: Path, catalog_url: str) -> None:
    with open_catalog(catalog_url) as catalog:
        ingest([folder], catalog, workers=1)
        assert catalog.info().instances == 5
        (folder / "a" / "0001.dcm").unlink()
        summary = ingest([folder], catalog, workers=1)
        assert summary.removed_files == 1 and summary.changed_anything
        assert {r.source for r in catalog.instances(series_uid(1))} == {
            str(folder / "a" / "0000.dcm"), str(folder / "a" / "0002.dcm"),
        }  # fmt: skip
        document = catalog.series_document(series_uid(1))
        assert document is not None and document["instance_count"] == 2
        assert catalog.count("instance_count:2") == 2

        shutil.rmtree(folder / "b")
        summary = ingest([folder], catalog, workers=1)
        assert summary.removed_files == 2
        assert catalog.series_document(series_uid(2)) is None
        assert catalog.count("*") == 1
        again = ingest([folder], catalog, workers=1)
        assert again.removed_files == 0 and not again.changed_anything


def test_ingest_of_a_subfolder_does_not_touch_the_rest(folder: Path, tmp_path: Path) -> None:
    with open_catalog(f"sqlite:///{tmp_path / 'c.sqlite'}") as catalog:
        ingest([folder], catalog, workers=1)
        summary = ingest([folder / "a"], catalog, workers=1)
        assert summary.removed_files == 0 and catalog.info().instances == 5


def test_unreadable_folder_is_not_taken_as_emptied(folder: Path, tmp_path: Path) -> None:
    """A folder the walk could not list keeps its files (root lists every folder, so the walk's
    result is given directly: ``b`` unlistable)."""
    with open_catalog(f"sqlite:///{tmp_path / 'c.sqlite'}") as catalog:
        ingest([folder], catalog, workers=1)
        from radcurate.ingest.pipeline import _emptied_folders

        gone = _emptied_folders(catalog, [str(folder)], {str(folder / "a")}, [str(folder / "b")])
        assert gone == []
        listed_all = _emptied_folders(catalog, [str(folder)], {str(folder / "a")}, [])
        assert listed_all == sorted(str(p) for p in (folder / "b" / "deep").glob("*.dcm"))


def test_stored_copies_stay_when_originals_go(folder: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    with open_catalog(f"sqlite:///{tmp_path / 'c.sqlite'}") as catalog:
        ingest([folder], catalog, workers=1, store_url=f"file://{store}")
        (folder / "a" / "0001.dcm").unlink()
        summary = ingest([folder], catalog, workers=1, store_url=f"file://{store}")
        assert summary.removed_files == 0 and catalog.info().instances == 5


def test_cli_says_how_many_files_left(folder: Path, tmp_path: Path) -> None:
    env = {"RADCURATE_HOME": str(tmp_path / "home"), "RADCURATE_CATALOG": ""}
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    runner = CliRunner()
    assert runner.invoke(main, ["ingest", str(folder), "--catalog", url, "--workers", "1"],
                         env=env).exit_code == 0  # fmt: skip
    (folder / "a" / "0002.dcm").unlink()
    result = runner.invoke(main, ["ingest", str(folder), "--catalog", url, "--workers", "1"],
                           env=env)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "1 files are no longer on disk" in " ".join(result.output.split())
