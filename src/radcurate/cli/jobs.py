"""``radcurate jobs``: background work recorded in the catalog and its progress."""

from __future__ import annotations

import json
import time

import click
from rich.markup import escape
from rich.table import Table

from radcurate.catalog import CatalogBackend
from radcurate.catalog.jobs import JOB_STATES, JobRecord
from radcurate.cli.common import catalog_option, console, err_console, open_or_exit


def _progress(record: JobRecord) -> str:
    if record.total is None:
        return str(record.done) if record.done else ""
    return f"{record.done}/{record.total}"


def _when(at: float | None) -> str:
    return "" if at is None else time.strftime("%m-%d %H:%M", time.localtime(at))


def _by_prefix(catalog: CatalogBackend, prefix: str) -> JobRecord | None:
    """The one job whose id starts with ``prefix`` (the list shows 8 characters)."""
    if len(prefix) < 4:
        return None
    found = [r for r in catalog.jobs(limit=10_000) if r.id.startswith(prefix)]
    return found[0] if len(found) == 1 else None


@click.command()
@click.argument("job_id", required=False)
@catalog_option
@click.option(
    "--state", type=click.Choice(JOB_STATES), default=None, help="Only jobs in this state."
)
@click.option("--kind", default=None, help="Only jobs of this kind (e.g. thumbnails).")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--cancel", is_flag=True, help="Ask JOB_ID to stop.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def jobs(
    job_id: str | None,
    catalog_url: str | None,
    state: str | None,
    kind: str | None,
    limit: int,
    cancel: bool,
    as_json: bool,
) -> None:
    """List jobs (newest first) with their progress, or show (or --cancel) JOB_ID
    (its first characters are enough).

    A job whose process was killed is shown as failed (interrupted) once its
    heartbeat stops, never as running forever.
    """
    if cancel and not job_id:
        err_console().print("[red]error:[/red] --cancel needs a JOB_ID")
        raise SystemExit(2)
    with open_or_exit(catalog_url) as catalog:
        if job_id:
            record = catalog.job(job_id) or _by_prefix(catalog, job_id)
            if record is None:
                err_console().print(f"[red]error:[/red] no job {escape(job_id)}")
                raise SystemExit(1)
            if cancel:
                record = catalog.cancel_job(record.id)
            records = [record]
            failed_total, failed = catalog.job_errors(record.id, limit=1000)
        else:
            records = catalog.jobs(limit=limit, state=state, kind=kind)
            failed_total, failed = 0, []
    if as_json:
        items = [r.to_dict() for r in records]
        if job_id:
            errors = [{"series_uid": u, "error": e} for u, e in failed]
            click.echo(json.dumps({**items[0], "series_errors": errors}, indent=2))
        else:
            click.echo(json.dumps({"items": items}, indent=2))
        return
    out = console()
    if not records:
        out.print("No jobs.")
        return
    table = Table(show_header=True)
    for name in ("id", "kind", "state", "progress", "started"):
        table.add_column(name, no_wrap=True)
    table.add_column("message", overflow="fold")
    colours = {"running": "cyan", "done": "green", "failed": "red", "cancelled": "yellow"}
    for r in records:
        shown = "interrupted" if r.interrupted else r.state
        colour = colours.get(r.state, "white")
        table.add_row(
            r.id if job_id else r.id[:8],
            escape(r.kind),
            f"[{colour}]{shown}[/{colour}]",
            _progress(r),
            _when(r.started_at),
            escape(r.error or r.message),
        )
    out.print(table)
    if failed_total:
        out.print(
            f"{failed_total} series failed" + (" (first 1,000)" if failed_total > 1000 else "")
        )
        for uid, error in failed:
            out.print(f"[red]failed[/red] {uid}: {escape(error)}")
