"""De-identified copies on worker processes beside the calling thread (issue 17's speed).

A de-identified instance costs about 0.8 ms of CPU on this project's 2-core machine: 0.3 ms
hashing its 0.5 MB for the manifest, 0.3 ms copying it, and 0.1-0.2 ms rewriting its header
in Python, which holds the GIL. Threads therefore stop short of two cores (1,850 instances/s
against 2,150/s for a plain hashed copy); processes do not. :class:`DeidPool` starts its
workers (forkserver; ``radcurate export --workers N`` asks for ``N - 1``, at most one per
CPU beside the calling thread) when an export begins, so they are ready by the first
series, and :meth:`DeidPool.copy` splits a series into chunks: the workers take chunks from
the front while the calling thread copies chunks from the back itself, so a pool still
starting or a busy one costs nothing. Each file's bytes and digest
are those of :func:`radcurate.export.deid.deidentify_file`, wherever it ran.

Workers end with the export (``close``), and with its process if that is killed
(:func:`radcurate.worker_lifetime.die_with_parent`). A worker that dies (the OOM killer)
leaves its chunks to the calling thread and the pool to the rest of the export.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from types import TracebackType
from typing import TYPE_CHECKING

from radcurate.worker_lifetime import die_with_parent

if TYPE_CHECKING:
    from radcurate.export.deid import DeidOptions

__all__ = ["DeidPool", "copy_chunk", "pool_workers", "worker_cpu_seconds"]

#: instances a worker copies per task (about 4 MB of CT, 6 ms: the hand-over costs ~0.1 ms,
#: and the calling thread waits at most about one chunk at the end of a series)
CHUNK = 8
#: at most this many worker processes (the copy is bound by the disk beyond a few)
MAX_WORKERS = 7

#: one chunk of work: ``(source path, target path)`` pairs
Pairs = list[tuple[str, str]]


def pool_workers() -> int:
    """Worker processes for this machine: one fewer than the CPUs this process may use (the
    calling thread is the last), at most :data:`MAX_WORKERS`; 0 without a forkserver."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return 0
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(0, min(cpus - 1, MAX_WORKERS))


def copy_chunk(pairs: Pairs, options: DeidOptions, hashed: bool) -> list[str | None]:
    """De-identify each ``(source, target)`` pair; the sha256 (hex) of each written file, or
    None when ``hashed`` is false. Runs in a worker and in the calling thread alike."""
    from radcurate.export.deid import deidentify_file

    out: list[str | None] = []
    for source, target in pairs:
        digest = hashlib.sha256() if hashed else None
        deidentify_file(source, target, options, digest=digest)
        out.append(None if digest is None else digest.hexdigest())
    return out


def _remote_chunk(
    pairs: Pairs, options: DeidOptions, hashed: bool
) -> tuple[list[str | None], float]:
    """:func:`copy_chunk` in a worker, with the CPU seconds it took there."""
    start = time.process_time()
    digests = copy_chunk(pairs, options, hashed)
    return digests, time.process_time() - start


def worker_cpu_seconds() -> float:
    """CPU seconds spent in workers by every pool of this process (their processes are the
    forkserver's children, so ``getrusage`` of this one does not count them)."""
    return _worker_cpu[0]


_worker_cpu = [0.0]


def _ready() -> None:
    """A worker's first task: import what :func:`copy_chunk` uses while the export plans."""
    import radcurate.export.deid  # noqa: F401


class DeidPool:
    """Worker processes for one export's de-identified copy; close it (or use ``with``)."""

    def __init__(self, options: DeidOptions, workers: int | None = None) -> None:
        self.options = options
        self.workers = pool_workers() if workers is None else max(0, min(workers, MAX_WORKERS))
        self._pool: ProcessPoolExecutor | None = None
        #: a worker died and the calling thread went on alone
        self.died = False
        #: chunks the workers copied (the rest were the calling thread's)
        self.remote_chunks = 0
        if self.workers:
            self._pool = ProcessPoolExecutor(
                self.workers,
                mp_context=multiprocessing.get_context("forkserver"),
                initializer=die_with_parent,
                initargs=(os.getpid(),),
            )
            for _ in range(self.workers):  # start them now: ready by the first series
                self._pool.submit(_ready)

    def __enter__(self) -> DeidPool:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop the workers (chunks not started are dropped)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def _give_up(self) -> None:
        """A worker died: the calling thread copies the rest of the export alone."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
            self.died = True

    def copy(self, pairs: Pairs, hashed: bool) -> list[str | None]:
        """De-identify every pair (:func:`copy_chunk`), on the workers and this thread; the
        digests in the order of ``pairs``. When a file fails, the chunks in flight finish
        (nothing is written into the series' folder afterwards) and the first error is
        raised, without the worker's traceback (it names the stored files' paths)."""
        chunks = [pairs[i : i + CHUNK] for i in range(0, len(pairs), CHUNK)]
        results: list[list[str | None] | None] = [None] * len(chunks)
        pending: dict[Future[tuple[list[str | None], float]], int] = {}
        front, back = 0, len(chunks)  # the workers take from the front, this thread the back
        error: BaseException | None = None
        while error is None and (front < back or pending):
            while self._pool is not None and front < back and len(pending) <= self.workers:
                try:
                    future = self._pool.submit(_remote_chunk, chunks[front], self.options, hashed)
                except BrokenProcessPool:  # a worker died before this chunk was given
                    self._give_up()
                    break
                pending[future] = front
                front += 1
            if front < back:
                back -= 1
                try:
                    results[back] = copy_chunk(chunks[back], self.options, hashed)
                except Exception as exc:  # noqa: BLE001 - raised below, after the workers
                    error = exc
                done = [f for f in pending if f.done()]
            else:
                done = list(wait(pending, return_when=FIRST_COMPLETED)[0])
            for future in done:
                k = pending.pop(future)
                outcome = self._outcome(future, chunks[k], hashed)
                if isinstance(outcome, BaseException):
                    error = error or outcome
                else:
                    results[k] = outcome
        for future in list(pending):  # after an error: let what was started finish
            wait([future])
        if error is not None:
            error.__cause__ = None
            raise error
        return [digest for chunk in results if chunk is not None for digest in chunk]

    def _outcome(
        self, future: Future[tuple[list[str | None], float]], pairs: Pairs, hashed: bool
    ) -> list[str | None] | BaseException:
        """A finished chunk's digests or its error; a chunk whose worker died is copied
        here, and the pool is given up for the rest of the export."""
        try:
            digests, cpu = future.result()
            self.remote_chunks += 1
            _worker_cpu[0] += cpu
            return digests
        except BrokenProcessPool:
            self._give_up()
        except Exception as exc:  # noqa: BLE001 - the caller raises it
            return exc
        try:
            return copy_chunk(pairs, self.options, hashed)
        except Exception as exc:  # noqa: BLE001
            return exc
