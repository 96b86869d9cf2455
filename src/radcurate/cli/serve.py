"""``radcurate serve``: the HTTP API (and, later, the UI) on a catalog."""

from __future__ import annotations

import sys
from dataclasses import replace

import click

from radcurate.cli.common import catalog_option, err_console, open_or_exit
from radcurate.optional import is_available


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
    try:
        shown = f"[{host}]" if ":" in host else host
        click.echo(f"radcurate serving {_redacted(catalog.url)} at http://{shown}:{port}/", nl=True)
        click.echo(f"API documentation at http://{shown}:{port}/docs")
        uvicorn.run(create_app(settings, catalog), host=host, port=port, log_level=log_level)
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
