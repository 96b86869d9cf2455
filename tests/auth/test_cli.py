"""``radcurate user``, ``radcurate token`` and ``serve``'s refusal to run open off loopback."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from radcurate.catalog import open_catalog
from radcurate.cli import main


def run(*args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), input=stdin, catch_exceptions=False)
    return result.exit_code, result.output


def test_users_and_tokens_from_the_command_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    code, out = run(
        "user",
        "add",
        "root",
        "--admin",
        "--password-stdin",
        "--catalog",
        url,
        stdin="a long password\n",
    )
    assert code == 0 and "created root (admin)" in out
    code, out = run("user", "add", "bob", "--generate-password", "--catalog", url)
    assert code == 0
    one_time = out.split("one-time password: ")[1].split()[0]
    with open_catalog(url) as catalog:
        assert catalog.auth.check_password("bob", one_time) is not None
    code, out = run("user", "add", "Bob", "--generate-password", "--catalog", url)
    assert code == 2 and "exists" in out
    code, out = run("user", "add", "eve", "--password-stdin", "--catalog", url, stdin="short\n")
    assert code == 2 and "at least 10 characters" in out
    code, out = run("user", "set", "bob", "--role", "curator", "--catalog", url, "--actor", "ops")
    assert code == 0 and "curator" in out
    code, out = run("user", "list", "--json", "--catalog", url)
    assert [(u["name"], u["role"]) for u in json.loads(out)] == [
        ("bob", "curator"),
        ("root", "admin"),
    ]
    code, out = run("token", "create", "bob", "--name", "ci", "--scope", "write", "--catalog", url)
    secret = out.strip().splitlines()[-1]
    assert code == 0 and secret.startswith("rct_")
    code, out = run("token", "create", "bob", "--name", "x", "--scope", "admin", "--catalog", url)
    assert code == 2 and "scope write at most" in out
    code, out = run("token", "list", "--json", "--catalog", url)
    [listed] = json.loads(out)
    assert listed["user"] == "bob" and secret not in out
    assert run("token", "revoke", listed["id"], "--catalog", url)[0] == 0
    with open_catalog(url) as catalog:
        assert catalog.auth.token_user(secret) is None
        assert catalog.audit_log(1, action="user.update")[0].actor == "ops"
    code, out = run("user", "delete", "root", "--yes", "--catalog", url)
    assert code == 2 and "last enabled admin" in out


def test_serve_off_loopback_without_users_refuses_saying_how(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    code, out = run("serve", "--catalog", url, "--host", "0.0.0.0", "--port", "18765")
    assert code == 2
    assert "no users yet" in out and "radcurate user add NAME --admin" in out
    code, out = run("serve", "--catalog", url, "--auth", "on", "--port", "18765")
    assert code == 2 and "no users yet" in out
