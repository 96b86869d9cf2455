"""``radcurate dataset card``: the card of a frozen dataset version as JSON or HTML
(docs/dataset-card.md)."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.markup import escape

from radcurate.analyze.bias_report import BiasInputError
from radcurate.analyze.dataset_card import (
    DatasetCardError,
    card_json,
    dataset_card,
    resolve_version,
)
from radcurate.analyze.dataset_card_html import card_html
from radcurate.cli.common import catalog_option, err_console, open_or_exit
from radcurate.cli.curation_common import curation_errors

_TARGET_HELP = (
    "A field (clin.t.c, ai.x, review) or a query (tag:X) to test the acquisition "
    "attributes against (shortcut flags)."
)


@click.command("card")
@click.argument("name_at_version", metavar="NAME[@VERSION]")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "html"]),
    default="json",
    show_default=True,
    help="JSON (radcurate-dataset-card/1) or one self-contained HTML page.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="Write to this file instead of standard output.",
)
@click.option("--target", "-t", default=None, help=_TARGET_HELP)
@catalog_option
def card(
    name_at_version: str,
    fmt: str,
    out: Path | None,
    target: str | None,
    catalog_url: str | None,
) -> None:
    """The dataset card of NAME@VERSION (NAME alone: its latest frozen version).

    Example: radcurate dataset card lidc@2 --format html --out lidc-v2.html
    """
    with open_or_exit(catalog_url) as catalog, curation_errors():
        try:
            name, version = resolve_version(catalog, name_at_version)
            found = dataset_card(catalog, name, version, target=target)
        except (DatasetCardError, BiasInputError) as exc:
            err_console().print(f"[red]error:[/red] {escape(str(exc))}")
            sys.exit(2)
    text = card_json(found) if fmt == "json" else card_html(found)
    if out is None:
        click.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        err_console().print(f"[red]error:[/red] cannot write {escape(str(out))}: {exc.strerror}")
        sys.exit(2)
    err_console().print(f"wrote the card of {escape(name)}@{version} to {escape(str(out))}")
