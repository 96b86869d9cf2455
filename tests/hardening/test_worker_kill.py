"""Issue 13, findings 5 and 9: a file that stalls its worker, workers left behind.

The header limits (``dicom/reading.py``: size, 30 s, zero runs) are checked on reads,
so a file whose processing does not read cannot be stopped from inside the worker. The
real one here: a CT header whose Slice Location (DS, implicit VR, 4-byte length) holds
ten million values (40 MB, under the 64 MiB header cap): pydicom and ingest convert them
one by one, ~30 s of CPU on this machine without a single read. Now ``ingest --workers N``
kills the worker past ``--file-time-limit``, records the file in ``radcurate errors`` and
goes on with a new worker; a worker that dies (SIGKILL from outside, as the OOM killer
would) costs only its file; and after ``kill -9`` of ingest no forkserver, resource
tracker or worker is left parented to init.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.uid import ImplicitVRLittleEndian

from radcurate.catalog import open_catalog
from radcurate.ingest import ingest
from radcurate.ingest.pipeline import IngestSummary

GOOD = ("CT_small.dcm", "MR_small.dcm", "rtplan.dcm", "JPEG2000.dcm", "emri_small.dcm")
#: values in the slow file's Slice Location
VALUES = 10_000_000
CLI = "import sys; from radcurate.cli import main; main(sys.argv[1:])"


def _slow_file(path: Path, values: int = VALUES) -> Path:
    """A CT header with a DS element of ``values`` values (no read while they convert)."""
    ds = dcmread(str(get_testdata_file("CT_small.dcm")))
    ds.SliceLocation = "-77.2"  # a placeholder, replaced by the long value in the bytes
    # a series of its own: its header is the one ingest documents (reads every value)
    ds.SeriesInstanceUID = "1.2.826.0.1.3680043.10.999.13.1"
    ds.SOPInstanceUID = "1.2.826.0.1.3680043.10.999.13.2"
    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    ds.save_as(str(path), enforce_file_format=True, implicit_vr=True, little_endian=True)
    data = path.read_bytes()
    element = b"\x20\x00\x41\x10" + struct.pack("<I", 6) + b"-77.2 "
    assert data.count(element) == 1
    value = b"1.5\\" * values
    value = value[:-1] + b" "  # even length
    path.write_bytes(data.replace(element, element[:4] + struct.pack("<I", len(value)) + value))
    return path


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    for name in GOOD:
        shutil.copy(str(get_testdata_file(name)), folder / name)
    _slow_file(folder / "slow.dcm")
    return folder


def _errors(url: str) -> dict[str, str]:
    with open_catalog(url) as catalog:
        return {Path(e.source).name: e.reason for e in catalog.errors()}


@pytest.mark.parametrize("chunk", [256, 2])  # one chunk; three chunks on two workers
def test_a_file_that_stalls_its_worker_is_killed_and_recorded(tmp_path: Path, chunk: int) -> None:
    folder = _folder(tmp_path)
    url = f"sqlite:///{tmp_path / 'c.sqlite'}"
    with open_catalog(url) as catalog:
        started = time.monotonic()
        summary = ingest([folder], catalog, workers=2, file_time_limit=2.0, batch_files=chunk)
        took = time.monotonic() - started
        assert summary.new_instances == len(GOOD)
        assert summary.errors == 1
        assert took < 15, f"the run waited for the stalled file: {took:.1f} s"
        assert catalog.info().instances == len(GOOD)
    reason = _errors(url)["slow.dcm"]
    assert "took more than 2 s and its worker process was stopped" in reason
    assert "--file-time-limit" in reason
    with open_catalog(url) as catalog:  # a repeat run does not read it again
        again = ingest([folder], catalog, workers=2, file_time_limit=2.0)
        assert not again.changed_anything


def test_the_cli_option_and_radcurate_errors(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    url = f"sqlite:///{tmp_path / 'c.sqlite'}"
    env = {**os.environ, "RADCURATE_HOME": str(tmp_path / "home"), "RADCURATE_CATALOG": ""}
    args = ["ingest", str(folder), "--catalog", url, "--workers", "2", "--file-time-limit", "1.5"]
    done = subprocess.run(
        [sys.executable, "-c", CLI, *args, "--json", "--no-thumbnails"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["run"]["new_instances"] == len(GOOD)
    shown = subprocess.run(
        [sys.executable, "-c", CLI, "errors", "--catalog", url],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    assert "slow.dcm" in shown.stdout and "1.5 s" in shown.stdout


def _workers_of(parent: psutil.Process) -> list[psutil.Process]:
    """The pool's worker processes: children of the forkserver below ``parent``."""
    found = []
    for child in parent.children(recursive=True):
        try:
            if "forkserver" in " ".join(child.parent().cmdline()):
                found.append(child)
        except (psutil.NoSuchProcess, AttributeError):
            continue
    return found


def test_a_worker_that_dies_costs_only_its_file(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    url = f"sqlite:///{tmp_path / 'c.sqlite'}"
    summaries: list[IngestSummary] = []

    def run() -> None:
        with open_catalog(url) as catalog:
            summaries.append(ingest([folder], catalog, workers=2, file_time_limit=None))

    thread = threading.Thread(target=run)
    thread.start()
    me = psutil.Process()
    deadline = time.monotonic() + 20
    busy: list[psutil.Process] = []
    while not busy:  # the worker on slow.dcm is the one using CPU
        assert time.monotonic() < deadline, "no worker got busy"
        time.sleep(0.5)
        busy = [w for w in _workers_of(me) if w.cpu_times().user > 1.0]
    busy[0].send_signal(signal.SIGKILL)  # as the OOM killer would
    thread.join(timeout=60)
    assert not thread.is_alive()
    (summary,) = summaries
    assert summary.new_instances == len(GOOD) and summary.errors == 1
    assert "worker process reading this file died (killed by SIGKILL)" in _errors(url)["slow.dcm"]


def test_nothing_is_left_behind_after_kill_9_of_ingest(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    url = f"sqlite:///{tmp_path / 'c.sqlite'}"
    env = {**os.environ, "RADCURATE_HOME": str(tmp_path / "home"), "RADCURATE_CATALOG": ""}
    env["RADCURATE_FILE_TIME_LIMIT"] = "0"  # no limit: the worker stays inside slow.dcm
    args = ["ingest", str(folder), "--catalog", url, "--workers", "2"]
    process = subprocess.Popen(
        [sys.executable, "-c", CLI, *args, "--quiet", "--no-thumbnails"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    left: list[psutil.Process] = []
    try:
        parent = psutil.Process(process.pid)
        deadline = time.monotonic() + 30
        while not _workers_of(parent):  # forkserver, resource tracker and workers
            assert time.monotonic() < deadline, "ingest did not start its workers"
            time.sleep(0.2)
        time.sleep(1.0)  # a worker is inside slow.dcm now
        left = parent.children(recursive=True)
        assert len(left) >= 3
        process.send_signal(signal.SIGKILL)
        process.wait()
        deadline = time.monotonic() + 5
        alive = left
        while alive and time.monotonic() < deadline:
            time.sleep(0.2)
            alive = [p for p in left if _running(p)]
        assert not alive, f"left behind after kill -9: {[p.cmdline()[:4] for p in alive]}"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for stray in left:  # orphans are not the test's children any more
            if _running(stray):
                stray.kill()


def _running(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
