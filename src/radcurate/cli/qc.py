"""``radcurate qc``: every registered quality check with the series of a query failing it."""

from __future__ import annotations

import json
import sys

import click
from rich.markup import escape
from rich.table import Table

from radcurate.cli.common import catalog_option, console, err_console, open_or_exit
from radcurate.query import QueryError, parse
from radcurate.workflow.qc_summary import check_counts
from radcurate.workflow.registry import default_registry

_STYLE = {"error": "red", "warning": "yellow", "info": "cyan"}


@click.command()
@click.argument("query", default="*")
@click.option("--failing", is_flag=True, help="List only the checks some series fail.")
@catalog_option
@click.option("--json", "as_json", is_flag=True, help="The checks and counts as JSON.")
def qc(query: str, failing: bool, catalog_url: str | None, as_json: bool) -> None:
    """How many series of QUERY fail each quality check (docs/qc.md).

    Each row's "find with" column is the query that lists the failing series, e.g.
    radcurate search 'Modality:CT qc.geometry.missing_slices:>0'. Run the checks with
    `radcurate run qc QUERY` (header checks also run at ingest).
    """
    with open_or_exit(catalog_url) as catalog:
        known = [f.name for f in catalog.fields()]
        try:
            node = parse(query, fields=known)
            counts = check_counts(catalog, node, lambda text: parse(text, fields=known))
            total = catalog.count(node)
        except QueryError as exc:
            err_console().print(f"[red]error:[/red] {escape(str(exc))}")
            sys.exit(2)
    rows = [c for c in counts if c.failing or not failing]
    if as_json:
        payload = {"query": query, "total": total, "checks": [c.to_dict() for c in rows]}
        click.echo(json.dumps(payload, ensure_ascii=False))
        return
    out = console()
    out.print(f"{total} series match; {sum(1 for c in counts if c.failing)} checks fail on some")
    table = Table(box=None)
    for column, justify in (("check", "left"), ("family", "left"), ("failing", "right")):
        table.add_column(column, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    table.add_column("checked", justify="right", no_wrap=True)
    table.add_column("find with", overflow="fold")
    for count in rows:
        style = _STYLE.get(count.check.severity, "") if count.failing else "dim"
        table.add_row(
            f"[{style}]{escape(count.check.title)}[/{style}]" if style else count.check.title,
            count.check.family,
            f"{count.failing:,}",
            f"{count.checked:,}",
            escape(count.check.fails),
        )
    out.print(table)
    for error in default_registry().errors():
        err_console().print(f"[yellow]warning:[/yellow] {escape(str(error))}")
