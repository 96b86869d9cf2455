"""De-identified copies on worker processes (radcurate.export.deid_pool): the same bytes and
digests as the calling thread alone, errors raised once the workers are done, a dead worker
costing nothing, and no worker left behind when the export's process is killed."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from pydicom.data import get_testdata_file
from pydicom.uid import ExplicitVRLittleEndian

from radcurate.catalog import CatalogBackend
from radcurate.export.deid import DeidOptions
from radcurate.export.deid_pool import CHUNK, DeidPool, copy_chunk
from radcurate.export.job import ExportOptions, export_dataset
from radcurate.export.splits import parse_split
from tests.export.test_deid_copy import _big_ct

KEY = b"pool-key-13579"


def _pairs(tmp_path: Path, n: int) -> list[tuple[str, str]]:
    """``n`` 0.5 MB CT files (the header path) and two small ones (the whole-file path)."""
    sources = [str(_big_ct(tmp_path / f"s{k}.dcm", ExplicitVRLittleEndian, seed=k))
               for k in range(n)]  # fmt: skip
    for name in ("CT_small.dcm", "MR_small.dcm"):
        path = get_testdata_file(name)
        assert path is not None
        sources.insert(len(sources) // 2, path)
    out = tmp_path / "out"
    out.mkdir()
    return [(s, str(out / f"IM{k:04d}.dcm")) for k, s in enumerate(sources)]


def _expected(pairs: list[tuple[str, str]], folder: Path, options: DeidOptions) -> list[str]:
    """The digests of the calling thread alone, into ``folder``."""
    folder.mkdir()
    alone = [(s, str(folder / Path(t).name)) for s, t in pairs]
    return [d for d in copy_chunk(alone, options, True) if d is not None]


def test_workers_write_what_the_calling_thread_writes(tmp_path: Path) -> None:
    options = DeidOptions(key=KEY)
    pairs = _pairs(tmp_path, 3 * CHUNK)
    expected = _expected(pairs, tmp_path / "alone", options)
    with DeidPool(options, workers=1) as pool:
        digests = pool.copy(pairs, hashed=True)
        assert pool.remote_chunks > 0 and not pool.died  # the worker did copy some
    assert digests == expected
    for (_, target), digest in zip(pairs, digests, strict=True):
        written = Path(target).read_bytes()
        assert hashlib.sha256(written).hexdigest() == digest
        assert written == (tmp_path / "alone" / Path(target).name).read_bytes()


def test_a_failing_file_is_raised_after_the_workers_finish(tmp_path: Path) -> None:
    options = DeidOptions(key=KEY)
    pairs = _pairs(tmp_path, 4 * CHUNK)
    broken = Path(pairs[1][0])  # in the first chunk: a worker's
    broken.write_bytes(b"not a DICOM file at all" * 10)
    with DeidPool(options, workers=1) as pool:
        with pytest.raises(Exception) as raised:
            pool.copy(pairs, hashed=True)
        assert raised.value.__cause__ is None  # not the worker's traceback (stored paths)
        written = sorted(p.name for p in Path(pairs[0][1]).parent.iterdir())
        time.sleep(0.5)  # nothing is still being written into the folder
        assert sorted(p.name for p in Path(pairs[0][1]).parent.iterdir()) == written
        assert pool.copy(pairs[2:4], hashed=True)  # and the pool goes on


def test_a_dead_worker_leaves_its_chunks_to_the_calling_thread(tmp_path: Path) -> None:
    options = DeidOptions(key=KEY)
    pairs = _pairs(tmp_path, 3 * CHUNK)
    expected = _expected(pairs, tmp_path / "alone", options)
    with DeidPool(options, workers=1) as pool:
        pool.copy(pairs[:2], hashed=True)  # the worker is up
        workers = [p for p in psutil.Process().children(recursive=True)
                   if "forkserver" in " ".join(p.parent().cmdline())]  # fmt: skip
        assert len(workers) == 1
        workers[0].send_signal(signal.SIGKILL)  # as the OOM killer would
        workers[0].wait(timeout=10)
        assert pool.copy(pairs, hashed=True) == expected
        assert pool.died


def test_processes_and_threads_export_the_same_files(
    shared_catalog: CatalogBackend, tmp_path: Path
) -> None:
    sums = {}
    for workers in (1, 3):
        options = ExportOptions("demo", "dicom", tmp_path / f"w{workers}", parse_split("train=1.0"),
                                deid=DeidOptions(key=KEY), workers=workers)  # fmt: skip
        report = export_dataset(shared_catalog, options)
        assert report.exported > 0 and report.failed == 0
        sums[workers] = (tmp_path / f"w{workers}" / "SHA256SUMS").read_text()
    assert sums[1] == sums[3]


_KEEP_A_POOL = """
import sys, time
from radcurate.export.deid import DeidOptions
from radcurate.export.deid_pool import DeidPool
if __name__ == "__main__":
    pool = DeidPool(DeidOptions(key=b"pool-key-13579"), workers=2)
    pool.copy([], hashed=True)
    print("ready", flush=True)
    time.sleep(120)
"""


def test_no_worker_is_left_behind_after_kill_9(tmp_path: Path) -> None:
    script = tmp_path / "keep.py"
    script.write_text(_KEEP_A_POOL)
    process = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                               cwd=tmp_path, env={**os.environ})  # fmt: skip
    left: list[psutil.Process] = []
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "ready"
        parent = psutil.Process(process.pid)
        deadline = time.monotonic() + 30
        while len(left) < 3:  # the forkserver and two workers (and a resource tracker)
            assert time.monotonic() < deadline, "the pool did not start its workers"
            time.sleep(0.2)
            left = parent.children(recursive=True)
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
        for stray in left:
            if _running(stray):
                stray.kill()


def _running(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
