"""Refuse requests a browser was tricked into making: a foreign Host (DNS rebinding) and a
state-changing request from another origin (cross-site request forgery).

An ASGI middleware that runs before routing:

* **Host**: when ``allowed_hosts`` is set (``radcurate serve`` always sets it), a request
  whose ``Host`` is not one of them is a 400 ``bad_host``: a page on ``evil.example.com``
  that rebinds its name to 127.0.0.1 cannot read a local server.
* **Origin**: a ``POST``/``PUT``/``PATCH``/``DELETE`` whose ``Origin`` is neither the
  server's own (same host and port) nor a configured CORS origin is a 403
  ``cross_origin``, whatever its content type (a ``text/plain`` fetch or a form post from
  another site included). ``Sec-Fetch-Site: cross-site`` is refused the same way. A
  request that carries the session cookie must also say where it comes from (an
  ``Origin`` or ``Referer`` of this server); clients without a browser (curl, the SDK,
  DICOM tools) send neither cookie nor Origin and are not affected.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})
SESSION_COOKIE = "radcurate_session"


def host_allowed(host: str, allowed: tuple[str, ...]) -> bool:
    """Whether ``host`` (a Host header, port included or not) is one of ``allowed``.

    Examples
    --------
    >>> host_allowed("127.0.0.1:8000", ("127.0.0.1", "localhost"))
    True
    >>> host_allowed("evil.example.com", ("127.0.0.1",))
    False
    >>> host_allowed("pacs.dept.example.org", ("*.example.org",))
    True
    """
    name = _hostname(host)
    for pattern in allowed:
        pattern = pattern.lower().strip("[]")
        if pattern == "*" or name == pattern:
            return True
        if pattern.startswith("*.") and name.endswith(pattern[1:]):
            return True
    return False


def _hostname(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):  # [::1]:8000
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class RequestGuard:
    """The middleware (see the module text)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        allowed_hosts: tuple[str, ...] = (),
        trusted_origins: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.allowed_hosts = allowed_hosts
        self.trusted_origins = frozenset(o.rstrip("/").lower() for o in trusted_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "")
        if self.allowed_hosts and not host_allowed(host, self.allowed_hosts):
            await _refuse(
                send,
                400,
                "bad_host",
                "this server does not answer to that host name; add it with "
                "`radcurate serve --allowed-host NAME` (or RADCURATE_ALLOWED_HOSTS)",
            )
            return
        if scope["method"] not in _SAFE:
            problem = self._cross_origin(headers, host)
            if problem:
                await _refuse(send, 403, "cross_origin", problem)
                return
        await self.app(scope, receive, send)

    def _cross_origin(self, headers: dict[str, str], host: str) -> str | None:
        if headers.get("sec-fetch-site") == "cross-site":
            return "a request from another site may not change anything here"
        origin = headers.get("origin")
        if origin is not None:
            if self._own(origin, host) or origin.rstrip("/").lower() in self.trusted_origins:
                return None
            return "a request from another origin may not change anything here"
        if SESSION_COOKIE in headers.get("cookie", "") and "authorization" not in headers:
            referer = headers.get("referer")
            if referer is None or not self._own(referer, host):
                return "a signed-in browser request must come from this server's own pages"
        return None

    @staticmethod
    def _own(url: str, host: str) -> bool:
        return bool(host) and urlsplit(url).netloc.lower() == host.lower()


async def _refuse(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
