"""Cancelling a running query from another thread: the client went away, the server stops.

A :class:`CancelToken` is made current for a block of work with :func:`cancel_scope`
(the server does so per HTTP request, ``server/disconnect.py``). Whoever may stop the
work calls :meth:`CancelToken.cancel` from any thread; the query engines see it through
``radcurate.query.limits`` (:func:`~radcurate.query.limits.check_budget` raises
:class:`~radcurate.query.limits.QueryCancelledError`, SQLite's progress handler
interrupts the statement) and through callbacks registered with
:meth:`CancelToken.on_cancel` (PostgreSQL cancels the backend's statement).
:func:`cancel_all` cancels every token in a scope now (``radcurate serve`` on SIGTERM).

Examples
--------
>>> with cancel_scope() as token:
...     current_token() is token, token.cancelled
(True, False)
>>> token.cancel("the client closed the connection")
>>> token.cancelled, token.reason
(True, 'the client closed the connection')
>>> current_token() is None
True
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_current: ContextVar[CancelToken | None] = ContextVar("radcurate_cancel_token", default=None)
_live: weakref.WeakSet[CancelToken] = weakref.WeakSet()
_live_lock = threading.Lock()


class CancelToken:
    """A flag that work checks, set once from any thread, with callbacks run when it is set."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reason: str | None = None
        self._callbacks: dict[int, Callable[[], object]] = {}
        self._next = 0

    @property
    def cancelled(self) -> bool:
        """Whether :meth:`cancel` was called."""
        return self._reason is not None

    @property
    def reason(self) -> str | None:
        """Why the work was cancelled (None while it is not)."""
        return self._reason

    def cancel(self, reason: str) -> None:
        """Cancel the work (the first reason is kept) and run the registered callbacks."""
        with self._lock:
            if self._reason is not None:
                return
            self._reason = reason
            callbacks = list(self._callbacks.values())
            self._callbacks.clear()
        for callback in callbacks:
            with contextlib.suppress(Exception):  # a failed cancel must not hide the others
                callback()

    @contextmanager
    def on_cancel(self, callback: Callable[[], object]) -> Iterator[None]:
        """Call ``callback`` (from the cancelling thread) if the token is cancelled during
        the ``with`` block; at once if it already is."""
        with self._lock:
            already = self._reason is not None
            key = self._next
            self._next += 1
            if not already:
                self._callbacks[key] = callback
        if already:
            callback()
        try:
            yield
        finally:
            with self._lock:
                self._callbacks.pop(key, None)


def current_token() -> CancelToken | None:
    """The token of the innermost :func:`cancel_scope` of this context (None outside one)."""
    return _current.get()


@contextmanager
def cancel_scope(token: CancelToken | None = None) -> Iterator[CancelToken]:
    """Make ``token`` (a new one by default) current for the block, and reachable by
    :func:`cancel_all` while it runs."""
    token = token or CancelToken()
    with _live_lock:
        _live.add(token)
    reset = _current.set(token)
    try:
        yield token
    finally:
        _current.reset(reset)
        with _live_lock:
            _live.discard(token)


def cancel_all(reason: str) -> int:
    """Cancel every token inside a :func:`cancel_scope` now; how many there were."""
    with _live_lock:
        tokens = list(_live)
    for token in tokens:
        token.cancel(reason)
    return len(tokens)
