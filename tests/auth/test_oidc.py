"""OpenID Connect sign-in (authorization code + PKCE) and OIDC bearer tokens (issue 18).

No Keycloak runs here, so the test is its own OpenID provider: a real HTTP server on a free
port with a discovery document, a JWKS of keys it generates (RSA and EC, plus an encryption
key as Keycloak publishes), an authorization endpoint that sends the browser back with a
code, and a token endpoint that checks the PKCE verifier and signs ID tokens.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import jwt
import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi.testclient import TestClient

from radcurate.catalog import CatalogBackend, open_catalog
from radcurate.cli import main
from radcurate.server import ServerSettings, create_app
from radcurate.server import oidc as oidc_module
from tests.authn import bearer

CLIENT_ID = "radcurate"
REALM = "/realms/test"


def _jwk(key: Any, kid: str, alg: str, use: str = "sig") -> dict[str, Any]:
    if isinstance(key, rsa.RSAPublicKey):
        data = jwt.algorithms.RSAAlgorithm.to_jwk(key, as_dict=True)
    else:
        data = jwt.algorithms.ECAlgorithm.to_jwk(key, as_dict=True)
    return {**data, "kid": kid, "alg": alg, "use": use}


class FakeProvider:
    """A minimal OpenID provider; ``user`` and ``claims`` shape the next ID token."""

    def __init__(self) -> None:
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())
        self.published: list[dict[str, Any]] = [
            _jwk(self.rsa.public_key(), "rsa-1", "RS256"),
            _jwk(self.ec.public_key(), "ec-1", "ES256"),
            _jwk(self.rsa.public_key(), "enc-1", "RSA-OAEP", use="enc"),
        ]
        self.user = "ana"
        self.claims: dict[str, Any] = {}  # overrides for the next ID token
        self.signer: Any = None  # another key to sign with (a forger)
        self.codes: dict[str, dict[str, str]] = {}
        self.verifiers_checked = 0
        provider = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _json(self, status: int, body: dict[str, Any]) -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path == f"{REALM}/.well-known/openid-configuration":
                    self._json(200, provider.discovery())
                elif parts.path == f"{REALM}/certs":
                    self._json(200, {"keys": provider.published})
                elif parts.path == f"{REALM}/auth":
                    self._authorize({k: v[0] for k, v in parse_qs(parts.query).items()})
                else:
                    self._json(404, {"error": "not_found"})

            def _authorize(self, q: dict[str, str]) -> None:
                good = (
                    q.get("response_type") == "code"
                    and q.get("client_id") == CLIENT_ID
                    and q.get("code_challenge_method") == "S256"
                    and "openid" in q.get("scope", "").split()
                    and all(q.get(k) for k in ("state", "nonce", "code_challenge"))
                )
                if not good:
                    self._json(400, {"error": "invalid_request", "got": q})
                    return
                code = secrets.token_urlsafe(16)
                provider.codes[code] = q
                self.send_response(302)
                back = urlencode({"code": code, "state": q["state"]})
                self.send_header("Location", f"{q['redirect_uri']}?{back}")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                if urlsplit(self.path).path != f"{REALM}/token":
                    self._json(404, {"error": "not_found"})
                    return
                asked = provider.codes.pop(form.get("code", ""), None)
                if (
                    asked is None
                    or form.get("grant_type") != "authorization_code"
                    or form.get("redirect_uri") != asked["redirect_uri"]
                    or form.get("client_id") != CLIENT_ID
                ):
                    self._json(400, {"error": "invalid_grant"})
                    return
                digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
                challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
                if challenge != asked["code_challenge"]:
                    self._json(400, {"error": "invalid_grant", "error_description": "PKCE"})
                    return
                provider.verifiers_checked += 1
                token = provider.token(nonce=asked["nonce"])
                self._json(200, {"id_token": token, "access_token": token, "token_type": "Bearer"})

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.issuer = self.base + REALM
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/auth",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/certs",
            "code_challenge_methods_supported": ["S256"],
        }

    def token(self, *, alg: str = "RS256", kid: str | None = None, **claims: Any) -> str:
        now = int(time.time())
        body = {
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "sub": f"sub-{self.user}",
            "iat": now,
            "exp": now + 300,
            "preferred_username": self.user,
            **claims,
            **self.claims,
        }
        key = self.signer or (self.ec if alg == "ES256" else self.rsa)
        kid = kid or ("ec-1" if alg == "ES256" else "rsa-1")
        return jwt.encode(body, key, algorithm=alg, headers={"kid": kid})

    def close(self) -> None:
        self.httpd.shutdown()


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    made = FakeProvider()
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[CatalogBackend]:
    with open_catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}") as opened:
        yield opened


@pytest.fixture
def client(catalog: CatalogBackend, provider: FakeProvider, tmp_path: Path) -> Iterator[TestClient]:
    bearer(catalog, "ana", "curator")
    settings = ServerSettings(home=tmp_path, oidc_issuer=provider.issuer, oidc_client_id=CLIENT_ID)
    with TestClient(create_app(settings, catalog), raise_server_exceptions=False) as made:
        yield made


def sign_in(client: TestClient) -> httpx.Response:
    """The browser's round trip: our login -> the provider -> our callback (its answer)."""
    login = client.get("/api/auth/oidc/login", follow_redirects=False)
    assert login.status_code == 302, login.text
    at_provider = httpx.get(login.headers["location"], follow_redirects=False)
    assert at_provider.status_code == 302, at_provider.text
    return client.get(at_provider.headers["location"], follow_redirects=False)


def _me(client: TestClient, **headers: str) -> dict[str, Any]:
    found: dict[str, Any] = client.get("/api/auth/me", headers=headers).json()
    return found


def test_code_flow_with_pkce_signs_in_an_existing_user(
    client: TestClient, provider: FakeProvider
) -> None:
    assert _me(client) == {"user": None, "auth": "on", "via": None, "oidc": True}
    login = client.get("/api/auth/oidc/login", follow_redirects=False)
    asked = parse_qs(urlsplit(login.headers["location"]).query)
    assert login.headers["location"].startswith(f"{provider.issuer}/auth?")
    assert asked["code_challenge_method"] == ["S256"] and asked["client_id"] == [CLIENT_ID]
    assert asked["redirect_uri"] == ["http://testserver/api/auth/oidc/callback"]

    back = sign_in(client)
    assert back.status_code == 302 and back.headers["location"] == "/"
    assert provider.verifiers_checked == 1
    cookie = back.headers["set-cookie"]
    assert "radcurate_session=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    me = _me(client)
    assert me["user"]["name"] == "ana" and me["user"]["role"] == "curator"
    assert me["via"] == "session" and me["oidc"] is True
    made = client.post("/api/tags", json={"name": "sso"}, headers={"Origin": "http://testserver"})
    assert made.status_code == 201, made.text


def test_a_callback_works_once_and_only_in_the_browser_that_started(
    client: TestClient, catalog: CatalogBackend, provider: FakeProvider, tmp_path: Path
) -> None:
    login = client.get("/api/auth/oidc/login", follow_redirects=False)
    callback = httpx.get(login.headers["location"]).headers["location"]
    # another browser (an attacker's link to their own sign-in): no binding cookie
    other = TestClient(client.app)  # the same running app, a browser without its cookies
    stolen = other.get(callback, follow_redirects=False)
    assert stolen.status_code == 400 and "another browser" in stolen.text
    assert "radcurate_session" not in stolen.headers.get("set-cookie", "")
    # the state was spent by that attempt: even the right browser must start again
    again = client.get(callback, follow_redirects=False)
    assert again.status_code == 400 and "sign in again" in again.text
    assert sign_in(client).status_code == 302
    replay = client.get(callback, follow_redirects=False)
    assert replay.status_code == 400 and _me(client)["user"]["name"] == "ana"


BAD_TOKENS = {
    "forged": {"signer": "other-key"},
    "expired": {"claims": {"exp": int(time.time()) - 120, "iat": int(time.time()) - 900}},
    "wrong-audience": {"claims": {"aud": "another-client"}},
    "wrong-nonce": {"claims": {"nonce": "not-the-one-sent"}},
    "wrong-issuer": {"claims": {"iss": "https://evil.example.org/realms/test"}},
    "issued-in-the-future": {"claims": {"iat": int(time.time()) + 3600}},
    "other-client-among-audiences": {"claims": {"aud": [CLIENT_ID, "x"], "azp": "x"}},
}


def _spoil(provider: FakeProvider, how: dict[str, Any]) -> None:
    if how.get("signer"):
        provider.signer = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    provider.claims = dict(how.get("claims", {}))


@pytest.mark.parametrize("case", list(BAD_TOKENS))
def test_an_invalid_id_token_signs_nobody_in(
    client: TestClient, provider: FakeProvider, case: str
) -> None:
    _spoil(provider, BAD_TOKENS[case])
    back = sign_in(client)
    assert back.status_code == 401, back.text
    assert "Sign-in failed" in back.text
    assert "radcurate_session" not in back.headers.get("set-cookie", "")
    assert _me(client)["user"] is None
    # the same provider with a good token: the check was the only thing in the way
    provider.signer, provider.claims = None, {}
    assert sign_in(client).status_code == 302 and _me(client)["user"]["name"] == "ana"


def test_an_unknown_or_disabled_user_is_refused_with_what_to_do(
    client: TestClient, catalog: CatalogBackend, provider: FakeProvider
) -> None:
    provider.user = "zed<b>"
    back = sign_in(client)
    assert back.status_code == 403
    assert "radcurate user add zed&lt;b&gt;" in back.text and "<b>" not in back.text
    assert _me(client)["user"] is None
    catalog.auth.update_user("ana", actor="t", disabled=True)
    provider.user = "ana"
    back = sign_in(client)
    assert back.status_code == 403 and "disabled" in back.text
    assert _me(client)["user"] is None


def _tokens(client: TestClient, token: str) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    return client.get("/api/tokens", headers=headers).status_code


def test_a_provider_jwt_is_a_bearer_token_for_the_api(
    client: TestClient, catalog: CatalogBackend, provider: FakeProvider, monkeypatch: Any
) -> None:
    good = provider.token()
    assert _tokens(client, good) == 200
    me = _me(client, Authorization=f"Bearer {good}")
    assert me["user"]["name"] == "ana" and me["via"] == "oidc"
    made = client.post("/api/tags", json={"name": "t"}, headers={"Authorization": f"Bearer {good}"})
    assert made.status_code == 201
    assert _tokens(client, provider.token(alg="ES256")) == 200
    # rct_ API tokens still work beside it
    assert client.get("/api/tokens", headers=bearer(catalog, "bob", "viewer")).status_code == 200

    now = int(time.time())
    refused = {
        "expired": provider.token(exp=now - 120, iat=now - 900),
        "wrong-audience": provider.token(aud="account"),
        "wrong-issuer": provider.token(iss="https://evil.example.org"),
        "unknown-user": provider.token(preferred_username="nobody"),
        "no-username": provider.token(preferred_username=""),
        "ec-key-for-rs256": provider.token(kid="ec-1"),
        "unknown-kid": provider.token(kid="made-up"),
        "not-a-jwt": "not.a.jwt",
    }
    provider.signer = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    refused["forged"] = provider.token()
    provider.signer = None
    refused["hs256-with-public-key"] = jwt.encode(
        {"iss": provider.issuer, "aud": CLIENT_ID, "sub": "s", "iat": now, "exp": now + 60},
        secrets.token_bytes(32),
        algorithm="HS256",
        headers={"kid": "rsa-1"},
    )
    assert {case: _tokens(client, t) for case, t in refused.items()} == dict.fromkeys(refused, 401)
    catalog.auth.update_user("ana", actor="t", disabled=True)
    assert _tokens(client, good) == 401

    # a rotated key is fetched when a token names it (at most once a REFRESH_EVERY)
    catalog.auth.update_user("ana", actor="t", disabled=False)
    new = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    provider.published.append(_jwk(new.public_key(), "rsa-2", "RS256"))
    provider.signer = new
    rotated = provider.token(kid="rsa-2")
    assert _tokens(client, rotated) == 401  # keys fetched seconds ago: not again yet
    monkeypatch.setattr(oidc_module, "REFRESH_EVERY", 0.0)
    assert _tokens(client, rotated) == 200


def test_oidc_off_offers_nothing_and_ignores_jwts(
    catalog: CatalogBackend, provider: FakeProvider, tmp_path: Path
) -> None:
    bearer(catalog, "ana", "curator")
    with TestClient(create_app(ServerSettings(home=tmp_path), catalog)) as client:
        assert _me(client)["oidc"] is False
        off = client.get("/api/auth/oidc/login", follow_redirects=False)
        assert off.status_code == 404 and "--oidc-issuer" in off.json()["error"]["message"]
        assert _tokens(client, provider.token()) == 401


def test_settings_refuse_what_cannot_work(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="https://"):
        ServerSettings(
            home=tmp_path, oidc_issuer="http://kc.example.org/realms/x", oidc_client_id="r"
        )
    with pytest.raises(ValueError, match="client id"):
        ServerSettings(home=tmp_path, oidc_issuer="https://kc.example.org/realms/x")
    env = {
        "RADCURATE_HOME": str(tmp_path),
        "RADCURATE_OIDC_ISSUER": "https://kc/realms/x",
        "RADCURATE_OIDC_CLIENT_ID": "rc",
        "RADCURATE_OIDC_CLIENT_SECRET": "s3cret",
    }
    settings = ServerSettings.from_env(env)
    assert (settings.oidc_issuer, settings.oidc_client_id) == ("https://kc/realms/x", "rc")
    assert settings.oidc_client_secret == "s3cret" and "s3cret" not in repr(settings)
    result = CliRunner().invoke(
        main,
        [
            "serve",
            "--catalog",
            f"sqlite:///{tmp_path / 'c.sqlite'}",
            "--oidc-issuer",
            "http://kc.example.org/realms/x",
            "--oidc-client-id",
            "rc",
        ],
    )
    assert result.exit_code == 2 and "https://" in result.output


def test_a_provider_that_does_not_answer_fails_fast(
    catalog: CatalogBackend, tmp_path: Path, monkeypatch: Any
) -> None:
    """A provider that accepts connections and never answers: the first request waits
    HTTP_TIMEOUT_S, those in the next DOWN_FOR_S fail at once; passwords keep working."""
    monkeypatch.setattr(oidc_module, "HTTP_TIMEOUT_S", 1.0)
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    issuer = f"http://127.0.0.1:{silent.getsockname()[1]}{REALM}"
    ana = bearer(catalog, "ana", "curator")
    settings = ServerSettings(home=tmp_path, oidc_issuer=issuer, oidc_client_id=CLIENT_ID)
    try:
        with TestClient(create_app(settings, catalog)) as client:
            started = time.monotonic()
            assert _tokens(client, "eyJhbGciOiJSUzI1NiJ9.e30.c2ln") == 401
            assert 0.9 < time.monotonic() - started < 5
            started = time.monotonic()
            page = client.get("/api/auth/oidc/login", follow_redirects=False)
            assert page.status_code == 502 and "did not answer" in page.text
            assert time.monotonic() - started < 0.5
            assert client.get("/api/tokens", headers=ana).status_code == 200
    finally:
        silent.close()
