"""``radcurate audit``: who did what to which series, newest first."""

from __future__ import annotations

import datetime as dt
import json

import click
from rich.markup import escape
from rich.table import Table

from radcurate.cli.common import catalog_option, console, open_or_exit
from radcurate.cli.curation_common import curation_errors, emit_json


@click.command()
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--action", default=None, help="Only this action, e.g. tag.add, dataset.freeze.")
@click.option("--target", default=None, help="Only actions on this tag or dataset.")
@catalog_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def audit(
    limit: int, action: str | None, target: str | None, catalog_url: str | None, as_json: bool
) -> None:
    """The audit log of curation actions (tags, datasets, selections, settings)."""
    with open_or_exit(catalog_url) as catalog, curation_errors():
        entries = catalog.audit_log(limit, action=action, target=target)
    if as_json:
        emit_json(entries)
        return
    table = Table(title=f"last {len(entries)} curation actions")
    for column in ("when", "who", "action", "target", "series", "selection"):
        table.add_column(column, overflow="fold")
    for e in entries:
        when = dt.datetime.fromtimestamp(e.at, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
        selection = "" if e.selection is None else json.dumps(e.selection, ensure_ascii=False)
        if len(selection) > 120:
            selection = selection[:117] + "..."
        table.add_row(
            when,
            escape(e.actor),
            e.action,
            escape(e.target or ""),
            "" if e.series_count is None else str(e.series_count),
            escape(selection),
        )
    console().print(table)
