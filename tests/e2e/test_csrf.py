"""Cross-site request forgery and DNS rebinding against a real ``radcurate serve``, from a
page of another origin in Chromium (issue 18).

The attacking page is served by a second HTTP server on another port of 127.0.0.1 (same
*site*, so a SameSite cookie alone would not stop it: the Origin check must). It fires a
``text/plain`` fetch with credentials and an auto-submitted form post at two state-changing
routes. Nothing may change, signed in or not; the same fetch from the app's own origin
works (the control that shows the test can fail).
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from radcurate.catalog import open_catalog
from tests.serving import start_serve, stop_serve

pytestmark = pytest.mark.slow

USER = ("ana", "ana's long passphrase")

EVIL = """<!doctype html><html><body>
<form id="f" method="POST" action="{base}/api/jobs/thumbnails" target="sink"
      enctype="text/plain"><input name='{{"a":"' value='"}}'></form>
<iframe name="sink" id="sink"></iframe>
<script>
window.done = false;
fetch("{base}/api/datasets/d/versions", {{method: "POST", mode: "no-cors",
  credentials: "include", headers: {{"Content-Type": "text/plain"}}, body: "{{}}"}})
  .catch(() => null).finally(() => {{
    document.getElementById("sink").onload = () => {{ window.done = true; }};
    document.getElementById("f").submit();
  }});
</script></body></html>"""


@pytest.fixture
def evil_site(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A plain HTTP server on another port; write ``index.html`` into the folder it yields."""
    folder = tmp_path / "evil"
    folder.mkdir()
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *a: None  # type: ignore[attr-defined]
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield folder, f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()


def _changes(catalog_url: str) -> tuple[int, int]:
    """(frozen versions of dataset d, jobs ever started)."""
    with open_catalog(catalog_url) as catalog:
        return len(catalog.dataset_versions("d")), len(catalog.jobs(limit=100))


def _attack(browser: Any, evil: tuple[Path, str], base: str, *, sign_in: bool) -> None:
    folder, evil_base = evil
    (folder / "index.html").write_text(EVIL.format(base=base))
    context = browser.new_context()
    try:
        page = context.new_page()
        if sign_in:
            page.goto(f"{base}/api/auth/me")
            answer = page.evaluate(
                """([u, p]) => fetch('/api/auth/login', {method: 'POST',
                     headers: {'Content-Type': 'application/json'},
                     body: JSON.stringify({username: u, password: p})}).then(r => r.status)""",
                list(USER),
            )
            assert answer == 200
            assert any(c["name"] == "radcurate_session" for c in context.cookies())
        page.goto(f"{evil_base}/index.html")
        page.wait_for_function("window.done === true", timeout=15_000)
    finally:
        context.close()


def _own_origin_write(browser: Any, base: str, *, sign_in: bool) -> int:
    """The same text/plain POST from the app's own origin (the control)."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{base}/api/auth/me")
        if sign_in:
            page.evaluate(
                """([u, p]) => fetch('/api/auth/login', {method: 'POST',
                     headers: {'Content-Type': 'application/json'},
                     body: JSON.stringify({username: u, password: p})})""",
                list(USER),
            )
        status: int = page.evaluate(
            """() => fetch('/api/datasets/d/versions', {method: 'POST',
                 headers: {'Content-Type': 'application/json'}, body: '{}'}).then(r => r.status)"""
        )
        return status
    finally:
        context.close()


@pytest.mark.parametrize("signed_in", [False, True], ids=["open-mode", "signed-in"])
def test_another_origin_changes_nothing(
    browser: Any, evil_site: tuple[Path, str], tmp_path: Path, signed_in: bool
) -> None:
    url = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    with open_catalog(url) as catalog:
        catalog.create_dataset("d", actor="test")
        if signed_in:
            catalog.auth.add_user(USER[0], "curator", USER[1], actor="test")
    process, base = start_serve(url, tmp_path / "home")
    try:
        _attack(browser, evil_site, base, sign_in=signed_in)
        assert _changes(url) == (0, 0)
        assert _own_origin_write(browser, base, sign_in=signed_in) == 200
        assert _changes(url) == (1, 0)
    finally:
        stop_serve(process)


def test_dns_rebinding_host_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    with open_catalog(url):
        pass
    process, base = start_serve(url, tmp_path / "home")
    try:
        rebound = httpx.get(f"{base}/api/info", headers={"Host": "evil.example.com"})
        assert rebound.status_code == 400 and rebound.json()["error"]["code"] == "bad_host"
        with_port = httpx.get(f"{base}/api/info", headers={"Host": "evil.example.com:8000"})
        assert with_port.status_code == 400
        assert httpx.get(f"{base}/api/info").status_code == 200
        assert httpx.get(f"{base}/api/info", headers={"Host": "localhost"}).status_code == 200
    finally:
        stop_serve(process)
