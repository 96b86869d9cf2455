"""``/api/auth``: who am I, sign in (a session cookie), sign out."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from radcurate.server.auth import (
    SESSION_COOKIE,
    AnyoneDep,
    AuthError,
    auth_enabled,
)
from radcurate.server.deps import CatalogDep, SettingsDep
from radcurate.server.errors import ERROR_RESPONSES
from radcurate.server.schemas_auth import LoginBody, LoginResponse, MeResponse, UserInfo

router = APIRouter(prefix="/auth", tags=["auth"], responses=ERROR_RESPONSES)


@router.get("/me", operation_id="auth_me", name="auth_me")
def me(
    request: Request, principal: AnyoneDep, catalog: CatalogDep, settings: SettingsDep
) -> MeResponse:
    """The acting user (null when auth is on and the request has no credentials) and
    whether single sign-on is offered (``oidc``)."""
    on, sso = auth_enabled(request), bool(settings.oidc_issuer)
    if principal.via == "anonymous":
        return MeResponse(user=None, auth="on" if on else "off", oidc=sso)
    stored = catalog.auth.user(principal.name) if on else None
    info = UserInfo.of(stored) if stored else UserInfo(name=principal.name, role=principal.role)
    return MeResponse(user=info, auth="on" if on else "off", via=principal.via, oidc=sso)


@router.post("/login", operation_id="auth_login", name="auth_login")
def login(
    body: LoginBody,
    request: Request,
    response: Response,
    _: AnyoneDep,
    catalog: CatalogDep,
    settings: SettingsDep,
) -> LoginResponse:
    """Check a user name and password; on success set the session cookie (HttpOnly,
    SameSite=Strict, Secure over HTTPS). A wrong name or password is one 401 for both."""
    user = catalog.auth.check_password(body.username, body.password)
    if user is None:
        raise AuthError(401, "bad_credentials", "wrong user name or password")
    secret = catalog.auth.start_session(user, settings.session_hours)
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=int(settings.session_hours * 3600),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return LoginResponse(user=UserInfo.of(user))


@router.post("/logout", status_code=204, operation_id="auth_logout", name="auth_logout")
def logout(request: Request, _: AnyoneDep, catalog: CatalogDep) -> Response:
    """End the session of the cookie (if any) and clear it."""
    secret = request.cookies.get(SESSION_COOKIE, "")
    if secret:
        catalog.auth.end_session(secret)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response
