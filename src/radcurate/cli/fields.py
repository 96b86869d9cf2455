"""``radcurate fields``: the field registry (every field seen, its type, how many series)."""

from __future__ import annotations

import json

import click
from rich.table import Table

from radcurate.cli.common import catalog_option, console, open_or_exit


@click.command()
@catalog_option
@click.option(
    "--prefix", default="", help="Only fields whose name starts with this (case-insensitive)."
)
@click.option("--limit", type=int, default=None, help="Show at most this many.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")
def fields(catalog_url: str | None, prefix: str, limit: int | None, as_json: bool) -> None:
    """List every field name in the catalog, its type and how many series have it."""
    with open_or_exit(catalog_url) as catalog:
        every = [*catalog.fields(), *catalog.result_fields()]
        rows = [f for f in every if f.name.lower().startswith(prefix.lower())]
    rows = rows[:limit] if limit is not None else rows
    if as_json:
        for row in rows:
            click.echo(
                json.dumps({"name": row.name, "type": row.type.value, "series": row.series_count})
            )
        return
    table = Table()
    table.add_column("field")
    table.add_column("type")
    table.add_column("series", justify="right")
    for row in rows:
        table.add_row(row.name, row.type.value, str(row.series_count))
    console().print(table)
