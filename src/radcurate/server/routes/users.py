"""``/api/users`` (admins) and ``/api/tokens`` (everyone's own; admins: all)."""

from __future__ import annotations

import time

from fastapi import APIRouter, Response

from radcurate.auth import scope_within
from radcurate.catalog.auth_store import parse_scope
from radcurate.catalog.curation_types import CurationConflictError
from radcurate.server.auth import AdminDep, AuthError, Principal, ReaderDep
from radcurate.server.deps import CatalogDep
from radcurate.server.errors import ERROR_RESPONSES
from radcurate.server.schemas_auth import (
    NewTokenBody,
    NewTokenResponse,
    NewUserBody,
    TokenInfo,
    TokenList,
    UserInfo,
    UserList,
    UserPatchBody,
)

router = APIRouter(tags=["users"], responses=ERROR_RESPONSES)


@router.get("/users", operation_id="list_users", name="list_users")
def list_users(_: AdminDep, catalog: CatalogDep) -> UserList:
    """Every user, by name."""
    return UserList(items=[UserInfo.of(u) for u in catalog.auth.users()])


@router.post("/users", status_code=201, operation_id="add_user", name="add_user")
def add_user(body: NewUserBody, admin: AdminDep, catalog: CatalogDep) -> UserInfo:
    """Create a user (409 when the name is taken, 400 for a weak password)."""
    user = catalog.auth.add_user(body.name, body.role, body.password, actor=admin.name)
    return UserInfo.of(user)


@router.patch("/users/{name}", operation_id="update_user", name="update_user")
def update_user(name: str, body: UserPatchBody, admin: AdminDep, catalog: CatalogDep) -> UserInfo:
    """Change a user's role, password or disabled flag. An admin cannot demote or disable
    themselves (409): another admin must."""
    if name.lower() == admin.name.lower() and (
        (body.role is not None and body.role != "admin") or body.disabled
    ):
        raise CurationConflictError(
            "you cannot demote or disable yourself; another admin can", code="self_change"
        )
    user = catalog.auth.update_user(
        name, actor=admin.name, role=body.role, password=body.password, disabled=body.disabled
    )
    return UserInfo.of(user)


@router.delete("/users/{name}", status_code=204, operation_id="delete_user", name="delete_user")
def delete_user(name: str, admin: AdminDep, catalog: CatalogDep) -> Response:
    """Delete a user with their tokens and sessions (not yourself: 409)."""
    if name.lower() == admin.name.lower():
        raise CurationConflictError("you cannot delete yourself", code="self_change")
    catalog.auth.delete_user(name, actor=admin.name)
    return Response(status_code=204)


def _owner(principal: Principal) -> str | None:
    return None if principal.is_admin else principal.name


@router.get("/tokens", operation_id="list_tokens", name="list_tokens")
def list_tokens(principal: ReaderDep, catalog: CatalogDep) -> TokenList:
    """Your tokens, newest first (an admin sees everyone's)."""
    return TokenList(items=[TokenInfo.of(t) for t in catalog.auth.tokens(_owner(principal))])


@router.post("/tokens", status_code=201, operation_id="create_token", name="create_token")
def create_token(body: NewTokenBody, principal: ReaderDep, catalog: CatalogDep) -> NewTokenResponse:
    """Make an API token; its secret is in this answer and never again. Its scope is at most
    what your role allows; a token cannot make a wider token than its own scope."""
    owner = body.user or principal.name
    if owner.lower() != principal.name.lower() and not principal.is_admin:
        raise AuthError(403, "forbidden", "only an admin makes tokens for other users")
    if principal.via == "open":
        raise CurationConflictError(
            "auth is off (no users yet): create a user first with `radcurate user add`",
            code="auth_off",
        )
    if principal.scope is not None and not scope_within(parse_scope(body.scope), principal.scope):
        raise AuthError(403, "forbidden", "a token cannot make a token of a wider scope")
    expires = None if body.expires_in_days is None else time.time() + body.expires_in_days * 86400
    secret, token = catalog.auth.create_token(
        owner, body.name, body.scope, expires, actor=principal.name
    )
    return NewTokenResponse(token=secret, item=TokenInfo.of(token))


@router.delete(
    "/tokens/{token_id}", status_code=204, operation_id="revoke_token", name="revoke_token"
)
def revoke_token(token_id: str, principal: ReaderDep, catalog: CatalogDep) -> Response:
    """Revoke a token of yours (an admin: anyone's); revoking twice changes nothing."""
    token = catalog.auth.token(token_id)
    if token.user.lower() != principal.name.lower() and not principal.is_admin:
        raise AuthError(404, "token_not_found", f"no token {token_id!r}")
    catalog.auth.revoke_token(token_id, actor=principal.name)
    return Response(status_code=204)
