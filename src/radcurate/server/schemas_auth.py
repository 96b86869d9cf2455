"""Request and response bodies of ``/api/auth``, ``/api/users`` and ``/api/tokens``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from radcurate.catalog.auth_store import MAX_TOKEN_NAME, Token, User
from radcurate.catalog.result_types import iso_time


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _iso(at: float | None) -> str | None:
    return None if at is None else iso_time(at)


class UserInfo(BaseModel):
    """A user as the API shows it (never a password hash)."""

    name: str
    role: str
    disabled: bool = False
    created_at: str | None = None
    last_login_at: str | None = None

    @classmethod
    def of(cls, user: User) -> UserInfo:
        """The API shape of a stored user."""
        return cls(
            name=user.name,
            role=user.role.value,
            disabled=user.disabled,
            created_at=_iso(user.created_at),
            last_login_at=_iso(user.last_login_at),
        )


class MeResponse(BaseModel):
    """``GET /api/auth/me``: who the request is (``user`` null: nobody yet) and whether
    the server asks for credentials (``auth``: ``on``/``off``); ``oidc``: whether single
    sign-on is offered (``GET /api/auth/oidc/login``)."""

    user: UserInfo | None
    auth: str
    via: str | None = None
    oidc: bool = False


class LoginBody(_Strict):
    """``POST /api/auth/login``."""

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class LoginResponse(BaseModel):
    """The signed-in user (the session is in the ``radcurate_session`` cookie)."""

    user: UserInfo


class UserList(BaseModel):
    """Every user, by name."""

    items: list[UserInfo]


class NewUserBody(_Strict):
    """``POST /api/users``."""

    name: str = Field(min_length=1, max_length=64)
    role: str = "viewer"
    password: str = Field(min_length=1, max_length=1024)


class UserPatchBody(_Strict):
    """``PATCH /api/users/{name}``: what to change (absent: keep)."""

    role: str | None = None
    password: str | None = Field(default=None, min_length=1, max_length=1024)
    disabled: bool | None = None


class TokenInfo(BaseModel):
    """An API token's record (the secret is shown once, at creation)."""

    id: str
    user: str
    name: str
    scope: str
    created_at: str
    expires_at: str | None
    last_used_at: str | None
    revoked: bool

    @classmethod
    def of(cls, token: Token) -> TokenInfo:
        """The API shape of a stored token."""
        return cls(
            id=token.id,
            user=token.user,
            name=token.name,
            scope=token.scope.value,
            created_at=iso_time(token.created_at),
            expires_at=_iso(token.expires_at),
            last_used_at=_iso(token.last_used_at),
            revoked=token.revoked_at is not None,
        )


class TokenList(BaseModel):
    """Tokens, newest first."""

    items: list[TokenInfo]


class NewTokenBody(_Strict):
    """``POST /api/tokens``: ``user`` (admins only) makes a token for someone else."""

    name: str = Field(min_length=1, max_length=MAX_TOKEN_NAME)
    scope: str = "read"
    expires_in_days: float | None = Field(default=90, gt=0, le=3650)
    user: str | None = None


class NewTokenResponse(BaseModel):
    """The new token's secret (shown this once) and its record."""

    token: str
    item: TokenInfo
