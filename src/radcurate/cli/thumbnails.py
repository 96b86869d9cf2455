"""``radcurate thumbnails``: render the gallery thumbnails of the catalog's series."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from radcurate.cli.common import catalog_option, console, err_console, open_or_exit, settings
from radcurate.query import QueryError, parse
from radcurate.render.cache import GenerateReport, ThumbnailCache, generate_all


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
        if quiet or as_json:
            report = generate_all(catalog, uids, cache=cache, workers=processes, force=force)
        else:
            columns = (
                TextColumn("thumbnails"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
            )
            with Progress(*columns, console=console()) as bar:
                task = bar.add_task("render", total=len(uids))
                report = generate_all(
                    catalog,
                    uids,
                    cache=cache,
                    workers=processes,
                    force=force,
                    progress=lambda done, total: bar.update(task, completed=done, total=total),
                )
    _print(report, cache, as_json)
    if report.failed:
        raise SystemExit(1)


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
