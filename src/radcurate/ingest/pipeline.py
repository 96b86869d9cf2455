"""The ingest pipeline: scan -> skip known files -> parse in parallel -> batched writes -> finalize.

Crash safety: each batch is one catalog transaction that also marks its
series dirty; series facts are recomputed from instance rows at the end.
A run killed at any point leaves whole batches only, and the next run
re-reads just the files not yet committed and finalizes every dirty series.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from radcurate.catalog.base import CatalogBackend, FileError, IngestBatch
from radcurate.catalog.result_types import ResultRow
from radcurate.dicom.qc_header import HEADER_QC_PRODUCER, HEADER_QC_VERSION
from radcurate.dicom.qc_header import header_qc as compute_header_qc
from radcurate.ingest.scan import STORE_BOOKKEEPING, UNLISTABLE, scan
from radcurate.ingest.worker import ChunkResult, FileTask, process_chunk
from radcurate.ingest.workerpool import DEFAULT_FILE_TIME_LIMIT_S, WorkerPool
from radcurate.workflow.step import instances_hash

#: files per worker task: big enough to amortise pickling, small enough to balance
CHUNK_FILES = 256
#: files per catalog transaction
BATCH_FILES = 2000
#: longest time results wait before they are written
BATCH_SECONDS = 2.0


@dataclass
class IngestProgress:
    """A snapshot for progress displays."""

    discovered: int = 0
    done: int = 0
    skipped_unchanged: int = 0
    scanning: bool = True
    started: float = field(default_factory=time.monotonic)

    @property
    def rate(self) -> float:
        """Files processed per second so far."""
        elapsed = time.monotonic() - self.started
        return self.done / elapsed if elapsed > 0 else 0.0


@dataclass
class IngestSummary:
    """What an ingest run did."""

    files_seen: int = 0
    unchanged: int = 0
    new_instances: int = 0
    changed_instances: int = 0
    new_series: int = 0
    errors: int = 0
    finalized_series: int = 0
    #: files the catalog held in the walked folders that are gone from disk (forgotten now)
    removed_files: int = 0
    seconds: float = 0.0
    error_samples: list[FileError] = field(default_factory=list)
    #: the series this run wrote instances of (new or changed files; ``ingest --project``)
    series_uids: set[str] = field(default_factory=set)

    @property
    def changed_anything(self) -> bool:
        """False when the run found nothing new (a repeat run)."""
        return bool(
            self.new_instances
            or self.changed_instances
            or self.errors
            or self.finalized_series
            or self.removed_files
        )

    @property
    def files_per_second(self) -> float:
        """Files read and written per second (unchanged files excluded)."""
        handled = self.new_instances + self.changed_instances + self.errors
        return handled / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "files_seen": self.files_seen,
            "unchanged": self.unchanged,
            "new_instances": self.new_instances,
            "changed_instances": self.changed_instances,
            "new_series": self.new_series,
            "errors": self.errors,
            "finalized_series": self.finalized_series,
            "removed_files": self.removed_files,
            "seconds": round(self.seconds, 3),
            "files_per_second": round(self.files_per_second, 1),
            "changed_anything": self.changed_anything,
        }


def _tasks(
    paths: Iterable[str | os.PathLike[str]],
    catalog: CatalogBackend,
    progress: IngestProgress,
    gone: list[str] | None = None,
) -> Iterator[FileTask | FileError]:
    """New or changed files (and missing paths as errors), folder by folder.

    ``gone`` receives the files the catalog holds in the walked folders that are no longer
    on disk (a folder that cannot be listed is never taken as emptied).
    """
    roots = [os.path.abspath(os.fspath(p)) for p in paths]
    listed: set[str] = set()
    unlistable: list[str] = []
    for folder in scan(roots):
        for missing, reason in folder.missing:
            progress.discovered += 1
            if reason.startswith(UNLISTABLE):
                unlistable.append(missing)
            yield FileError(_printable(missing), 0, 0, reason)
        if not folder.files:
            continue
        folder_ok = _storable(folder.path)
        known = catalog.known_files(folder.path if folder_ok else _printable(folder.path))
        if folder.complete and gone is not None:
            listed.add(folder.path)
            present = {_printable(f) for f in folder.files} | set(folder.files)
            gone.extend(sorted(s for s in known if s not in present))
        for path in folder.files:
            progress.discovered += 1
            try:
                stat = os.stat(path)
            except OSError as exc:
                yield FileError(_printable(path), 0, 0, f"cannot stat file: {exc.strerror}")
                continue
            if not _storable(path):
                seen = known.get(_printable(path))
                if seen is not None and (seen.size, seen.mtime_ns) == (
                    stat.st_size,
                    stat.st_mtime_ns,
                ):
                    progress.skipped_unchanged += 1
                else:
                    yield FileError(_printable(path), stat.st_size, stat.st_mtime_ns, _BAD_NAME)
                continue
            seen = known.get(path)
            if seen is not None and seen.size == stat.st_size and seen.mtime_ns == stat.st_mtime_ns:
                progress.skipped_unchanged += 1
                continue
            yield FileTask(path, stat.st_size, stat.st_mtime_ns)
    if gone is not None:
        gone.extend(_emptied_folders(catalog, roots, listed, unlistable))
    progress.scanning = False


def _emptied_folders(
    catalog: CatalogBackend, roots: list[str], listed: set[str], unlistable: list[str]
) -> list[str]:
    """Known files of folders below the walked roots that the walk found empty or missing."""
    out: list[str] = []
    for root in roots:
        if not os.path.isdir(root):
            continue
        for folder in catalog.known_folders(root):
            if folder in listed or any(
                folder == u or folder.startswith(u.rstrip(os.sep) + os.sep) for u in unlistable
            ):
                continue
            if any(part in STORE_BOOKKEEPING for part in folder[len(root) :].split(os.sep)):
                continue
            out.extend(sorted(catalog.known_files(folder)))
    return out


_BAD_NAME = "file name is not valid UTF-8 (shown escaped); rename it to ingest it"


def _storable(path: str) -> bool:
    """True when a path can be stored as text (os.walk gives undecodable bytes as surrogates)."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _printable(path: str) -> str:
    """A path with undecodable bytes escaped, e.g. ``caf\\xe9.dcm``."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _chunks(
    tasks: Iterator[FileTask | FileError], size: int
) -> Iterator[tuple[list[FileTask], list[FileError]]]:
    files: list[FileTask] = []
    errors: list[FileError] = []
    for task in tasks:
        if isinstance(task, FileError):
            errors.append(task)
        else:
            files.append(task)
        if len(files) + len(errors) >= size:
            yield files, errors
            files, errors = [], []
    if files or errors:
        yield files, errors


def ingest(
    paths: Iterable[str | os.PathLike[str]],
    catalog: CatalogBackend,
    *,
    store_url: str | None = None,
    workers: int | None = None,
    on_progress: Callable[[IngestProgress], None] | None = None,
    batch_files: int = BATCH_FILES,
    header_qc: bool = True,
    file_time_limit: float | None = DEFAULT_FILE_TIME_LIMIT_S,
) -> IngestSummary:
    """Ingest files and folders into ``catalog``.

    Parameters
    ----------
    paths
        Files, folders (walked recursively) or DICOMDIR files.
    store_url
        ``None`` references files in place; ``file:///store`` copies them there.
    workers
        Processes that read headers (default: every core; 1 reads in this process).
    on_progress
        Called with an :class:`IngestProgress` after each chunk.
    batch_files
        Files per catalog transaction (smaller: more frequent commits).
    header_qc
        Compute the header QC (``qc.geometry.*``, ``qc.header.*``, docs/qc-header.md) of
        every series finalized, as the ``qc-header`` workflow would.
    file_time_limit
        Seconds one file may take in a worker process; past it the worker is killed and
        replaced, and the file recorded as an error (``ingest/workerpool.py``). None or 0:
        no limit. With ``workers=1`` files are read in this process and the limit does not
        apply (the header limits of ``dicom/reading.py`` do).

    Examples
    --------
    >>> from radcurate.catalog import open_catalog
    >>> cat = open_catalog("sqlite:///:memory:")
    >>> ingest(["/nonexistent"], cat).errors
    1
    """
    started = time.monotonic()
    workers = workers or os.cpu_count() or 1
    summary = IngestSummary()
    progress = IngestProgress()
    batch = IngestBatch()
    derived: dict[str, set[str]] = {}
    last_write = time.monotonic()

    def absorb(result: ChunkResult, extra_errors: list[FileError]) -> None:
        nonlocal batch, last_write
        batch.instances.extend(result.instances)
        batch.headers.extend(result.headers)
        batch.errors.extend(result.errors)
        batch.errors.extend(extra_errors)
        for uid, keywords in result.derived_uids.items():
            derived.setdefault(uid, set()).update(keywords)
        progress.done += result.files + len(extra_errors)
        if len(batch) >= batch_files or time.monotonic() - last_write > BATCH_SECONDS:
            flush()
        if on_progress is not None:
            on_progress(progress)

    def flush() -> None:
        nonlocal batch, last_write
        if len(batch) or batch.headers:
            outcome = catalog.write_batch(batch)
            summary.new_instances += outcome.new_instances
            summary.changed_instances += outcome.changed_instances
            summary.new_series += outcome.new_series
            summary.series_uids.update(i.series_uid for i in batch.instances)
            summary.errors += len(batch.errors)
            room = 20 - len(summary.error_samples)
            summary.error_samples.extend(batch.errors[: max(room, 0)])
        if derived:
            record_derived_uids(catalog, derived)
            derived.clear()
        batch = IngestBatch()
        last_write = time.monotonic()

    gone: list[str] = []
    chunks = _chunks(_tasks(paths, catalog, progress, gone), min(CHUNK_FILES, batch_files))
    if workers <= 1:
        for files, errors in chunks:
            absorb(process_chunk(files, store_url), errors)
    else:
        tick = (BATCH_SECONDS, lambda: absorb(ChunkResult(), []))  # commit while one is slow
        with WorkerPool(workers, store_url, file_time_limit, tick) as pool:
            pool.run(chunks, absorb)
    flush()
    if gone:  # files the catalog held in the walked folders that are no longer on disk
        summary.removed_files = catalog.forget_files(gone)
    summary.finalized_series = finalize_dirty(catalog, header_qc=header_qc)
    summary.files_seen = progress.discovered
    summary.unchanged = progress.skipped_unchanged
    summary.seconds = time.monotonic() - started
    if on_progress is not None:
        progress.scanning = False
        on_progress(progress)
    return summary


#: the producer of the results ingest itself writes (``qc.uids_derived``)
INGEST_PRODUCER = "ingest"


def record_derived_uids(catalog: CatalogBackend, derived: dict[str, set[str]]) -> None:
    """``qc.uids_derived`` (and which attributes) on series whose UIDs ingest supplied.

    Written right after the batch holding the series; the same values again change nothing.
    """
    rows = [
        ResultRow(
            uid,
            {"qc": {"uids_derived": True, "uids_derived_attributes": sorted(keywords)}},
        )
        for uid, keywords in sorted(derived.items())
    ]
    catalog.result_store.write_results(rows, producer=INGEST_PRODUCER, version="1")


def finalize_dirty(catalog: CatalogBackend, page: int = 200, *, header_qc: bool = True) -> int:
    """Recompute facts of every dirty series (also those left by an interrupted run).

    With ``header_qc`` each page of finalized series then gets its header QC
    (``qc.geometry.*``, ``qc.header.*``; :func:`write_header_qc`).
    """
    total = 0
    while True:
        uids = catalog.dirty_series(page)
        if not uids:
            return total
        total += catalog.finalize_series(uids)
        if header_qc:
            write_header_qc(catalog, uids)


def write_header_qc(catalog: CatalogBackend, series_uids: Sequence[str]) -> int:
    """Compute and store the header QC of series, as the ``qc-header`` workflow would.

    The results carry the workflow's producer, version, (empty) parameters and input
    hash, so a later ``radcurate run qc-header`` skips these series while they are
    unchanged. A series whose QC cannot be computed is left without results (the
    workflow reports the reason when run); the others are written. Returns the number
    of series written or confirmed unchanged.
    """
    rows: list[ResultRow] = []
    for uid in series_uids:
        records = catalog.instances(uid)
        document = catalog.series_document(uid) if records else None
        if document is None:
            continue  # the series is gone (its last instance was removed)
        try:
            values = compute_header_qc(records, document)
        except Exception:  # noqa: BLE001  # one odd series never stops ingest
            continue
        rows.append(ResultRow(uid, values, instances_hash(records)))
    if not rows:
        return 0
    summary = catalog.result_store.write_results(
        rows, producer=HEADER_QC_PRODUCER, version=HEADER_QC_VERSION, params={}
    )
    return summary.written + summary.unchanged
