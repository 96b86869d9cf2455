"""Stop a request's query work when its client goes away (issue 13, finding 4).

Every HTTP request runs inside a :func:`radcurate.query.cancel.cancel_scope`. A task
reads the ASGI ``receive`` channel for the route (one message ahead at most, so a
streamed body is not buffered); when the server reports ``http.disconnect`` before the
response is complete, the request's token is cancelled: a SQLite statement is
interrupted by its progress handler, a PostgreSQL statement is cancelled in the backend,
and the in-memory index stops before its next term (docs/search.md, "Stopping work").
The route's thread carries the token through the copied context, so nothing else has to
pass it along.
"""

from __future__ import annotations

import asyncio
import contextlib

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from radcurate.query.cancel import cancel_scope

#: the reason a cancelled query gives
CLIENT_GONE = "the client closed the connection"


class CancelOnDisconnect:
    """ASGI middleware: cancel the request's token when its client disconnects."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        inbox: asyncio.Queue[Message] = asyncio.Queue(maxsize=1)
        with cancel_scope() as token:

            async def pump() -> None:
                gone: Message = {"type": "http.disconnect"}
                try:
                    while (message := await receive())["type"] != "http.disconnect":
                        await inbox.put(message)
                except Exception:  # noqa: BLE001 - a broken channel: the client is gone too
                    pass
                if not answered:  # after the answer the server says "disconnect" to everyone
                    token.cancel(CLIENT_GONE)
                await inbox.put(gone)

            async def routed() -> Message:
                return await inbox.get()

            answered = False

            async def sending(message: Message) -> None:
                nonlocal answered
                await send(message)
                if message["type"] == "http.response.body" and not message.get("more_body"):
                    answered = True  # work after it (background tasks) is not cancelled

            pumping = asyncio.create_task(pump())
            try:
                await self.app(scope, routed, sending)
            finally:
                pumping.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await pumping
