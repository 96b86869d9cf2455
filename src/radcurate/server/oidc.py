"""OpenID Connect single sign-on: authorization code with PKCE, and OIDC bearer tokens.

A Keycloak realm (or any OpenID provider) signs users in; radcurate then maps the ID
token's username claim (``preferred_username`` by default) to an **existing** local user,
whose role stays what ``radcurate user`` set (docs/auth-oidc.md). The flow:

1. ``GET /api/auth/oidc/login`` :meth:`OIDCClient.begin`\\ s a sign-in: a PKCE verifier
   (S256), ``state`` and ``nonce`` are kept here for :data:`PENDING_TTL`, bound to the browser
   by a cookie, and the browser is sent to the provider's authorization endpoint;
2. the provider sends it back to ``GET /api/auth/oidc/callback`` with a code, which
   :meth:`OIDCClient.finish` exchanges (with the verifier) for an ID token and validates.

:meth:`OIDCClient.validate` checks a token's RS256/ES256 signature against the provider's
key of its ``kid`` (JWKS, cached), ``iss``, ``aud`` (this client), ``exp``/``iat`` with
:data:`LEEWAY_S` of clock skew, and the ``nonce`` of a sign-in. The cryptography is PyJWT's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt
from fastapi import Request

from radcurate.catalog import CatalogBackend
from radcurate.catalog.auth_store import User
from radcurate.server.settings import ServerSettings

__all__ = [
    "OIDCClient",
    "OIDCError",
    "Provider",
    "bearer_user",
    "oidc_client",
    "pkce_challenge",
]

#: seconds a started sign-in may take until the provider sends the browser back
PENDING_TTL = 600.0
#: most sign-ins pending at once (the oldest are dropped beyond)
MAX_PENDING = 10_000
#: clock skew allowed on ``exp`` and ``iat`` (seconds)
LEEWAY_S = 60
#: how long the discovery document and the keys are reused (seconds)
CACHE_TTL = 3600.0
#: a token signed with an unknown key id refetches the keys at most this often (seconds)
REFRESH_EVERY = 60.0
#: signature algorithms accepted, with the key type each needs
ALGORITHMS = {"RS256": "RSA", "ES256": "EC"}
#: seconds to wait for the provider
HTTP_TIMEOUT_S = 10.0
#: after the provider failed to answer, requests fail at once for this long (seconds), so
#: a provider outage does not hold every request carrying a JWT for HTTP_TIMEOUT_S
DOWN_FOR_S = 10.0


class OIDCError(Exception):
    """A sign-in or token that failed; the message is safe to show and says what to do."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True)
class Provider:
    """What the provider's discovery document says (``/.well-known/openid-configuration``)."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str


@dataclass(frozen=True)
class _Pending:
    verifier: str
    nonce: str
    redirect_uri: str
    binding: str  # SHA-256 of the browser's binding cookie
    started: float


def pkce_challenge(verifier: str) -> str:
    """The S256 code challenge of a PKCE code verifier (RFC 7636).

    Examples
    --------
    >>> pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")  # RFC 7636, appendix B
    'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM'
    """
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class OIDCClient:
    """This server as a client of one OpenID provider (thread-safe; one per app)."""

    def __init__(self, settings: ServerSettings) -> None:
        self.issuer = settings.oidc_issuer.rstrip("/")
        self.client_id = settings.oidc_client_id
        self.client_secret = settings.oidc_client_secret
        self.username_claim = settings.oidc_username_claim
        self._lock = threading.Lock()
        self._provider: tuple[float, Provider] | None = None
        self._keys: tuple[float, dict[str, jwt.PyJWK]] | None = None
        self._pending: dict[str, _Pending] = {}
        self._down: tuple[float, OIDCError] | None = None

    # -- the provider -----------------------------------------------------------------------
    def _get_json(self, url: str) -> dict[str, Any]:
        down = self._down
        if down is not None and time.monotonic() - down[0] < DOWN_FOR_S:
            raise down[1]
        try:
            answer = httpx.get(url, timeout=HTTP_TIMEOUT_S, headers={"Accept": "application/json"})
            answer.raise_for_status()
            found = answer.json()
        except (httpx.HTTPError, ValueError) as exc:
            error = OIDCError(
                502, "oidc_unreachable", f"the sign-in provider did not answer at {url}: {exc}"
            )
            self._down = (time.monotonic(), error)
            raise error from None
        if not isinstance(found, dict):
            raise OIDCError(502, "oidc_unreachable", f"{url} did not answer with a JSON object")
        return found

    def provider(self) -> Provider:
        """The provider's endpoints (discovered once an hour).

        Raises
        ------
        OIDCError
            502 when the provider cannot be reached or names another issuer.
        """
        now = time.monotonic()
        cached = self._provider
        if cached is not None and now - cached[0] < CACHE_TTL:
            return cached[1]
        url = f"{self.issuer}/.well-known/openid-configuration"
        doc = self._get_json(url)
        fields = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")
        missing = [f for f in fields if not isinstance(doc.get(f), str) or not doc[f]]
        if missing:
            raise OIDCError(502, "oidc_discovery", f"{url} lacks {', '.join(missing)}")
        if doc["issuer"].rstrip("/") != self.issuer:
            raise OIDCError(
                502,
                "oidc_discovery",
                f"the provider calls itself {doc['issuer']!r}, not the configured issuer "
                f"{self.issuer!r}: set --oidc-issuer to its issuer URL",
            )
        found = Provider(*(str(doc[f]) for f in fields))
        self._provider = (now, found)
        return found

    def _fetch_keys(self) -> dict[str, jwt.PyJWK]:
        doc = self._get_json(self.provider().jwks_uri)
        keys: dict[str, jwt.PyJWK] = {}
        for data in doc.get("keys") or []:
            if not isinstance(data, dict) or data.get("use", "sig") != "sig":
                continue  # Keycloak also publishes encryption keys
            try:
                key = jwt.PyJWK(data)
            except jwt.PyJWTError:
                continue  # an algorithm we do not accept
            keys[str(data.get("kid", ""))] = key
        return keys

    def key(self, kid: str) -> jwt.PyJWK:
        """The provider's signing key ``kid`` (keys refetched when it is unknown, at most
        every :data:`REFRESH_EVERY` seconds: a rotated key is found, a made-up one costs
        the provider little)."""
        now = time.monotonic()
        with self._lock:
            cached = self._keys
            stale = cached is None or now - cached[0] >= CACHE_TTL
            unknown = cached is not None and kid not in cached[1]
            if stale or (unknown and cached is not None and now - cached[0] >= REFRESH_EVERY):
                cached = (now, self._fetch_keys())
                self._keys = cached
        assert cached is not None
        found = cached[1].get(kid)
        if found is None:
            raise OIDCError(401, "invalid_token", "the token is signed with a key of nobody known")
        return found

    # -- tokens -----------------------------------------------------------------------------
    def validate(self, token: str, nonce: str | None = None) -> dict[str, Any]:
        """The claims of an ID or access token of this provider for this client.

        Raises
        ------
        OIDCError
            401 for a token that is malformed, signed by another key or algorithm, of
            another issuer or audience, expired, issued in the future, or (``nonce`` given)
            of another sign-in.
        """
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise OIDCError(401, "invalid_token", "not a signed JWT") from None
        alg = header.get("alg")
        if alg not in ALGORITHMS:
            raise OIDCError(401, "invalid_token", f"tokens signed with {alg!r} are not accepted")
        key = self.key(str(header.get("kid", "")))
        if key.key_type != ALGORITHMS[alg]:
            raise OIDCError(401, "invalid_token", f"the token's {alg} does not fit its key")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=[alg],
                audience=self.client_id,
                issuer=self.provider().issuer,
                leeway=LEEWAY_S,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise OIDCError(401, "invalid_token", "the token has expired") from None
        except jwt.InvalidAudienceError:
            raise OIDCError(401, "invalid_token", "the token is for another client") from None
        except jwt.InvalidIssuerError:
            raise OIDCError(401, "invalid_token", "the token is of another issuer") from None
        except jwt.InvalidSignatureError:
            raise OIDCError(401, "invalid_token", "the token's signature is wrong") from None
        except jwt.PyJWTError as exc:
            raise OIDCError(401, "invalid_token", f"the token is not valid: {exc}") from None
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != self.client_id:
            raise OIDCError(401, "invalid_token", "the token was issued to another client")
        if nonce is not None and not hmac.compare_digest(str(claims.get("nonce", "")), nonce):
            raise OIDCError(401, "invalid_token", "the token belongs to another sign-in")
        return claims

    def username(self, claims: dict[str, Any]) -> str:
        """The local user name a token's claims give (the configured claim)."""
        value = claims.get(self.username_claim)
        if not isinstance(value, str) or not value.strip():
            raise OIDCError(
                403,
                "oidc_no_username",
                f"the provider's token has no {self.username_claim!r} claim to name a user: "
                "add it in the provider (Keycloak: a client scope or mapper)",
            )
        return value.strip()

    # -- the sign-in ------------------------------------------------------------------------
    def begin(self, redirect_uri: str) -> tuple[str, str]:
        """Start a sign-in: ``(authorization URL, browser binding secret)``; send the browser
        to the URL with the secret in a cookie, which :meth:`finish` needs back."""
        endpoint = self.provider().authorization_endpoint
        state, nonce, binding = (secrets.token_urlsafe(32) for _ in range(3))
        verifier = secrets.token_urlsafe(64)
        now = time.monotonic()
        with self._lock:
            for old in [s for s, p in self._pending.items() if now - p.started > PENDING_TTL]:
                del self._pending[old]
            while len(self._pending) >= MAX_PENDING:
                del self._pending[next(iter(self._pending))]
            self._pending[state] = _Pending(verifier, nonce, redirect_uri, _digest(binding), now)
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.client_id,
                "redirect_uri": redirect_uri,
                "scope": "openid profile",
                "state": state,
                "nonce": nonce,
                "code_challenge": pkce_challenge(verifier),
                "code_challenge_method": "S256",
            }
        )
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}", binding

    def finish(self, state: str, code: str, binding: str) -> dict[str, Any]:
        """The validated ID-token claims of a sign-in the provider sent back (once per state).

        Raises
        ------
        OIDCError
            400 for an unknown, used or expired ``state`` or another browser's; 502 when
            the provider refuses the code; 401 for an invalid ID token.
        """
        with self._lock:
            pending = self._pending.pop(state, None) if state else None
        if pending is None or time.monotonic() - pending.started > PENDING_TTL:
            raise OIDCError(
                400,
                "oidc_state",
                "this sign-in is unknown, used already or older than 10 minutes: sign in again",
            )
        if not hmac.compare_digest(_digest(binding), pending.binding):
            raise OIDCError(
                400, "oidc_state", "this sign-in was started in another browser: sign in again"
            )
        if not code:
            raise OIDCError(400, "oidc_code", "the provider sent no code: sign in again")
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": pending.redirect_uri,
            "client_id": self.client_id,
            "code_verifier": pending.verifier,
        }
        auth = (self.client_id, self.client_secret) if self.client_secret else None
        endpoint = self.provider().token_endpoint
        try:
            answer = httpx.post(endpoint, data=form, auth=auth, timeout=HTTP_TIMEOUT_S)
            body = answer.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise OIDCError(
                502, "oidc_unreachable", f"the provider's token endpoint did not answer: {exc}"
            ) from None
        if answer.status_code != 200 or not isinstance(body, dict):
            error = body.get("error", answer.status_code) if isinstance(body, dict) else "?"
            raise OIDCError(
                502, "oidc_token", f"the provider refused the sign-in code ({error}): sign in again"
            )
        id_token = body.get("id_token")
        if not isinstance(id_token, str):
            raise OIDCError(502, "oidc_token", "the provider answered without an ID token")
        return self.validate(id_token, nonce=pending.nonce)


def oidc_client(request: Request) -> OIDCClient | None:
    """The app's OIDC client (made on first use), None when OIDC is not configured."""
    settings: ServerSettings = request.app.state.settings
    if not settings.oidc_issuer:
        return None
    state = request.app.state.__dict__
    client = state.get("oidc_client")
    if client is None:
        client = state.setdefault("oidc_client", OIDCClient(settings))
    assert isinstance(client, OIDCClient)
    return client


def bearer_user(request: Request, token: str) -> User | None:
    """The enabled local user an OIDC bearer token (a JWT of the provider) names, else None."""
    client = oidc_client(request)
    if client is None:
        return None
    try:
        name = client.username(client.validate(token))
    except OIDCError:
        return None
    catalog: CatalogBackend = request.app.state.catalog
    user = catalog.auth.user(name)
    return None if user is None or user.disabled else user
