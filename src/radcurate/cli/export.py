"""``radcurate export``: a dataset version into nnU-Net, MONAI, NIfTI or DICOM-copy layout."""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from radcurate.catalog import CatalogBackend
from radcurate.cli.common import catalog_option, console, err_console, open_or_exit
from radcurate.export.channels import parse_channel
from radcurate.export.dicom_copy import LAYOUTS
from radcurate.export.job import (
    CardBuilder,
    ExportOptions,
    ExportReport,
    SplitCompare,
    check_options,
)
from radcurate.export.job import Progress as ExportProgress
from radcurate.export.job import export_dataset as run_export
from radcurate.export.labels import parse_labels
from radcurate.export.layouts import FORMATS
from radcurate.export.plan import ExportError
from radcurate.export.splits import SplitError, parse_split
from radcurate.jobs import JobContext, run_job

#: the job kind of an export
EXPORT_KIND = "export"
#: PS3.15 options of ``--deid-option``, as :class:`radcurate.export.deid.DeidOptions` fields
DEID_OPTIONS = (
    "retain-long-modified-dates", "retain-patient-characteristics", "retain-device-identity",
    "retain-uids", "clean-descriptors", "retain-safe-private",
)  # fmt: skip


def _analysis(catalog: CatalogBackend) -> tuple[CardBuilder | None, Any, SplitCompare | None]:
    """The dataset card and the split comparison of the analysis layer, when installed."""
    card = html = compare = None
    try:
        module = importlib.import_module("radcurate.analyze.dataset_card")
    except ImportError:
        module = None
    if module is not None and hasattr(module, "dataset_card"):

        def card(name: str, version: int) -> dict[str, Any]:
            made: dict[str, Any] = module.dataset_card(catalog, name, version)
            return made

        html = getattr(module, "card_html", None)
        if html is None:
            try:
                html = importlib.import_module("radcurate.analyze.dataset_card_html").card_html
            except (ImportError, AttributeError):
                html = None
    try:
        bias = importlib.import_module("radcurate.analyze.bias_compare")
    except ImportError:
        bias = None
    if bias is not None:

        def compare(
            a: frozenset[str], b: frozenset[str], labels: tuple[str, str]
        ) -> dict[str, Any]:
            result: dict[str, Any] = bias.compare(catalog, a, b, labels=labels)
            return result

    return card, html, compare


def _deid(deidentify: bool, key: str | None, chosen: tuple[str, ...]) -> Any:
    if not deidentify:
        if chosen:
            raise click.UsageError("--deid-option needs --deidentify")
        return None
    secret = key or os.environ.get("RADCURATE_DEID_KEY")
    if not secret:
        raise click.UsageError("--deidentify needs a key: --deid-key or $RADCURATE_DEID_KEY")
    try:
        deid = importlib.import_module("radcurate.export.deid")
    except ImportError as exc:
        raise click.UsageError(f"de-identification is not available yet ({exc})") from exc
    flags = {name.replace("-", "_"): True for name in chosen}
    try:
        return deid.DeidOptions(key=secret, **flags)
    except (TypeError, ValueError) as exc:
        raise click.UsageError(f"--deidentify: {exc}") from exc


@click.command()
@click.argument("dataset", metavar="DATASET[@VERSION]")
@catalog_option
@click.option("--format", "fmt", type=click.Choice(FORMATS), required=True, help="Layout.")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Output folder.")
@click.option("--split", "split_text", metavar="train=F,val=F,test=F", default=None,
              help="Patient-level split fractions (default train=0.8,test=0.2).")  # fmt: skip
@click.option("--folds", type=int, default=None, help="Cross-validation folds (outside test).")
@click.option("--stratify", default="", metavar="FIELD,...", help="Stratify splits by fields.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the split.")
@click.option("--labels", "labels_text", default=None, metavar="NAME[=A+B],...",
              help="Labels to export, in order; NAME=A+B merges structures A and B.")  # fmt: skip
@click.option("--channel", "channel_texts", multiple=True, metavar="NAME=QUERY",
              help="A channel of multi-series cases (repeatable, in channel order): a case is "
              "a study with one series matching each QUERY; channel 0 is the grid.")  # fmt: skip
@click.option("--include-rejected", is_flag=True, help="Export series rejected in review too.")
@click.option("--fields", default=None, metavar="F,...", help="Manifest fields (ai.*, qc.*...).")
@click.option("--overwrite", is_flag=True, help="Replace a non-empty output folder.")
@click.option("--dataset-id", type=int, default=1, show_default=True, help="nnU-Net id NNN.")
@click.option("--layout", type=click.Choice(LAYOUTS), default=LAYOUTS[0], show_default=True,
              help="Folder layout of the dicom format.")  # fmt: skip
@click.option("--deidentify", is_flag=True, help="De-identify a dicom export (PS3.15 E.1).")
@click.option("--deid-key", default=None, help="Key of the UIDs and pseudonyms "
              "(default $RADCURATE_DEID_KEY).")  # fmt: skip
@click.option("--deid-option", "deid_options", multiple=True, type=click.Choice(DEID_OPTIONS),
              help="A PS3.15 profile option (repeatable).")  # fmt: skip
@click.option("--include-burned-in", is_flag=True,
              help="De-identified: export series that may carry burned-in text too.")  # fmt: skip
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True,
              help="Cases converted at once (threads; same output).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def export(
    dataset: str, catalog_url: str | None, fmt: str, out: Path, split_text: str | None,
    folds: int | None, stratify: str, seed: int, labels_text: str | None,
    channel_texts: tuple[str, ...], include_rejected: bool, fields: str | None,
    overwrite: bool, dataset_id: int, layout: str,
    deidentify: bool, deid_key: str | None, deid_options: tuple[str, ...],
    include_burned_in: bool, workers: int, as_json: bool, quiet: bool,
) -> None:  # fmt: skip
    """Export DATASET (its version VERSION, or a new frozen version) as an ML dataset.

    Patients never lie in two splits; the same version, options and seed give
    byte-identical files. A series that cannot be converted is recorded and the rest
    goes on (radcurate jobs JOB_ID lists them).

    \b
    radcurate export lung-ct@2 --format nnunet --out ./raw --split train=0.8,test=0.2
    radcurate export lung-ct --format monai --out ./monai --folds 5 --stratify Manufacturer
    radcurate export brain-mr --format nnunet --out ./raw \\
        --channel T1='SeriesDescription:*t1*' --channel FLAIR='SeriesDescription:*flair*'
    """
    try:
        options = ExportOptions(
            dataset, fmt, out, parse_split(split_text, folds),
            stratify=tuple(f.strip() for f in stratify.split(",") if f.strip()), seed=seed,
            labels=parse_labels(labels_text), include_rejected=include_rejected,
            fields=tuple(f.strip() for f in fields.split(",") if f.strip()) if fields else None,
            overwrite=overwrite, dataset_id=dataset_id, layout=layout, workers=workers,
            deid=_deid(deidentify, deid_key, deid_options), include_burned_in=include_burned_in,
            channels=tuple(parse_channel(t) for t in channel_texts),
        )  # fmt: skip
        check_options(options)
    except (SplitError, ValueError) as exc:
        raise click.UsageError(str(exc)) from exc
    params = {"dataset": dataset, **options.to_dict(), "trigger": "radcurate export"}
    holder: list[ExportReport] = []
    problem: list[ExportError] = []
    with open_or_exit(catalog_url) as catalog:
        card, html, compare = _analysis(catalog)

        def job(context: JobContext, sink: ExportProgress) -> dict[str, Any]:
            try:
                report = run_export(catalog, options, sink, card=card, card_html=html,
                                    compare=compare)  # fmt: skip
            except ExportError as exc:
                problem.append(exc)
                raise
            holder.append(report)
            if report.errors:
                catalog.record_job_errors(context.id, report.errors)
            return report.to_dict()

        if quiet or as_json:
            record = run_job(catalog, EXPORT_KIND, lambda c: job(c, c), params)
        else:
            columns = (TextColumn(f"export {fmt}"), BarColumn(), MofNCompleteColumn(),
                       TimeElapsedColumn(), TextColumn("{task.description}"))  # fmt: skip
            with Progress(*columns, console=err_console()) as bar:
                task = bar.add_task("", total=None)
                record = run_job(
                    catalog, EXPORT_KIND, lambda c: job(c, _BarSink(c, bar, task)), params
                )
    if problem:
        err_console().print(f"[red]error:[/red] {escape(str(problem[0]))}")
        raise SystemExit(2)
    report = holder[-1] if holder else None
    if as_json:
        click.echo(json.dumps({"job": record.id, "state": record.state,
                               **(report.to_dict() if report else {})}, indent=2))  # fmt: skip
    elif report is not None:
        _print(report, record.id)
    if record.state != "done" or report is None:
        err_console().print(f"[red]error:[/red] {escape(record.error or 'export failed')}")
        raise SystemExit(1)
    if report.failed:
        raise SystemExit(1)


class _BarSink:
    """Progress to the job record and to the terminal's bar."""

    def __init__(self, context: JobContext, bar: Progress, task: TaskID):
        self.context, self.bar, self.task = context, bar, task

    def progress(
        self, done: int | None = None, total: int | None = None, message: str | None = None
    ) -> None:
        self.bar.update(self.task, completed=done, total=total, description=message or "")
        self.context.progress(done, total, message)

    def check(self) -> None:
        self.context.check()


def _print(report: ExportReport, job_id: str) -> None:
    out = console()
    if report.froze:
        out.print(
            f"Froze {report.dataset} as version {report.version} (an export takes a frozen version)"
        )
    splits = ", ".join(f"{n} {e['series']} series/{e['patients']} patients"
                       for n, e in sorted(report.splits.items()))  # fmt: skip
    out.print(
        f"Exported {report.dataset}@{report.version} ({report.content_hash[:12]}) as "
        f"{report.format} into {escape(report.out)}: {report.exported} exported, "
        f"{report.failed} failed, {report.skipped} skipped, {report.left_out} left out"
        + (f"; {splits}" if splits else "")
    )
    for note in report.notes:
        if not note.startswith("wrote "):
            out.print(f"note: {escape(note)}")
    if report.failed:
        out.print(f"series that failed: radcurate jobs {job_id} (and manifest.csv)")
