"""``radcurate demo``: write a synthetic phantom DICOM archive."""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from radcurate.demo import generate_archive


@click.command("demo")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory to write the archive into (empty, new, or a previous demo archive).",
)
@click.option(
    "--patients",
    default=10,
    show_default=True,
    type=click.IntRange(min=0),
    help="Number of patients (0 with --qc-defects: the QC phantom patient alone).",
)
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0))
@click.option(
    "--qc-defects/--no-qc-defects",
    "qc_defects",
    default=None,
    help="Add the QC phantom patient: one series per defect the qc.* checks target, listed in "
    "qc-defects.json [default: on from 10 patients]",
)
def demo(out: Path, patients: int, seed: int, qc_defects: bool | None) -> None:
    """Write a synthetic DICOM archive (CT, MR, CR/DX, US, SEG, RTSTRUCT, SR, defects)."""
    console = Console()
    started = time.perf_counter()
    with Progress(
        TextColumn("[bold]demo archive"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("patients"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("patients", total=patients)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", UserWarning)
                manifest = generate_archive(
                    out, patients, seed, qc_defects=qc_defects, progress=progress
                )
        except ValueError as exc:
            raise click.UsageError(str(exc)) from exc
    elapsed = time.perf_counter() - started
    for note in dict.fromkeys(str(w.message) for w in caught):
        console.print(f"[yellow]note:[/yellow] {escape(note)}")

    console.print(
        f"Wrote [bold]{manifest.root}[/]: {manifest.patients} patients, {manifest.studies} "
        f"studies, {manifest.series} series, {manifest.instances} instances in "
        f"{manifest.files} files ({elapsed:.1f} s, {manifest.instances / max(elapsed, 1e-9):.0f} "
        "instances/s)"
    )
    table = Table(title="Series per modality")
    table.add_column("Modality")
    table.add_column("Series", justify="right")
    for modality, count in manifest.by_modality.items():
        table.add_row(modality, str(count))
    console.print(table)
    defects = Table(title="Deliberate defects")
    defects.add_column("Defect")
    defects.add_column("Where")
    for name, where in manifest.defects.items():
        defects.add_row(name, where)
    console.print(defects)
    if manifest.qc_manifest:
        console.print(
            f"QC phantom: every planted defect, its series and the qc.* fields expected to "
            f"flag it are in {escape(str(manifest.root / manifest.qc_manifest))}"
        )
    console.print(
        f"{manifest.readable_files} readable DICOM files, {len(manifest.unreadable)} unreadable: "
        + ", ".join(manifest.unreadable)
    )
