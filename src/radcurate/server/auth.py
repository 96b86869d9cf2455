"""Who is asking, and whether they may: the server's authentication and permissions.

Every route declares the :class:`~radcurate.auth.Permission` it needs with one of the
dependencies below (``dependencies=[READ]``, or a parameter typed :data:`CuratorDep`,
...); :func:`stamp_permissions` writes it into the OpenAPI document as
``x-radcurate-permission`` and refuses to build an app with a route that declares none.

Auth is **off** (everyone acts as the server process's OS user, an admin: the laptop
default) while the catalog has no users and the settings do not ask for it; it is **on**
once a user exists or ``auth="on"``. With auth on a request is authenticated by, in order:

1. a trusted proxy's user header, only from the configured proxy addresses;
2. ``Authorization: Bearer rct_...`` (an API token; its scope caps its user's role), or
   with OIDC configured ``Bearer <JWT>`` of the provider (:mod:`radcurate.server.oidc`);
3. ``Authorization: Basic`` with a user name and a password or an API token of theirs
   (DICOM clients that only speak Basic);
4. the ``radcurate_session`` cookie of a UI login.

The ``X-Radcurate-User`` header of earlier versions names nobody any more.
"""

from __future__ import annotations

import base64
import binascii
import getpass
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.routing import APIRoute

from radcurate.auth import Permission, Role, Scope, allows
from radcurate.catalog import CatalogBackend
from radcurate.catalog.auth_store import User
from radcurate.server.errors import error_response
from radcurate.server.oidc import bearer_user
from radcurate.server.schemas import ErrorDetail
from radcurate.server.settings import ServerSettings

#: the login session cookie
SESSION_COOKIE = "radcurate_session"
#: the OpenAPI extension naming an operation's permission
PERMISSION_KEY = "x-radcurate-permission"
#: how long "does the catalog have users" is remembered (seconds)
_USERS_TTL = 2.0
#: how long a checked Basic password is remembered (seconds; scrypt is slow on purpose)
_BASIC_TTL = 60.0


@dataclass(frozen=True)
class Principal:
    """The acting user of a request.

    ``via`` says how they were identified: ``open`` (auth off), ``session``, ``token``,
    ``basic``, ``proxy`` or ``oidc`` (a provider's bearer JWT); ``scope`` is the API
    token's (None for the others).
    """

    name: str
    role: Role
    via: str
    scope: Scope | None = None

    def can(self, permission: Permission) -> bool:
        """Whether this principal has ``permission``."""
        return allows(self.role, self.scope, permission)

    @property
    def is_admin(self) -> bool:
        """Whether this principal may administer (see paths, manage users, ...)."""
        return self.can(Permission.ADMIN)


class AuthError(Exception):
    """A request without valid credentials (401) or without the permission (403)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "local"


def auth_enabled(request: Request) -> bool:
    """Whether this app asks for credentials now (settings, or users in the catalog)."""
    settings: ServerSettings = request.app.state.settings
    if settings.auth == "on":
        return True
    state = request.app.state
    cached: tuple[float, bool] | None = getattr(state, "auth_users_seen", None)
    now = time.monotonic()
    if cached is not None and (cached[1] or now - cached[0] < _USERS_TTL):
        return cached[1]  # once users exist auth stays on for the app's life
    catalog: CatalogBackend = state.catalog
    found = catalog.auth.has_users()
    state.auth_users_seen = (now, found)
    return found


def _from_proxy(request: Request, settings: ServerSettings, catalog: CatalogBackend) -> User | None:
    if not settings.trusted_proxies or not settings.proxy_user_header:
        return None
    peer = request.client.host if request.client else ""
    if peer not in settings.trusted_proxies:
        return None
    name = request.headers.get(settings.proxy_user_header, "").strip()
    user = catalog.auth.user(name) if name else None
    return None if user is None or user.disabled else user


def _basic(request: Request, value: str, catalog: CatalogBackend) -> Principal | None:
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    name, sep, secret = decoded.partition(":")
    if not sep or not name:
        return None
    if secret.startswith("rct_"):
        use = catalog.auth.token_user(secret)
        if use is None or use.user.name.lower() != name.lower():
            return None
        return Principal(use.user.name, use.user.role, "basic", use.scope)
    cache: dict[str, tuple[float, str]] = request.app.state.__dict__.setdefault("basic_cache", {})
    key = hashlib.sha256(value.encode("ascii")).hexdigest()
    now = time.monotonic()
    hit = cache.get(key)
    if hit is not None and now - hit[0] < _BASIC_TTL:
        user = catalog.auth.user(hit[1])  # role and disabled read fresh
    else:
        user = catalog.auth.check_password(name, secret)
        if user is not None:
            if len(cache) > 1000:
                cache.clear()
            cache[key] = (now, user.name)
    if user is None or user.disabled:
        return None
    return Principal(user.name, user.role, "basic")


def authenticate(request: Request) -> Principal | None:
    """The principal of ``request`` (cached on it), None when auth is on and it has none."""
    if hasattr(request.state, "principal"):
        found: Principal | None = request.state.principal
        return found
    principal = _authenticate(request)
    request.state.principal = principal
    return principal


def _authenticate(request: Request) -> Principal | None:
    if not auth_enabled(request):
        return Principal(_os_user(), Role.ADMIN, "open")
    settings: ServerSettings = request.app.state.settings
    catalog: CatalogBackend = request.app.state.catalog
    proxied = _from_proxy(request, settings, catalog)
    if proxied is not None:
        return Principal(proxied.name, proxied.role, "proxy")
    header = request.headers.get("authorization", "")
    kind, _, value = header.partition(" ")
    if kind.lower() == "bearer" and value.strip():
        if settings.oidc_issuer and not value.strip().startswith("rct_"):
            oidc = bearer_user(request, value.strip())  # a JWT of the OIDC provider
            return None if oidc is None else Principal(oidc.name, oidc.role, "oidc")
        use = catalog.auth.token_user(value.strip())
        return None if use is None else Principal(use.user.name, use.user.role, "token", use.scope)
    if kind.lower() == "basic" and value.strip():
        return _basic(request, value.strip(), catalog)
    cookie = request.cookies.get(SESSION_COOKIE, "")
    if cookie:
        user = catalog.auth.session_user(cookie)
        if user is not None:
            return Principal(user.name, user.role, "session")
    return None


def require(permission: Permission) -> Callable[[Request], Principal]:
    """A dependency that answers 401/403 unless the request's principal has ``permission``
    (for :attr:`Permission.PUBLIC` it never refuses and gives an anonymous viewer)."""

    def dependency(request: Request) -> Principal:
        principal = authenticate(request)
        if permission is Permission.PUBLIC:
            return principal or Principal("", Role.VIEWER, "anonymous", Scope.READ)
        if principal is None:
            raise AuthError(
                401,
                "unauthenticated",
                "sign in, or send an API token (Authorization: Bearer rct_...; "
                "make one with `radcurate token create`)",
            )
        if not principal.can(permission):
            raise AuthError(
                403,
                "forbidden",
                f"{principal.name} ({principal.role.value}"
                + (f", {principal.scope.value} token" if principal.scope else "")
                + f") may not do this: it needs the {permission.value} permission",
            )
        return principal

    dependency.__name__ = f"require_{permission.value}"
    dependency.permission = permission  # type: ignore[attr-defined]
    return dependency


_REQUIRE = {p: require(p) for p in Permission}
#: route-level declarations: ``@router.get(..., dependencies=[READ])``
PUBLIC = Depends(_REQUIRE[Permission.PUBLIC])
READ = Depends(_REQUIRE[Permission.READ])
CURATE = Depends(_REQUIRE[Permission.CURATE])
ADMIN = Depends(_REQUIRE[Permission.ADMIN])
#: a parameter that is the acting principal and declares the permission
ReaderDep = Annotated[Principal, READ]
CuratorDep = Annotated[Principal, CURATE]
AdminDep = Annotated[Principal, ADMIN]
AnyoneDep = Annotated[Principal, PUBLIC]


def route_permission(route: APIRoute) -> Permission | None:
    """The widest permission a route's dependencies declare (None: it declares none)."""
    found: list[Permission] = []
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        permission = getattr(dep.call, "permission", None)
        if isinstance(permission, Permission):
            found.append(permission)
        stack.extend(dep.dependencies)
    order = list(Permission)
    return max(found, key=order.index) if found else None


def stamp_permissions(router: APIRouter) -> APIRouter:
    """Write each route's permission into its OpenAPI operation (call before including).

    Raises
    ------
    RuntimeError
        Naming a route that declares no permission: every route must.
    """
    for route in router.routes:
        if not isinstance(route, APIRoute):
            continue
        permission = route_permission(route)
        if permission is None:
            raise RuntimeError(
                f"route {sorted(route.methods or ())} {route.path} declares no permission "
                "(add dependencies=[READ] or another from radcurate.server.auth)"
            )
        route.openapi_extra = {**(route.openapi_extra or {}), PERMISSION_KEY: permission.value}
    return router


def _on_auth_error(request: Request, exc: Exception) -> Any:
    assert isinstance(exc, AuthError)
    headers = {}
    if exc.status == 401:
        # Basic only where DICOM clients call; a browser would pop a password dialog elsewhere
        basic = request.url.path.startswith("/dicomweb")
        headers["WWW-Authenticate"] = 'Basic realm="radcurate"' if basic else "Bearer"
    return error_response(exc.status, ErrorDetail(code=exc.code, message=str(exc)), headers)


def install_auth(app: FastAPI) -> None:
    """Answer :class:`AuthError` with its 401/403 JSON error."""
    app.add_exception_handler(AuthError, _on_auth_error)


def request_actor(request: Request) -> str:
    """The name the audit log records for this request: the authenticated user (auth off:
    the server's OS user). Raises :class:`AuthError` (401) when auth is on and nobody is."""
    principal = authenticate(request)
    if principal is None:
        raise AuthError(401, "unauthenticated", "sign in to make changes")
    return principal.name
