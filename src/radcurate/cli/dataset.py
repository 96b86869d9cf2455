"""``radcurate dataset``: datasets of series, frozen versions with content hashes, diffs."""

from __future__ import annotations

import datetime as dt

import click
from rich.markup import escape
from rich.table import Table

from radcurate.cli.common import catalog_option, console, open_or_exit
from radcurate.cli.curation_common import (
    ACTOR_OPTION,
    JSON_OPTION,
    bulk_command,
    curation_errors,
    emit_json,
)
from radcurate.cli.dataset_card import card

_JSON = JSON_OPTION
_ACTOR = ACTOR_OPTION


def _when(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@click.group()
def dataset() -> None:
    """Datasets: `dataset create NAME`, `dataset add NAME QUERY`, `dataset freeze NAME`, ..."""


@dataset.command("create")
@click.argument("name")
@click.option("--description", default="", help="What the dataset is for.")
@catalog_option
@_ACTOR
@_JSON
def create(
    name: str, description: str, catalog_url: str | None, actor: str | None, as_json: bool
) -> None:
    """Create an empty dataset NAME."""
    with open_or_exit(catalog_url) as catalog, curation_errors():
        info = catalog.create_dataset(name, description, actor=actor)
    if as_json:
        emit_json(info)
    else:
        console().print(f"created dataset [bold]{escape(info.name)}[/bold]")


bulk_command(
    dataset, "add", "add_to_dataset", "added to", "Add every series matching QUERY to dataset NAME."
)
bulk_command(
    dataset,
    "remove",
    "remove_from_dataset",
    "removed from",
    "Remove every series matching QUERY from dataset NAME (frozen versions keep them).",
)


@dataset.command("list")
@catalog_option
@_JSON
def list_datasets(catalog_url: str | None, as_json: bool) -> None:
    """Datasets with their series, study and patient counts."""
    with open_or_exit(catalog_url) as catalog:
        items = catalog.datasets()
    if as_json:
        emit_json(items)
        return
    table = Table(title=f"{len(items)} datasets")
    for column in ("dataset", "series", "studies", "patients", "versions", "description"):
        table.add_column(
            column, justify="right" if column not in ("dataset", "description") else "left"
        )
    for d in items:
        table.add_row(
            escape(d.name),
            str(d.series),
            str(d.studies),
            str(d.patients),
            str(d.versions),
            escape(d.description),
        )
    console().print(table)


@dataset.command("freeze")
@click.argument("name")
@click.option("--note", default=None, help="Why this version was frozen.")
@catalog_option
@_ACTOR
@_JSON
def freeze(
    name: str, note: str | None, catalog_url: str | None, actor: str | None, as_json: bool
) -> None:
    """Freeze dataset NAME into an immutable version (members, SOP UIDs, content hash)."""
    with open_or_exit(catalog_url) as catalog, curation_errors():
        version = catalog.freeze_dataset(name, note, actor=actor)
    if as_json:
        emit_json(version)
        return
    state = "froze" if version.created else "unchanged since"
    console().print(
        f"{state} [bold]{escape(version.dataset)}[/bold] version {version.version}: "
        f"{version.series_count} series, {version.instance_count} instances, "
        f"sha256 {version.content_hash}"
    )


@dataset.command("versions")
@click.argument("name")
@catalog_option
@_JSON
def versions(name: str, catalog_url: str | None, as_json: bool) -> None:
    """Frozen versions of dataset NAME."""
    with open_or_exit(catalog_url) as catalog, curation_errors():
        items = catalog.dataset_versions(name)
    if as_json:
        emit_json(items)
        return
    table = Table(title=f"{escape(name)}: {len(items)} versions")
    for column in ("version", "series", "instances", "frozen", "by", "sha256", "note"):
        table.add_column(column)
    for v in items:
        table.add_row(
            str(v.version),
            str(v.series_count),
            str(v.instance_count),
            _when(v.created_at),
            escape(v.created_by),
            v.content_hash[:16],
            escape(v.note or ""),
        )
    console().print(table)


@dataset.command("diff")
@click.argument("name")
@click.argument("v1", type=int)
@click.argument("v2", type=int)
@catalog_option
@_JSON
def diff(name: str, v1: int, v2: int, catalog_url: str | None, as_json: bool) -> None:
    """Series added and removed going from version V1 to version V2 of dataset NAME."""
    with open_or_exit(catalog_url) as catalog, curation_errors():
        added, removed = catalog.diff_dataset_versions(name, v1, v2)
    if as_json:
        emit_json({"a": v1, "b": v2, "added": added, "removed": removed})
        return
    out = console()
    out.print(f"{escape(name)} v{v1} -> v{v2}: +{len(added)} -{len(removed)} series")
    for uid in added:
        out.print(f"[green]+ {escape(uid)}[/green]")
    for uid in removed:
        out.print(f"[red]- {escape(uid)}[/red]")


@dataset.command("delete")
@click.argument("name")
@click.option("--force", is_flag=True, help="Also delete its frozen versions.")
@catalog_option
@_ACTOR
@_JSON
def delete(
    name: str, force: bool, catalog_url: str | None, actor: str | None, as_json: bool
) -> None:
    """Delete dataset NAME (one with frozen versions only with --force)."""
    with open_or_exit(catalog_url) as catalog, curation_errors():
        removed = catalog.delete_dataset(name, force=force, actor=actor)
    if as_json:
        emit_json({"name": name, "series_count": removed})
    else:
        console().print(f"deleted dataset [bold]{escape(name)}[/bold] ({removed} series)")


dataset.add_command(card)  # `dataset card`: cli/dataset_card.py
