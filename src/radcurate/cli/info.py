"""``radcurate info``: what the catalog holds."""

from __future__ import annotations

import json

import click
from rich.markup import escape
from rich.table import Table

from radcurate.cli.common import catalog_option, console, open_or_exit


@click.command()
@catalog_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def info(catalog_url: str | None, as_json: bool) -> None:
    """Counts of patients, studies, series, instances and skipped files."""
    with open_or_exit(catalog_url) as catalog:
        summary = catalog.info()
        url = catalog.url
        fields = len(catalog.fields())
    data = {"catalog": url, **summary.to_dict(), "fields": fields}
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    out = console()
    out.print(f"[bold]{escape(url)}[/bold]")
    table = Table(show_header=False)
    table.add_column("what")
    table.add_column("count", justify="right")
    for key in ("patients", "studies", "series", "instances", "files", "errors", "fields"):
        table.add_row(key, str(data[key]))
    if summary.dirty_series:
        table.add_row("series awaiting facts", str(summary.dirty_series))
    out.print(table)
    if summary.by_modality:
        out.print(
            "by modality: "
            + ", ".join(f"{m or '(none)'} {c}" for m, c in summary.by_modality.items())
        )
