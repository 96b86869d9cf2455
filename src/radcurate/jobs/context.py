"""Running one job: its record, a heartbeat thread, throttled progress, cancellation."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from radcurate.catalog import CatalogBackend
from radcurate.catalog.jobs import HEARTBEAT_INTERVAL, JobRecord

__all__ = ["JobCancelled", "JobContext", "JobFunction", "run_job"]


class JobCancelled(Exception):
    """Raised inside a job function (by :meth:`JobContext.check`) when it was asked to stop."""


class JobContext:
    """What a job function gets: its catalog, parameters, progress and stop signal.

    Progress is written at most every ``min_interval`` seconds (the last call is
    always written when the job ends); a heartbeat thread keeps the record alive
    between calls.
    """

    def __init__(self, catalog: CatalogBackend, record: JobRecord, min_interval: float = 0.5):
        self.catalog = catalog
        self.record = record
        self.min_interval = min_interval
        self._stop = threading.Event()
        self._lock = threading.Lock()
        # held across the catalog write, so progress lands in the order it was reported
        self._write_lock = threading.Lock()
        self._pending: tuple[int | None, int | None, str | None] | None = None
        self._written_at = 0.0

    @property
    def id(self) -> str:
        """The job id."""
        return self.record.id

    @property
    def params(self) -> dict[str, Any]:
        """The parameters the job was created with."""
        return self.record.params

    def stop_requested(self) -> bool:
        """True once someone asked the job to stop (see ``cancel_job``)."""
        return self._stop.is_set()

    def check(self) -> None:
        """Raise :class:`JobCancelled` when the job was asked to stop."""
        if self._stop.is_set():
            raise JobCancelled(self.id)

    def progress(
        self, done: int | None = None, total: int | None = None, message: str | None = None
    ) -> None:
        """Report progress; written to the catalog at most every ``min_interval`` s."""
        with self._lock:
            self._pending = (done, total, message)
            if time.monotonic() - self._written_at < self.min_interval:
                return
        self.flush()

    def flush(self) -> None:
        """Write the latest progress now (also a heartbeat)."""
        with self._write_lock:
            with self._lock:
                done, total, message = self._pending or (None, None, None)
                self._pending = None
                self._written_at = time.monotonic()
            if self.catalog.update_job(self.id, done=done, total=total, message=message):
                self._stop.set()


#: a job's work: gets its context, returns a JSON-able result (or None)
JobFunction = Callable[[JobContext], "dict[str, Any] | None"]


def _heartbeat(context: JobContext, interval: float, finished: threading.Event) -> None:
    while not finished.wait(interval):
        try:
            context.flush()
        except Exception:  # noqa: BLE001 - a missed heartbeat is retried; the job goes on
            continue


def run_job(
    catalog: CatalogBackend,
    job: JobRecord | str,
    function: JobFunction,
    params: dict[str, Any] | None = None,
    *,
    heartbeat_interval: float = HEARTBEAT_INTERVAL,
) -> JobRecord:
    """Run ``function`` as a job in this thread and return its final record.

    Parameters
    ----------
    job
        A queued record (from ``catalog.create_job``) or a kind, for a new job.
    params
        Parameters of a new job (ignored when ``job`` is a record).

    The job ends ``done`` with the function's result, ``cancelled`` when it was
    asked to stop, or ``failed`` with the exception; ``KeyboardInterrupt`` (and
    other ``BaseException``) marks it failed and is re-raised.

    Examples
    --------
    >>> from radcurate.catalog import open_catalog
    >>> with open_catalog("sqlite:///:memory:") as catalog:
    ...     run_job(catalog, "example", lambda ctx: {"answer": 42}).result
    {'answer': 42}
    """
    record = job if isinstance(job, JobRecord) else catalog.create_job(job, params)
    record = catalog.start_job(record.id)
    if record.state != "running":  # cancelled while queued
        return record
    context = JobContext(catalog, record)
    finished = threading.Event()
    beat = threading.Thread(
        target=_heartbeat,
        args=(context, heartbeat_interval, finished),
        name=f"radcurate-job-{record.id[:8]}",
        daemon=True,
    )
    beat.start()

    def stop_heartbeat() -> None:
        finished.set()
        beat.join()

    try:
        result = function(context)
    except JobCancelled:
        stop_heartbeat()
        context.flush()
        return catalog.cancelled_job(record.id)
    except Exception as exc:  # noqa: BLE001 - the reason goes into the record
        stop_heartbeat()
        context.flush()
        return catalog.fail_job(record.id, f"{type(exc).__name__}: {exc}")
    except BaseException as exc:
        stop_heartbeat()
        catalog.fail_job(record.id, f"interrupted: {type(exc).__name__}")
        raise
    stop_heartbeat()
    context.flush()
    if context.stop_requested():
        return catalog.cancelled_job(record.id, result)
    return catalog.finish_job(record.id, result)
