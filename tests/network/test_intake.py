"""The intake process: batched ingest of received files, answers, restarts after a crash."""

from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path

import pytest
from pydicom import dcmread

from radcurate.catalog import open_catalog
from radcurate.network.intake import Intake, _Reader


def _copies(files: list[Path], folder: Path) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for index, path in enumerate(files):
        target = folder / f"{index:04d}.dcm"
        shutil.copyfile(path, target)
        out.append(str(target))
    return out


def _sop_count(catalog_url: str) -> int:
    with open_catalog(catalog_url) as catalog:
        return catalog.info().instances


def test_submitted_files_are_ingested_in_batches(
    catalog_url: str, archive_files: list[Path], tmp_path: Path
) -> None:
    paths = _copies(archive_files[:30], tmp_path / "store")
    intake = Intake(catalog_url, batch_files=8, batch_seconds=0.2)
    intake.start()
    try:
        for path in paths:
            intake.submit(path)
        intake.submit(str(tmp_path / "store" / "gone.dcm"))  # removed since: answered, skipped
        assert intake.wait_idle(timeout=120)
    finally:
        intake.stop()
    assert intake.stats.ingested == 30
    assert intake.stats.batches >= 4  # 31 paths, at most 8 per batch
    assert intake.stats.errors == []
    assert _sop_count(catalog_url) == 30


def test_a_killed_intake_is_restarted_and_nothing_is_lost(
    catalog_url: str, archive_files: list[Path], tmp_path: Path
) -> None:
    paths = _copies(archive_files[:24], tmp_path / "store")
    intake = Intake(catalog_url, batch_files=5, batch_seconds=0.2)
    intake.start()
    try:
        for path in paths[:12]:
            intake.submit(path)
        assert intake.wait_idle(timeout=120)
        first = intake.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        for path in paths[12:]:
            intake.submit(path)  # some go into a dead pipe: they are sent again
        assert intake.wait_idle(timeout=120)
        assert intake.pid not in (None, first)
    finally:
        intake.stop()
    assert intake.stats.restarts == 1
    wanted = {dcmread(p, stop_before_pixels=True).SOPInstanceUID for p in paths}
    with open_catalog(catalog_url) as catalog:
        found = {
            record.sop_uid
            for document in catalog.iter_search("*")
            for record in catalog.instances(str(document["SeriesInstanceUID"]))
        }
    assert found == wanted


def test_an_intake_that_cannot_start_gives_up_with_a_clear_error(tmp_path: Path) -> None:
    intake = Intake("nosuch://catalog", batch_seconds=0.1)
    intake.start()
    try:
        intake.submit(str(tmp_path / "x.dcm"))
        deadline = time.monotonic() + 120
        while not any("keeps dying" in e for e in intake.stats.errors):
            assert time.monotonic() < deadline, intake.stats
            time.sleep(0.1)
        assert not intake.wait_idle(timeout=0.1)  # the path is still owed
    finally:
        intake.stop()
    assert any("ingested at the next start" in e for e in intake.stats.errors)


def test_reader_batches_by_size_then_by_time() -> None:
    read_end, write_end = os.pipe()
    reader = _Reader(read_end)
    try:
        os.write(write_end, b"a\nb\nc\nd\ne")
        assert reader.batch(3, 5.0) == ["a", "b", "c"]
        started = time.monotonic()
        assert reader.batch(3, 0.2) == ["d"]  # "e" has no newline yet
        assert time.monotonic() - started < 3
        os.write(write_end, b"\n")
        os.close(write_end)
        assert reader.batch(3, 0.2) == ["e"]
        assert reader.batch(3, 0.2) == [] and reader.eof
    finally:
        os.close(read_end)


@pytest.mark.parametrize("size", [1, 500])
def test_reader_waits_for_a_first_line_without_a_deadline(size: int) -> None:
    read_end, write_end = os.pipe()
    reader = _Reader(read_end)
    try:
        os.write(write_end, b"only\n")
        assert reader.batch(size, 0.05) == ["only"]
    finally:
        os.close(write_end)
        os.close(read_end)


def test_the_intake_finishes_its_input_when_the_receiver_is_gone(
    catalog_url: str, archive_files: list[Path], tmp_path: Path
) -> None:
    import subprocess
    import sys

    paths = _copies(archive_files[:6], tmp_path / "store")
    child = subprocess.Popen(
        [sys.executable, "-m", "radcurate.network.intake", catalog_url, "--batch-files", "2"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert child.stdin is not None and child.stdout is not None
    child.stdout.close()  # nobody reads the answers any more (the receiver was killed)
    child.stdin.write("".join(f"{p}\n" for p in paths).encode())
    child.stdin.close()
    assert child.wait(timeout=120) == 0
    assert child.stderr is not None
    assert b"Traceback" not in child.stderr.read()
    assert _sop_count(catalog_url) == 6
