"""``radcurate clinical``: import, list, show and remove clinical tables (docs/clinical.md)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from radcurate.catalog.clinical_read import KEY_KINDS
from radcurate.catalog.clinical_tables import (
    DUPLICATE_POLICIES,
    get_table,
    import_table,
    list_tables,
    remove_table,
)
from radcurate.cli.common import catalog_option, console, err_console, open_or_exit
from radcurate.cli.curation_common import ACTOR_OPTION, JSON_OPTION, curation_errors
from radcurate.optional import MissingDependencyError


@click.group()
def clinical() -> None:
    """Clinical tables joined into the catalog as clin.<table>.<column> fields."""


@contextmanager
def _errors() -> Iterator[None]:
    """Bad input -> a red one-line error and exit code 2 (curation errors included)."""
    try:
        with curation_errors():
            yield
    except MissingDependencyError as exc:
        err_console().print(f"[red]error:[/red] {escape(str(exc))}")
        sys.exit(2)


@clinical.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--key",
    required=True,
    type=click.Choice(KEY_KINDS, case_sensitive=False),
    help="What the key column holds: the series a row joins to.",
)
@click.option("--key-column", default=None, help="The key column (default: named like --key).")
@click.option("--name", default=None, help="Table name (default: the file name's stem).")
@click.option(
    "--duplicates",
    type=click.Choice(DUPLICATE_POLICIES),
    default="refuse",
    show_default=True,
    help="Rows sharing a key with different values: refuse the file, or keep the first/last.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "tsv", "parquet"]), default=None,
    help="The file format (default: from the file name's ending).",
)  # fmt: skip
@click.option(
    "--show-unmatched",
    is_flag=True,
    help="Also print the file's keys that no series has (identifiers: never stored).",
)
@catalog_option
@ACTOR_OPTION
@JSON_OPTION
def import_(
    file: Path,
    key: str,
    key_column: str | None,
    name: str | None,
    duplicates: str,
    fmt: str | None,
    show_unmatched: bool,
    catalog_url: str | None,
    actor: str | None,
    as_json: bool,
) -> None:
    """Import FILE (CSV, TSV or Parquet) as clin.<name>.<column> fields of every series
    whose KEY matches a row; an earlier import of the same name is replaced.

    Example: radcurate clinical import outcomes.csv --key PatientID
    """
    with open_or_exit(catalog_url) as catalog, _errors():
        result = import_table(
            catalog,
            file.read_bytes(),
            file.name,
            key=key,
            name=name,
            key_column=key_column,
            duplicates=duplicates,
            fmt=fmt,
            actor=actor,
        )
    unmatched = result.unmatched_keys if show_unmatched else None
    if as_json:
        out = dict(result.report)
        if unmatched is not None:
            out["unmatched_key_values"] = unmatched
        click.echo(json.dumps(out, indent=2, ensure_ascii=False))
        return
    print_report(result.report, unmatched)


@clinical.command("list")
@catalog_option
@JSON_OPTION
def list_(catalog_url: str | None, as_json: bool) -> None:
    """The imported tables, each with its last import's counts."""
    with open_or_exit(catalog_url) as catalog, _errors():
        tables = list_tables(catalog)
    if as_json:
        click.echo(json.dumps([t.to_dict() for t in tables], indent=2, ensure_ascii=False))
        return
    table = Table(title=f"{len(tables)} clinical tables")
    for column in ("table", "fields", "key", "series", "rows", "matched keys", "problems"):
        table.add_column(column, justify="right" if column in _NUMERIC else "left")
    table.add_column("imported")
    for t in tables:
        r = t.report
        table.add_row(
            escape(t.name),
            f"clin.{escape(t.name)}.* ({len(r.get('columns', []))})",
            str(r.get("key", "")),
            str(t.series_count),
            str(r.get("rows_read", "")),
            f"{r.get('matched_keys', '')} of {r.get('keys', '')}",
            str(r.get("type_problems", 0)),
            f"{t.imported_at} by {escape(t.actor)}",
        )
    console().print(table)


_NUMERIC = ("series", "rows", "matched keys", "problems")


@clinical.command("show")
@click.argument("name")
@catalog_option
@JSON_OPTION
def show(name: str, catalog_url: str | None, as_json: bool) -> None:
    """Table NAME with the join report of its last import."""
    with open_or_exit(catalog_url) as catalog, _errors():
        found = get_table(catalog, name)
    if as_json:
        click.echo(json.dumps(found.to_dict(), indent=2, ensure_ascii=False))
        return
    console().print(
        f"{found.series_count} series hold clin.{escape(found.name)}.* now "
        f"(imported {found.imported_at} by {escape(found.actor)})"
    )
    print_report(found.report, None)


@clinical.command("remove")
@click.argument("name")
@catalog_option
@ACTOR_OPTION
@JSON_OPTION
def remove(name: str, catalog_url: str | None, actor: str | None, as_json: bool) -> None:
    """Remove table NAME: its clin.NAME.* fields leave every series."""
    with open_or_exit(catalog_url) as catalog, _errors():
        removed = remove_table(catalog, name, actor=actor)
    if as_json:
        click.echo(json.dumps({"name": name, "series_removed": removed}))
    else:
        console().print(
            f"removed clinical table [bold]{escape(name)}[/bold] ({removed} series lost its fields)"
        )


def print_report(report: dict[str, Any], unmatched: list[str] | None) -> None:
    """A join report for people (``unmatched``: the keys to list, when asked for)."""
    out = console()
    name = escape(str(report.get("table", "")))
    out.print(
        f"clinical table [bold]{name}[/bold] (clin.{name}.*) from {escape(str(report['file']))}, "
        f"keyed by {report['key']} (column {escape(repr(report['key_column']))})"
    )
    out.print(
        f"rows: {report['rows_read']} read, {report['rows_without_key']} without a key; "
        f"keys: {report['keys']}, {report['matched_keys']} matched, "
        f"{report['unmatched_keys']} without a series"
        + ("" if unmatched is not None or not report["unmatched_keys"] else " (--show-unmatched)")
    )
    if report["duplicate_keys"]:
        groups = report["duplicate_groups"]
        shown = "; ".join(
            f"rows {' and '.join(map(str, g['rows']))}: "
            + ("identical" if g["identical"] else f"differ, row {g['kept']} kept")
            for g in groups[:10]
        )
        more = f" and {len(groups) - 10} more" if len(groups) > 10 else ""
        out.print(f"duplicate keys: {report['duplicate_keys']} ({shown}{more})")
    out.print(
        f"series: {report['matched_series']} of {report['catalog_series']} got a row, "
        f"{report['series_without_row']} have none (find them: -has:clin.{name}); "
        f"{report['series_written']} written, {report['series_unchanged']} unchanged, "
        f"{report['series_removed']} lost the table's fields"
    )
    table = Table(title="columns")
    for column in ("column", "field", "type", "values", "missing", "problems"):
        table.add_column(column, justify="right" if column in ("values", "missing") else "left")
    for c in report["columns"]:
        problems = "; ".join(p["message"] for p in c["problems"])
        table.add_row(
            escape(c["column"]),
            escape(c["field"]),
            c["type"],
            str(c["values"]),
            str(c["missing"]),
            escape(problems),
        )
    out.print(table)
    for note in report.get("notes", []):
        out.print(f"note: {escape(note)}")
    if unmatched:
        out.print(f"keys without a series ({len(unmatched)}):")
        for key in unmatched:
            out.print(f"  {escape(key)}")
