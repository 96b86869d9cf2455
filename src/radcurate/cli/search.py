"""``radcurate search``: series matching a query (the language of docs/query-language.md)."""

from __future__ import annotations

import csv
import json
import sys
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from radcurate.cli.common import catalog_option, console, err_console, open_or_exit
from radcurate.query import QueryError, parse

DEFAULT_FIELDS = "SeriesInstanceUID,Modality,StudyDate,SeriesDescription,instance_count"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


@click.command()
@click.argument("query", required=False, default="")
@catalog_option
@click.option("--fields", default=DEFAULT_FIELDS, show_default=True, help="Comma-separated fields.")
@click.option("--sort", default=None, help="Sort field, '-' in front for descending.")
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=20,
    show_default=True,
    help="At most this many series (0: all).",
)
@click.option("--json", "as_json", is_flag=True, help="JSON lines of the selected fields.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV with a header row.")
def search(
    query: str,
    catalog_url: str | None,
    fields: str,
    sort: str | None,
    limit: int,
    as_json: bool,
    as_csv: bool,
) -> None:
    """List series matching QUERY (all series when it is empty).

    Examples: 'Modality:CT SliceThickness:<=1.5', 'chest -tag:excluded',
    'StudyDate:2019..2020 Manufacturer:SIEM*'.
    """
    names = [f.strip() for f in fields.split(",") if f.strip()]
    with open_or_exit(catalog_url) as catalog:
        try:
            node = parse(query, fields=[f.name for f in catalog.fields()])
            total = catalog.count(node)
            rows: list[dict[str, Any]] = []
            after: str | None = None
            while limit == 0 or len(rows) < limit:
                want = 500 if limit == 0 else min(500, limit - len(rows))
                page = catalog.search(node, limit=want, after=after, sort=sort)
                rows.extend(page.documents)
                after = page.next_cursor
                if after is None:
                    break
        except (QueryError, ValueError) as exc:
            err_console().print(f"[red]error:[/red] {escape(str(exc))}")
            sys.exit(2)
    if as_json:
        for doc in rows:
            click.echo(json.dumps({n: doc.get(n) for n in names}, ensure_ascii=False))
        return
    if as_csv:
        writer = csv.writer(sys.stdout)
        writer.writerow(names)
        for doc in rows:
            writer.writerow([_cell(doc.get(n)) for n in names])
        return
    table = Table(
        title=f"{total} series match" + (f", first {len(rows)}" if len(rows) < total else "")
    )
    for name in names:
        table.add_column(name, overflow="fold")
    for doc in rows:
        table.add_row(*(escape(_cell(doc.get(n))) for n in names))
    console().print(table)
