"""Users, tokens and sessions in the catalog, on both engines."""

from __future__ import annotations

import time

import pytest

from radcurate.auth import Role, Scope
from radcurate.catalog import CatalogBackend, open_catalog
from radcurate.catalog.auth_store import AuthStoreError
from radcurate.catalog.curation_types import CurationConflictError, CurationNotFoundError

PASSWORD = "a long enough password"


@pytest.fixture
def catalog(catalog_url: str) -> CatalogBackend:
    with open_catalog(catalog_url) as opened:
        yield opened


def test_users_are_unique_ignoring_case_and_never_show_a_hash(catalog: CatalogBackend) -> None:
    assert not catalog.auth.has_users()
    ana = catalog.auth.add_user("Ana", "curator", PASSWORD, actor="root")
    assert ana.role is Role.CURATOR and catalog.auth.has_users()
    with pytest.raises(CurationConflictError, match="exists"):
        catalog.auth.add_user("ana", "viewer", PASSWORD, actor="root")
    assert [u.name for u in catalog.auth.users()] == ["Ana"]
    assert "hash" not in str(catalog.auth.user("ANA"))
    entries = catalog.audit_log(10, action="user.add")
    assert entries[0].actor == "root" and entries[0].target == "Ana"
    assert PASSWORD not in str(entries[0])


@pytest.mark.parametrize(
    ("name", "role", "password", "code"),
    [
        ("", "viewer", PASSWORD, "invalid_user"),
        ("has space", "viewer", PASSWORD, "invalid_user"),
        ("x" * 65, "viewer", PASSWORD, "invalid_user"),
        ("ok", "superuser", PASSWORD, "invalid_role"),
        ("ok", "viewer", "short", "weak_password"),
    ],
)
def test_bad_users_are_refused_saying_why(
    catalog: CatalogBackend, name: str, role: str, password: str, code: str
) -> None:
    with pytest.raises(AuthStoreError) as caught:
        catalog.auth.add_user(name, role, password, actor="root")
    assert caught.value.code == code
    assert not catalog.auth.has_users()


def test_passwords_and_sessions(catalog: CatalogBackend) -> None:
    catalog.auth.add_user("root", "admin", PASSWORD, actor="setup")
    bob = catalog.auth.add_user("bob", "viewer", PASSWORD, actor="root")
    assert catalog.auth.check_password("BOB", PASSWORD) == bob
    assert catalog.auth.check_password("bob", PASSWORD + "x") is None
    assert catalog.auth.check_password("nobody", PASSWORD) is None
    session = catalog.auth.start_session(bob)
    assert catalog.auth.session_user(session).name == "bob"  # type: ignore[union-attr]
    assert catalog.auth.session_user(session + "x") is None
    # a new password ends the sessions
    catalog.auth.update_user("bob", actor="root", password="another long password")
    assert catalog.auth.session_user(session) is None
    assert catalog.auth.check_password("bob", PASSWORD) is None
    # disabling ends them and refuses the password
    session = catalog.auth.start_session(bob)
    catalog.auth.update_user("bob", actor="root", disabled=True)
    assert catalog.auth.session_user(session) is None
    assert catalog.auth.check_password("bob", "another long password") is None
    # signing out forgets the session
    root = catalog.auth.user("root")
    assert root is not None
    session = catalog.auth.start_session(root)
    catalog.auth.end_session(session)
    assert catalog.auth.session_user(session) is None
    short = catalog.auth.start_session(root, hours=-1)  # already expired
    assert catalog.auth.session_user(short) is None


def test_the_last_admin_stays(catalog: CatalogBackend) -> None:
    catalog.auth.add_user("root", "admin", PASSWORD, actor="setup")
    for change in ({"role": "viewer"}, {"disabled": True}):
        with pytest.raises(CurationConflictError, match="last enabled admin"):
            catalog.auth.update_user("root", actor="root", **change)  # type: ignore[arg-type]
    with pytest.raises(CurationConflictError):
        catalog.auth.delete_user("root", actor="root")
    catalog.auth.add_user("second", "admin", PASSWORD, actor="root")
    catalog.auth.update_user("root", actor="second", role="curator")
    assert catalog.auth.user("root").role is Role.CURATOR  # type: ignore[union-attr]
    with pytest.raises(CurationNotFoundError):
        catalog.auth.update_user("ghost", actor="root", role="viewer")


def test_tokens_scope_expiry_revocation(catalog: CatalogBackend) -> None:
    catalog.auth.add_user("ana", "curator", PASSWORD, actor="root")
    with pytest.raises(AuthStoreError, match="scope write at most"):
        catalog.auth.create_token("ana", "x", "admin", None, actor="ana")
    with pytest.raises(AuthStoreError, match="future"):
        catalog.auth.create_token("ana", "x", "read", time.time() - 1, actor="ana")
    secret, token = catalog.auth.create_token("ana", "laptop", "write", None, actor="ana")
    stored = str(catalog.auth.tokens("ana"))
    assert secret not in stored and secret[4:] not in stored  # only the hash is kept
    use = catalog.auth.token_user(secret)
    assert use is not None and use.scope is Scope.WRITE and use.user.name == "ana"
    assert catalog.auth.token_user(secret[:-1] + ("A" if secret[-1] != "A" else "B")) is None
    catalog.auth.revoke_token(token.id, actor="ana")
    catalog.auth.revoke_token(token.id, actor="ana")  # twice changes nothing
    assert catalog.auth.token_user(secret) is None
    assert len(catalog.audit_log(10, action="token.revoke")) == 1
    soon, _ = catalog.auth.create_token("ana", "short", "read", time.time() + 1.0, actor="ana")
    assert catalog.auth.token_user(soon) is not None
    time.sleep(1.2)
    assert catalog.auth.token_user(soon) is None  # expired
    live, _ = catalog.auth.create_token("ana", "live", "read", None, actor="ana")
    catalog.auth.update_user("ana", actor="root", disabled=True)
    assert catalog.auth.token_user(live) is None  # a disabled user's token is refused
    catalog.auth.update_user("ana", actor="root", disabled=False)
    assert catalog.auth.token_user(live) is not None
    catalog.auth.add_user("root", "admin", PASSWORD, actor="setup")
    catalog.auth.delete_user("ana", actor="root")
    assert catalog.auth.token_user(live) is None and catalog.auth.tokens("ana") == []
