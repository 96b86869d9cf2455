"""Running a workflow as a job: series in chunks, on this thread, a process pool or Dask.

The driver (the job's thread) resolves the selection, hands chunks of series UIDs to
workers and writes each finished chunk's results in one transaction (producer: the
workflow's name; its version, parameter hash, the job id and each series' input hash
as provenance) and its per-series errors. A worker opens the catalog by URL, skips a
series whose stored result set has the same version, parameters and input hash
(unless forced), and otherwise runs the step. So a re-run — also after ``kill -9`` —
does only what is unfinished, and a series that fails is recorded while the rest go on.
"""

from __future__ import annotations

import json
import multiprocessing
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures import Executor as FuturesExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from radcurate.catalog import CatalogBackend, open_catalog
from radcurate.catalog.result_types import ResultRow, check_values, params_hash
from radcurate.jobs.context import JobContext, JobFunction
from radcurate.settings import Settings
from radcurate.workflow.registry import default_registry
from radcurate.workflow.selection import WorkflowSelection
from radcurate.workflow.step import SeriesItem, Workflow

__all__ = ["ChunkOutcome", "WorkflowReport", "process_chunk", "workflow_job"]

#: the job kind of every workflow run (the workflow's name is in the job's params)
WORKFLOW_KIND = "workflow"


@dataclass
class ChunkOutcome:
    """What a worker did with a chunk of series."""

    #: ``(series_uid, payload, input_hash, producer)`` of the series processed now
    results: list[tuple[str, dict[str, Any], str | None, str]] = field(default_factory=list)
    #: ``(series_uid, "Type: message")`` of the series that failed
    errors: list[tuple[str, str]] = field(default_factory=list)
    #: series skipped as unchanged
    skipped: int = 0
    #: a forced run: identical results are written again, so their provenance names this run
    forced: bool = False


@dataclass
class WorkflowReport:
    """What a run did (the job's result)."""

    workflow: str
    total: int = 0
    processed: int = 0
    skipped: int = 0
    failed: int = 0
    written: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The JSON result of the job."""
        return {
            "workflow": self.workflow,
            "total": self.total,
            "processed": self.processed,
            "skipped": self.skipped,
            "failed": self.failed,
            "written": self.written,
        }

    def summary(self) -> str:
        """One line for progress messages."""
        return (
            f"{self.processed + self.skipped + self.failed} of {self.total} series: "
            f"{self.processed} processed, {self.skipped} unchanged, {self.failed} failed"
        )


_WORKER_CATALOGS: dict[str, CatalogBackend] = {}
_WORKER_LOCK = threading.Lock()


def _worker_catalog(url: str) -> CatalogBackend:
    """One catalog per URL per worker process (connections are per thread inside it)."""
    with _WORKER_LOCK:
        catalog = _WORKER_CATALOGS.get(url)
        if catalog is None:
            catalog = _WORKER_CATALOGS[url] = open_catalog(url)
        return catalog


def process_chunk(
    catalog_url: str,
    workflow: str | Workflow,
    params: dict[str, Any],
    series_uids: list[str],
    force: bool = False,
    home: str | None = None,
    catalog: CatalogBackend | None = None,
) -> ChunkOutcome:
    """Run a workflow on a chunk of series (in any process: picklable arguments).

    ``workflow`` is a registered name (looked up in this process's registry) or, in
    this process, the object itself; ``catalog`` reuses an open catalog (this process).
    """
    step = default_registry().get(workflow) if isinstance(workflow, str) else workflow
    catalog = catalog or _worker_catalog(catalog_url)
    settings = Settings.from_env() if home is None else Settings(home=Path(home))
    # a composite runs its steps with their own defaults; a plain workflow is its one step
    steps = [default_registry().get(n) for n in step.steps] or [step]
    plans = []
    for sub in steps:
        parsed = sub.parse_params(params if sub is step else {})
        phash = params_hash(parsed.model_dump(mode="json"))
        stored = {} if force else catalog.result_store.stored_inputs(series_uids, sub.name)
        plans.append((sub, parsed, phash, stored))
    outcome = ChunkOutcome(forced=force)
    for uid in series_uids:
        item = SeriesItem(catalog, uid, settings)
        failed: list[str] = []
        for sub, parsed, phash, stored in plans:
            try:
                if step.steps and not sub.applies(item):
                    continue
                input_hash = sub.input_hash(item)
                before = stored.get(uid)
                if (
                    before is not None
                    and before.version == sub.version
                    and before.params_hash == phash
                    and before.input_hash == input_hash
                ):
                    outcome.skipped += 1 if len(plans) == 1 else 0
                    continue
                values = check_values(sub.process(item, parsed))
                # what the store would refuse for the whole chunk fails this series only
                json.dumps(values, allow_nan=False)
                outcome.results.append((uid, values, input_hash, sub.name))
            except Exception as exc:  # noqa: BLE001 - one series' failure is recorded, not fatal
                prefix = f"{sub.name}: " if step.steps else ""
                failed.append(f"{prefix}{type(exc).__name__}: {exc}")
        if failed:
            outcome.errors.append((uid, "; ".join(failed)))
        elif len(plans) > 1 and not any(r[0] == uid for r in outcome.results):
            outcome.skipped += 1  # a composite with nothing new to write on this series
    return outcome


def _chunks(uids: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(uids), size):
        yield uids[start : start + size]


def workflow_job(
    workflow: Workflow,
    selection: WorkflowSelection,
    params: dict[str, Any] | None = None,
    *,
    force: bool = False,
    workers: int = 1,
    pool: FuturesExecutor | None = None,
    chunk_size: int = 8,
    home: str | None = None,
    on_progress: Callable[[WorkflowReport], None] | None = None,
) -> JobFunction:
    """A job function running ``workflow`` over ``selection``.

    Parameters
    ----------
    params
        Raw parameters (validated here, before the job starts: ``WorkflowParamsError``).
    force
        Process every series, also those whose results are up to date.
    workers
        Processes on this machine (1: the job's own thread).
    pool
        Run chunks on this executor instead (a Dask client's ``get_executor()``; its
        workers open the catalog by URL, so it must be reachable from them).
    home
        ``RADCURATE_HOME`` for the workers (thumbnail cache, models); default theirs.
    """
    parsed = workflow.parse_params(params)
    clean = parsed.model_dump(mode="json")

    def run(context: JobContext) -> dict[str, Any]:
        catalog = context.catalog
        uids = selection.resolve(catalog)
        report = WorkflowReport(workflow.name, total=len(uids))
        context.progress(0, len(uids), f"{len(uids)} series to run {workflow.name} on")
        context.flush()
        _phase(context, workflow, clean, uids, report)
        result = report.to_dict()
        # population steps (e.g. qc-outliers) once every series of the selection is done
        for name in workflow.then:
            if context.stop_requested():
                break
            step = default_registry().get(name)
            after = WorkflowReport(name, total=len(uids))
            context.progress(0, len(uids), f"then {name} on {len(uids)} series")
            _phase(context, step, step.parse_params({}).model_dump(mode="json"), uids, after)
            result.setdefault("then", []).append(after.to_dict())
        return result

    def _phase(
        context: JobContext,
        step: Workflow,
        step_params: dict[str, Any],
        uids: list[str],
        report: WorkflowReport,
    ) -> None:
        catalog = context.catalog
        local_pool: ProcessPoolExecutor | None = None
        executor = pool
        if executor is None and workers > 1 and len(uids) > chunk_size:
            # spawned, not forked: the job runs beside other threads (a server's, Dask's),
            # and a fork copies their held locks into the child (hangs seen in CI)
            executor = local_pool = ProcessPoolExecutor(
                max_workers=workers, mp_context=multiprocessing.get_context("spawn")
            )
        try:
            if executor is None:
                for chunk in _chunks(uids, chunk_size):
                    if context.stop_requested():
                        break
                    outcome = process_chunk(
                        catalog.url, step, step_params, chunk, force, home, catalog
                    )
                    _absorb(catalog, context, step, step_params, report, outcome, on_progress)
            else:
                in_flight = max(2, 2 * (workers if pool is None else _pool_width(pool)))
                # a local pool gets the step itself (also one registered in-process);
                # Dask workers look it up by name in their own environment
                sent: Workflow | str = step if local_pool is not None else step.name
                _drive(
                    executor, catalog, context, step, sent, step_params, uids, force, home,
                    chunk_size, in_flight, report, on_progress,
                )  # fmt: skip
        finally:
            if local_pool is not None:
                local_pool.shutdown(wait=True, cancel_futures=True)
        context.progress(
            report.processed + report.skipped + report.failed, report.total, report.summary()
        )

    return run


def _pool_width(pool: FuturesExecutor) -> int:
    client = getattr(pool, "_client", None)
    if client is None:
        return 2
    try:
        workers = client.scheduler_info()["workers"].values()
        return max(1, sum(int(w.get("nthreads", 1)) for w in workers))
    except Exception:  # noqa: BLE001 - a width guess only
        return 2


def _drive(
    executor: FuturesExecutor,
    catalog: CatalogBackend,
    context: JobContext,
    workflow: Workflow,
    sent: Workflow | str,
    params: dict[str, Any],
    uids: list[str],
    force: bool,
    home: str | None,
    chunk_size: int,
    in_flight: int,
    report: WorkflowReport,
    on_progress: Callable[[WorkflowReport], None] | None,
) -> None:
    """Keep ``in_flight`` chunks running; write each as it finishes; stop submitting on cancel."""
    pending: set[Future[ChunkOutcome]] = set()
    chunks = _chunks(uids, chunk_size)
    exhausted = False
    while True:
        while not exhausted and len(pending) < in_flight and not context.stop_requested():
            chunk = next(chunks, None)
            if chunk is None:
                exhausted = True
                break
            pending.add(
                executor.submit(
                    process_chunk, catalog.url, sent, params, chunk, force, home
                )
            )
        if not pending:
            return
        done, pending = wait(pending, return_when=FIRST_COMPLETED)
        for future in done:
            _absorb(catalog, context, workflow, params, report, future.result(), on_progress)


def _absorb(
    catalog: CatalogBackend,
    context: JobContext,
    workflow: Workflow,
    params: dict[str, Any],
    report: WorkflowReport,
    outcome: ChunkOutcome,
    on_progress: Callable[[WorkflowReport], None] | None,
) -> None:
    """Write a finished chunk's results (one transaction) and errors; report progress."""
    by_producer: dict[str, list[ResultRow]] = {}
    for uid, payload, input_hash, producer in outcome.results:
        by_producer.setdefault(producer, []).append(ResultRow(uid, payload, input_hash))
    gone: set[str] = set()
    for producer, rows in by_producer.items():
        step = workflow if producer == workflow.name else default_registry().get(producer)
        summary = catalog.result_store.write_results(
            rows,
            producer=producer,
            version=step.version,
            params=params if step is workflow else step.parse_params({}).model_dump(mode="json"),
            job=context.id,
            rewrite=outcome.forced,
        )
        report.written += summary.written
        gone |= set(summary.unknown_series)
    if gone:  # deleted while it ran
        outcome.errors += [(u, "LookupError: series left the catalog") for u in sorted(gone)]
    catalog.record_job_errors(context.id, outcome.errors)
    processed = {uid for uid, *_ in outcome.results}
    report.processed += len(processed - gone - {uid for uid, _ in outcome.errors})
    report.skipped += outcome.skipped
    report.failed += len(outcome.errors)
    context.progress(
        report.processed + report.skipped + report.failed, report.total, report.summary()
    )
    if on_progress is not None:
        on_progress(report)
