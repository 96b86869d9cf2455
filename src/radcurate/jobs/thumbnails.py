"""The ``thumbnails`` job: render the missing (or all) thumbnails of the series matching a query."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from radcurate.catalog import CatalogBackend
from radcurate.jobs.context import JobContext, JobFunction
from radcurate.query import parse
from radcurate.render.cache import GenerateReport, ThumbnailCache, generate_all

__all__ = ["THUMBNAILS", "report_dict", "series_for_query", "thumbnails_job"]

#: the job kind
THUMBNAILS = "thumbnails"


def series_for_query(catalog: CatalogBackend, query: str | None) -> list[str]:
    """SeriesInstanceUIDs matching ``query`` (every series when empty), in UID order.

    Raises
    ------
    QueryError
        A query that does not parse.
    """
    if not query or not query.strip():
        return [str(d["SeriesInstanceUID"]) for d in catalog.iter_series_documents()]
    node = parse(query, fields=[f.name for f in catalog.fields()])
    return [str(d["SeriesInstanceUID"]) for d in catalog.iter_search(node)]


def report_dict(report: GenerateReport) -> dict[str, Any]:
    """The JSON result of a thumbnails job."""
    return {
        "generated": report.generated,
        "cached": report.cached,
        "undecodable": report.undecodable,
        "failed": report.failed,
        "undecodable_series": report.undecodable_series[:100],
        "errors": dict(list(report.errors.items())[:100]),
    }


def thumbnails_job(
    cache: ThumbnailCache,
    *,
    query: str | None = None,
    series_uids: list[str] | None = None,
    workers: int = 1,
    force: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
    on_report: Callable[[GenerateReport], None] | None = None,
    pool: Executor | None = None,
) -> JobFunction:
    """A job function rendering the thumbnails of ``series_uids`` (else those matching
    ``query``, else every series) into ``cache``; cached ones are kept unless ``force``.

    ``workers`` > 1 renders in that many processes; 1 renders in the job's thread.
    ``on_progress(done, total)`` is also called after each chunk (a progress bar) and
    ``on_report`` gets the full :class:`GenerateReport` at the end. ``pool`` renders on
    that executor instead (see :class:`~radcurate.jobs.dask.DaskExecutor`).
    """

    def run(context: JobContext) -> dict[str, Any]:
        catalog = context.catalog
        uids = series_uids if series_uids is not None else series_for_query(catalog, query)
        context.progress(0, len(uids), f"{len(uids)} series to check")
        context.flush()

        def progress(done: int, total: int) -> None:
            context.progress(done, total, f"{done} of {total} series")
            if on_progress is not None:
                on_progress(done, total)

        report = generate_all(
            catalog,
            uids,
            cache=cache,
            workers=workers,
            force=force,
            progress=progress,
            should_stop=context.stop_requested,
            pool=pool,
        )
        result = report_dict(report)
        if on_report is not None:
            on_report(report)
        context.progress(
            report.total,
            len(uids),
            f"{report.generated} rendered, {report.cached} already cached, "
            f"{report.undecodable} undecodable, {report.failed} failed",
        )
        return result

    return run
