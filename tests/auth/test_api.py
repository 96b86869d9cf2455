"""Who may call what: every route of the OpenAPI document against every role, tokens,
sessions, forged headers, foreign Host names and cross-origin writes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from radcurate.auth import Permission
from radcurate.catalog import CatalogBackend, open_catalog
from radcurate.server import ServerSettings, create_app
from radcurate.server.auth import PERMISSION_KEY
from tests.authn import bearer, password_of

ROLES = ("viewer", "curator", "admin")
RANK = {"public": 0, "read": 1, "curate": 2, "admin": 3}


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[CatalogBackend]:
    with open_catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}") as opened:
        yield opened


def client_of(catalog: CatalogBackend, home: Path, **settings: Any) -> TestClient:
    app = create_app(ServerSettings(home=home, **settings), catalog)
    return TestClient(app, raise_server_exceptions=False)


def operations(client: TestClient) -> list[tuple[str, str, str]]:
    """``(method, concrete path, permission)`` of every operation in the OpenAPI document."""
    spec = client.get("/openapi.json").json()
    found = []
    for path, methods in spec["paths"].items():
        concrete = re.sub(r"\{[^}]+\}", "x", path)
        for method, op in methods.items():
            found.append((method.upper(), concrete, op.get(PERMISSION_KEY)))
    return found


def test_every_operation_declares_a_permission(catalog: CatalogBackend, tmp_path: Path) -> None:
    with client_of(catalog, tmp_path) as client:
        ops = operations(client)
    assert len(ops) > 90
    missing = [(m, p) for m, p, perm in ops if perm not in {x.value for x in Permission}]
    assert missing == []
    # the writes a viewer must never make are declared as such
    declared = {(m, p): perm for m, p, perm in ops}
    assert declared[("POST", "/api/tags")] == "curate"
    assert declared[("POST", "/dicomweb/studies")] == "curate"
    assert declared[("DELETE", "/api/datasets/x")] == "admin"
    assert declared[("GET", "/api/users")] == "admin"
    assert declared[("GET", "/dicomweb/studies")] == "read"


def _call(client: TestClient, method: str, path: str, headers: dict[str, str]) -> int:
    body = None if method in ("GET", "DELETE") else {}
    return client.request(method, path, json=body, headers=headers).status_code


def test_role_by_route_matrix(catalog: CatalogBackend, tmp_path: Path) -> None:
    """Each role gets 401/403 exactly where its permission falls short, on every route."""
    people = {role: bearer(catalog, f"{role}1", role) for role in ROLES}
    admin_read_token = catalog.auth.create_token("admin1", "ro", "read", None, actor="t")[0]
    people["admin-read-token"] = {"Authorization": f"Bearer {admin_read_token}"}
    granted = {"viewer": 1, "curator": 2, "admin": 3, "admin-read-token": 1}
    wrong: list[str] = []
    with client_of(catalog, tmp_path) as client:
        for method, path, perm in operations(client):
            need = RANK[perm]
            anonymous = _call(client, method, path, {})
            if (anonymous == 401) != (need > 0):
                wrong.append(f"anonymous {method} {path}: {anonymous} (needs {perm})")
            for who, headers in people.items():
                status = _call(client, method, path, headers)
                refused = status in (401, 403)
                if refused != (granted[who] < need):
                    wrong.append(f"{who} {method} {path}: {status} (needs {perm})")
    assert wrong == []


def test_forged_user_header_changes_nothing(catalog: CatalogBackend, tmp_path: Path) -> None:
    ana = bearer(catalog, "ana", "curator")
    with client_of(catalog, tmp_path) as client:
        forged = {"X-Radcurate-User": "A" * 20000}
        assert client.post("/api/tags", json={"name": "t"}, headers=forged).status_code == 401
        made = client.post("/api/tags", json={"name": "t"}, headers={**ana, **forged})
        assert made.status_code == 201
        settings = client.get("/api/settings", headers={**ana, "X-Radcurate-User": "root"})
        assert settings.json()["user"] == "ana"
    assert [e.actor for e in catalog.audit_log(10, action="tag.create")] == ["ana"]


def test_open_mode_acts_as_the_local_user_and_ignores_the_header(
    catalog: CatalogBackend, tmp_path: Path
) -> None:
    with client_of(catalog, tmp_path) as client:
        me = client.get("/api/auth/me").json()
        assert me["auth"] == "off" and me["user"]["role"] == "admin"
        made = client.post("/api/tags", json={"name": "t"}, headers={"X-Radcurate-User": "evil"})
        assert made.status_code == 201
    assert catalog.audit_log(1, action="tag.create")[0].actor == me["user"]["name"] != "evil"


def test_login_session_cookie_and_logout(catalog: CatalogBackend, tmp_path: Path) -> None:
    bearer(catalog, "ana", "curator")
    with client_of(catalog, tmp_path) as client:
        me = client.get("/api/auth/me").json()
        assert me == {"user": None, "auth": "on", "via": None, "oidc": False}
        bad = client.post("/api/auth/login", json={"username": "ana", "password": "wrong-pass"})
        assert bad.status_code == 401 and bad.json()["error"]["code"] == "bad_credentials"
        nobody = client.post("/api/auth/login", json={"username": "x", "password": "wrong-pass"})
        assert nobody.json() == bad.json()  # the same answer for a wrong name
        good = client.post(
            "/api/auth/login", json={"username": "ANA", "password": password_of("ana")}
        )
        assert good.status_code == 200 and good.json()["user"]["name"] == "ana"
        cookie = good.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "secure" not in cookie
        assert client.get("/api/auth/me").json()["user"]["role"] == "curator"
        assert client.get("/api/count").status_code == 200
        # a signed-in browser write must come from this server's pages
        assert client.post("/api/tags", json={"name": "a"}).status_code == 403
        own = {"Origin": "http://testserver"}
        assert client.post("/api/tags", json={"name": "a"}, headers=own).status_code == 201
        assert client.post("/api/auth/logout", headers=own).status_code == 204
        assert client.get("/api/count").status_code == 401


def test_tokens_over_http(catalog: CatalogBackend, tmp_path: Path) -> None:
    viewer = bearer(catalog, "vic", "viewer")
    admin = bearer(catalog, "root", "admin")
    with client_of(catalog, tmp_path) as client:
        wide = {"name": "n", "scope": "write"}
        too_wide = client.post("/api/tokens", json=wide, headers=viewer)  # a read token
        assert too_wide.status_code == 403 and "wider scope" in too_wide.text
        by_password = client.post("/api/tokens", json=wide, auth=("vic", password_of("vic")))
        assert by_password.status_code == 400 and "scope read at most" in by_password.text
        made = client.post("/api/tokens", json={"name": "cli", "scope": "read"}, headers=viewer)
        assert made.status_code == 201
        secret, item = made.json()["token"], made.json()["item"]
        assert secret.startswith("rct_") and item["expires_at"]  # 90 days by default
        mine = {"Authorization": f"Bearer {secret}"}
        assert client.get("/api/count", headers=mine).status_code == 200
        listed = client.get("/api/tokens", headers=viewer).json()["items"]
        assert {t["user"] for t in listed} == {"vic"} and secret not in str(listed)
        assert len(client.get("/api/tokens", headers=admin).json()["items"]) > len(listed)
        # another viewer cannot revoke it; its owner can; then it stops working at once
        other = bearer(catalog, "val", "viewer")
        assert client.delete(f"/api/tokens/{item['id']}", headers=other).status_code == 404
        assert client.delete(f"/api/tokens/{item['id']}", headers=viewer).status_code == 204
        assert client.get("/api/count", headers=mine).status_code == 401
        # Basic with a token (DICOM clients) and with a password
        basic = client.get("/dicomweb/studies", auth=("root", admin["Authorization"][7:]))
        assert basic.status_code == 200
        assert client.get("/dicomweb/studies", auth=("vic", password_of("vic"))).status_code == 200
        refused = client.get("/dicomweb/studies", auth=("vic", "not-the-password"))
        assert refused.status_code == 401 and "Basic" in refused.headers["www-authenticate"]
        # the API answers 401 with a Bearer challenge: a browser shows no password dialog
        assert client.get("/api/count").headers["www-authenticate"] == "Bearer"


def test_users_admin_api(catalog: CatalogBackend, tmp_path: Path) -> None:
    admin = bearer(catalog, "root", "admin")
    with client_of(catalog, tmp_path) as client:
        made = client.post(
            "/api/users", json={"name": "dora", "role": "viewer", "password": "x"}, headers=admin
        )
        assert made.status_code == 400 and "at least" in made.json()["error"]["message"]
        body = {"name": "dora", "role": "viewer", "password": "a fine password"}
        assert client.post("/api/users", json=body, headers=admin).status_code == 201
        assert client.post("/api/users", json=body, headers=admin).status_code == 409
        changed = client.patch("/api/users/dora", json={"role": "curator"}, headers=admin)
        assert changed.json()["role"] == "curator"
        self_demote = client.patch("/api/users/root", json={"role": "viewer"}, headers=admin)
        assert self_demote.status_code == 409
        assert client.delete("/api/users/root", headers=admin).status_code == 409
        assert client.delete("/api/users/dora", headers=admin).status_code == 204
        names = [u["name"] for u in client.get("/api/users", headers=admin).json()["items"]]
        assert names == ["root"]
    actions = [e.action for e in catalog.audit_log(20) if e.action.startswith("user.")]
    assert actions == ["user.delete", "user.update", "user.add", "user.add"]


def test_foreign_host_is_refused(catalog: CatalogBackend, tmp_path: Path) -> None:
    with client_of(catalog, tmp_path, allowed_hosts=("127.0.0.1", "localhost")) as client:
        evil = client.get("/api/info", headers={"Host": "evil.example.com"})
        assert evil.status_code == 400 and evil.json()["error"]["code"] == "bad_host"
        assert client.get("/api/info", headers={"Host": "127.0.0.1:8000"}).status_code == 200


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_cross_origin_writes_are_refused_whatever_the_body(
    catalog: CatalogBackend, tmp_path: Path, content_type: str
) -> None:
    catalog.create_dataset("d", actor="t")
    with client_of(catalog, tmp_path) as client:  # open mode: no credentials needed at all
        for path in ("/api/datasets/d/versions", "/api/jobs/thumbnails"):
            answer = client.post(
                path,
                content=b"x",
                headers={"Origin": "http://evil.example.com", "Content-Type": content_type},
            )
            assert answer.status_code == 403 and answer.json()["error"]["code"] == "cross_origin"
        sec = client.post("/api/jobs/thumbnails", headers={"Sec-Fetch-Site": "cross-site"})
        assert sec.status_code == 403
    assert catalog.dataset_versions("d") == []


def test_trusted_proxy_names_the_user_only_from_its_address(
    catalog: CatalogBackend, tmp_path: Path
) -> None:
    bearer(catalog, "ana", "curator")
    header = {"X-Forwarded-User": "ana"}
    # TestClient's peer address is "testclient"
    trusted = {"trusted_proxies": ("testclient",), "proxy_user_header": "X-Forwarded-User"}
    with client_of(catalog, tmp_path, **trusted) as client:
        me = client.get("/api/auth/me", headers=header).json()
        assert me["user"]["name"] == "ana" and me["via"] == "proxy"
        assert client.get("/api/count", headers={"X-Forwarded-User": "ghost"}).status_code == 401
    elsewhere = {"trusted_proxies": ("10.0.0.9",), "proxy_user_header": "X-Forwarded-User"}
    with client_of(catalog, tmp_path / "b", **elsewhere) as client:
        assert client.get("/api/count", headers=header).status_code == 401
    with client_of(catalog, tmp_path / "c") as client:  # not configured: the header is nothing
        assert client.get("/api/count", headers=header).status_code == 401
