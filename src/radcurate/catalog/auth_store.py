"""Users, API tokens and login sessions, kept in the catalog (schema version 9).

Passwords are stored as scrypt hashes, tokens and sessions as the SHA-256 of their secret
(``radcurate.auth``); a secret is returned once, when made, and never again. Every change
to a user or token is one ``audit_log`` entry (``user.add``, ``user.update``,
``user.delete``, ``token.create``, ``token.revoke``) naming who made it. Changing a user's
password, disabling or deleting them ends their sessions; disabling or deleting also makes
their tokens useless (a disabled user's token is refused, a deleted user's is revoked).

Examples
--------
>>> import tempfile
>>> from radcurate.catalog import open_catalog
>>> folder = tempfile.mkdtemp()
>>> with open_catalog(f"sqlite:///{folder}/catalog.sqlite") as catalog:
...     store = catalog.auth
...     _ = store.add_user("ana", Role.CURATOR, "a long password", actor="root")
...     secret, token = store.create_token("ana", "laptop", Scope.WRITE, None, actor="ana")
...     found = store.token_user(secret)
...     (found.user.name, found.scope.value) if found else None
('ana', 'write')
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass
from typing import Any, Protocol

from radcurate.auth import (
    SESSION_PREFIX,
    TOKEN_PREFIX,
    PasswordError,
    Role,
    Scope,
    hash_password,
    max_scope,
    new_secret,
    scope_within,
    secret_hash,
    verify_password,
)
from radcurate.auth.passwords import dummy_verify
from radcurate.catalog.curation_types import (
    CurationConflictError,
    CurationError,
    CurationNotFoundError,
)
from radcurate.catalog.store_session import AuditedSession

#: user names: letters, digits and ``._@-``, 1 to 64 characters (no spaces, no control bytes)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
#: the longest token name kept
MAX_TOKEN_NAME = 100
#: how long a login session lasts by default (hours)
SESSION_HOURS = 12.0
#: ``last_used_at`` of a token is written at most this often (seconds)
_TOUCH_EVERY = 60.0


class AuthStoreError(CurationError):
    """Bad user or token input (a malformed name, a weak password, an unknown role)."""

    code = "invalid_user"
    status = 400


@dataclass(frozen=True)
class User:
    """A user; never carries the password hash."""

    name: str
    role: Role
    disabled: bool
    created_at: float
    last_login_at: float | None


@dataclass(frozen=True)
class Token:
    """An API token's record (its secret is not kept)."""

    id: str
    user: str
    name: str
    scope: Scope
    created_at: float
    expires_at: float | None
    revoked_at: float | None
    last_used_at: float | None

    def usable(self, now: float) -> bool:
        """Neither revoked nor expired at ``now``."""
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


@dataclass(frozen=True)
class TokenUse:
    """Who a presented token speaks for, and with which scope."""

    user: User
    scope: Scope
    token_id: str


class AuthSession(AuditedSession, Protocol):
    """What the store needs of a SQL catalog (``SQLCatalog`` provides it)."""


_USER_COLUMNS = "name, role, disabled, created_at, last_login_at"
_TOKEN_COLUMNS = "id, user_name, name, scope, created_at, expires_at, revoked_at, last_used_at"


def _user(row: tuple[Any, ...]) -> User:
    name, role, disabled, created, last = row
    return User(name, Role(role), bool(disabled), float(created), _float(last))


def _token(row: tuple[Any, ...]) -> Token:
    tid, user, name, scope, created, expires, revoked, used = row
    return Token(
        tid,
        user,
        name,
        Scope(scope),
        float(created),
        _float(expires),
        _float(revoked),
        _float(used),
    )


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def check_user_name(name: str) -> str:
    """A valid user name, or :class:`AuthStoreError` saying what is allowed."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise AuthStoreError(
            "a user name is 1-64 letters, digits or ._@- and starts with a letter or digit"
        )
    return name


def _role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise AuthStoreError(
            f"not a role: {role!r} (one of {', '.join(r.value for r in Role)})",
            code="invalid_role",
        ) from None


def parse_scope(scope: Scope | str) -> Scope:
    """A token scope, or :class:`AuthStoreError` naming the valid ones."""
    try:
        return Scope(scope)
    except ValueError:
        raise AuthStoreError(
            f"not a token scope: {scope!r} (one of {', '.join(s.value for s in Scope)})",
            code="invalid_scope",
        ) from None


def _hash(password: str) -> str:
    try:
        return hash_password(password)
    except PasswordError as exc:
        raise AuthStoreError(str(exc), code="weak_password") from None


class SQLAuthStore:
    """Users, tokens and sessions over a SQL catalog's connection."""

    def __init__(self, session: AuthSession) -> None:
        self._db = session
        self._touched: dict[str, float] = {}

    # -- users -----------------------------------------------------------------------------
    def has_users(self) -> bool:
        """Whether any user exists (auth is on by default once one does)."""
        return bool(self._db._read("SELECT 1 FROM users LIMIT 1"))

    def users(self) -> list[User]:
        """Every user, by name."""
        rows = self._db._read(f"SELECT {_USER_COLUMNS} FROM users ORDER BY name_lower")
        return [_user(r) for r in rows]

    def user(self, name: str) -> User | None:
        """The user called ``name`` (any case), None when there is none."""
        rows = self._db._read(
            f"SELECT {_USER_COLUMNS} FROM users WHERE name_lower = ?", (name.lower(),)
        )
        return _user(rows[0]) if rows else None

    def _existing(self, name: str) -> User:
        found = self.user(name)
        if found is None:
            raise CurationNotFoundError(f"no user {name!r}", code="user_not_found")
        return found

    def add_user(self, name: str, role: Role | str, password: str, *, actor: str) -> User:
        """Create a user.

        Raises
        ------
        AuthStoreError
            A malformed name, an unknown role, a password the policy refuses.
        CurationConflictError
            The name is taken (ignoring case).
        """
        check_user_name(name)
        role = _role(role)
        stored = _hash(password)
        now = time.time()
        with self._db._transaction() as cur:
            cur.execute(self._db._sql("SELECT 1 FROM users WHERE name_lower = ?"), (name.lower(),))
            if cur.fetchone():
                raise CurationConflictError(f"a user {name!r} exists", code="user_exists")
            cur.execute(
                self._db._sql(
                    "INSERT INTO users (name, name_lower, role, password_hash, disabled, "
                    "created_at) VALUES (?, ?, ?, ?, 0, ?)"
                ),
                (name, name.lower(), role.value, stored, now),
            )
            self._db._audit(cur, actor, "user.add", name, None, None, {"role": role.value})
        return User(name, role, False, now, None)

    def update_user(
        self,
        name: str,
        *,
        actor: str,
        role: Role | str | None = None,
        password: str | None = None,
        disabled: bool | None = None,
    ) -> User:
        """Change a user's role, password or disabled flag (None: keep).

        A new password or disabling ends the user's sessions. The last enabled admin can be
        neither demoted nor disabled (:class:`CurationConflictError`), so the catalog always
        has someone who can manage it.
        """
        user = self._existing(name)
        new_role = user.role if role is None else _role(role)
        stored = None if password is None else _hash(password)
        new_disabled = user.disabled if disabled is None else bool(disabled)
        with self._db._transaction() as cur:
            if (
                user.role is Role.ADMIN
                and not user.disabled
                and (new_role is not Role.ADMIN or new_disabled)
            ):
                self._keep_an_admin(cur, user.name)
            cur.execute(
                self._db._sql("UPDATE users SET role = ?, disabled = ? WHERE name = ?"),
                (new_role.value, int(new_disabled), user.name),
            )
            if stored is not None:
                cur.execute(
                    self._db._sql("UPDATE users SET password_hash = ? WHERE name = ?"),
                    (stored, user.name),
                )
            if stored is not None or new_disabled:
                cur.execute(
                    self._db._sql("DELETE FROM login_sessions WHERE user_name = ?"), (user.name,)
                )
            detail: dict[str, Any] = {}
            if new_role is not user.role:
                detail["role"] = [user.role.value, new_role.value]
            if new_disabled != user.disabled:
                detail["disabled"] = new_disabled
            if stored is not None:
                detail["password"] = "changed"
            if detail:
                self._db._audit(cur, actor, "user.update", user.name, None, None, detail)
        return User(user.name, new_role, new_disabled, user.created_at, user.last_login_at)

    def delete_user(self, name: str, *, actor: str) -> None:
        """Delete a user with their tokens and sessions (not the last enabled admin)."""
        user = self._existing(name)
        with self._db._transaction() as cur:
            if user.role is Role.ADMIN and not user.disabled:
                self._keep_an_admin(cur, user.name)
            for table in ("api_tokens", "login_sessions"):
                cur.execute(self._db._sql(f"DELETE FROM {table} WHERE user_name = ?"), (user.name,))
            cur.execute(self._db._sql("DELETE FROM users WHERE name = ?"), (user.name,))
            self._db._audit(cur, actor, "user.delete", user.name, None, None, {})

    def _keep_an_admin(self, cur: Any, leaving: str) -> None:
        cur.execute(
            self._db._sql(
                "SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled = 0 AND name <> ?"
            ),
            (leaving,),
        )
        if int(cur.fetchone()[0]) == 0:
            raise CurationConflictError(
                f"{leaving!r} is the last enabled admin; make another admin first",
                code="last_admin",
            )

    def check_password(self, name: str, password: str) -> User | None:
        """The enabled user whose password this is, else None (same time either way)."""
        rows = self._db._read(
            f"SELECT {_USER_COLUMNS}, password_hash FROM users WHERE name_lower = ?",
            (name.lower(),),
        )
        if not rows:
            dummy_verify()
            return None
        user, stored = _user(rows[0][:5]), str(rows[0][5])
        if not verify_password(password, stored) or user.disabled:
            return None
        return user

    # -- sessions ----------------------------------------------------------------------------
    def start_session(self, user: User, hours: float = SESSION_HOURS) -> str:
        """A new login session's secret (also records the login time)."""
        secret = new_secret(SESSION_PREFIX)
        now = time.time()
        with self._db._transaction() as cur:
            cur.execute(self._db._sql("DELETE FROM login_sessions WHERE expires_at <= ?"), (now,))
            cur.execute(
                self._db._sql(
                    "INSERT INTO login_sessions (secret_hash, user_name, created_at, expires_at) "
                    "VALUES (?, ?, ?, ?)"
                ),
                (secret_hash(secret), user.name, now, now + hours * 3600.0),
            )
            cur.execute(
                self._db._sql("UPDATE users SET last_login_at = ? WHERE name = ?"),
                (now, user.name),
            )
        return secret

    def session_user(self, secret: str) -> User | None:
        """The enabled user of a live session, else None."""
        if not secret.startswith(SESSION_PREFIX):
            return None
        rows = self._db._read(
            f"SELECT {', '.join('u.' + c for c in _USER_COLUMNS.split(', '))} "
            "FROM login_sessions s JOIN users u ON u.name = s.user_name "
            "WHERE s.secret_hash = ? AND s.expires_at > ?",
            (secret_hash(secret), time.time()),
        )
        user = _user(rows[0]) if rows else None
        return None if user is None or user.disabled else user

    def end_session(self, secret: str) -> None:
        """Forget a session (signing out); an unknown secret changes nothing."""
        with self._db._transaction() as cur:
            cur.execute(
                self._db._sql("DELETE FROM login_sessions WHERE secret_hash = ?"),
                (secret_hash(secret),),
            )

    # -- API tokens --------------------------------------------------------------------------
    def create_token(
        self,
        user: str,
        name: str,
        scope: Scope | str,
        expires_at: float | None,
        *,
        actor: str,
    ) -> tuple[str, Token]:
        """A new token of ``user``: ``(secret, record)``; the secret is not kept.

        Raises
        ------
        AuthStoreError
            A scope wider than the user's role allows, an empty or long name, an expiry
            in the past.
        """
        owner = self._existing(user)
        scope = parse_scope(scope)
        widest = max_scope(owner.role)
        if not scope_within(scope, widest):
            raise AuthStoreError(
                f"a {owner.role.value} can make tokens of scope {widest.value} at most",
                code="invalid_scope",
            )
        name = (name or "").strip()
        if not name or len(name) > MAX_TOKEN_NAME or not name.isprintable():
            raise AuthStoreError(
                f"a token needs a printable name of 1-{MAX_TOKEN_NAME} characters",
                code="invalid_token",
            )
        now = time.time()
        if expires_at is not None and expires_at <= now:
            raise AuthStoreError("a token's expiry must be in the future", code="invalid_token")
        secret = new_secret(TOKEN_PREFIX)
        token = Token(secrets.token_hex(8), owner.name, name, scope, now, expires_at, None, None)
        with self._db._transaction() as cur:
            cur.execute(
                self._db._sql(
                    "INSERT INTO api_tokens (id, user_name, name, secret_hash, scope, created_at, "
                    "expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
                ),
                (token.id, owner.name, name, secret_hash(secret), scope.value, now, expires_at),
            )
            detail = {"id": token.id, "name": name, "scope": scope.value, "expires_at": expires_at}
            self._db._audit(cur, actor, "token.create", owner.name, None, None, detail)
        return secret, token

    def tokens(self, user: str | None = None) -> list[Token]:
        """Tokens of ``user`` (None: everyone's), newest first, revoked ones included."""
        where, params = ("WHERE user_name = ?", (user,)) if user is not None else ("", ())
        rows = self._db._read(
            f"SELECT {_TOKEN_COLUMNS} FROM api_tokens {where} ORDER BY created_at DESC", params
        )
        return [_token(r) for r in rows]

    def token(self, token_id: str) -> Token:
        """One token's record (:class:`CurationNotFoundError` when unknown)."""
        rows = self._db._read(f"SELECT {_TOKEN_COLUMNS} FROM api_tokens WHERE id = ?", (token_id,))
        if not rows:
            raise CurationNotFoundError(f"no token {token_id!r}", code="token_not_found")
        return _token(rows[0])

    def revoke_token(self, token_id: str, *, actor: str) -> Token:
        """Revoke a token (revoking a revoked one changes nothing)."""
        token = self.token(token_id)
        if token.revoked_at is not None:
            return token
        now = time.time()
        with self._db._transaction() as cur:
            cur.execute(
                self._db._sql("UPDATE api_tokens SET revoked_at = ? WHERE id = ?"), (now, token_id)
            )
            self._db._audit(cur, actor, "token.revoke", token.user, None, None, {"id": token_id})
        return self.token(token_id)

    def token_user(self, secret: str) -> TokenUse | None:
        """Who a presented token speaks for: None when unknown, revoked, expired or its
        user is disabled."""
        if not secret.startswith(TOKEN_PREFIX):
            return None
        rows = self._db._read(
            f"SELECT {_TOKEN_COLUMNS} FROM api_tokens WHERE secret_hash = ?",
            (secret_hash(secret),),
        )
        if not rows:
            return None
        token = _token(rows[0])
        now = time.time()
        user = self.user(token.user)
        if user is None or user.disabled or not token.usable(now):
            return None
        self._touch(token.id, now)
        return TokenUse(user, token.scope, token.id)

    def _touch(self, token_id: str, now: float) -> None:
        if now - self._touched.get(token_id, 0.0) < _TOUCH_EVERY:
            return
        self._touched[token_id] = now
        with self._db._transaction() as cur:
            cur.execute(
                self._db._sql("UPDATE api_tokens SET last_used_at = ? WHERE id = ?"),
                (now, token_id),
            )
