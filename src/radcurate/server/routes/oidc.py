"""``/api/auth/oidc``: single sign-on through an OpenID provider (docs/auth-oidc.md).

Both routes are browser navigations (redirects and a page on failure), not API calls, so
they are left out of the OpenAPI document like the web UI's.
"""

from __future__ import annotations

import html

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.exceptions import HTTPException

from radcurate.server.auth import SESSION_COOKIE, AnyoneDep
from radcurate.server.deps import CatalogDep, SettingsDep
from radcurate.server.oidc import PENDING_TTL, OIDCClient, OIDCError, oidc_client

router = APIRouter(prefix="/auth/oidc", tags=["auth"], include_in_schema=False)

#: the cookie that binds a started sign-in to the browser that started it
BINDING_COOKIE = "radcurate_oidc"
_COOKIE_PATH = "/api/auth/oidc"

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>radcurate: sign-in failed</title>
<style>body{{font:16px system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem}}
code{{background:#eee;padding:0 .3em}}</style></head>
<body><h1>Sign-in failed</h1><p>{message}</p>{command}<p><a href="/">Back to radcurate</a></p>
</body>
</html>"""


def _page(status: int, message: str, command: str = "") -> HTMLResponse:
    """A small page saying why a sign-in failed and the command that helps (both escaped)."""
    shown = f"<p><code>{html.escape(command)}</code></p>" if command else ""
    return HTMLResponse(
        _PAGE.format(message=html.escape(message), command=shown), status_code=status
    )


def _client(request: Request) -> OIDCClient:
    client = oidc_client(request)
    if client is None:
        raise HTTPException(
            404,
            "single sign-on is not configured on this server "
            "(radcurate serve --oidc-issuer URL --oidc-client-id ID)",
        )
    return client


@router.get("/login", name="oidc_login")
def oidc_login(request: Request, _: AnyoneDep) -> Response:
    """Send the browser to the provider's sign-in (PKCE S256, state and nonce kept here)."""
    client = _client(request)
    try:
        url, binding = client.begin(str(request.url_for("oidc_callback")))
    except OIDCError as exc:
        return _page(exc.status, str(exc))
    response = RedirectResponse(url, status_code=302)
    # Lax, not Strict: it must come back on the provider's top-level redirect
    response.set_cookie(
        BINDING_COOKIE,
        binding,
        max_age=int(PENDING_TTL),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path=_COOKIE_PATH,
    )
    return response


@router.get("/callback", name="oidc_callback")
def oidc_callback(
    request: Request,
    _: AnyoneDep,
    catalog: CatalogDep,
    settings: SettingsDep,
    state: str = "",
    code: str = "",
    error: str = "",
) -> Response:
    """Where the provider sends the browser back: exchange the code, validate the ID token,
    sign in the existing local user it names (a session cookie, as ``/api/auth/login``)."""
    client = _client(request)
    if error:
        return _page(400, f"the sign-in provider answered {error[:100]!r}; try again")
    try:
        claims = client.finish(state, code, request.cookies.get(BINDING_COOKIE, ""))
        name = client.username(claims)
    except OIDCError as exc:
        return _page(exc.status, str(exc))
    user = catalog.auth.user(name)
    if user is None:
        return _page(
            403,
            f"{name} signed in at the provider, but radcurate has no user {name}. An admin "
            "must create it first (the role is set in radcurate, not by the provider):",
            f"radcurate user add {name} --role viewer",
        )
    if user.disabled:
        return _page(403, f"the radcurate user {user.name} is disabled; ask an admin.")
    secret = catalog.auth.start_session(user, settings.session_hours)
    response = RedirectResponse("/", status_code=302)
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=int(settings.session_hours * 3600),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    response.delete_cookie(BINDING_COOKIE, path=_COOKIE_PATH, httponly=True, samesite="lax")
    return response
