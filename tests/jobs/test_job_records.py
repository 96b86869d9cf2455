"""Job records in the catalog, on both backends: lifecycle, progress, cancel, interrupted jobs."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from radcurate.catalog import open_catalog
from radcurate.catalog.jobs import this_owner


def test_lifecycle_and_listing(catalog_url: str) -> None:
    with open_catalog(catalog_url) as catalog:
        assert catalog.schema_version() >= 4
        job = catalog.create_job("thumbnails", {"query": "Modality:CT"})
        assert (job.state, job.done, job.total, job.params) == (
            "queued",
            0,
            None,
            {"query": "Modality:CT"},
        )
        running = catalog.start_job(job.id)
        assert running.state == "running" and running.owner == this_owner()
        assert catalog.update_job(job.id, done=3, total=10, message="3 of 10") is False
        seen = catalog.job(job.id)
        assert seen is not None and (seen.done, seen.total, seen.message) == (3, 10, "3 of 10")
        done = catalog.finish_job(job.id, {"generated": 10})
        assert done.state == "done" and done.result == {"generated": 10}
        assert done.finished_at is not None and done.started_at is not None
        # finishing again, failing or cancelling a finished job changes nothing
        assert catalog.fail_job(job.id, "late").state == "done"
        assert catalog.cancel_job(job.id).state == "done"
        assert catalog.update_job(job.id, done=99) is False
        assert catalog.job(job.id).done == 3  # type: ignore[union-attr]

        other = catalog.create_job("export")
        catalog.start_job(other.id)
        failed = catalog.fail_job(other.id, "ValueError: bad")
        assert failed.state == "failed" and failed.error == "ValueError: bad"
        assert [j.id for j in catalog.jobs()] == [other.id, job.id]
        assert [j.id for j in catalog.jobs(state="done")] == [job.id]
        assert [j.id for j in catalog.jobs(kind="export")] == [other.id]
        assert [j.id for j in catalog.jobs(limit=1)] == [other.id]
        assert catalog.job("nope") is None
        body = done.to_dict()
        assert {"id", "kind", "state", "done", "total", "message", "started_at", "finished_at"} <= (
            body.keys()
        )
        assert body["started_at"].endswith("+00:00")


def test_bad_input_is_refused(catalog_url: str) -> None:
    with open_catalog(catalog_url) as catalog:
        with pytest.raises(ValueError, match="job kind"):
            catalog.create_job("two words")
        with pytest.raises(ValueError, match="job state"):
            catalog.jobs(state="sleeping")
        with pytest.raises(KeyError):
            catalog.cancel_job("missing")
        with pytest.raises(KeyError):
            catalog.start_job("missing")
        assert catalog.jobs() == []


def test_cancel(catalog_url: str) -> None:
    with open_catalog(catalog_url) as catalog:
        queued = catalog.create_job("thumbnails")
        assert catalog.cancel_job(queued.id).state == "cancelled"
        assert catalog.start_job(queued.id).state == "cancelled"  # never starts
        running = catalog.create_job("thumbnails")
        catalog.start_job(running.id)
        asked = catalog.cancel_job(running.id)
        assert asked.state == "running" and asked.cancel_requested
        assert catalog.update_job(running.id, done=1) is True
        assert catalog.cancelled_job(running.id).state == "cancelled"


def test_stale_heartbeat_reads_as_interrupted(catalog_url: str) -> None:
    with open_catalog(catalog_url) as catalog:
        job = catalog.create_job("thumbnails")
        # another host's process: only the heartbeat can tell it died
        catalog.start_job(job.id, owner="elsewhere:1")
        catalog.job_stale_after = 0.3  # type: ignore[misc]
        assert catalog.job(job.id).state == "running"  # type: ignore[union-attr]
        time.sleep(0.5)
        seen = catalog.job(job.id)
        assert seen is not None and seen.state == "failed" and seen.interrupted
        assert "interrupted" in (seen.error or "")
        assert [j.id for j in catalog.jobs(state="failed")] == [job.id]
        assert catalog.jobs(state="running") == []
        catalog.update_job(job.id, done=1)  # a heartbeat brings it back
        assert catalog.job(job.id).state == "running"  # type: ignore[union-attr]


_WORKER = """
import sys, time
from radcurate.catalog import open_catalog
catalog = open_catalog(sys.argv[1])
job = catalog.create_job("thumbnails")
catalog.start_job(job.id)
catalog.update_job(job.id, done=1, total=100)
print(job.id, flush=True)
time.sleep(600)
"""


def test_killed_process_reads_as_interrupted(catalog_url: str) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", _WORKER, catalog_url], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        job_id = proc.stdout.readline().strip()
        with open_catalog(catalog_url) as catalog:
            assert catalog.job(job_id).state == "running"  # type: ignore[union-attr]
            proc.kill()
            proc.wait()
            seen = catalog.job(job_id)
            assert seen is not None
            assert (seen.state, seen.interrupted, seen.done) == ("failed", True, 1)
            assert catalog.cancel_job(job_id).state == "cancelled"  # and it can be closed
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, 9)
            proc.wait()
