"""Signing in, the user menu, API tokens and users in the web UI (issue 18), in Chromium.

A real ``radcurate serve`` on the phantom archive in a catalog of its own that has users,
so auth is on (the shared ``server`` fixture's catalog has none: auth off). Screenshots
go to tests/e2e/artifacts/ (``auth-*.png``; docs/img/auth-*.png are copies of them).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from radcurate.catalog import open_catalog
from tests.e2e.conftest import UI, WEBUI_INDEX, _require, run_cli
from tests.serving import serving

pytestmark = pytest.mark.slow

ADMIN = ("alice", "alice's long passphrase")
CURATOR = ("carla", "carla's long passphrase")
VIEWER = ("victor", "victor's long passphrase")
QUERY = "Modality:CT"


@pytest.fixture(scope="module")
def auth_server(phantom_archive: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``radcurate serve`` on a catalog with an admin, a curator and a viewer (auth on)."""
    _require(WEBUI_INDEX.is_file(), "the web UI is not built (scripts/build-web.sh)")
    root = tmp_path_factory.mktemp("auth-ui")
    env = {**os.environ, "RADCURATE_HOME": str(root / "home"), "RADCURATE_CATALOG": ""}
    url = f"sqlite:///{root / 'catalog.sqlite'}"
    run_cli("ingest", str(phantom_archive), "--catalog", url, env=env)
    catalog = open_catalog(url)
    try:
        for (name, password), role in ((ADMIN, "admin"), (CURATOR, "curator"), (VIEWER, "viewer")):
            catalog.auth.add_user(name, role, password, actor="test")
    finally:
        catalog.close()
    with serving(url, root / "home", background_thumbnails=True) as base:
        me = httpx.get(f"{base}/api/auth/me", timeout=5).json()
        assert me["auth"] == "on" and me["user"] is None, me
        yield base


@pytest.fixture
def page_ui(browser: Any, auth_server: str) -> Iterator[UI]:
    """A fresh browser context (no session) on the auth-on server; console errors fail it
    except the 4xx a step causes on purpose (the browser logs each one)."""
    context = browser.new_context(viewport={"width": 1280, "height": 860}, base_url=auth_server)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=auth_server)
    page = context.new_page()
    page.set_default_timeout(15_000)
    result = UI(page=page, base=auth_server)
    page.on("console", lambda m: result.log_console(m.type, m.text))
    page.on("pageerror", lambda e: result.console_errors.append(str(e)))
    yield result
    context.close()
    assert result.console_errors == [], result.console_errors


def sign_in(ui: UI, user: tuple[str, str], path: str = f"/?q={QUERY}") -> None:
    ui.page.goto(ui.base + path)
    ui.page.locator("[data-testid=login-username]").fill(user[0])
    ui.page.locator("[data-testid=login-password]").fill(user[1])
    ui.page.locator("[data-testid=login-submit]").click()
    ui.page.wait_for_selector("[data-testid=card]")
    ui.settle()


def open_menu(ui: UI, item: str) -> None:
    ui.page.locator("[data-testid=user-menu-button]").click()
    ui.page.locator(f"[data-testid={item}]").click()


def stored_anywhere(ui: UI, text: str) -> bool:
    """Whether ``text`` is in the URL, the history, local or session storage, or a cookie
    the page can read."""
    script = (
        "t => [location.href, document.cookie, JSON.stringify(history.state),"
        " JSON.stringify({...localStorage}), JSON.stringify({...sessionStorage})]"
        ".some(s => (s || '').includes(t))"
    )
    found: bool = ui.page.evaluate(script, text)
    return found


def test_wrong_then_right_password_goes_on_to_the_view_asked_for(page_ui: UI) -> None:
    ui = page_ui
    ui.allow_error("401")
    ui.page.goto(ui.base + f"/?q={QUERY}")
    ui.page.wait_for_selector("[data-testid=login-page]")
    assert ui.page.locator("[data-testid=card]").count() == 0  # nothing of the catalog shows
    ui.page.locator("[data-testid=login-username]").fill(ADMIN[0])
    ui.page.locator("[data-testid=login-password]").fill("not the password")
    ui.page.locator("[data-testid=login-submit]").click()
    error = ui.page.locator("[data-testid=login-error]")
    error.wait_for()
    assert "Wrong user name or password" in error.inner_text()
    assert ui.page.locator("[data-testid=login-password]").input_value() == ""
    assert not stored_anywhere(ui, "not the password")
    ui.shot("auth-login")

    ui.page.locator("[data-testid=login-password]").fill(ADMIN[1])
    ui.page.locator("[data-testid=login-password]").press("Enter")
    ui.page.wait_for_selector("[data-testid=card]")
    ui.settle()
    assert not stored_anywhere(ui, ADMIN[1])
    assert ui.page.locator("[data-testid=search-input]").input_value() == QUERY
    assert "9 series" in ui.page.locator("[data-testid=totals]").inner_text()
    assert ui.page.locator("[data-testid=user-name]").inner_text() == ADMIN[0]
    assert ui.page.locator("[data-testid=user-role]").inner_text() == "admin"
    ui.page.locator("[data-testid=user-menu-button]").click()
    assert "admin: also users" in ui.page.locator("[data-testid=user-dropdown]").inner_text()
    assert ui.page.locator("[data-testid=menu-users]").is_visible()
    ui.shot("auth-user-menu")


def test_user_menu_shows_name_and_role(page_ui: UI) -> None:
    ui = page_ui
    sign_in(ui, CURATOR)
    assert ui.page.locator("[data-testid=user-role]").inner_text() == "curator"
    ui.page.locator("[data-testid=user-menu-button]").click()
    menu = ui.page.locator("[data-testid=user-dropdown]")
    menu.wait_for()
    assert "curator: also tags" in menu.inner_text()
    assert ui.page.locator("[data-testid=menu-tokens]").is_visible()
    assert ui.page.locator("[data-testid=menu-users]").count() == 0  # admins only
    ui.shot("auth-user-menu-curator")
    # a curator tags: the tag bar is there
    assert ui.page.locator("[data-testid=tagbar]").is_visible()


def test_viewer_sees_no_tag_or_write_controls(page_ui: UI) -> None:
    ui = page_ui
    sign_in(ui, VIEWER)
    assert ui.page.locator("[data-testid=user-role]").inner_text() == "viewer"
    assert ui.page.locator("[data-testid=tagbar]").count() == 0
    assert ui.page.locator("[data-testid=run-workflow-query]").count() == 0
    assert ui.page.locator("[data-testid=review-start]").count() == 0
    new_dataset = ui.page.locator("[data-testid=dataset-new]")
    assert new_dataset.is_disabled()
    assert "Needs the curator role (you are a viewer)" in (new_dataset.get_attribute("title") or "")
    cards = ui.page.locator("[data-testid=card]")
    cards.nth(0).click()
    cards.nth(1).click(modifiers=["Control"])
    bulk = ui.page.locator("[data-testid=bulkbar]")
    bulk.wait_for()
    for control in ("bulk-tag", "bulk-dataset", "bulk-review-status", "bulk-run-workflow"):
        assert ui.page.locator(f"[data-testid={control}]").count() == 0, control
    assert "read only" in ui.page.locator("[data-testid=bulk-read-only]").inner_text()
    # key 1 would tag: the viewer is told why it does not (and nothing is sent)
    ui.page.locator("[data-testid=gallery]").focus()
    ui.page.keyboard.press("1")
    toast = ui.page.locator("[data-testid=toast]", has_text="Needs the curator role")
    toast.wait_for()
    ui.shot("auth-viewer")
    open_menu(ui, "menu-tokens")
    ui.page.wait_for_selector("[data-testid=tokens-panel]")
    assert ui.page.locator("[data-testid=token-scope] option").all_inner_texts() == ["read"]


def test_a_refusal_of_the_server_shows_its_message(page_ui: UI) -> None:
    """A curator demoted while their page is open: the tag they add is refused (403) and
    the server's message shows, instead of nothing happening."""
    ui = page_ui
    ui.allow_error("403")
    sign_in(ui, CURATOR)
    ui.page.locator("[data-testid=card]").nth(0).click()
    ui.page.locator("[data-testid=bulk-tag]").fill("keep")
    demoted = httpx.patch(ui.base + f"/api/users/{CURATOR[0]}", json={"role": "viewer"}, auth=ADMIN)
    assert demoted.status_code == 200, demoted.text
    try:
        ui.page.locator("[data-testid=bulk-tag-add]").click()
        toast = ui.page.locator("[data-testid=toast]", has_text="may not do this")
        toast.wait_for()
        assert "curate" in toast.inner_text()
    finally:
        restored = httpx.patch(
            ui.base + f"/api/users/{CURATOR[0]}", json={"role": "curator"}, auth=ADMIN
        )
        assert restored.status_code == 200, restored.text


def test_admin_creates_a_user_and_a_token_shown_once(page_ui: UI) -> None:
    ui = page_ui
    ui.allow_error("409")
    ui.allow_error("401")
    sign_in(ui, ADMIN)
    open_menu(ui, "menu-users")
    panel = ui.page.locator("[data-testid=users-panel]")
    panel.wait_for()
    ui.page.wait_for_selector("[data-testid=user-row][data-name=victor]")
    name = f"dora{uuid.uuid4().hex[:6]}"
    ui.page.locator("[data-testid=user-new-name]").fill(name)
    ui.page.locator("[data-testid=user-new-role]").select_option("curator")
    ui.page.locator("[data-testid=user-new-password]").fill("dora's first passphrase")
    ui.page.locator("[data-testid=user-create]").click()
    row = ui.page.locator(f"[data-testid=user-row][data-name={name}]")
    row.wait_for()
    assert row.locator("[data-testid=user-role-select]").input_value() == "curator"
    signed = httpx.get(ui.base + "/api/count", auth=(name, "dora's first passphrase"))
    assert signed.status_code == 200, signed.text
    # the server refuses an admin deleting themselves: its message shows
    me = ui.page.locator(f"[data-testid=user-row][data-name={ADMIN[0]}]")
    me.locator("[data-testid=user-delete]").click()
    me.locator("[data-testid=user-delete-confirm]").click()
    error = ui.page.locator("[data-testid=users-error]")
    error.wait_for()
    assert "cannot delete yourself" in error.inner_text()
    # demote the new user to viewer, disable, enable, delete (asked first)
    row.locator("[data-testid=user-role-select]").select_option("viewer")
    ui.page.locator("[data-testid=users-done]", has_text="is now viewer").wait_for()
    ui.shot("auth-users")
    row.locator("[data-testid=user-delete]").click()
    assert row.locator("[data-testid=user-delete-confirm]").is_visible()
    row.locator("[data-testid=user-delete-confirm]").click()
    row.wait_for(state="detached")
    ui.page.locator("[data-testid=users-close]").click()

    open_menu(ui, "menu-tokens")
    ui.page.wait_for_selector("[data-testid=tokens-panel]")
    scopes = ui.page.locator("[data-testid=token-scope] option").all_inner_texts()
    assert scopes == ["read", "write", "admin"]
    token_name = f"laptop CLI {uuid.uuid4().hex[:4]}"
    ui.page.locator("[data-testid=token-name]").fill(token_name)
    ui.page.locator("[data-testid=token-scope]").select_option("write")
    ui.page.locator("[data-testid=token-days]").fill("30")
    ui.page.locator("[data-testid=token-create]").click()
    box = ui.page.locator("[data-testid=token-secret-box]")
    box.wait_for()
    assert "it will not be shown again" in box.inner_text()
    secret = ui.page.locator("[data-testid=token-secret]").input_value()
    assert secret.startswith("rct_")
    ui.page.locator("[data-testid=token-copy]").click()
    ui.page.locator("[data-testid=token-copy]", has_text="Copied").wait_for()
    assert ui.page.evaluate("() => navigator.clipboard.readText()") == secret
    ui.shot("auth-tokens")
    bearer = {"Authorization": f"Bearer {secret}"}
    assert httpx.get(ui.base + "/api/count", headers=bearer).status_code == 200
    assert not stored_anywhere(ui, secret)
    # shown once: closed and opened again, the secret is nowhere on the page
    ui.page.locator("[data-testid=tokens-close]").click()
    open_menu(ui, "menu-tokens")
    row = ui.page.locator("[data-testid=token-row]", has_text=token_name)
    row.wait_for()
    assert "write" in row.inner_text()
    assert secret not in ui.page.content()
    # revoke, asked first: the token stops working
    row.locator("[data-testid=token-revoke]").click()
    row.locator("[data-testid=token-revoke-confirm]").click()
    row.locator("text=revoked").wait_for()
    assert httpx.get(ui.base + "/api/count", headers=bearer).status_code == 401


def test_sign_out_returns_to_the_login_page(page_ui: UI) -> None:
    ui = page_ui
    sign_in(ui, CURATOR)
    open_menu(ui, "menu-sign-out")
    ui.page.wait_for_selector("[data-testid=login-page]")
    assert ui.page.locator("[data-testid=card]").count() == 0
    me = ui.page.evaluate("() => fetch('/api/auth/me').then(r => r.json())")
    assert me["user"] is None and me["auth"] == "on"


def test_a_session_that_ends_asks_to_sign_in_over_the_app_and_goes_on(page_ui: UI) -> None:
    ui = page_ui
    ui.allow_error("401")
    sign_in(ui, CURATOR)
    ui.page.context.clear_cookies()  # the session is gone (expired, revoked, signed out elsewhere)
    box = ui.page.locator("[data-testid=search-input]")
    box.fill("Modality:MR")
    box.press("Enter")
    ui.page.wait_for_selector("[data-testid=login-expired]")
    assert ui.page.locator("[data-testid=login-username]").input_value() == CURATOR[0]
    ui.page.locator("[data-testid=login-password]").fill(CURATOR[1])
    ui.page.locator("[data-testid=login-submit]").click()
    ui.page.wait_for_selector("[data-testid=login-page]", state="detached")
    ui.page.wait_for_function(
        "() => document.querySelector('[data-testid=totals]').textContent.includes('3 series')"
    )
    assert "Modality%3AMR" in ui.page.url or "Modality:MR" in ui.page.url
