"""``radcurate login`` and ``radcurate logout``: an API token for a remote ``radcurate serve``.

``login`` asks for your password, has the server make an API token with it (``POST
/api/tokens`` over HTTP Basic) named ``radcurate login on HOSTNAME``, and keeps the token in
your credentials file (:mod:`radcurate.cli.credentials`, mode 0600); the token is never
printed. ``logout`` revokes it on the server (``DELETE /api/tokens/{id}``) and forgets it::

    radcurate login https://radcurate.example.org --user ana
    radcurate logout https://radcurate.example.org
"""

from __future__ import annotations

import base64
import contextlib
import getpass
import json
import socket
import sys
import urllib.error
import urllib.request
from typing import Any, NoReturn

import click

from radcurate.cli import credentials
from radcurate.cli.common import err_console

#: seconds to wait for the server
TIMEOUT_S = 30.0
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class RemoteError(Exception):
    """The server could not be reached or refused; the message says what to do."""

    def __init__(self, message: str, status: int = 0, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def _call(
    method: str, url: str, authorization: str, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One JSON request; the answer's JSON ({} when empty). HTTP errors raise
    :class:`RemoteError` with the server's error code and message."""
    data = None if body is None else json.dumps(body).encode("utf-8")
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Authorization", authorization)
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with _OPENER.open(request, timeout=TIMEOUT_S) as answer:
            raw = answer.read()
    except urllib.error.HTTPError as exc:
        detail: dict[str, Any] = {}
        with contextlib.suppress(ValueError, AttributeError):
            detail = json.loads(exc.read() or b"{}").get("error") or {}
        message = str(detail.get("message") or exc.reason)
        raise RemoteError(message, exc.code, str(detail.get("code") or "")) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise RemoteError(f"cannot reach {url}: {reason}") from None
    found: dict[str, Any] = json.loads(raw) if raw.strip() else {}
    return found


def _basic(user: str, password: str) -> str:
    pair = f"{user}:{password}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


def _fail(message: str, code: int = 1) -> NoReturn:
    err_console().print(f"error: {message}", markup=False)
    sys.exit(code)


def _base(url: str) -> str:
    try:
        return credentials.normalize_url(url)
    except ValueError as exc:
        _fail(str(exc), 2)


def _revoke(base: str, login: credentials.StoredLogin) -> None:
    """Revoke a stored token with itself; gone already (401, 404) counts as revoked."""
    if not login.id:
        raise RemoteError("the stored token has no id (written by hand?); revoke it in the UI")
    try:
        _call("DELETE", f"{base}/api/tokens/{login.id}", f"Bearer {login.token}")
    except RemoteError as exc:
        if exc.status not in (401, 404):
            raise


@click.command()
@click.argument("url")
@click.option("--user", "user_name", metavar="NAME", help="Your user name [default: your OS user].")
@click.option(
    "--scope",
    type=click.Choice(["read", "write", "admin"]),
    default="write",
    show_default=True,
    help="What the token may do (at most what your role allows).",
)
@click.option(
    "--expires-days",
    type=click.FloatRange(min=0, min_open=True, max=3650),
    default=90,
    show_default=True,
    help="Days until the token expires.",
)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def login(
    url: str, user_name: str | None, scope: str, expires_days: float, password_stdin: bool
) -> None:
    """Sign in to the radcurate server at URL and keep an API token for it.

    The token (named "radcurate login on HOSTNAME") goes into your credentials file
    ($XDG_CONFIG_HOME/radcurate/credentials.json, readable by you only), never on screen.
    """
    base = _base(url)
    name = user_name or getpass.getuser()
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt(f"Password for {name} at {base}", hide_input=True)
    if not password:
        _fail("an empty password: give yours (or use --password-stdin)", 2)
    body = {
        "name": f"radcurate login on {socket.gethostname()}",
        "scope": scope,
        "expires_in_days": expires_days,
    }
    try:
        made = _call("POST", f"{base}/api/tokens", _basic(name, password), body)
    except RemoteError as exc:
        if exc.status == 401:
            _fail(f"wrong user name or password for {name} at {base}")
        if exc.code == "auth_off":
            _fail(f"{base} does not ask for sign-in (it has no users yet): nothing to log in to")
        _fail(f"{base} refused the token ({exc.status or 'no answer'}): {exc}")
    token, item = made.get("token"), made.get("item") or {}
    if not isinstance(token, str) or not token.startswith("rct_"):
        _fail(f"{base} did not answer with an API token: is it a radcurate server?")
    old = _stored(base)
    login_record = credentials.StoredLogin(
        token=token, id=str(item.get("id", "")), user=str(item.get("user", name)), scope=scope
    )
    path = credentials.remember(base, login_record)
    if old is not None and old.token != token:
        try:
            _revoke(base, old)
        except RemoteError as exc:
            err_console().print(f"warning: the earlier token was not revoked: {exc}", markup=False)
    expires = item.get("expires_at") or "never"
    click.echo(
        f"logged in to {base} as {login_record.user} (token {login_record.id}, scope {scope}, "
        f"expires {expires}); stored in {path}"
    )


def _stored(base: str) -> credentials.StoredLogin | None:
    try:
        return credentials.stored(base)
    except ValueError as exc:
        _fail(str(exc))


@click.command()
@click.argument("url")
@click.option(
    "--forget",
    is_flag=True,
    help="Forget the token here even when the server cannot be reached to revoke it.",
)
def logout(url: str, forget: bool) -> None:
    """Revoke the API token `radcurate login` keeps for URL and forget it."""
    base = _base(url)
    old = _stored(base)
    if old is None:
        _fail(f"not logged in to {base} (nothing stored in {credentials.credentials_path()})")
    done = "revoked and forgotten"
    try:
        _revoke(base, old)
    except RemoteError as exc:
        done = "forgotten here, NOT revoked on the server"
        if not forget:
            _fail(
                f"the token was not revoked: {exc}. It stays stored; run again when the server "
                "answers, or add --forget to drop it here anyway (then revoke it in the UI)"
            )
        err_console().print(f"warning: not revoked on the server: {exc}", markup=False)
    credentials.forget(base)
    click.echo(f"logged out of {base} (token {old.id or '?'} {done})")
