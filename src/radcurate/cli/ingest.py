"""``radcurate ingest``: index DICOM files and folders into the catalog."""

from __future__ import annotations

import json
import sys

import click
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from radcurate.catalog import CatalogBackend
from radcurate.catalog.curation_types import CurationNotFoundError, actor_name
from radcurate.cli.common import catalog_option, console, err_console, open_or_exit, settings
from radcurate.cli.curation_common import ACTOR_OPTION
from radcurate.ingest import ingest as run_ingest
from radcurate.ingest.pipeline import BATCH_FILES, IngestProgress, IngestSummary
from radcurate.ingest.workerpool import DEFAULT_FILE_TIME_LIMIT_S


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=str))
@catalog_option
@click.option(
    "--store",
    "store_url",
    metavar="URL",
    default=None,
    help="Where --copy puts files (file:///path). "
    "Default: $RADCURATE_STORE, else ~/.radcurate/store.",
)
@click.option(
    "--in-place/--copy",
    "in_place",
    default=True,
    show_default=True,
    help="Reference files where they are, or copy them into the store.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Processes reading headers (default: all cores).",
)
@click.option(
    "--query",
    "pull_query",
    metavar="KEY=VALUE",
    multiple=True,
    help="For a dicomweb+http:// source: QIDO-RS study filter (repeatable).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.option(
    "--thumbnails/--no-thumbnails",
    default=True,
    show_default=True,
    help="Then render the thumbnails the catalog lacks (in parallel, cached on disk).",
)
@click.option(
    "--annotate",
    is_flag=True,
    help="Then run the 'annotate' workflow (every built-in annotator that applies) on the "
    "series that are new, changed or not annotated yet (docs/annotation.md).",
)
@click.option(
    "--header-qc/--no-header-qc",
    default=True,
    show_default=True,
    help="Check each new or changed series' geometry and header integrity from its headers "
    "(qc.geometry.*, qc.header.*: the 'qc-header' workflow; docs/qc-header.md).",
)
@click.option(
    "--project",
    metavar="NAME",
    default=None,
    help="Put every series this run ingests (new or changed files) into project NAME "
    "(made with `radcurate project create NAME`); series of files already in the catalog "
    "and unchanged are not: add those with `radcurate project add NAME QUERY`.",
)
@click.option(
    "--file-time-limit",
    type=click.FloatRange(min=0),
    default=DEFAULT_FILE_TIME_LIMIT_S,
    show_default=True,
    envvar="RADCURATE_FILE_TIME_LIMIT",
    help="Seconds one file may take in a worker process before the worker is killed and "
    "replaced and the file recorded in `radcurate errors` (0: no limit; with --workers 1 "
    "files are read in this process and only the header limits apply; env "
    "RADCURATE_FILE_TIME_LIMIT).",
)
@ACTOR_OPTION
@click.option("--batch-files", type=click.IntRange(min=1), default=BATCH_FILES, hidden=True)
def ingest(
    paths: tuple[str, ...],
    catalog_url: str | None,
    store_url: str | None,
    in_place: bool,
    workers: int | None,
    pull_query: tuple[str, ...],
    as_json: bool,
    quiet: bool,
    thumbnails: bool,
    annotate: bool,
    header_qc: bool,
    project: str | None,
    file_time_limit: float,
    actor: str | None,
    batch_files: int,
) -> None:
    """Index DICOM files, folders (recursively) or DICOMDIRs.

    Headers are read without pixel data on every core; unchanged files are
    skipped, so running the same command twice changes nothing. Files that
    cannot be read are listed by `radcurate errors`. With --project NAME the
    series the run ingests also go into that project (one audit entry per run).
    """
    if any(p.lower().startswith("dicomweb+") for p in paths):  # a PACS, not files
        if project is not None:
            click.echo(
                "error: --project works with files and folders; after pulling from a PACS, "
                "add the series with `radcurate project add NAME QUERY`",
                err=True,
            )
            sys.exit(2)
        from radcurate.cli.pull import pull

        return pull(paths, catalog_url, pull_query, as_json)
    catalog = open_or_exit(catalog_url)
    store = None if in_place else (store_url or settings().store_url)
    with catalog:
        if project is not None:  # an unknown project: refused before anything is ingested
            project = _project_or_exit(catalog, project)
        if quiet or as_json:
            summary = run_ingest(
                paths,
                catalog,
                store_url=store,
                workers=workers,
                batch_files=batch_files,
                header_qc=header_qc,
                file_time_limit=file_time_limit,
            )
        else:
            summary = _with_progress(
                paths, catalog, store, workers, batch_files, header_qc, file_time_limit
            )
        assigned = None
        if project is not None:
            result = catalog.projects.assign_uids(
                project, sorted(summary.series_uids), actor=actor_name(actor)
            )
            assigned = {
                "name": project,
                "series": result.series_count,
                "added": result.changed,
            }
        info = catalog.info()
        if not as_json:
            _print_summary(summary, info.to_dict())
            if assigned is not None:
                console().print(
                    f"Project {escape(project or '')}: {assigned['added']} series added "
                    f"({assigned['series']} ingested by this run).",
                )
        thumbs = _thumbnails(catalog, workers, quiet or as_json) if thumbnails else None
        annotated = None
        if annotate:
            from radcurate.cli.workflows import annotate_after_ingest

            annotated = annotate_after_ingest(catalog, workers=workers, quiet=quiet or as_json)
    if as_json:
        out = {
            "run": summary.to_dict(),
            "catalog": info.to_dict(),
            "thumbnails": thumbs,
            "annotation": annotated,
            "project": assigned,
        }
        click.echo(json.dumps(out, indent=2))


def _project_or_exit(catalog: CatalogBackend, name: str) -> str:
    """The project's name as stored; exit 2 before anything is ingested when unknown."""
    try:
        return catalog.projects.get(name).name
    except CurationNotFoundError:
        click.echo(
            f"error: there is no project {name!r}: make it first with "
            f"`radcurate project create {name}` (list them with `radcurate project list`)",
            err=True,
        )
        sys.exit(2)


def _thumbnails(catalog: CatalogBackend, workers: int | None, quiet: bool) -> object:
    """Render the thumbnails the catalog lacks (as a job; see ``radcurate jobs``)."""
    try:
        from radcurate.cli.thumbnails import thumbnails_after_ingest
    except ImportError as exc:  # the render extra is not installed
        err_console().print(f"note: thumbnails skipped ({exc})", markup=False)
        return None
    return thumbnails_after_ingest(catalog, workers=workers, quiet=quiet)


def _with_progress(
    paths: tuple[str, ...],
    catalog: CatalogBackend,
    store: str | None,
    workers: int | None,
    batch_files: int,
    header_qc: bool = True,
    file_time_limit: float = DEFAULT_FILE_TIME_LIMIT_S,
) -> IngestSummary:
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:>8.0f} files/s"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err_console(), transient=False) as bar:
        task = bar.add_task("scanning", total=None, rate=0.0)

        def update(p: IngestProgress) -> None:
            bar.update(
                task,
                description="scanning + reading" if p.scanning else "reading",
                completed=p.done + p.skipped_unchanged,
                total=None if p.scanning else p.discovered,
                rate=p.rate,
            )

        return run_ingest(
            paths,
            catalog,
            store_url=store,
            workers=workers,
            on_progress=update,
            batch_files=batch_files,
            header_qc=header_qc,
            file_time_limit=file_time_limit,
        )


def _print_summary(summary: IngestSummary, info: dict[str, object]) -> None:
    out = console()
    if not summary.changed_anything:
        out.print(
            f"Nothing changed: all {summary.unchanged} files were already in the catalog "
            "(unchanged size and modification time)."
        )
    else:
        out.print(
            f"Ingested {summary.new_instances} new and {summary.changed_instances} changed files "
            f"in {summary.seconds:.1f} s ({summary.files_per_second:.0f} files/s); "
            f"{summary.unchanged} unchanged; {summary.new_series} new series; "
            f"{summary.errors} skipped."
        )
    if summary.removed_files:
        out.print(
            f"[yellow]{summary.removed_files} files are no longer on disk[/yellow]: "
            "removed from the catalog (their series were updated, or deleted when empty)."
        )
    table = Table(title="Catalog", show_header=True)
    for name in ("patients", "studies", "series", "instances", "files", "errors"):
        table.add_column(name, justify="right")
    table.add_row(
        *(str(info[k]) for k in ("patients", "studies", "series", "instances", "files", "errors"))
    )
    out.print(table)
    if summary.errors:
        out.print(f"[yellow]{summary.errors} files skipped[/yellow], e.g.:")
        for error in summary.error_samples[:5]:
            out.print(f"  {error.source}: {error.reason}", markup=False)
        out.print("Run [bold]radcurate errors[/bold] for the full list.")
