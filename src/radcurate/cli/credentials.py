"""API tokens of ``radcurate login``, kept per server URL for later remote commands.

The file is ``$XDG_CONFIG_HOME/radcurate/credentials.json`` (default
``~/.config/radcurate/credentials.json``), readable by its owner only (mode 0600, its folder
0700), and maps a server's base URL to what ``radcurate login`` got there::

    {"https://radcurate.example.org": {"token": "rct_...", "id": "3f2a9c1d0b7e6a55",
                                       "user": "ana", "scope": "write"}}

A remote command asks :func:`token_for` for the token of the server it talks to.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

__all__ = [
    "StoredLogin",
    "credentials_path",
    "forget",
    "load",
    "normalize_url",
    "remember",
    "stored",
    "token_for",
]

FILE_NAME = "credentials.json"


@dataclass(frozen=True)
class StoredLogin:
    """What ``radcurate login`` keeps for one server: the token's secret and record id."""

    token: str
    id: str = ""
    user: str = ""
    scope: str = ""


def credentials_path(environ: dict[str, str] | None = None) -> Path:
    """Where the credentials live (``$XDG_CONFIG_HOME`` or ``~/.config``, then ``radcurate``).

    Examples
    --------
    >>> credentials_path({"XDG_CONFIG_HOME": "/cfg"}).as_posix()
    '/cfg/radcurate/credentials.json'
    """
    env = os.environ if environ is None else environ
    base = env.get("XDG_CONFIG_HOME", "").strip()
    root = Path(base) if base else Path.home() / ".config"
    return root / "radcurate" / FILE_NAME


def normalize_url(url: str) -> str:
    """The key a server is stored under: scheme and host in lower case, no trailing slash.

    Raises
    ------
    ValueError
        ``url`` is not an ``http://`` or ``https://`` URL with a host.

    Examples
    --------
    >>> normalize_url("HTTP://Radcurate.Example.org:8000/")
    'http://radcurate.example.org:8000'
    >>> normalize_url("https://example.org/radcurate/")
    'https://example.org/radcurate'
    """
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"{url!r} is not a server URL: give it as http://HOST:PORT or https://HOST"
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f"{url!r}: give the server's base URL, without user, query or fragment")
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path.rstrip("/"), "", ""))


def load(path: Path | None = None) -> dict[str, StoredLogin]:
    """Every stored login by server URL (no file: none).

    Raises
    ------
    ValueError
        The file is not what ``radcurate login`` writes (it says which file).
    """
    path = path or credentials_path()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read {path}: {exc}; remove it and log in again") from None
    if not isinstance(raw, dict):
        raise ValueError(f"{path} is not a JSON object; remove it and log in again")
    found: dict[str, StoredLogin] = {}
    for url, entry in raw.items():
        if isinstance(entry, str):
            found[url] = StoredLogin(token=entry)
        elif isinstance(entry, dict) and isinstance(entry.get("token"), str):
            fields = {k: str(entry.get(k, "")) for k in ("id", "user", "scope")}
            found[url] = StoredLogin(token=entry["token"], **fields)
    return found


def _write(path: Path, logins: dict[str, StoredLogin]) -> None:
    """Replace the file atomically, created with mode 0600 (never readable by others)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    data: dict[str, Any] = {url: asdict(login) for url, login in sorted(logins.items())}
    fd, temp = tempfile.mkstemp(prefix=".credentials-", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            os.fchmod(out.fileno(), stat.S_IRUSR | stat.S_IWUSR)
            json.dump(data, out, indent=1)
            out.write("\n")
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def remember(url: str, login: StoredLogin, path: Path | None = None) -> Path:
    """Store ``login`` for the server at ``url`` (replacing an earlier one); the file's path."""
    path = path or credentials_path()
    logins = load(path)
    logins[normalize_url(url)] = login
    _write(path, logins)
    return path


def stored(url: str, path: Path | None = None) -> StoredLogin | None:
    """The stored login for the server at ``url``, if any."""
    return load(path).get(normalize_url(url))


def forget(url: str, path: Path | None = None) -> bool:
    """Remove the server at ``url`` from the file; whether it was there."""
    path = path or credentials_path()
    logins = load(path)
    if logins.pop(normalize_url(url), None) is None:
        return False
    _write(path, logins)
    return True


def token_for(url: str, path: Path | None = None) -> str | None:
    """The API token ``radcurate login`` stored for the server at ``url`` (None: none).

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> path = folder / "c.json"
    >>> _ = remember("http://pacs:8000/", StoredLogin("rct_x", "1"), path)
    >>> token_for("http://PACS:8000", path), token_for("http://other", path)
    ('rct_x', None)
    """
    login = stored(url, path)
    return None if login is None else login.token
