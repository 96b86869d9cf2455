"""Options and helpers shared by subcommands."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape

from radcurate.catalog import CatalogBackend, CatalogError, open_catalog
from radcurate.optional import MissingDependencyError
from radcurate.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])


def catalog_option(func: F) -> F:
    """``--catalog URL`` (default: $RADCURATE_CATALOG, else ~/.radcurate/catalog.sqlite)."""
    return click.option(
        "--catalog",
        "catalog_url",
        metavar="URL",
        default=None,
        help="Catalog URL: sqlite:///path, postgresql://user@host/db, or a file path. "
        "Default: $RADCURATE_CATALOG, else sqlite in $RADCURATE_HOME (~/.radcurate).",
    )(func)


def settings() -> Settings:
    """Settings from the environment."""
    return Settings.from_env()


def open_or_exit(url: str | None) -> CatalogBackend:
    """Open the catalog or exit with a clear message (exit code 2)."""
    current = settings()
    target = url or current.catalog_url
    try:
        return open_catalog(target, index_dir=current.home / "index")
    except (CatalogError, MissingDependencyError) as exc:
        err_console().print(f"[red]error:[/red] {escape(str(exc))}")
        sys.exit(2)


def console() -> Console:
    """The stdout console."""
    return Console(highlight=False)


def err_console() -> Console:
    """The stderr console."""
    return Console(stderr=True, highlight=False)
