"""``radcurate workflows`` (list them with their parameters) and ``radcurate run`` (run one)."""

from __future__ import annotations

import json
import os
from typing import Any

import click
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from radcurate.catalog import CatalogBackend
from radcurate.catalog.curation_types import CurationError
from radcurate.cli.common import catalog_option, console, err_console, open_or_exit
from radcurate.jobs import run_job
from radcurate.jobs.workflows import WORKFLOW_KIND, WorkflowReport, workflow_job
from radcurate.plugins import PluginLoadError, PluginNotFound
from radcurate.query import QueryError
from radcurate.workflow import Workflow, WorkflowParamsError, WorkflowSelection
from radcurate.workflow.registry import default_registry


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
def workflows(as_json: bool) -> None:
    """List the registered workflows (annotators and QC checks too) and their parameters."""
    registry = default_registry()
    infos = registry.infos()
    if as_json:
        click.echo(json.dumps([i.to_dict() for i in infos], indent=2))
    else:
        table = Table(box=None)
        for column in ("name", "group", "version", "parameters"):
            table.add_column(column, no_wrap=True)
        table.add_column("description", overflow="fold", ratio=1)
        for info in infos:
            table.add_row(
                info.name,
                info.group,
                info.version,
                _params_text(info.params_schema),
                info.description,
            )
        console().print(table)
    for error in registry.errors():
        err_console().print(f"[yellow]warning:[/yellow] {escape(str(error))}")


def _params_text(schema: dict[str, Any]) -> str:
    parts = []
    for name, prop in schema.get("properties", {}).items():
        kind = prop.get("type") or "/".join(p.get("type", "?") for p in prop.get("anyOf", []))
        default = prop.get("default")
        parts.append(f"{name}: {kind}" + ("" if default is None else f" = {default!r}"))
    return "\n".join(parts) or "—"


def _parse_param(text: str) -> tuple[str, Any]:
    """``k=v``: the value as JSON when it parses (numbers, true/false, lists), else text."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise click.BadParameter(f"{text!r} is not KEY=VALUE", param_hint="--param")
    try:
        return key.strip(), json.loads(value)
    except json.JSONDecodeError:
        return key.strip(), value


@click.command()
@click.argument("workflow")
@click.argument("query", required=False, default=None)
@catalog_option
@click.option("--param", "-p", "params", multiple=True, metavar="KEY=VALUE", help="A parameter.")
@click.option(
    "--dataset",
    metavar="NAME[@VERSION]",
    default=None,
    help="Run on a dataset's frozen version (or its current members without @VERSION).",
)
@click.option("--series", "series_uids", multiple=True, metavar="UID", help="Only this series.")
@click.option("--exclude", multiple=True, metavar="UID", help="Leave this series out.")
@click.option("--force", is_flag=True, help="Process series whose results are up to date too.")
@click.option(
    "--workers", type=click.IntRange(min=1), default=None, help="Processes (default: cores)."
)
@click.option(
    "--dask",
    "dask_scheduler",
    metavar="ADDRESS",
    default=None,
    help="Run on this Dask cluster (tcp://host:8786; extra 'dask'); its workers must reach "
    "the catalog (PostgreSQL, or SQLite on a shared file system).",
)
@click.option("--chunk-size", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def run(
    workflow: str,
    query: str | None,
    catalog_url: str | None,
    params: tuple[str, ...],
    dataset: str | None,
    series_uids: tuple[str, ...],
    exclude: tuple[str, ...],
    force: bool,
    workers: int | None,
    dask_scheduler: str | None,
    chunk_size: int,
    as_json: bool,
    quiet: bool,
) -> None:
    """Run WORKFLOW on the series matching QUERY (or --dataset, or --series).

    Results land on each series as ai./qc. fields with provenance; series whose input,
    workflow version and parameters are unchanged are skipped unless --force, so a
    second run (or a run after an interruption) does only what is left. A series that
    fails is recorded (radcurate jobs JOB_ID) and the others go on.

    \b
    radcurate run header-bodypart 'Modality:CT'
    radcurate run thumbnails --dataset lung-train@2 -p size=128
    """
    try:
        step = default_registry().get(workflow)
    except (PluginNotFound, PluginLoadError) as exc:
        err_console().print(
            f"[red]error:[/red] {escape(str(exc))} (list them: radcurate workflows)"
        )
        raise SystemExit(2) from exc
    raw = dict(_parse_param(p) for p in params)
    try:
        step.parse_params(raw)
    except WorkflowParamsError as exc:
        err_console().print(f"[red]error:[/red] {escape(str(exc))}")
        raise SystemExit(2) from exc
    selection = _selection(query, dataset, series_uids, exclude)
    catalog = open_or_exit(catalog_url)
    with catalog:
        try:
            total = len(selection.resolve(catalog))
        except (QueryError, CurationError) as exc:
            err_console().print(f"[red]error:[/red] {escape(str(exc))}")
            raise SystemExit(2) from exc
        job_params = {
            "workflow": step.name,
            "params": step.parse_params(raw).model_dump(mode="json"),
            "selection": selection.as_given(),
            "force": force,
            "trigger": "radcurate run",
        }
        record, report = _run(
            catalog, step, selection, raw, force, workers, dask_scheduler, chunk_size,
            total, quiet or as_json, job_params,
        )  # fmt: skip
    out = {"job": record.id, "state": record.state, **(report.to_dict() if report else {})}
    if as_json:
        click.echo(json.dumps(out, indent=2))
    elif report is not None:
        console().print(f"{step.name}: {report.summary()} (job {record.id})")
        if report.failed:
            console().print(f"errors of failed series: radcurate jobs {record.id}")
    if record.state == "failed":
        err_console().print(f"[red]error:[/red] {escape(record.error or 'workflow failed')}")
        raise SystemExit(1)
    if report is not None and report.failed:
        raise SystemExit(1)


def _selection(
    query: str | None, dataset: str | None, uids: tuple[str, ...], exclude: tuple[str, ...]
) -> WorkflowSelection:
    if sum((query is not None, dataset is not None, bool(uids))) > 1:
        raise click.UsageError("give one of QUERY, --dataset or --series")
    if dataset is not None:
        name, _, version = dataset.partition("@")
        try:
            number = int(version) if version else None
        except ValueError:
            raise click.BadParameter(
                f"{dataset!r}: VERSION must be a number", param_hint="--dataset"
            ) from None
        return WorkflowSelection(dataset=name, version=number, exclude=exclude)
    if uids:
        return WorkflowSelection(uids=uids, exclude=exclude)
    return WorkflowSelection(query=query or "*", exclude=exclude)


def _run(
    catalog: CatalogBackend,
    step: Workflow,
    selection: WorkflowSelection,
    raw: dict[str, Any],
    force: bool,
    workers: int | None,
    dask_scheduler: str | None,
    chunk_size: int,
    total: int,
    quiet: bool,
    job_params: dict[str, Any],
) -> tuple[Any, WorkflowReport | None]:
    holder: list[WorkflowReport] = []
    executor = None
    pool = None
    processes = workers or os.cpu_count() or 1
    if dask_scheduler:
        from radcurate.jobs.dask import DaskExecutor

        try:
            executor = DaskExecutor(catalog, dask_scheduler)
        except OSError as exc:
            err_console().print(
                f"[red]error:[/red] cannot reach Dask at {escape(dask_scheduler)}: {exc}"
            )
            raise SystemExit(2) from exc
        pool = executor.work_pool
        job_params = {**job_params, "dask": dask_scheduler}
    try:
        if quiet:
            function = workflow_job(
                step, selection, raw, force=force, workers=processes, pool=pool,
                chunk_size=chunk_size, on_progress=holder.append,
            )  # fmt: skip
            record = run_job(catalog, WORKFLOW_KIND, function, job_params)
        else:
            columns = (
                TextColumn(escape(step.name)),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.description}"),
            )
            with Progress(*columns, console=err_console()) as bar:
                task = bar.add_task("", total=total)

                def progress(report: WorkflowReport) -> None:
                    holder.append(report)
                    done = report.processed + report.skipped + report.failed
                    bar.update(
                        task,
                        completed=done,
                        description=f"{report.skipped} unchanged, {report.failed} failed",
                    )

                function = workflow_job(
                    step, selection, raw, force=force, workers=processes, pool=pool,
                    chunk_size=chunk_size, on_progress=progress,
                )  # fmt: skip
                record = run_job(catalog, WORKFLOW_KIND, function, job_params)
    finally:
        if executor is not None:
            executor.shutdown()
    report = holder[-1] if holder else None
    if report is None and record.result:
        report = WorkflowReport(**record.result)
    return record, report


def annotate_after_ingest(catalog: CatalogBackend, *, workers: int | None, quiet: bool) -> Any:
    """The ``radcurate ingest --annotate`` hook: the ``annotate`` workflow on every series;
    series annotated before and unchanged since are skipped, so it does what the ingest
    added or changed (and what was never annotated)."""
    try:
        step = default_registry().get("annotate")
    except (PluginNotFound, PluginLoadError) as exc:
        err_console().print(f"[yellow]note:[/yellow] annotation skipped: {escape(str(exc))}")
        return None
    selection = WorkflowSelection(query="*")
    params = {"workflow": step.name, "params": {}, "selection": selection.as_given(),
              "force": False, "trigger": "radcurate ingest --annotate"}  # fmt: skip
    total = len(selection.resolve(catalog))
    record, report = _run(
        catalog, step, selection, {}, False, workers, None, 8, total, quiet, params
    )
    if not quiet and report is not None:
        console().print(f"Annotation: {report.summary()} (job {record.id})")
    return {"job": record.id, "state": record.state, **(report.to_dict() if report else {})}
