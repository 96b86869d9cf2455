"""``radcurate facets QUERY --field F``: how the matching series are distributed."""

from __future__ import annotations

import json
import sys

import click
from rich.markup import escape
from rich.table import Table

from radcurate.catalog.aggregations import AggregationError, AggregationRequest
from radcurate.cli.common import catalog_option, console, err_console, open_or_exit
from radcurate.query import QueryError, parse


@click.command()
@click.argument("query", required=False, default="")
@click.option("--field", "-f", "terms", multiple=True, help="Top values of a field (repeatable).")
@click.option("--histogram", "histograms", multiple=True, help="A numeric field in bins.")
@click.option("--dates", "dates", multiple=True, help="A date field by year/month/day.")
@click.option("--size", default=10, show_default=True, help="Values per --field.")
@click.option("--bins", default=20, show_default=True, help="Bins per --histogram.")
@catalog_option
@click.option("--json", "as_json", is_flag=True, help="The result as one JSON object.")
def facets(
    query: str,
    terms: tuple[str, ...],
    histograms: tuple[str, ...],
    dates: tuple[str, ...],
    size: int,
    bins: int,
    catalog_url: str | None,
    as_json: bool,
) -> None:
    """Counts of the series matching QUERY and the distribution of each field.

    Examples: radcurate facets 'Modality:CT' -f Manufacturer -f ConvolutionKernel
    --histogram SliceThickness --dates StudyDate
    """
    with open_or_exit(catalog_url) as catalog:
        try:
            known = [f.name for f in catalog.fields()]
            node = parse(query, fields=known)
            requests = [AggregationRequest(f, "terms", size=size) for f in terms]
            requests += [AggregationRequest(f, "histogram", bins=bins) for f in histograms]
            requests += [AggregationRequest(f, "date_histogram") for f in dates]
            for request in requests:
                parse(f"has:{request.field}", fields=known)
            result = catalog.aggregate(node, requests)
        except (QueryError, AggregationError) as exc:
            err_console().print(f"[red]error:[/red] {escape(str(exc))}")
            sys.exit(2)
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False))
        return
    counts = result.counts
    out = console()
    out.print(f"{counts.series} series, {counts.studies} studies, {counts.patients} patients match")
    for agg in result.aggregations:
        table = Table(title=f"{agg.field} ({agg.type.replace('_', ' ')})")
        table.add_column("value")
        table.add_column("series", justify="right")
        table.add_column("", min_width=20)
        largest = max([b.count for b in agg.buckets] + [agg.other, agg.missing, 1])
        rows = [(_label(b.key, b.low, b.high), b.count) for b in agg.buckets]
        if agg.other:
            rows.append(("(other)", agg.other))
        if agg.missing:
            rows.append(("(missing)", agg.missing))
        for label, count in rows:
            table.add_row(escape(label), str(count), "█" * round(20 * count / largest))
        out.print(table)


def _label(key: object, low: float | None, high: float | None) -> str:
    if low is not None:
        return f"[{low:g}, {high:g})"
    return '(empty "")' if key == "" else str(key)
