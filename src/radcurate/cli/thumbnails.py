"""``radcurate thumbnails``: render the gallery thumbnails of the catalog's series."""

from __future__ import annotations

import json
import os
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from radcurate.catalog import CatalogBackend
from radcurate.cli.common import catalog_option, console, err_console, open_or_exit, settings
from radcurate.jobs import run_job
from radcurate.jobs.thumbnails import THUMBNAILS, report_dict, thumbnails_job
from radcurate.optional import is_available
from radcurate.query import QueryError, parse
from radcurate.render.cache import GenerateReport, ThumbnailCache


@click.command()
@click.argument("query", required=False, default="")
@catalog_option
@click.option(
    "--series",
    "series_uids",
    metavar="UID",
    multiple=True,
    help="Only this SeriesInstanceUID (repeatable). Default: every series.",
)
@click.option("--force", is_flag=True, help="Re-render thumbnails that are already cached.")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Processes rendering (default: all cores).",
)
@click.option("--size", type=click.IntRange(min=16, max=2048), default=256, show_default=True)
@click.option(
    "--cache",
    "cache_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Thumbnail folder (default: $RADCURATE_HOME/thumbnails).",
)
@click.option(
    "--dask",
    "dask_scheduler",
    metavar="ADDRESS",
    default=None,
    help="Render on this Dask cluster (tcp://host:8786; extra 'dask'); its workers must "
    "reach the catalog and the thumbnail folder.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def thumbnails(
    query: str,
    catalog_url: str | None,
    series_uids: tuple[str, ...],
    force: bool,
    workers: int | None,
    size: int,
    cache_dir: Path | None,
    dask_scheduler: str | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Render (and cache) the thumbnails of the series matching QUERY (default: all).

    QUERY is the search language (e.g. 'Modality:CT StudyDate:2020'); --series
    picks series by UID instead.

    Thumbnails are keyed by the content of the series, so a series that gains
    instances gets a new one; cached ones are reused unless --force.
    """
    catalog = open_or_exit(catalog_url)
    cache = ThumbnailCache(cache_dir or settings().home / "thumbnails", size=size)
    processes = workers or os.cpu_count() or 1
    with catalog:
        try:
            uids = list(series_uids) or [
                str(d["SeriesInstanceUID"])
                for d in catalog.iter_search(
                    parse(query, fields=[f.name for f in catalog.fields()])
                )
            ]
        except QueryError as exc:
            err_console().print(f"[red]error:[/red] {escape(str(exc))}")
            raise SystemExit(2) from exc
        params = {"query": query or None, "force": force, "trigger": "radcurate thumbnails"}
        if dask_scheduler:
            report = _on_dask(catalog, uids, cache, dask_scheduler, force, quiet or as_json, params)
        else:
            report = run_thumbnails(
                catalog,
                uids,
                cache,
                workers=processes,
                force=force,
                quiet=quiet or as_json,
                params=params,
            )
    _print(report, cache, as_json)
    if report.failed:
        raise SystemExit(1)


def _on_dask(
    catalog: CatalogBackend,
    uids: list[str],
    cache: ThumbnailCache,
    address: str,
    force: bool,
    quiet: bool,
    params: dict[str, Any],
) -> GenerateReport:
    from radcurate.jobs.dask import DaskExecutor

    try:
        executor = DaskExecutor(catalog, address)
    except OSError as exc:  # no scheduler there
        err_console().print(f"[red]error:[/red] cannot reach Dask at {escape(address)}: {exc}")
        raise SystemExit(2) from exc
    try:
        return run_thumbnails(
            catalog,
            uids,
            cache,
            workers=executor.cluster_workers,
            force=force,
            quiet=quiet,
            params={**params, "dask": address},
            pool=executor.work_pool,
        )
    finally:
        executor.shutdown()


def run_thumbnails(
    catalog: CatalogBackend,
    uids: list[str],
    cache: ThumbnailCache,
    *,
    workers: int,
    force: bool = False,
    quiet: bool = False,
    params: dict[str, Any] | None = None,
    pool: Executor | None = None,
) -> GenerateReport:
    """Render thumbnails as a ``thumbnails`` job (seen by ``radcurate jobs`` and
    ``/api/jobs``), with a progress bar on stderr unless ``quiet``.

    Raises
    ------
    SystemExit
        When the job fails (exit code 1, the reason on stderr).
    """
    holder: list[GenerateReport] = []

    def keep(report: GenerateReport) -> None:
        holder.append(report)

    if quiet:
        record = run_job(
            catalog,
            THUMBNAILS,
            thumbnails_job(
                cache, series_uids=uids, workers=workers, force=force, on_report=keep, pool=pool
            ),
            params,
        )
    else:
        columns = (
            TextColumn("thumbnails"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=err_console()) as bar:
            task = bar.add_task("render", total=len(uids))

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            record = run_job(
                catalog,
                THUMBNAILS,
                thumbnails_job(
                    cache,
                    series_uids=uids,
                    workers=workers,
                    force=force,
                    on_progress=progress,
                    on_report=keep,
                    pool=pool,
                ),
                params,
            )
    if record.state == "failed" or not holder:
        err_console().print(f"[red]error:[/red] thumbnails failed: {escape(record.error or '')}")
        raise SystemExit(1)
    return holder[0]


def _print(report: GenerateReport, cache: ThumbnailCache, as_json: bool) -> None:
    counts = {
        "generated": report.generated,
        "cached": report.cached,
        "undecodable": report.undecodable,
        "failed": report.failed,
        "cache": str(cache.root),
        "undecodable_series": report.undecodable_series,
        "errors": report.errors,
    }
    if as_json:
        click.echo(json.dumps(counts, indent=2))
        return
    out = console()
    out.print(
        f"{report.generated} rendered, {report.cached} already cached, "
        f"{report.undecodable} undecodable, {report.failed} failed -> {cache.root}"
    )
    for uid in report.undecodable_series:
        out.print(f"[yellow]undecodable[/yellow] {uid}")
    for uid, message in report.errors.items():
        out.print(f"[red]failed[/red] {uid}: {escape(message)}")


def thumbnails_after_ingest(
    catalog: CatalogBackend, *, workers: int | None, quiet: bool
) -> dict[str, Any] | None:
    """The ``radcurate ingest`` hook: render the thumbnails the catalog's series lack.

    Returns the counts, or None when rendering is not installed (a note says so).
    """
    missing = [name for name in ("PIL", "numpy") if not is_available(name)]
    if missing:
        if not quiet:
            err_console().print(
                "note: thumbnails skipped (rendering needs pip install 'radcurate[render]')",
                markup=False,
            )
        return None
    cache = ThumbnailCache(settings().home / "thumbnails")
    uids = [str(d["SeriesInstanceUID"]) for d in catalog.iter_series_documents()]
    report = run_thumbnails(
        catalog,
        uids,
        cache,
        workers=workers or os.cpu_count() or 1,
        quiet=quiet,
        params={"query": None, "force": False, "trigger": "radcurate ingest"},
    )
    if not quiet:
        console().print(
            f"Thumbnails: {report.generated} rendered, {report.cached} already cached, "
            f"{report.undecodable} undecodable, {report.failed} failed -> {cache.root}"
        )
    return report_dict(report)
