"""``radcurate ingest dicomweb+http://...``: index a PACS over DICOMweb (called by ``ingest``)."""

from __future__ import annotations

import json
import sys

import click
from rich.markup import escape

from radcurate.cli.common import console, err_console, open_or_exit


def parse_query(items: tuple[str, ...]) -> list[tuple[str, str]]:
    """``KEY=VALUE`` options as QIDO-RS parameters (exit 2 on a malformed one)."""
    out = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            err_console().print(f"error: --query {item!r} is not KEY=VALUE", markup=False)
            sys.exit(2)
        out.append((key.strip(), value))
    return out


def pull(
    sources: tuple[str, ...], catalog_url: str | None, query: tuple[str, ...], as_json: bool
) -> None:
    """Pull-ingest each DICOMweb source into the catalog and print what changed."""
    from radcurate.network.pull import PullError, is_dicomweb_url, pull_ingest

    others = [s for s in sources if not is_dicomweb_url(s)]
    if others:
        err_console().print(
            f"error: cannot mix DICOMweb sources with files in one run: {', '.join(others)}",
            markup=False,
        )
        sys.exit(2)
    params = parse_query(query)
    catalog = open_or_exit(catalog_url)
    summaries = []
    with catalog:
        for source in sources:
            try:
                summaries.append(pull_ingest(source, catalog, query=params))
            except PullError as exc:
                err_console().print(f"[red]error:[/red] {escape(str(exc))}")
                sys.exit(1)
        info = catalog.info()
    if as_json:
        runs = [s.to_dict() for s in summaries]
        click.echo(json.dumps({"runs": runs, "catalog": info.to_dict()}, indent=2))
        return
    out = console()
    for source, summary in zip(sources, summaries, strict=True):
        out.print(
            f"{source}: {summary.studies} studies, {summary.series_seen} series "
            f"({summary.series_unchanged} unchanged, {summary.series_read} read); "
            f"{summary.new_instances} new instances, {summary.new_series} new series, "
            f"{summary.errors} errors in {summary.seconds:.1f} s",
            markup=False,
        )
        for sample in summary.error_samples[:5]:
            out.print(f"  {sample}", markup=False)
