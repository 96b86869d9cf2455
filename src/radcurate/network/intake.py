"""Batched ingest of received files, in a child process of the receiver (the *intake*).

The receiver's threads answer C-STOREs; reading headers and writing the catalog
(~0.2 ms of Python per instance) would hold the interpreter lock those threads
need between two instances, so it runs in a separate process at a lower CPU
priority: ``python -m radcurate.network.intake CATALOG_URL`` reads the paths of
stored files from its standard input, one per line, and ingests them in
batches (one catalog transaction each, series facts recomputed after it). Its
standard output answers, after each batch:

- ``+<path>`` for every path it has dealt with (ingested, or kept for later
  when the catalog refused the batch),
- ``!<message>`` for a problem worth reporting,
- ``=<instances>`` the instances the batch wrote.

A line sent to the process is a path, or, for an instance sent to a project's called AE
title, a JSON object ``{"path": ..., "project": ..., "actor": ...}`` (a path never starts
with ``{``): once its batch is written, the series of such instances go into their project
(one ``project.assign`` audit entry per project and sender in the batch).

:class:`Intake` is the receiver's side: it starts the process, sends paths,
remembers those not yet answered and, should the process die, starts a new one
and sends them again (ingesting a file twice changes nothing).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import logging
import os
import select
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import TextIO

from radcurate.catalog import CatalogBackend
from radcurate.dicom.instance import InstanceRecord

__all__ = ["Destination", "Intake", "IntakeStats", "ingest_paths", "parse_line", "request_line"]

logger = logging.getLogger(__name__)

#: CPU priority of the intake process: acknowledging comes before indexing
NICENESS = 10
#: bytes the pipe to the intake holds before a sender waits (Linux F_SETPIPE_SZ)
PIPE_BYTES = 1 << 20
#: at most this many restarts of a dying intake process per minute
RESTARTS_PER_MINUTE = 5


@dataclass
class IntakeStats:
    """What the intake process reported."""

    ingested: int = 0
    batches: int = 0
    restarts: int = 0
    errors: list[str] = field(default_factory=list)

    def error(self, message: str) -> None:
        """Keep the first hundred messages."""
        if len(self.errors) < 100:
            self.errors.append(message)


@dataclass(frozen=True)
class Destination:
    """Where a received instance goes besides the catalog: a project, and who sent it."""

    project: str
    actor: str


def request_line(path: str, destination: Destination | None = None) -> str:
    """The line that sends ``path`` (and its project) to the intake process."""
    if destination is None:
        return path
    return json.dumps(
        {"path": path, "project": destination.project, "actor": destination.actor},
        ensure_ascii=False,
    )


def parse_line(line: str) -> tuple[str, Destination | None]:
    """The path and project of a line made by :func:`request_line`."""
    if not line.startswith("{"):
        return line, None
    entry = json.loads(line)
    return str(entry["path"]), Destination(str(entry["project"]), str(entry["actor"]))


def ingest_paths(
    catalog: CatalogBackend,
    paths: list[str],
    destinations: dict[str, Destination] | None = None,
) -> tuple[int, str | None]:
    """Ingest stored files in one catalog transaction: (instances written, error or None).

    On a catalog error nothing is written and the files stay where they are:
    the receiver's start-up recovery ingests them later. ``destinations`` maps paths to the
    project their series then go into.
    """
    from radcurate.catalog.base import IngestBatch
    from radcurate.ingest.pipeline import finalize_dirty
    from radcurate.ingest.worker import FileTask, process_chunk

    tasks = []
    for path in dict.fromkeys(paths):
        try:
            stat = os.stat(path)
        except OSError:
            continue  # replaced or removed since: its successor comes on its own line
        tasks.append(FileTask(path, stat.st_size, stat.st_mtime_ns))
    if not tasks:
        return 0, None
    result = process_chunk(tasks)
    try:
        catalog.write_batch(IngestBatch(result.instances, result.headers, result.errors))
        finalize_dirty(catalog)
    except Exception as exc:  # the files stay; recovery ingests them later
        logger.exception("ingest batch failed")
        return 0, f"ingest batch failed (the files stay in the store): {exc}"
    error = _assign(catalog, result.instances, destinations or {})
    return len(result.instances), error


def _assign(
    catalog: CatalogBackend, instances: list[InstanceRecord], destinations: dict[str, Destination]
) -> str | None:
    """Put the series of ingested instances into the projects they were sent to."""
    series: dict[Destination, set[str]] = {}
    for record in instances:
        destination = destinations.get(record.location)
        if destination is not None:
            series.setdefault(destination, set()).add(record.series_uid)
    problems: list[str] = []
    for destination, uids in sorted(series.items(), key=lambda item: item[0].project):
        try:
            catalog.projects.assign_uids(destination.project, sorted(uids), actor=destination.actor)
        except Exception as exc:  # noqa: BLE001  # e.g. deleted since the receiver started
            logger.error("cannot put received series into project %r: %s", destination.project, exc)
            problems.append(
                f"{len(uids)} received series were ingested but not put into project "
                f"{destination.project!r}: {exc}"
            )
    return "; ".join(problems) or None


class Intake:
    """The receiver's handle on its intake process."""

    def __init__(
        self, catalog_url: str, *, batch_files: int = 500, batch_seconds: float = 1.0
    ) -> None:
        self.catalog_url = catalog_url
        self.batch_files = batch_files
        self.batch_seconds = batch_seconds
        self.stats = IntakeStats()
        self._pending: dict[str, str] = {}  # path -> line sent, not yet answered (in order)
        self._lock = threading.Condition()  # guards the fields below; notified when idle
        self._process: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None
        self._stopping = False
        self._restarts: list[float] = []

    def start(self) -> None:
        """Start the intake process."""
        with self._lock:
            self._spawn()

    def submit(self, path: str, destination: Destination | None = None) -> None:
        """Send one stored file to be ingested (and its series put into a project)."""
        text = request_line(path, destination)
        line = (text + "\n").encode("utf-8", "surrogateescape")
        with self._lock:
            self._pending[path] = text
            process = self._process
        if process is None or process.stdin is None:
            return  # between two processes: the next one is sent everything pending
        # one write of a short line: atomic on a pipe, so threads never interleave; if the
        # process died, its reader thread starts another and sends the pending paths again
        with contextlib.suppress(OSError):
            os.write(process.stdin.fileno(), line)

    @property
    def pid(self) -> int | None:
        """The intake process's id (None while none runs)."""
        process = self._process
        return process.pid if process is not None else None

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until every path sent has been answered; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while self._pending:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._lock.wait(left)
        return True

    def stop(self, timeout: float = 600.0) -> None:
        """Let the process ingest what it was sent, then end it."""
        with self._lock:
            self._stopping = True
            process = self._process
        if process is not None and process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._reader is not None:
            self._reader.join(timeout=30)
            self._reader = None
        with self._lock:
            self._process = None
        if self._pending:
            self.stats.error(
                f"{len(self._pending)} received files were not ingested; "
                "they are ingested at the next start"
            )

    # -- the process --------------------------------------------------------------------------

    def _spawn(self) -> None:
        """Start a process and send it what is pending (holding the lock)."""
        command = [
            sys.executable,
            "-m",
            "radcurate.network.intake",
            self.catalog_url,
            "--batch-files",
            str(self.batch_files),
            "--batch-seconds",
            str(self.batch_seconds),
        ]
        process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=_child_environment()
        )
        assert process.stdin is not None
        if hasattr(fcntl, "F_SETPIPE_SZ"):
            with contextlib.suppress(OSError):
                fcntl.fcntl(process.stdin.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        self._process = process
        self._reader = threading.Thread(
            target=self._read, args=(process,), name="intake-reader", daemon=True
        )
        self._reader.start()
        if self._pending:
            resend = list(self._pending.values())
            threading.Thread(
                target=self._resend, args=(process, resend), name="intake-resend", daemon=True
            ).start()

    @staticmethod
    def _resend(process: subprocess.Popen[bytes], lines: list[str]) -> None:
        assert process.stdin is not None
        with contextlib.suppress(OSError):
            for line in lines:
                os.write(process.stdin.fileno(), (line + "\n").encode("utf-8", "surrogateescape"))

    def _read(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        for raw in process.stdout:
            line = raw.decode("utf-8", "surrogateescape").rstrip("\n")
            if line.startswith("+"):
                with self._lock:
                    self._pending.pop(line[1:], None)
                    if not self._pending:
                        self._lock.notify_all()
            elif line.startswith("="):
                self.stats.ingested += int(line[1:])
                self.stats.batches += 1
            elif line.startswith("!"):
                self.stats.error(line[1:])
        code = process.wait()
        with self._lock:
            if self._stopping:
                self._lock.notify_all()
                return
            now = time.monotonic()
            self._restarts = [t for t in self._restarts if now - t < 60] + [now]
            if len(self._restarts) > RESTARTS_PER_MINUTE:
                message = (
                    f"the intake process keeps dying (exit {code}); received files are kept "
                    "and ingested at the next start"
                )
                logger.error(message)
                self.stats.error(message)
                self._process = None
                self._lock.notify_all()
                return
            logger.warning("the intake process exited with %s; starting a new one", code)
            self.stats.restarts += 1
            self._spawn()


def _child_environment() -> dict[str, str]:
    """This environment, with the folder radcurate was imported from first on the path."""
    import radcurate

    source = os.path.dirname(os.path.dirname(os.path.abspath(radcurate.__file__)))
    path = os.environ.get("PYTHONPATH", "")
    return os.environ | {"PYTHONPATH": os.pathsep.join(p for p in (source, path) if p)}


# -- the child process --------------------------------------------------------------------------


class _Reader:
    """Line batches from a pipe: up to ``batch_files`` lines or what came in ``batch_seconds``."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buffer = b""
        self.lines: list[str] = []
        self.eof = False

    def batch(self, size: int, seconds: float) -> list[str]:
        """Wait for a first line, then take lines until ``size`` or ``seconds`` after it."""
        deadline: float | None = time.monotonic() + seconds if self.lines else None
        while len(self.lines) < size and not self.eof:
            timeout = None if deadline is None else deadline - time.monotonic()
            if timeout is not None and timeout <= 0:
                break
            ready, _, _ = select.select([self.fd], [], [], timeout)
            if not ready:
                break
            chunk = os.read(self.fd, 1 << 16)
            if not chunk:
                self.eof = True
                break
            *complete, self.buffer = (self.buffer + chunk).split(b"\n")
            self.lines.extend(c.decode("utf-8", "surrogateescape") for c in complete if c)
            if self.lines and deadline is None:
                deadline = time.monotonic() + seconds
        out, self.lines = self.lines[:size], self.lines[size:]
        return out


def _requests(lines: list[str]) -> tuple[list[str], dict[str, Destination]]:
    """The paths of a batch of lines, and the projects of those sent to one."""
    paths: list[str] = []
    destinations: dict[str, Destination] = {}
    for line in lines:
        try:
            path, destination = parse_line(line)
        except (ValueError, KeyError):  # not a request made by request_line: take it as a path
            path, destination = line, None
        paths.append(path)
        if destination is not None:
            destinations[path] = destination
    return paths, destinations


def main(argv: list[str] | None = None) -> int:
    """Entry point of the intake process."""
    parser = argparse.ArgumentParser(prog="python -m radcurate.network.intake")
    parser.add_argument("catalog_url")
    parser.add_argument("--batch-files", type=int, default=500)
    parser.add_argument("--batch-seconds", type=float, default=1.0)
    args = parser.parse_args(argv)
    with contextlib.suppress(OSError, AttributeError):
        os.nice(NICENESS)
    # the receiver ends this process by closing its input, after the last batch: a Ctrl-C
    # or SIGTERM sent to the whole process group must not cut a batch short
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    from radcurate.catalog import open_catalog

    out: TextIO | None = sys.stdout
    reader = _Reader(sys.stdin.fileno())
    with open_catalog(args.catalog_url) as catalog:
        while True:
            lines = reader.batch(args.batch_files, args.batch_seconds)
            if lines:
                paths, destinations = _requests(lines)
                written, error = ingest_paths(catalog, paths, destinations)
                if error:
                    logger.error(error)
                if out is not None:
                    try:
                        out.write(f"!{error}\n" if error else "")
                        out.write("".join(f"+{p}\n" for p in paths) + f"={written}\n")
                        out.flush()
                    except BrokenPipeError:  # the receiver is gone: ingest what it sent
                        out = None
                        devnull = os.open(os.devnull, os.O_WRONLY)
                        os.dup2(devnull, sys.stdout.fileno())  # so the exit's flush is quiet
            elif reader.eof:
                return 0


if __name__ == "__main__":
    sys.exit(main())
