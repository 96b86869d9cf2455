"""``radcurate user`` and ``radcurate token``: users, roles and API tokens of a catalog.

These act on the catalog directly, as its owner (whoever can open the catalog file or
database), and are recorded in the audit log under ``--actor`` (default: your OS user)::

    radcurate user add ana --admin                # asks for a password twice
    radcurate user add bob --role viewer --generate-password
    radcurate user list
    radcurate user set bob --role curator
    radcurate user set bob --disable
    radcurate user delete bob
    radcurate token create ana --name laptop --scope write --expires-days 30
    radcurate token list [--user ana]
    radcurate token revoke 3f2a9c1d0b7e6a55
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime

import click
from rich.markup import escape
from rich.table import Table

from radcurate.auth import Role, Scope
from radcurate.auth.secrets import new_password
from radcurate.catalog.auth_store import Token
from radcurate.catalog.curation_types import actor_name
from radcurate.cli.common import catalog_option, console, err_console, open_or_exit
from radcurate.cli.curation_common import ACTOR_OPTION, JSON_OPTION, curation_errors, emit_json

ROLES = [r.value for r in Role]
SCOPES = [s.value for s in Scope]


def _when(at: float | None) -> str:
    if at is None:
        return "-"
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M")


def _password(generate: bool, from_stdin: bool) -> tuple[str, bool]:
    """The password to set and whether it was generated (then it is printed once)."""
    if generate:
        return new_password(), True
    if from_stdin:
        return sys.stdin.readline().rstrip("\n"), False
    value: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value, False


@click.group()
def user() -> None:
    """Manage the users who may sign in to radcurate serve."""


@user.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), default="viewer", show_default=True)
@click.option("--admin", is_flag=True, help="Same as --role admin (the first user should be).")
@click.option("--generate-password", is_flag=True, help="Make a random one-time password.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@catalog_option
@ACTOR_OPTION
def add(
    name: str,
    role: str,
    admin: bool,
    generate_password: bool,
    password_stdin: bool,
    catalog_url: str | None,
    actor: str | None,
) -> None:
    """Create user NAME."""
    password, generated = _password(generate_password, password_stdin)
    with open_or_exit(catalog_url) as catalog, curation_errors():
        made = catalog.auth.add_user(
            name, "admin" if admin else role, password, actor=_actor(actor)
        )
    console().print(f"created [bold]{escape(made.name)}[/bold] ({made.role.value})")
    if generated:
        # to the terminal only, never a log: the one time it is shown
        click.echo(f"one-time password: {password}")
        click.echo("(change it after signing in: radcurate user set NAME --password)")


@user.command("list")
@catalog_option
@JSON_OPTION
def list_users(catalog_url: str | None, as_json: bool) -> None:
    """Every user with role, state and last sign-in."""
    with open_or_exit(catalog_url) as catalog:
        users = catalog.auth.users()
    if as_json:
        emit_json(users)
        return
    table = Table("user", "role", "state", "created", "last sign-in")
    for u in users:
        state = "disabled" if u.disabled else "active"
        table.add_row(
            escape(u.name), u.role.value, state, _when(u.created_at), _when(u.last_login_at)
        )
    console().print(table)


@user.command("set")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), default=None)
@click.option("--password", "change_password", is_flag=True, help="Set a new password.")
@click.option("--generate-password", is_flag=True, help="Set a random one-time password.")
@click.option("--password-stdin", is_flag=True, help="Read the new password from stdin.")
@click.option("--disable/--enable", "disabled", default=None, help="Stop or allow sign-in.")
@catalog_option
@ACTOR_OPTION
def set_user(
    name: str,
    role: str | None,
    change_password: bool,
    generate_password: bool,
    password_stdin: bool,
    disabled: bool | None,
    catalog_url: str | None,
    actor: str | None,
) -> None:
    """Change user NAME's role, password or state (a new password ends their sessions)."""
    password, generated = None, False
    if change_password or generate_password or password_stdin:
        password, generated = _password(generate_password, password_stdin)
    with open_or_exit(catalog_url) as catalog, curation_errors():
        changed = catalog.auth.update_user(
            name, actor=_actor(actor), role=role, password=password, disabled=disabled
        )
    state = "disabled" if changed.disabled else "active"
    console().print(f"[bold]{escape(changed.name)}[/bold]: {changed.role.value}, {state}")
    if generated:
        click.echo(f"one-time password: {password}")


@user.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask.")
@catalog_option
@ACTOR_OPTION
def delete(name: str, yes: bool, catalog_url: str | None, actor: str | None) -> None:
    """Delete user NAME with their tokens and sessions (the audit log keeps their name)."""
    if not yes:
        click.confirm(f"Delete user {name} and revoke their tokens?", abort=True)
    with open_or_exit(catalog_url) as catalog, curation_errors():
        catalog.auth.delete_user(name, actor=_actor(actor))
    console().print(f"deleted [bold]{escape(name)}[/bold]")


def _actor(actor: str | None) -> str:
    return actor_name(actor)


@click.group()
def token() -> None:
    """Manage API tokens (for scripts, the SDK and DICOMweb clients)."""


@token.command("create")
@click.argument("owner", metavar="USER")
@click.option("--name", required=True, help="What the token is for (e.g. 'laptop', 'ci').")
@click.option("--scope", type=click.Choice(SCOPES), default="read", show_default=True)
@click.option(
    "--expires-days",
    type=click.FloatRange(min=0, min_open=True),
    default=90.0,
    show_default=True,
    help="Days until it stops working.",
)
@click.option("--no-expiry", is_flag=True, help="Never expires (revoke it when done).")
@catalog_option
@ACTOR_OPTION
@JSON_OPTION
def create(
    owner: str,
    name: str,
    scope: str,
    expires_days: float,
    no_expiry: bool,
    catalog_url: str | None,
    actor: str | None,
    as_json: bool,
) -> None:
    """Make an API token for USER; its secret is printed this once."""
    expires = None if no_expiry else time.time() + expires_days * 86400.0
    with open_or_exit(catalog_url) as catalog, curation_errors():
        secret, made = catalog.auth.create_token(owner, name, scope, expires, actor=_actor(actor))
    if as_json:
        emit_json({"token": secret, "item": made})
        return
    err_console().print(
        f"token {made.id} for {escape(made.user)} ({made.scope.value}, expires "
        f"{_when(made.expires_at)}); it is shown once:"
    )
    click.echo(secret)


@token.command("list")
@click.option("--user", "owner", default=None, help="Only this user's tokens.")
@catalog_option
@JSON_OPTION
def list_tokens(owner: str | None, catalog_url: str | None, as_json: bool) -> None:
    """Tokens, newest first (revoked and expired ones too)."""
    with open_or_exit(catalog_url) as catalog:
        tokens = catalog.auth.tokens(owner)
    if as_json:
        emit_json(tokens)
        return
    table = Table("id", "user", "name", "scope", "created", "expires", "last used", "state")
    now = time.time()
    for t in tokens:
        table.add_row(
            t.id,
            escape(t.user),
            escape(t.name),
            t.scope.value,
            _when(t.created_at),
            _when(t.expires_at),
            _when(t.last_used_at),
            _state(t, now),
        )
    console().print(table)


def _state(t: Token, now: float) -> str:
    if t.revoked_at is not None:
        return "revoked"
    return "active" if t.usable(now) else "expired"


@token.command("revoke")
@click.argument("token_id", metavar="ID")
@catalog_option
@ACTOR_OPTION
def revoke(token_id: str, catalog_url: str | None, actor: str | None) -> None:
    """Revoke token ID at once (revoking twice changes nothing)."""
    with open_or_exit(catalog_url) as catalog, curation_errors():
        catalog.auth.revoke_token(token_id, actor=_actor(actor))
    console().print(f"revoked {escape(token_id)}")
