"""Helpers shared by ``radcurate tag``, ``dataset`` and ``audit``."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, is_dataclass
from typing import Any, TypeVar

import click
from rich.markup import escape

from radcurate.catalog.curation import BulkResult, CurationError, Selection
from radcurate.catalog.curation_types import actor_name
from radcurate.cli.common import console, err_console
from radcurate.query import QueryError

F = TypeVar("F", bound=Callable[..., Any])


def selection_options(func: F) -> F:
    """``--include UID`` and ``--exclude UID`` (repeatable), next to the QUERY argument."""
    func = click.option(
        "--exclude", "exclude", multiple=True, metavar="UID", help="Leave this series out."
    )(func)
    return click.option(
        "--include", "include", multiple=True, metavar="UID", help="Add this series too."
    )(func)


def selection_of(query: str, include: Sequence[str], exclude: Sequence[str]) -> Selection:
    """The selection of the command line: QUERY ∪ --include − --exclude."""
    return Selection.of(query, include, exclude)


@contextmanager
def curation_errors() -> Iterator[None]:
    """Bad input (query, name, unknown tag) -> a red one-line error and exit code 2."""
    try:
        yield
    except (CurationError, QueryError) as exc:
        err_console().print(f"[red]error:[/red] {escape(str(exc))}")
        sys.exit(2)


def emit_json(value: Any) -> None:
    """Print dataclasses, lists of them, or plain JSON."""

    def plain(v: Any) -> Any:
        if is_dataclass(v) and not isinstance(v, type):
            return {k: plain(x) for k, x in asdict(v).items()}
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v

    click.echo(json.dumps(plain(value), indent=2, ensure_ascii=False))


def print_bulk(verb: str, name: str, result: BulkResult, as_json: bool) -> None:
    """What a bulk action did."""
    if as_json:
        emit_json(result)
        return
    console().print(
        f"{verb} [bold]{escape(name)}[/bold]: {result.changed} series changed "
        f"({result.series_count} selected)"
    )


#: ``--json`` and ``--actor``, shared by every curation command
JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print JSON.")
ACTOR_OPTION = click.option(
    "--actor", default=None, help="Who acts (default: the local user name)."
)


def bulk_command(group: click.Group, name: str, method: str, verb: str, doc: str) -> None:
    """Register ``group NAME NAME QUERY [--include] [--exclude]``: one bulk action on a selection.

    ``method`` is the catalog method called as ``method(name, selection, actor=...)``, a
    dotted path for one of a store's (``projects.assign``); ``verb`` words the summary line
    ("tagged", "added to").
    """
    from radcurate.cli.common import catalog_option, open_or_exit

    def run(
        name: str,
        query: str,
        include: tuple[str, ...],
        exclude: tuple[str, ...],
        catalog_url: str | None,
        actor: str | None,
        as_json: bool,
    ) -> None:
        with open_or_exit(catalog_url) as catalog, curation_errors():
            act: Any = catalog
            for part in method.split("."):
                act = getattr(act, part)
            result = act(name, selection_of(query, include, exclude), actor=actor_name(actor))
        print_bulk(verb, name, result, as_json)

    run.__doc__ = doc
    command = JSON_OPTION(ACTOR_OPTION(catalog_option(selection_options(run))))
    command = click.argument("query")(command)
    command = click.argument("name")(command)
    group.command(name)(command)
