"""``radcurate serve``: a real uvicorn in a subprocess, polled until it answers, then stopped."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from radcurate.catalog import CatalogBackend
from radcurate.cli.serve import serve

#: runs ``radcurate serve`` through the real command group (as the console script does)
LAUNCH = "import sys; from radcurate.cli import main; main(['serve', *sys.argv[1:]])"


@pytest.fixture
def catalog_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'catalog.sqlite'}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_serve_answers_over_real_http(catalog: CatalogBackend, tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "RADCURATE_HOME": str(tmp_path / "home"), "RADCURATE_CATALOG": ""}
    process = subprocess.Popen(
        [sys.executable, "-c", LAUNCH, "--catalog", catalog.url, "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, process.communicate()
            try:
                info = httpx.get(f"{base}/api/info", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "radcurate serve did not answer in 20 s"
                time.sleep(0.1)
        assert info.json()["series"] == catalog.info().series
        page = httpx.get(f"{base}/api/search", params={"q": "Modality:MR", "limit": 2}).json()
        assert page["total"] == catalog.count("Modality:MR") and len(page["items"]) == 2
        bad = httpx.get(f"{base}/api/search", params={"q": "(a"})
        assert bad.status_code == 400 and bad.json()["error"]["position"] == 2
    finally:
        process.send_signal(signal.SIGINT)
        try:
            out, err = process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
    assert process.returncode == 0, err
    assert f"at {base}/" in out
    assert f"{base}/docs" in out


def test_serve_refuses_a_bad_catalog_url(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        serve, ["--catalog", "nosuch://x"], env={"RADCURATE_HOME": str(tmp_path)}
    )
    assert result.exit_code == 2
    assert "unknown catalog URL scheme" in result.output
