"""End-to-end fixtures: the phantom archive in a catalog, a real ``radcurate serve``, Chromium.

Chromium is Debian's (``apt-get install chromium``), driven by the ``playwright``
package; ``playwright install`` is never needed. Screenshots of each step go to
``tests/e2e/artifacts/`` (git-ignored).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import PG_ENV, _drop_database, pg_admin_url

CHROMIUM = Path(os.environ.get("RADCURATE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).parent / "artifacts"
WEBUI_INDEX = Path(__file__).parents[2] / "src" / "radcurate" / "server" / "webui" / "index.html"

#: runs the real command group, as the console script does
CLI = "import sys; from radcurate.cli import main; main(sys.argv[1:])"


def _require(condition: bool, why: str) -> None:
    if not condition:
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def run_cli(*args: str, env: dict[str, str] | None = None) -> None:
    """``radcurate ARGS`` in a subprocess; fails the test with its output if it fails."""
    done = subprocess.run(
        [sys.executable, "-c", CLI, *args], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, f"radcurate {' '.join(args)}:\n{done.stdout}\n{done.stderr}"


@pytest.fixture(scope="session")
def phantom_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The phantom archive (3 patients, 22 series), written once."""
    root = tmp_path_factory.mktemp("phantom")
    env = {**os.environ, "RADCURATE_HOME": str(root / "home"), "RADCURATE_CATALOG": ""}
    run_cli("demo", "--out", str(root / "archive"), "--patients", "3", env=env)
    return root / "archive"


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def phantom_catalog(
    request: pytest.FixtureRequest, phantom_archive: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The phantom archive ingested into a fresh catalog on each backend."""
    root = tmp_path_factory.mktemp(f"catalog-{request.param}")
    env = {**os.environ, "RADCURATE_HOME": str(root / "home"), "RADCURATE_CATALOG": ""}
    if request.param == "sqlite":
        url = f"sqlite:///{root / 'catalog.sqlite'}"
        run_cli("ingest", str(phantom_archive), "--catalog", url, env=env)
        yield url
        return
    admin = pg_admin_url()
    if admin is None:
        _require(False, f"{PG_ENV} not set (run the suite through scripts/test.sh)")
        return
    import psycopg

    name = f"radcurate_e2e_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{admin.rsplit('/', 1)[0]}/{name}"
    try:
        run_cli("ingest", str(phantom_archive), "--catalog", url, env=env)
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            _drop_database(conn, name)  # retried while an autovacuum worker holds it


@pytest.fixture(scope="session")
def server(phantom_catalog: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``radcurate serve`` on the phantom catalog; yields its base URL."""
    _require(WEBUI_INDEX.is_file(), "the web UI is not built (scripts/build-web.sh)")
    home = tmp_path_factory.mktemp("home")
    port = _free_port()
    env = {**os.environ, "RADCURATE_HOME": str(home), "RADCURATE_CATALOG": ""}
    args = ["serve", "--catalog", phantom_catalog, "--port", str(port), "--log-level", "warning"]
    process = subprocess.Popen(
        [sys.executable, "-c", CLI, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, process.communicate()
            try:
                httpx.get(f"{base}/api/info", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "radcurate serve did not answer in 30 s"
                time.sleep(0.1)
        yield base
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless."""
    _require(CHROMIUM.is_file(), f"{CHROMIUM} is missing (apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _require(False, "the playwright package is not installed (pip install playwright)")
        raise
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class UI:
    """A page of the app plus what the browser logged; ``shot`` saves a screenshot."""

    page: Any
    base: str
    console_errors: list[str] = field(default_factory=list)
    allowed: list[str] = field(default_factory=list)

    def log_console(self, kind: str, text: str) -> None:
        if kind == "error" and not any(a in text for a in self.allowed):
            self.console_errors.append(text)

    def allow_error(self, text: str) -> None:
        """A console error this step causes on purpose (the browser logs every 4xx)."""
        self.allowed.append(text)

    def shot(self, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path))
        return path

    def open(self, path: str = "/") -> None:
        self.page.goto(self.base + path)
        self.page.wait_for_selector("[data-testid=card]")

    def settle(self, selector: str = "[data-testid=card]", seconds: float = 10.0) -> None:
        """Wait until the boxes of ``selector`` stop moving (late facets, a scrollbar appearing
        and settings arriving can reflow the grid after the first cards are drawn)."""
        self.page.wait_for_load_state("networkidle")
        script = (
            "s => Array.from(document.querySelectorAll(s)).slice(0, 40)"
            ".map(e => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.width]; })"
        )
        deadline = time.monotonic() + seconds
        last, same = None, 0
        while same < 3 and time.monotonic() < deadline:
            boxes = self.page.evaluate(script, selector)
            same = same + 1 if boxes == last else 0
            last = boxes
            self.page.wait_for_timeout(100)


@pytest.fixture
def ui(browser: Any, server: str) -> Iterator[UI]:
    """A fresh browser context at 1280x860 on the served app; no console errors allowed."""
    # each test starts from default user settings (card fields, size, tag shortcuts)
    if httpx.get(f"{server}/api/settings").status_code == 200:
        httpx.put(f"{server}/api/settings", json={"settings": {}}).raise_for_status()
    context = browser.new_context(
        viewport={"width": 1280, "height": 860}, accept_downloads=True, base_url=server
    )
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server)
    page = context.new_page()
    page.set_default_timeout(15_000)
    result = UI(page=page, base=server)
    page.on("console", lambda m: result.log_console(m.type, m.text))
    page.on("pageerror", lambda e: result.console_errors.append(str(e)))
    yield result
    context.close()
    assert result.console_errors == [], result.console_errors


def copy_screenshot(source: Path, target: Path) -> None:
    """Copies a step's screenshot (for the README)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
