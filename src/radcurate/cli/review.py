"""``radcurate review``: set the review status of series in bulk, show one, or a query's progress.

::

    radcurate review 'Modality:CT qc.geometry.missing_slices:>0' --status rejected --note gap
    radcurate review --uids 1.2.3 --uids 1.2.4 --status accepted
    radcurate review --show 1.2.3
    radcurate review --progress 'dataset:lidc'
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click
from rich.markup import escape
from rich.table import Table

from radcurate.catalog.curation import Selection
from radcurate.cli.common import catalog_option, console, err_console, open_or_exit
from radcurate.cli.curation_common import ACTOR_OPTION, JSON_OPTION, curation_errors, emit_json
from radcurate.query.ast import REVIEW_STATUSES


def _uids(values: tuple[str, ...]) -> list[str]:
    """``--uids A --uids B,C`` -> [A, B, C] (commas and spaces separate too)."""
    return [u for value in values for u in value.replace(",", " ").split() if u]


def _fail(message: str) -> None:
    err_console().print(f"[red]error:[/red] {escape(message)}")
    sys.exit(2)


@click.command()
@click.argument("query", required=False, default="")
@click.option(
    "--status",
    type=click.Choice(REVIEW_STATUSES, case_sensitive=False),
    help="The status to set on every series of QUERY (and --uids); pending resets.",
)
@click.option("--note", default=None, help="A note kept with the status.")
@click.option("--uids", "uids", multiple=True, metavar="UID", help="These series too (repeatable).")
@click.option("--exclude", multiple=True, metavar="UID", help="Leave this series out.")
@click.option("--show", "show", default=None, metavar="UID", help="Show one series' review.")
@click.option("--progress", is_flag=True, help="How many series of QUERY are reviewed.")
@click.option("--history", default=10, show_default=True, help="Changes listed by --show.")
@catalog_option
@ACTOR_OPTION
@JSON_OPTION
def review(
    query: str,
    status: str | None,
    note: str | None,
    uids: tuple[str, ...],
    exclude: tuple[str, ...],
    show: str | None,
    progress: bool,
    history: int,
    catalog_url: str | None,
    actor: str | None,
    as_json: bool,
) -> None:
    """Review status of series: accepted, rejected, questionable or pending.

    With --status, set it on every series matching QUERY (plus --uids, minus --exclude) and
    print how many changed; --show UID prints one series' review and its history;
    --progress prints how many series of QUERY are reviewed, per status.
    """
    modes = sum((status is not None, show is not None, progress))
    if modes != 1:
        _fail("give one of --status, --show UID or --progress")
    with open_or_exit(catalog_url) as catalog, curation_errors():
        if show is not None:
            record = catalog.reviews.review(show)
            changes = catalog.reviews.history(show, max(history, 1))
            if as_json:
                emit_json({**record.to_dict(), "history": changes})
                return
            out = console()
            out.print(f"[bold]{escape(record.series_uid)}[/bold]: {record.status}")
            if record.reviewer is not None and record.reviewed_at is not None:
                out.print(f"by {escape(record.reviewer)} at {_when(record.reviewed_at)}")
            if record.note:
                out.print(f"note: {escape(record.note)}")
            for entry in changes:
                before, after = entry.detail.get("before"), entry.detail.get("after")
                out.print(f"  {_when(entry.at)}  {escape(entry.actor)}: {before} -> {after}")
            return
        if progress:
            counts = catalog.reviews.progress(query or "*")
            if as_json:
                emit_json(counts.to_dict())
                return
            share = f" ({100 * counts.reviewed / counts.total:.1f}%)" if counts.total else ""
            out = console()
            out.print(f"{counts.reviewed:,} / {counts.total:,} reviewed{share}")
            table = Table()
            table.add_column("status")
            table.add_column("series", justify="right")
            for name, value in counts.to_dict().items():
                if name in REVIEW_STATUSES:
                    table.add_row(name, f"{value:,}")
            out.print(table)
            return
        assert status is not None
        include = _uids(uids)
        if not query and not include:
            _fail("give a QUERY ('*' for every series) or --uids")
        selection = Selection.of(query or None, include, exclude)
        result = catalog.reviews.set_reviews(selection, status, note, actor=actor)
    if as_json:
        emit_json({"changed": result.changed, "total": result.series_count})
        return
    console().print(
        f"{status.lower()}: {result.changed:,} series changed ({result.series_count:,} selected)"
    )


def _when(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
