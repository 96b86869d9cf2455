"""``radcurate login`` / ``radcurate logout`` against a real ``radcurate serve`` (issue 18).

The server is a subprocess on a free port with a user in its catalog; the commands run
in-process with ``$XDG_CONFIG_HOME`` pointing into the test's folder.
"""

from __future__ import annotations

import json
import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from radcurate.catalog import open_catalog
from radcurate.cli import main
from radcurate.cli.credentials import StoredLogin, credentials_path, remember, token_for
from tests.serving import free_port, start_serve, stop_serve

pytestmark = pytest.mark.slow

USER, PASSWORD = "ana", "ana's long passphrase"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """A ``radcurate serve`` whose catalog has the curator ana; yields its base URL."""
    url = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    with open_catalog(url) as catalog:
        catalog.auth.add_user(USER, "curator", PASSWORD, actor="test")
    process, base = start_serve(url, tmp_path / "home")
    try:
        yield base
    finally:
        stop_serve(process)


def run(config: Path, *args: str, stdin: str | None = None) -> tuple[int, str]:
    runner = CliRunner(env={"XDG_CONFIG_HOME": str(config)})
    result = runner.invoke(main, list(args), input=stdin, catch_exceptions=False)
    return result.exit_code, result.output


def _me(base: str, token: str) -> httpx.Response:
    return httpx.get(f"{base}/api/tokens", headers={"Authorization": f"Bearer {token}"})


def test_login_stores_a_private_token_and_logout_revokes_it(server: str, tmp_path: Path) -> None:
    config = tmp_path / "config"
    stored = credentials_path({"XDG_CONFIG_HOME": str(config)})

    code, out = run(config, "login", server, "--user", USER, stdin="not it\n")
    assert code == 1 and "wrong user name or password" in out
    assert not stored.exists()

    code, out = run(config, "login", server + "/", "--user", USER, stdin=PASSWORD + "\n")
    assert code == 0, out
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert stat.S_IMODE(stored.parent.stat().st_mode) == 0o700
    token = token_for(server, stored)
    assert token is not None and token.startswith("rct_")
    assert token not in out and "rct_" not in out
    listed = _me(server, token)
    assert listed.status_code == 200
    [item] = listed.json()["items"]
    assert item["user"] == USER and item["scope"] == "write"
    assert item["name"] == f"radcurate login on {socket.gethostname()}"
    assert json.loads(stored.read_text())[server]["id"] == item["id"]
    # write scope: a curator's token may change things
    made = httpx.post(
        f"{server}/api/tags",
        json={"name": "from-login"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert made.status_code in (200, 201), made.text

    # logging in again replaces the token and revokes the earlier one
    code, out = run(
        config,
        "login",
        server,
        "--user",
        USER,
        "--scope",
        "read",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert code == 0, out
    second = token_for(server, stored)
    assert second is not None and second != token
    assert _me(server, token).status_code == 401
    assert _me(server, second).status_code == 200

    code, out = run(config, "logout", server)
    assert code == 0 and "revoked" in out, out
    assert _me(server, second).status_code == 401
    assert token_for(server, stored) is None
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600

    code, out = run(config, "logout", server)
    assert code == 1 and "not logged in" in out


def test_logout_keeps_the_token_when_the_server_is_unreachable(tmp_path: Path) -> None:
    config = tmp_path / "config"
    stored = credentials_path({"XDG_CONFIG_HOME": str(config)})
    gone = f"http://127.0.0.1:{free_port()}"
    remember(gone, StoredLogin("rct_not_real", "abc"), stored)
    code, out = run(config, "logout", gone)
    assert code == 1 and "not revoked" in out and "--forget" in out
    assert token_for(gone, stored) == "rct_not_real"
    code, out = run(config, "logout", gone, "--forget")
    assert code == 0 and "NOT revoked" in out
    assert token_for(gone, stored) is None


def test_a_bad_url_is_a_usage_error(tmp_path: Path) -> None:
    code, out = run(tmp_path, "login", "radcurate.example.org", "--password-stdin", stdin="x\n")
    assert code == 2 and "http://HOST:PORT" in out
