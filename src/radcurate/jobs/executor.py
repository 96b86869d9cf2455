"""Executors: where jobs run. ``LocalExecutor`` is an in-process pool of threads."""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol

from radcurate.catalog import CatalogBackend
from radcurate.catalog.jobs import JobRecord
from radcurate.jobs.context import JobFunction, run_job

__all__ = ["Executor", "LocalExecutor"]


class Executor(Protocol):
    """Runs job functions and records them in the catalog."""

    def submit(
        self, kind: str, function: JobFunction, params: dict[str, Any] | None = None
    ) -> JobRecord:
        """Record a queued job and start it when a worker is free; returns the queued record."""

    def wait(self, job_id: str, timeout: float | None = None) -> JobRecord:
        """Block until the job ends (or ``timeout``) and return its record."""

    def cancel(self, job_id: str) -> JobRecord:
        """Ask a job to stop."""

    def shutdown(self, *, cancel: bool = True) -> None:
        """Stop accepting jobs; with ``cancel``, ask running ones to stop; wait for them."""


class LocalExecutor:
    """Jobs on a pool of threads in this process (the work inside a job may use processes).

    Parameters
    ----------
    catalog
        Where job records live; it must be usable from several threads (both
        catalog backends keep a connection per thread).
    max_workers
        Jobs running at once; others wait ``queued``.

    Examples
    --------
    >>> from radcurate.catalog import open_catalog
    >>> with open_catalog("sqlite:///:memory:") as catalog:
    ...     executor = LocalExecutor(catalog)
    ...     job = executor.submit("example", lambda ctx: {"n": 1})
    ...     print(executor.wait(job.id).state)
    ...     executor.shutdown()
    done
    """

    def __init__(self, catalog: CatalogBackend, max_workers: int = 1) -> None:
        self.catalog = catalog
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="radcurate-job")
        self._futures: dict[str, Future[JobRecord]] = {}
        self._lock = threading.Lock()
        self._closed = False

    def submit(
        self, kind: str, function: JobFunction, params: dict[str, Any] | None = None
    ) -> JobRecord:
        """Record a queued job of ``kind`` and run ``function`` when a thread is free."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the executor is shut down")
            record = self.catalog.create_job(kind, params)
            self._futures[record.id] = self._pool.submit(run_job, self.catalog, record, function)
        return record

    def wait(self, job_id: str, timeout: float | None = None) -> JobRecord:
        """Block until the job ends (or ``timeout`` seconds) and return its record.

        Raises
        ------
        KeyError
            The job was not submitted here.
        TimeoutError
            It did not end in time.
        """
        future = self._futures.get(job_id)
        if future is None:
            raise KeyError(f"job {job_id!r} was not submitted to this executor")
        return future.result(timeout=timeout)

    def running(self) -> list[str]:
        """Ids of the jobs submitted here that have not ended."""
        return [job_id for job_id, future in self._futures.items() if not future.done()]

    def cancel(self, job_id: str) -> JobRecord:
        """Ask a job to stop (a queued one never starts)."""
        return self.catalog.cancel_job(job_id)

    def shutdown(self, *, cancel: bool = True) -> None:
        """Stop accepting jobs and wait for the running ones (asked to stop with ``cancel``)."""
        with self._lock:
            self._closed = True
            pending = self.running()
        if cancel:
            for job_id in pending:
                self.catalog.cancel_job(job_id)
        self._pool.shutdown(wait=True, cancel_futures=True)
