"""Running jobs: the record follows the function; heartbeats; cancel; the in-process executor."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from radcurate.catalog import CatalogBackend, open_catalog
from radcurate.jobs import JobContext, LocalExecutor, run_job


@pytest.fixture
def catalog(tmp_path: Path) -> Any:
    with open_catalog(f"sqlite:///{tmp_path / 'c.sqlite'}") as opened:
        yield opened


def test_done_with_result_and_progress(catalog: CatalogBackend) -> None:
    def work(ctx: JobContext) -> dict[str, Any]:
        for k in range(5):
            ctx.progress(k + 1, 5, f"step {k + 1}")
        return {"steps": 5}

    record = run_job(catalog, "example", work, {"n": 5})
    assert (record.state, record.done, record.total, record.result) == ("done", 5, 5, {"steps": 5})
    assert record.message == "step 5"  # the last progress is written even when throttled
    assert record.params == {"n": 5}


def test_exception_fails_the_job_with_its_reason(catalog: CatalogBackend) -> None:
    def work(ctx: JobContext) -> None:
        raise ValueError("no such folder")

    record = run_job(catalog, "example", work)
    assert record.state == "failed" and record.error == "ValueError: no such folder"


def test_keyboard_interrupt_marks_failed_and_propagates(catalog: CatalogBackend) -> None:
    def work(ctx: JobContext) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_job(catalog, "example", work)
    (record,) = catalog.jobs()
    assert record.state == "failed" and "interrupted" in (record.error or "")


def test_heartbeat_keeps_a_quiet_job_alive(catalog: CatalogBackend) -> None:
    catalog.job_stale_after = 0.5  # type: ignore[misc]
    states: list[str] = []

    def work(ctx: JobContext) -> None:
        for _ in range(8):  # 1.2 s without progress: only the heartbeat speaks
            time.sleep(0.15)
            record = catalog.job(ctx.id)
            assert record is not None
            states.append(record.state)

    record = run_job(catalog, "example", work, heartbeat_interval=0.1)
    assert record.state == "done"
    assert set(states) == {"running"}


def test_cancel_a_running_job(catalog: CatalogBackend) -> None:
    started = threading.Event()

    def work(ctx: JobContext) -> None:
        started.set()
        for k in range(200):
            time.sleep(0.02)
            ctx.progress(k, 200)
            ctx.check()

    executor = LocalExecutor(catalog)
    job = executor.submit("example", work)
    assert started.wait(10)
    executor.cancel(job.id)
    record = executor.wait(job.id, timeout=10)
    assert record.state == "cancelled" and record.done < 199
    executor.shutdown()


def test_executor_queues_and_shutdown_cancels(catalog: CatalogBackend) -> None:
    gate = threading.Event()

    def slow(ctx: JobContext) -> dict[str, Any]:
        while not gate.wait(0.05):
            ctx.progress(0)
            ctx.check()
        return {"ok": True}

    executor = LocalExecutor(catalog, max_workers=1)
    first = executor.submit("example", slow)
    second = executor.submit("example", slow)
    time.sleep(0.2)
    assert catalog.job(second.id).state == "queued"  # type: ignore[union-attr]
    executor.shutdown()
    assert catalog.job(first.id).state == "cancelled"  # type: ignore[union-attr]
    assert catalog.job(second.id).state == "cancelled"  # type: ignore[union-attr]
    with pytest.raises(RuntimeError, match="shut down"):
        executor.submit("example", slow)
