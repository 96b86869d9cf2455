"""``radcurate errors``: files that could not be ingested, and why."""

from __future__ import annotations

import json

import click

from radcurate.cli.common import catalog_option, console, open_or_exit


@click.command()
@catalog_option
@click.option("--limit", type=int, default=None, help="Show at most this many.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")
def errors(catalog_url: str | None, limit: int | None, as_json: bool) -> None:
    """List every skipped file with its path and a one-line reason."""
    with open_or_exit(catalog_url) as catalog:
        rows = catalog.errors(limit)
    if as_json:
        for row in rows:
            click.echo(json.dumps({"path": row.source, "reason": row.reason}))
        return
    out = console()
    if not rows:
        out.print("No skipped files.")
        return
    for row in rows:
        out.print(f"{row.source}\t{row.reason}", soft_wrap=True, markup=False)
    out.print(f"{len(rows)} skipped files")
