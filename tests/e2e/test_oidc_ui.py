"""The single sign-on button of the sign-in page, in Chromium, against a real ``radcurate serve
--oidc-issuer`` and the OpenID provider of tests/auth/test_oidc.py (issue 18)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from radcurate.catalog import open_catalog
from tests.auth.test_oidc import CLIENT_ID, FakeProvider, provider  # noqa: F401 (its fixture)
from tests.e2e.conftest import ARTIFACTS
from tests.serving import start_serve, stop_serve


@pytest.mark.slow
def test_the_sign_in_page_offers_single_sign_on_in_chromium(
    browser: Any,
    provider: FakeProvider,  # noqa: F811
    tmp_path: Path,
) -> None:
    """The button on the login page of a real ``radcurate serve`` with --oidc-issuer: the
    provider sends Chromium back signed in as ana, with the app loaded."""
    url = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    with open_catalog(url) as catalog:
        catalog.auth.add_user("ana", "curator", "ana's long passphrase", actor="test")
    sso = ("--oidc-issuer", provider.issuer, "--oidc-client-id", CLIENT_ID)
    process, base = start_serve(url, tmp_path / "home", *sso)
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(base + "/")
        button = page.locator("[data-testid=login-sso]")
        button.wait_for(timeout=15_000)
        assert button.get_attribute("href") == "/api/auth/oidc/login"
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "oidc-login-page.png"))
        button.click()
        page.wait_for_url(base + "/", timeout=15_000)
        page.locator("[data-testid=login-page]").wait_for(state="detached", timeout=15_000)
        me = page.evaluate("() => fetch('/api/auth/me').then(r => r.json())")
        assert me["user"]["name"] == "ana" and me["via"] == "session" and me["oidc"] is True
        assert provider.verifiers_checked == 1
    finally:
        context.close()
        stop_serve(process)
