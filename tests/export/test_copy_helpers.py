"""Helper processes of a large de-identified copy (``export/copy_helpers.py``): how many, a
helper that dies, an error that cannot be pickled, and a script without a main guard."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from types import SimpleNamespace

import pytest
from pydicom.data import get_testdata_file

from radcurate.dicom.instance import InstanceRecord
from radcurate.export import copy_helpers, dicom_job
from radcurate.export.deid import DeidOptions

KEY = DeidOptions(key=b"helper-test-key")


def _records(n: int) -> list[InstanceRecord]:
    source = get_testdata_file("CT_small.dcm")
    assert source is not None
    return [
        InstanceRecord(source=source, location=source, size=0, mtime_ns=0, study_uid="1.2",
                       series_uid="1.2.3", sop_uid=f"1.2.3.{k}", instance_number=k)
        for k in range(1, n + 1)
    ]  # fmt: skip


def test_helper_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RADCURATE_EXPORT_HELPERS", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert copy_helpers.helper_count(copy_helpers.MIN_INSTANCES - 1) == 0
    assert copy_helpers.helper_count(copy_helpers.MIN_INSTANCES) == 1
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert copy_helpers.helper_count(10**6) == 0
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    assert copy_helpers.helper_count(10**6) == copy_helpers.MAX_HELPERS
    monkeypatch.setenv("RADCURATE_EXPORT_HELPERS", "0")
    assert copy_helpers.helper_count(10**6) == 0
    monkeypatch.setenv("RADCURATE_EXPORT_HELPERS", "2")
    assert copy_helpers.helper_count(5) == 2


def test_a_helper_that_dies_fails_its_series_and_the_export_copies_the_rest(
    tmp_path: Path,
) -> None:
    helpers = copy_helpers.CopyHelpers(1, KEY)
    threads = ThreadPoolExecutor(2)
    try:
        helpers._ready[0].result(timeout=120)
        assert helpers.accepts()
        done = helpers.submit(_records(3), tmp_path / "first")
        assert len(done.result({})) == 3  # a helper copies
        for pid in list(helpers._pool._processes):  # type: ignore[union-attr]
            os.kill(pid, signal.SIGKILL)
        records = _records(2)
        with pytest.raises(BrokenProcessPool):  # what it held, or the next one handed
            helpers.submit(records, tmp_path / "lost").result()
        assert not helpers.accepts()
        options = SimpleNamespace(deid=KEY)  # what _submit reads of the export's options
        copies = dicom_job._submit(
            records,
            tmp_path / "second",
            options,
            threads,
            helpers,  # type: ignore[arg-type]
        )
        digests: dict[Path, str] = {}
        assert [p.name for p in copies.result(digests)] == ["IM0001.dcm", "IM0002.dcm"]
        assert len(digests) == 2
    finally:
        threads.shutdown()
        helpers.shutdown()


def test_an_error_that_cannot_be_pickled_arrives_as_its_text() -> None:
    class Odd(Exception):
        def __init__(self, a: int, b: int) -> None:
            super().__init__(f"odd {a} {b}")

    sent = copy_helpers._sendable(Odd(1, 2))
    assert type(sent) is RuntimeError and str(sent) == "Odd: odd 1 2"
    plain = copy_helpers._sendable(FileNotFoundError(2, "gone"))
    assert type(plain) is FileNotFoundError and str(plain) == "[Errno 2] gone"


def test_a_script_without_a_main_guard_does_not_run_again_in_the_helpers(
    tmp_path: Path,
) -> None:
    script = tmp_path / "unguarded.py"
    script.write_text(
        textwrap.dedent(f"""
        from radcurate.export.copy_helpers import CopyHelpers
        from radcurate.export.deid import DeidOptions
        with open({str(tmp_path / "runs.txt")!r}, "a") as runs:
            runs.write("ran\\n")
        helpers = CopyHelpers(1, DeidOptions(key=b"helper-test-key"))
        helpers._ready[0].result(timeout=120)
        helpers.shutdown()
        print("main", __name__)
    """)
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "main __main__" in done.stdout
    assert (tmp_path / "runs.txt").read_text() == "ran\n"  # once: not in the helper
