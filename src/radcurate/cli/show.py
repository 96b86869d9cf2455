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
@click.option("--history", is_flag=True, help="Also list replaced result sets, newest first.")
def show(series_uid: str, catalog_url: str | None, instances: bool, history: bool) -> None:
    """Print the document of the series SERIES_UID as JSON.

    ``results`` holds its ai/qc/clin results; ``provenance`` who and what wrote each
    producer's set (version, parameters, job, input hash, actor, time).
    """
    with open_or_exit(catalog_url) as catalog:
        document = catalog.series_document(series_uid)
        if document is None:
            err_console().print(
                f"[red]error:[/red] no series {escape(repr(series_uid))} in {escape(catalog.url)}; "
                "`radcurate info` shows what the catalog holds"
            )
            sys.exit(1)
        sets = catalog.result_store.result_sets(series_uid)
        document = {
            **document,
            "results": catalog.results(series_uid),
            "provenance": [{**s.provenance.to_dict(), "keys": s.keys} for s in sets],
        }
        if history:
            document["result_history"] = [
                h.to_dict() for h in catalog.result_store.result_history(series_uid)
            ]
        if instances:
            document = {
                **document,
                "instances": [r.to_dict() for r in catalog.instances(series_uid)],
            }
    click.echo(json.dumps(document, indent=2, ensure_ascii=False))
