"""Helper processes for a large de-identified DICOM copy: whole series copied in another process.

De-identifying a slice's header is Python that holds the GIL (~0.1 ms for a CT slice); reading,
hashing and writing its 0.5 MB release it. On 8 threads of one process the hand-overs of the
GIL cost a third more CPU per instance than one thread alone (1.02-1.06 against 0.77 CPU ms,
measured on the 2-core benchmark machine), and one process copied 1,480-1,520 de-identified
instances/s where two processes of 4 threads each copied ~2,100/s together. Inside an export,
where the copies share the disk (which the plain copy already waits on), a helper made a copy of
4,824 instances ~1.10x faster (docs/export.md, "Speed"). So an export of at least
:data:`MIN_INSTANCES` instances starts :func:`helper_count` helper processes. The export
keeps copying on its own threads meanwhile; a helper is given a whole series (at most
:data:`QUEUED` at a time) once it is ready, and copies it on :data:`HELPER_THREADS` threads of
its own.

A helper is a fresh interpreter (``spawn``: safe from a server's threads, nothing inherited),
which costs ~0.5 CPU s to import the copy path (pydicom): below :data:`MIN_INSTANCES` the
export's own threads finish sooner. Each file's bytes and sha256 are the same whichever
process copies it (a test compares); a failed series fails the same way (its error's type and
text; an error that cannot be sent between processes arrives as ``RuntimeError`` naming it).
A helper that dies (killed, out of memory) fails the series it held, and the export's own
threads copy the rest. Helpers end with the export, and with the process that started them
(:func:`radcurate.worker_lifetime.die_with_parent`).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import TYPE_CHECKING, Any

from radcurate.dicom.instance import InstanceRecord
from radcurate.export.dicom_copy import copy_one, ordered_targets

if TYPE_CHECKING:
    from radcurate.export.deid import DeidOptions

__all__ = ["HELPER_THREADS", "MIN_INSTANCES", "QUEUED", "CopyHelpers", "helper_count"]

#: instances an export must have before helpers are started (their start-up, ~0.5 CPU s,
#: is then paid back: docs/architecture.md, "Export speed")
MIN_INSTANCES = 3000
#: threads copying in each helper (each waits on the disk for most of a file)
HELPER_THREADS = 4
#: series given to one helper at a time (the second waits in its queue: no idle gap)
QUEUED = 2
#: helpers at most, whatever the CPU count (each is a ~70 MB process)
MAX_HELPERS = 3
_MAIN_LOCK = threading.Lock()


def helper_count(instances: int) -> int:
    """Helper processes for a de-identified copy of ``instances`` instances: one per CPU
    beyond the first (at most :data:`MAX_HELPERS`), none below :data:`MIN_INSTANCES` or with
    ``RADCURATE_EXPORT_HELPERS=0`` (which a number overrides)."""
    setting = os.environ.get("RADCURATE_EXPORT_HELPERS", "").strip()
    if setting.isdigit():
        return int(setting) if instances > 0 else 0
    if instances < MIN_INSTANCES:
        return 0
    return max(0, min(MAX_HELPERS, (os.cpu_count() or 1) - 1))


class HelperSeriesCopy:
    """A series copied by a helper: the same :meth:`result` as
    :class:`radcurate.export.dicom_copy.SeriesCopy`."""

    def __init__(self, targets: list[Path], future: Future[list[str | None]]):
        self.targets = targets
        self.future = future

    def result(self, digests: dict[Path, str] | None = None) -> list[Path]:
        """Wait for the series, then raise its error or return the targets; ``digests``
        receives each written file's sha256 (hex)."""
        hexes = self.future.result()
        if digests is not None:
            digests.update((t, h) for t, h in zip(self.targets, hexes, strict=True) if h)
        return self.targets


class CopyHelpers:
    """``count`` helper processes copying whole series for one export."""

    def __init__(self, count: int, deid: DeidOptions | None):
        self.deid = deid
        self.broken = False
        self._pool = ProcessPoolExecutor(
            max_workers=count, mp_context=multiprocessing.get_context("spawn"),
            initializer=_start, initargs=(os.getpid(),),
        )  # fmt: skip
        with _main_not_imported():  # the helpers start here, with their first task
            #: one no-op each: a helper is given series once it has answered (imported)
            self._ready = [self._pool.submit(_ready) for _ in range(count)]
        self._count = count
        self._held: list[Future[list[str | None]]] = []

    @property
    def queued(self) -> int:
        """Series the helpers may hold at once (the export keeps as many more in flight)."""
        return QUEUED * self._count

    def accepts(self) -> bool:
        """Whether a series handed now would start soon in a helper: the helpers are up and
        hold fewer than :data:`QUEUED` series each."""
        if self.broken or not all(f.done() for f in self._ready):
            return False
        if any(f.exception() is not None for f in self._ready):
            self.broken = True
            return False
        self._held = [f for f in self._held if not f.done()]
        return len(self._held) < self.queued

    def submit(self, records: Sequence[InstanceRecord], folder: Path) -> HelperSeriesCopy:
        """Copy a series as :func:`radcurate.export.dicom_copy.submit_copies` does (the same
        files, names and digests), in a helper.

        Raises
        ------
        BrokenProcessPool
            A helper died: :attr:`broken` is set, and the caller copies the series itself.
        """
        folder.mkdir(parents=True, exist_ok=True)
        locations, targets = ordered_targets(records, folder)
        jobs = [(loc, str(t)) for loc, t in zip(locations, targets, strict=True)]
        try:
            future = self._pool.submit(_copy_series, jobs, self.deid)
        except BrokenProcessPool:
            self.broken = True
            raise
        future.add_done_callback(self._watch)
        self._held.append(future)
        return HelperSeriesCopy(targets, future)

    def _watch(self, future: Future[list[str | None]]) -> None:
        if not future.cancelled() and isinstance(future.exception(), BrokenProcessPool):
            self.broken = True  # a helper died: the export's threads copy the rest

    def shutdown(self) -> None:
        """Stop the helpers after the series they are copying (queued ones are dropped)."""
        self._pool.shutdown(wait=True, cancel_futures=True)


@contextlib.contextmanager
def _main_not_imported() -> Iterator[None]:
    """Start processes without running the program's main module again in them.

    ``spawn`` imports the starting program's ``__main__`` (by name or path) in each new
    process, so a script calling ``export_dataset`` without an ``if __name__ ==
    "__main__":`` guard would run again in every helper (and the ``radcurate`` command's
    module costs its import). A helper needs only the copy path: while the helpers start,
    ``__main__`` shows neither a spec nor a file, which spawn reads as "nothing to import"
    (an interactive session's ``__main__`` has neither)."""
    import sys

    with _MAIN_LOCK:  # two exports starting helpers at once restore what each found
        main = sys.modules.get("__main__")
        names = ("__spec__", "__file__")
        saved: dict[str, Any] = {
            k: main.__dict__.pop(k) for k in names if main and k in main.__dict__
        }
        if main is not None and "__spec__" in saved:
            main.__spec__ = None
        try:
            yield
        finally:
            if main is not None:
                main.__dict__.update(saved)


# -- in the helper ---------------------------------------------------------------------------
_threads: ThreadPoolExecutor | None = None


def _start(parent_pid: int) -> None:
    import signal

    from radcurate.worker_lifetime import die_with_parent

    die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the export's to handle


def _ready() -> None:
    from radcurate.export import deid  # noqa: F401 - imported before the first series


def _copy_series(jobs: list[tuple[str, str]], deid: DeidOptions | None) -> list[str | None]:
    """Copy ``(location, target)`` pairs on this helper's threads; their sha256 (hex), or the
    first failure (in series order) once none of them is being written any more."""
    global _threads
    if _threads is None:
        _threads = ThreadPoolExecutor(HELPER_THREADS, thread_name_prefix="export-helper")
    futures = [_threads.submit(copy_one, loc, Path(t), deid, True) for loc, t in jobs]
    wait(futures)
    try:
        return [f.result() for f in futures]
    except Exception as exc:  # noqa: BLE001 - re-raised, in a form that reaches the export
        raise _sendable(exc) from None


def _sendable(exc: Exception) -> Exception:
    """``exc`` when it survives pickling (it is sent to the export), else a RuntimeError
    with its type and text: the reason recorded for the series stays readable."""
    try:
        back = pickle.loads(pickle.dumps(exc))
    except Exception:  # noqa: BLE001 - any failure to round-trip means "send a plain one"
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return (
        back
        if type(back) is type(exc) and str(back) == str(exc)
        else RuntimeError(f"{type(exc).__name__}: {exc}")
    )
