"""``radcurate tag``: create, rename, recolour, delete tags; tag and untag series in bulk."""

from __future__ import annotations

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

_JSON = JSON_OPTION
_ACTOR = ACTOR_OPTION


@click.group()
def tag() -> None:
    """Tags on series: `radcurate tag add NAME QUERY`, `tag list`, ..."""


bulk_command(
    tag,
    "add",
    "tag_series",
    "tagged",
    "Tag every series matching QUERY with NAME (the tag is created when missing).",
)
bulk_command(
    tag, "remove", "untag_series", "untagged", "Remove tag NAME from every series matching QUERY."
)


@tag.command("list")
@click.option("--prefix", default="", help="Only tags starting with this (any case).")
@catalog_option
@_JSON
def list_tags(prefix: str, catalog_url: str | None, as_json: bool) -> None:
    """Tags with their colours and series counts, most used first."""
    with open_or_exit(catalog_url) as catalog:
        tags = catalog.tags(prefix)
    if as_json:
        emit_json(tags)
        return
    table = Table(title=f"{len(tags)} tags")
    table.add_column("tag")
    table.add_column("color")
    table.add_column("series", justify="right")
    for t in tags:
        table.add_row(escape(t.name), t.color or "", str(t.series_count))
    console().print(table)


@tag.command("create")
@click.argument("name")
@click.option("--color", default=None, help="#rrggbb")
@catalog_option
@_ACTOR
@_JSON
def create(
    name: str, color: str | None, catalog_url: str | None, actor: str | None, as_json: bool
) -> None:
    """Create tag NAME (an error when it exists)."""
    with open_or_exit(catalog_url) as catalog, curation_errors():
        info = catalog.create_tag(name, color, actor=actor)
    if as_json:
        emit_json(info)
    else:
        console().print(f"created tag [bold]{escape(info.name)}[/bold]")


@tag.command("rename")
@click.argument("name")
@click.argument("new_name")
@catalog_option
@_ACTOR
@_JSON
def rename(
    name: str, new_name: str, catalog_url: str | None, actor: str | None, as_json: bool
) -> None:
    """Rename tag NAME to NEW_NAME (every tagged series keeps it)."""
    with open_or_exit(catalog_url) as catalog, curation_errors():
        info = catalog.update_tag(name, new_name=new_name, actor=actor)
    if as_json:
        emit_json(info)
    else:
        console().print(f"renamed tag {escape(name)} to [bold]{escape(info.name)}[/bold]")


@tag.command("color")
@click.argument("name")
@click.argument("color", required=False)
@catalog_option
@_ACTOR
@_JSON
def color(
    name: str, color: str | None, catalog_url: str | None, actor: str | None, as_json: bool
) -> None:
    """Set the colour of tag NAME to COLOR (#rrggbb); without COLOR, remove it."""
    with open_or_exit(catalog_url) as catalog, curation_errors():
        info = catalog.update_tag(name, color=color, clear_color=color is None, actor=actor)
    if as_json:
        emit_json(info)
    else:
        console().print(f"tag [bold]{escape(info.name)}[/bold] colour {info.color or '(none)'}")


@tag.command("delete")
@click.argument("name")
@catalog_option
@_ACTOR
@_JSON
def delete(name: str, catalog_url: str | None, actor: str | None, as_json: bool) -> None:
    """Delete tag NAME (every series loses it)."""
    with open_or_exit(catalog_url) as catalog, curation_errors():
        removed = catalog.delete_tag(name, actor=actor)
    if as_json:
        emit_json({"name": name, "series_count": removed})
    else:
        console().print(f"deleted tag [bold]{escape(name)}[/bold] ({removed} series untagged)")
