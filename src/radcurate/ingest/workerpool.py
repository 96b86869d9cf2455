"""Worker processes for ingest, with a hard time limit per file (issue 13, findings 5 and 9).

The header limits of ``dicom/reading.py`` (size, 30 s, zero runs) are checked on reads, so
work that never reads — pydicom converting millions of values of one element, a decoder or
a hung ``open`` inside C — cannot be stopped from inside the process. Here every worker
writes which file of its chunk it is on, and since when, into shared memory; the parent
kills a worker whose file has run past ``file_time_limit`` seconds (SIGKILL), records that
file in the catalog's errors with the reason, starts a new worker and gives it the rest of
the chunk. A worker that dies on its own (a crash in a decoder, the OOM killer) is handled
the same way, its file recorded with how the worker ended.

Workers also die with ingest: each closes its inherited copy of the forkserver's "alive"
pipe (so ``kill -9`` of ingest ends the forkserver) and sets ``PR_SET_PDEATHSIG`` (Linux)
so that the forkserver's end ends them, even inside a file; the resource tracker leaves
when they are gone. An idle worker also leaves when its command pipe closes.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

from radcurate.catalog.base import FileError
from radcurate.ingest.worker import ChunkResult, FileTask, process_chunk, sorted_tasks
from radcurate.worker_lifetime import die_with_parent

#: default hard limit on one file's processing in a worker, seconds (``--file-time-limit``)
DEFAULT_FILE_TIME_LIMIT_S = 300.0
#: chunks given to one worker at a time (the second waits in its pipe: no idle gap)
_DEPTH = 2
#: seconds a worker gets to leave when the pool closes, before it is killed
_CLOSE_GRACE_S = 5.0


def time_limit_reason(seconds: float) -> str:
    """The error recorded for a file whose processing ran past the hard limit."""
    return (
        f"reading this file took more than {seconds:g} s and its worker process was stopped "
        "(a file that stalls the reader; raise the limit with "
        "radcurate ingest --file-time-limit if it is just very large)"
    )


def died_reason(exitcode: int | None) -> str:
    """The error recorded for a file whose worker process died while reading it."""
    if exitcode is not None and exitcode < 0:
        try:
            how = f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            how = f"killed by signal {-exitcode}"
    else:
        how = f"exit status {exitcode}"
    return f"the worker process reading this file died ({how}); the file was skipped"


def _serve(conn: Connection, progress: Any, parent_pid: int) -> None:
    """A worker: read ``(job, tasks, store_url)`` from ``conn``, answer ``(job, result)``.

    ``progress`` is ``[job, file index, started (monotonic), 0]`` in shared memory;
    ``started`` is 0 while no file is being read.
    """
    die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()

    def read() -> None:
        # always drained: the parent's send of the next chunk never waits for this one to
        # end (it could not watch the clock meanwhile, nor read the result we send)
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                message = None  # the parent is gone
            inbox.put(message)
            if message is None:
                return

    threading.Thread(target=read, daemon=True).start()
    while True:
        message = inbox.get()
        if message is None:
            return
        job, tasks, store_url = message

        def on_file(index: int, job: int = job) -> None:
            progress[0] = job
            progress[1] = index
            progress[2] = time.monotonic()

        result = process_chunk(tasks, store_url, on_file)
        progress[2] = 0.0
        try:
            conn.send((job, result))
        except (BrokenPipeError, OSError):
            return


@dataclass
class _Job:
    number: int
    tasks: list[FileTask]
    errors: list[FileError]


@dataclass
class _Worker:
    process: Any
    conn: Connection
    progress: Any
    jobs: deque[_Job] = field(default_factory=deque)


Absorb = Callable[[ChunkResult, list[FileError]], None]


class WorkerPool:
    """``workers`` processes reading chunks of files, each file under a hard time limit.

    Parameters
    ----------
    workers
        Processes to run.
    store_url
        Passed to :func:`~radcurate.ingest.worker.process_chunk`.
    file_time_limit
        Seconds one file may take in a worker before the worker is killed (None: no limit).
    tick
        Called when nothing came back for this long (seconds): ingest commits what is done.
    """

    def __init__(
        self,
        workers: int,
        store_url: str | None,
        file_time_limit: float | None,
        tick: tuple[float, Callable[[], None]],
    ) -> None:
        method = (
            "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
        )
        self._context: Any = multiprocessing.get_context(method)
        self._store_url = store_url
        self._limit = file_time_limit if file_time_limit and file_time_limit > 0 else None
        self._tick_s, self._tick = tick
        self._size = max(1, workers)
        self._workers: list[_Worker] = []  # started as work comes (a small run needs few)
        self._waiting: deque[_Job] = deque()  # jobs to (re)give before new chunks
        self._numbers = iter(range(1, 1 << 62))
        #: workers killed past the limit, and workers that died on their own
        self.killed = 0
        self.died = 0

    def _start(self) -> _Worker:
        ours, theirs = self._context.Pipe()
        progress = self._context.Array("d", 4, lock=False)
        process = self._context.Process(
            target=_serve, args=(theirs, progress, os.getpid()), daemon=True
        )
        process.start()
        theirs.close()
        return _Worker(process, ours, progress)

    def run(self, chunks: Iterator[tuple[list[FileTask], list[FileError]]], absorb: Absorb) -> None:
        """Read every chunk; ``absorb(result, errors)`` each as soon as it is done."""
        more = True
        while True:
            while more or self._waiting:
                worker = min(self._workers, key=lambda w: len(w.jobs), default=None)
                if worker is None or (worker.jobs and len(self._workers) < self._size):
                    worker = None  # a new one, once there is a job for it
                elif len(worker.jobs) >= _DEPTH:
                    break
                job = self._next(chunks, absorb)
                if job is None:
                    more = False
                    continue
                if worker is None:
                    worker = self._start()
                    self._workers.append(worker)
                self._give(worker, job)
            if not any(w.jobs for w in self._workers):
                return
            self._step(absorb)

    def _next(
        self, chunks: Iterator[tuple[list[FileTask], list[FileError]]], absorb: Absorb
    ) -> _Job | None:
        if self._waiting:
            return self._waiting.popleft()
        for files, errors in chunks:
            if files:
                return _Job(next(self._numbers), sorted_tasks(files), errors)
            absorb(ChunkResult(), errors)
        return None

    def _give(self, worker: _Worker, job: _Job) -> None:
        worker.jobs.append(job)
        worker.conn.send((job.number, job.tasks, self._store_url))

    def _step(self, absorb: Absorb) -> None:
        """Wait for a result, a death or the next deadline; handle what happened."""
        busy = [w for w in self._workers if w.jobs]
        timeout = self._tick_s
        if self._limit is not None:
            now = time.monotonic()
            for worker in busy:
                started = worker.progress[2]
                if started > 0:
                    timeout = min(timeout, max(0.0, started + self._limit - now) + 0.05)
        ready = wait([w.conn for w in busy] + [w.process.sentinel for w in busy], timeout=timeout)
        for worker in busy:
            if worker.conn in ready:
                try:
                    number, result = worker.conn.recv()
                except (EOFError, OSError):
                    continue  # it died: its sentinel says so
                job = worker.jobs.popleft()
                assert job.number == number
                absorb(result, job.errors)
        for worker in busy:
            if not worker.process.is_alive():
                self._replace(worker, absorb, died_reason(worker.process.exitcode))
                self.died += 1
            elif self._overdue(worker):
                worker.process.kill()
                worker.process.join()
                assert self._limit is not None
                self._replace(worker, absorb, time_limit_reason(self._limit))
                self.killed += 1
        if not ready:
            self._tick()

    def _overdue(self, worker: _Worker) -> bool:
        started = worker.progress[2]
        return (
            self._limit is not None
            and started > 0
            and bool(worker.jobs)
            and time.monotonic() - started > self._limit
        )

    def _replace(self, worker: _Worker, absorb: Absorb, reason: str) -> None:
        """Record the file the dead ``worker`` was on, re-queue the rest of its jobs (results it
        sent before dying are absorbed first), and start a new worker in its place."""
        with contextlib.suppress(EOFError, OSError):
            while worker.jobs and worker.conn.poll(0):
                number, result = worker.conn.recv()
                job = worker.jobs.popleft()
                assert job.number == number
                absorb(result, job.errors)
        on_job, on_file, started = (
            int(worker.progress[0]),
            int(worker.progress[1]),
            worker.progress[2],
        )
        again: list[_Job] = []
        for job in worker.jobs:
            if started > 0 and job.number == on_job and on_file < len(job.tasks):
                bad = job.tasks[on_file]
                absorb(
                    ChunkResult(errors=[FileError(bad.source, bad.size, bad.mtime_ns, reason)]), []
                )
                job = _Job(job.number, job.tasks[:on_file] + job.tasks[on_file + 1 :], job.errors)
            if job.tasks:
                again.append(job)
            else:
                absorb(ChunkResult(), job.errors)
        self._waiting.extendleft(reversed(again))
        worker.conn.close()
        worker.process.join()
        self._workers[self._workers.index(worker)] = self._start()

    def close(self) -> None:
        """Ask every worker to leave; kill those that do not within a few seconds."""
        for worker in self._workers:
            with contextlib.suppress(OSError, ValueError):
                worker.conn.send(None)
        deadline = time.monotonic() + _CLOSE_GRACE_S
        for worker in self._workers:
            worker.process.join(max(0.0, deadline - time.monotonic()))
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
            worker.conn.close()

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
