"""``kill -9`` in the middle of a run: the next run does only what is left, and no series is
processed twice (a second processing would leave the first one's set in the history)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from radcurate.catalog import CatalogBackend, open_catalog
from tests.workflows.conftest import all_uids, history, producer_sets, wait_for
from tests.workflows.steps import PROBE, SLEEP_ENV, expected_values

REPO = Path(__file__).resolve().parents[2]


def _start(url: str, sleep: float) -> tuple[subprocess.Popen[str], str, str]:
    """The ``probe`` job in a new process, ``sleep`` s per series (same parameters whatever
    the sleep); returns it, its job id and its process token."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.workflows.kill_run", url],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env={**os.environ, "PYTHONPATH": str(REPO), SLEEP_ENV: str(sleep)},
    )
    assert proc.stdout is not None
    first = proc.stdout.readline().split()
    assert len(first) == 2, f"the run printed no job id (exit {proc.wait()})"
    return proc, first[0], first[1]


@pytest.mark.slow
def test_killed_run_resumes_and_processes_each_series_once(any_catalog: CatalogBackend) -> None:
    catalog = any_catalog
    uids = all_uids(catalog)
    total = len(uids)
    proc, first_job, first_token = _start(catalog.url, 1.0)
    try:
        with open_catalog(catalog.url) as watcher:
            # kill once some (not all) series are written
            wait_for(lambda: len(watcher.result_store.job_series(first_job)) >= 2, timeout=60)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    written_first = catalog.result_store.job_series(first_job)
    assert 2 <= len(written_first) < total, "the run was not killed half-way; slow it down"
    killed = catalog.job(first_job)
    assert killed is not None and killed.state == "failed" and killed.interrupted

    proc, second_job, second_token = _start(catalog.url, 0)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out
    final = json.loads(out.strip().splitlines()[-1])
    assert final["state"] == "done"
    assert final["result"]["total"] == total
    assert final["result"]["skipped"] == len(written_first)
    assert final["result"]["processed"] == total - len(written_first)
    assert final["result"]["failed"] == 0
    assert first_token != second_token

    for uid in uids:
        (current,) = producer_sets(catalog, uid, PROBE)
        expected_job, token = (
            (first_job, first_token) if uid in written_first else (second_job, second_token)
        )
        assert current.provenance.job_id == expected_job, uid
        assert current.values["ai"]["probe_token"] == token, uid
        instances = len(catalog.instances(uid))
        assert current.values["ai"] == {**expected_values(uid, instances), "probe_token": token}
    # no series was processed twice: nothing replaced
    assert history(catalog, uids, PROBE) == []
    assert catalog.result_store.job_series(first_job) == written_first
    assert sorted(written_first + catalog.result_store.job_series(second_job)) == uids
