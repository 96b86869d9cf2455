"""``radcurate show``: one series document."""

from __future__ import annotations

import json
import sys

import click
from rich.markup import escape

from radcurate.cli.common import catalog_option, err_console, open_or_exit


@click.command()
@click.argument("series_uid")
@catalog_option
@click.option("--instances", is_flag=True, help="Also list the instance rows.")
def show(series_uid: str, catalog_url: str | None, instances: bool) -> None:
    """Print the document of the series SERIES_UID as JSON."""
    with open_or_exit(catalog_url) as catalog:
        document = catalog.series_document(series_uid)
        if document is None:
            err_console().print(
                f"[red]error:[/red] no series {escape(repr(series_uid))} in {escape(catalog.url)}; "
                "`radcurate info` shows what the catalog holds"
            )
            sys.exit(1)
        if instances:
            document = {
                **document,
                "instances": [r.to_dict() for r in catalog.instances(series_uid)],
            }
    click.echo(json.dumps(document, indent=2, ensure_ascii=False))
