"""``radcurate import-nifti``: NIfTI images and label maps become DICOM series and SEG, ingested."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from radcurate.catalog import CatalogBackend
from radcurate.cli.common import catalog_option, console, err_console, open_or_exit, settings
from radcurate.ingest.nifti_dicom import NiftiError
from radcurate.ingest.nifti_import import ImportSummary, import_nifti, read_meta
from radcurate.optional import MissingDependencyError
from radcurate.storage.locations import local_path


def default_out_dir() -> Path:
    """``<store>/nifti-import`` of a local (``file://``) store.

    Raises
    ------
    click.UsageError
        The store is not a local folder (then ``--out`` is needed).
    """
    store = settings().store_url
    if "://" in store and not store.startswith("file://"):
        raise click.UsageError(f"the store {store} is not a local folder: give --out DIR")
    return Path(local_path(store)) / "nifti-import"


@click.command("import-nifti")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--meta",
    "meta_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help='JSON sidecar of DICOM header values ({"Modality": "CT", "Manufacturer": ...}; '
    '"cases": {CASE: {...}} per case). Without Modality: OT (or the nnU-Net channel name).',
)
@click.option(
    "--labels",
    "labels_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Segment names: an nnU-Net dataset.json or a seg_info.json-style table.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the DICOM files go (default: <store>/nifti-import).",
)
@click.option("--uid-root", default=None, help="UID prefix, e.g. 1.2.826.0.1.3680043.8.498.")
@catalog_option
@click.option("--no-ingest", is_flag=True, help="Write the DICOM files only.")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Ingest processes.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def import_nifti_command(
    path: Path,
    meta_path: Path | None,
    labels_path: Path | None,
    out_dir: Path | None,
    uid_root: str | None,
    catalog_url: str | None,
    no_ingest: bool,
    workers: int | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Import NIfTI volumes (a file, a folder or an nnU-Net raw dataset) as DICOM.

    Images become DICOM series with the NIfTI geometry and values, label maps
    DICOM-SEG over them; the files are then ingested like any series. Importing the
    same files again changes nothing. See docs/nifti-import.md.
    """
    if uid_root is not None and not uid_root.endswith("."):
        uid_root += "."
    out = out_dir if out_dir is not None else default_out_dir()
    try:
        meta = read_meta(meta_path)
    except NiftiError as exc:
        raise click.UsageError(str(exc)) from exc
    catalog = None if no_ingest else open_or_exit(catalog_url)
    silent = quiet or as_json
    try:
        if catalog is not None:
            with catalog:
                summary = _run(path, catalog, out, meta, labels_path, uid_root, workers, silent)
        else:
            summary = _run(path, None, out, meta, labels_path, uid_root, workers, silent)
    except (NiftiError, MissingDependencyError) as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(summary.to_dict(), indent=2))
    else:
        _print_summary(summary)
    if summary.skipped and not summary.series:
        raise SystemExit(1)


def _run(
    path: Path,
    catalog: CatalogBackend | None,
    out: Path,
    meta: dict[str, object],
    labels: Path | None,
    uid_root: str | None,
    workers: int | None,
    quiet: bool,
) -> ImportSummary:
    cat = catalog
    if quiet:
        return import_nifti(
            path, cat, out, meta=meta, labels=labels, uid_root=uid_root, workers=workers
        )
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err_console(), transient=False) as bar:
        task = bar.add_task("NIfTI files", total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return import_nifti(
            path,
            cat,
            out,
            meta=meta,
            labels=labels,
            uid_root=uid_root,
            workers=workers,
            on_progress=update,
        )


def _print_summary(summary: ImportSummary) -> None:
    out = console()
    out.print(
        f"Imported {summary.cases} cases of {summary.collection!r}: {summary.series} series, "
        f"{summary.segs} SEG; {summary.files_written} files written, "
        f"{summary.files_unchanged} unchanged, into {summary.out_dir}",
        markup=False,
    )
    rescaled = [v for v in summary.values if not v["exact"]]
    if rescaled:
        worst = max(float(v["max_error"]) for v in rescaled)
        out.print(
            f"{len(rescaled)} series stored with a rescale (slope/intercept): "
            f"largest error {worst:.3g} (each file's in --json)",
            markup=False,
        )
    for note in summary.notes:
        out.print(f"note: {note}", markup=False)
    if summary.ingest is not None:
        run = summary.ingest
        out.print(
            f"Ingest: {run.new_instances} new, {run.changed_instances} changed, "
            f"{run.unchanged} unchanged files; {run.errors} errors.",
            markup=False,
        )
    if summary.skipped:
        out.print(f"[yellow]{len(summary.skipped)} files skipped:[/yellow]")
        for name, reason in summary.skipped:
            out.print(f"  {name}: {reason}", markup=False)
