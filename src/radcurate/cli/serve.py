"""``radcurate serve``: the HTTP API (and, later, the UI) on a catalog."""

from __future__ import annotations

import sys
from dataclasses import replace
from typing import TYPE_CHECKING

import click

from radcurate.catalog.indexed import IndexedSearchMixin
from radcurate.cli.common import catalog_option, err_console, open_or_exit
from radcurate.optional import is_available

if TYPE_CHECKING:
    pass

#: default time budget of one search, seconds (``--query-budget``)
DEFAULT_QUERY_BUDGET_S = 10.0
#: seconds open connections get to finish after SIGTERM
SHUTDOWN_GRACE_S = 5


@click.command()
@catalog_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option(
    "--port", type=click.IntRange(1, 65535), default=8000, show_default=True, help="TCP port."
)
@click.option(
    "--cors-origin",
    "cors_origins",
    multiple=True,
    metavar="ORIGIN",
    help="Allow browsers on this origin to call the API (repeatable; default "
    "$RADCURATE_CORS_ORIGINS, comma-separated).",
)
@click.option(
    "--allow-replace",
    is_flag=True,
    help="A STOW-RS of a stored SOP Instance UID with other content replaces the original "
    "(kept under .replaced/, audited) instead of being refused with 0x0111.",
)
@click.option(
    "--query-budget",
    type=click.FloatRange(min=0),
    default=DEFAULT_QUERY_BUDGET_S,
    show_default=True,
    envvar="RADCURATE_QUERY_BUDGET",
    help="Seconds one search may take before it is stopped and answered 503 "
    "(0: no limit; env RADCURATE_QUERY_BUDGET).",
)
@click.option(
    "--log-level",
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    default="info",
    show_default=True,
)
def serve(
    catalog_url: str | None,
    host: str,
    port: int,
    cors_origins: tuple[str, ...],
    allow_replace: bool,
    query_budget: float,
    log_level: str,
) -> None:
    """Serve the catalog over HTTP (API under /api, its documentation under /docs)."""
    missing = [name for name in ("fastapi", "uvicorn") if not is_available(name)]
    if missing:
        err_console().print(
            f"error: radcurate serve needs {' and '.join(missing)}, which is not installed: "
            "run pip install 'radcurate[server]'",
            markup=False,
        )
        sys.exit(2)
    import uvicorn

    from radcurate.server import ServerSettings, create_app

    settings = ServerSettings.from_env(catalog_url=catalog_url)
    if cors_origins:
        settings = replace(settings, cors_origins=cors_origins)
    if allow_replace:
        settings = replace(settings, allow_replace=True)
    # opened here, not in the app's lifespan, so a bad URL is a one-line error, not a traceback
    catalog = open_or_exit(settings.catalog_url)
    if isinstance(catalog, IndexedSearchMixin):
        catalog.query_budget_s = query_budget or None
    try:
        shown = f"[{host}]" if ":" in host else host
        click.echo(f"radcurate serving {_redacted(catalog.url)} at http://{shown}:{port}/", nl=True)
        click.echo(f"API documentation at http://{shown}:{port}/docs")
        app = create_app(settings, catalog)
        # open connections (a slow search, a stream) get this long after SIGTERM, then are cut
        uvicorn.run(
            app,
            host=host,
            port=port,
            log_level=log_level,
            timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
        )
    finally:
        catalog.close()


def _redacted(url: str) -> str:
    """The URL without its password.

    Examples
    --------
    >>> _redacted("postgresql://u:secret@h/db")
    'postgresql://u:***@h/db'
    """
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at or ":" not in credentials:
        return url
    return f"{scheme}{sep}{credentials.split(':', 1)[0]}:***@{host}"
