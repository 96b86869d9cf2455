"""``radcurate serve``: the HTTP API (and, later, the UI) on a catalog."""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import sys
import threading
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import click

from radcurate.catalog.indexed import IndexedSearchMixin
from radcurate.cli.common import catalog_option, err_console, open_or_exit
from radcurate.optional import is_available

if TYPE_CHECKING:
    from radcurate.server.settings import ServerSettings

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
    "--auth",
    type=click.Choice(["auto", "on"]),
    default=None,
    help="auto: ask for credentials once the catalog has a user (on loopback); on: always. "
    "A non-loopback --host always turns it on. [default: $RADCURATE_AUTH or auto]",
)
@click.option(
    "--allowed-host",
    "allowed_hosts",
    multiple=True,
    metavar="NAME",
    help="A Host name this server answers to (repeatable; *.example.org for subdomains; "
    "default $RADCURATE_ALLOWED_HOSTS). Loopback names are always allowed on loopback.",
)
@click.option(
    "--trusted-proxy",
    "trusted_proxies",
    multiple=True,
    metavar="ADDRESS",
    help="Address of a reverse proxy trusted to name the user in --proxy-user-header.",
)
@click.option(
    "--proxy-user-header",
    default=None,
    metavar="HEADER",
    help="Header in which a --trusted-proxy names the signed-in user.",
)
@click.option(
    "--oidc-issuer",
    default=None,
    metavar="URL",
    help="Offer single sign-on with this OpenID Connect provider (a Keycloak realm URL; "
    "default $RADCURATE_OIDC_ISSUER). Users must exist here too (docs/auth-oidc.md).",
)
@click.option(
    "--oidc-client-id",
    default=None,
    metavar="ID",
    help="This server's client id at the --oidc-issuer (default $RADCURATE_OIDC_CLIENT_ID; "
    "a confidential client's secret only from $RADCURATE_OIDC_CLIENT_SECRET).",
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
    auth: str | None,
    allowed_hosts: tuple[str, ...],
    trusted_proxies: tuple[str, ...],
    proxy_user_header: str | None,
    oidc_issuer: str | None,
    oidc_client_id: str | None,
    log_level: str,
) -> None:
    """Serve the catalog over HTTP (API under /api, its documentation under /docs).

    On a loopback address with no users the server is open to the local user (the laptop
    default); once a user exists, or on any other address, every request needs credentials
    (docs/auth.md).
    """
    missing = [name for name in ("fastapi", "uvicorn", "jwt") if not is_available(name)]
    if missing:
        err_console().print(
            f"error: radcurate serve needs {' and '.join(missing)}, which is not installed: "
            "run pip install 'radcurate[server]'",
            markup=False,
        )
        sys.exit(2)
    import uvicorn

    from radcurate.server import ServerSettings, create_app
    from radcurate.server.access_log import uvicorn_log_config

    try:
        settings = ServerSettings.from_env(catalog_url=catalog_url)
        if oidc_issuer or oidc_client_id:
            settings = replace(
                settings,
                oidc_issuer=oidc_issuer or settings.oidc_issuer,
                oidc_client_id=oidc_client_id or settings.oidc_client_id,
            )
    except ValueError as exc:
        err_console().print(f"error: {exc}", markup=False)
        sys.exit(2)
    if cors_origins:
        settings = replace(settings, cors_origins=cors_origins)
    if allow_replace:
        settings = replace(settings, allow_replace=True)
    try:
        settings = secure_settings(
            settings,
            host,
            auth=auth,
            allowed_hosts=allowed_hosts,
            trusted_proxies=trusted_proxies,
            proxy_user_header=proxy_user_header,
        )
    except ValueError as exc:
        err_console().print(f"error: {exc}", markup=False)
        sys.exit(2)
    # opened here, not in the app's lifespan, so a bad URL is a one-line error, not a traceback
    catalog = open_or_exit(settings.catalog_url)
    if settings.auth == "on" and not catalog.auth.has_users():
        catalog.close()
        err_console().print(
            f"error: serving on {host} needs sign-in, and the catalog has no users yet. "
            "Create the first admin with `radcurate user add NAME --admin` (it asks for a "
            "password, or prints a one-time one with --generate-password), then start again.",
            markup=False,
        )
        sys.exit(2)
    if isinstance(catalog, IndexedSearchMixin):
        catalog.query_budget_s = query_budget or None
    try:
        shown = f"[{host}]" if ":" in host else host
        click.echo(f"radcurate serving {_redacted(catalog.url)} at http://{shown}:{port}/", nl=True)
        click.echo(f"API documentation at http://{shown}:{port}/docs")
        app = create_app(settings, catalog)
        # open connections (a stream) get this long after SIGTERM, then are cut; running
        # queries are cancelled at once (_StoppingServer), so their clients hear 503
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level=log_level,
            log_config=uvicorn_log_config(log_level),
            timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
        )
        server = _stopping_server(uvicorn.Server, config)
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C: a clean stop, as uvicorn.run
            server.run()
        if not server.started:
            sys.exit(3)  # could not start (the port is taken): uvicorn.run's exit status
    finally:
        catalog.close()


#: why queries still running at SIGTERM / Ctrl-C stop (their clients get 503 saying so)
STOPPING = "the server is stopping; try again when it is back"


def _stopping_server(base: type[Any], config: Any) -> Any:
    """A ``uvicorn.Server`` that also cancels every running query when told to exit
    (``radcurate.query.cancel.cancel_all``): SIGTERM stops the server within seconds even
    while an expensive search runs (issue 13, finding 4)."""
    from radcurate.query.cancel import cancel_all

    class StoppingServer(base):  # type: ignore[misc]
        def handle_exit(self, sig: int, frame: Any) -> None:
            super().handle_exit(sig, frame)
            # not here: a signal handler may interrupt the main thread holding a token's lock
            threading.Thread(target=cancel_all, args=(STOPPING,), daemon=True).start()

    return StoppingServer(config)


#: names a loopback server always answers to
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or name to bind) is reachable only from this machine.

    Examples
    --------
    >>> is_loopback("127.0.0.1"), is_loopback("::1"), is_loopback("0.0.0.0")
    (True, True, False)
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def secure_settings(
    settings: ServerSettings,
    host: str,
    *,
    auth: str | None = None,
    allowed_hosts: tuple[str, ...] = (),
    trusted_proxies: tuple[str, ...] = (),
    proxy_user_header: str | None = None,
) -> ServerSettings:
    """The settings ``serve`` runs with: auth on off loopback, Host names always checked.

    Examples
    --------
    >>> from pathlib import Path
    >>> from radcurate.server.settings import ServerSettings
    >>> safe = secure_settings(ServerSettings(home=Path("/d")), "0.0.0.0",
    ...                        allowed_hosts=("pacs.example.org",))
    >>> safe.auth, safe.allowed_hosts
    ('on', ('pacs.example.org',))
    >>> secure_settings(ServerSettings(home=Path("/d")), "127.0.0.1").allowed_hosts
    ('localhost', '127.0.0.1', '::1')
    """
    names = allowed_hosts or settings.allowed_hosts
    mode = auth or settings.auth
    if is_loopback(host):
        names = (*LOOPBACK_NAMES, *(n for n in names if n not in LOOPBACK_NAMES))
    else:
        mode = "on"
        if not names:
            names = _own_names(host)
    return replace(
        settings,
        auth=mode,
        allowed_hosts=tuple(names),
        trusted_proxies=trusted_proxies or settings.trusted_proxies,
        proxy_user_header=proxy_user_header or settings.proxy_user_header,
    )


def _own_names(host: str) -> tuple[str, ...]:
    """The names a server bound to ``host`` is reached by when none were configured: its
    address (unless a wildcard), this machine's name and fully qualified name, loopback."""
    names = [socket.gethostname(), socket.getfqdn(), *LOOPBACK_NAMES]
    if host not in ("0.0.0.0", "::", ""):
        names.insert(0, host)
    else:
        with contextlib.suppress(OSError):
            names += socket.gethostbyname_ex(socket.gethostname())[2]
    return tuple(dict.fromkeys(n.lower() for n in names if n))


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
