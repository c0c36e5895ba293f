"""Open WebSockets follow their login session: once it ends, the socket is closed with 1008.

An end in this process (sign-out, a user's sessions ended, ``authorization.removed``, a refused
refresh) closes the session's sockets at once; so does an end in another instance when the
store pushes ends (:mod:`.feed`). Otherwise (no feed, or the feed lost) an end elsewhere is
found by asking the store every :data:`POLL_SECONDS`. While the store cannot answer, a socket
stays open for :data:`STALE_SECONDS` after its last good answer, then is closed with 1013 (try
again later): it never goes on acting as a user nobody can vouch for.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tiktok_asgi.errors import TokenStoreUnavailable

from .liveness import LiveSessions

__all__ = ["POLL_SECONDS", "STALE_SECONDS", "SocketFollower"]

POLL_SECONDS = 0.5
STALE_SECONDS = 5.0
_SESSION_ENDED = 1008  # policy violation: what the adapters close refused sockets with
_TRY_AGAIN_LATER = 1013


class SocketFollower:
    def __init__(
        self, live: LiveSessions, *, poll: float = POLL_SECONDS, stale: float = STALE_SECONDS
    ) -> None:
        self._live = live
        self.poll = poll
        self.stale = stale

    async def run(
        self,
        app: ASGIApp,
        scope: Scope,
        receive: Receive,
        send: Send,
        session_id: str,
        issued: float | None = None,
    ) -> None:
        """Run the WebSocket ``app``; close its socket when ``session_id`` ends (``issued``:
        when the cookie naming it was signed)."""
        socket = _Socket(receive, send)
        ended = self._live.watch(session_id)
        watcher = asyncio.get_running_loop().create_task(
            self._watch(session_id, issued, ended, socket)
        )
        try:
            await app(scope, socket.receive, socket.send)
        finally:
            watcher.cancel()
            self._live.unwatch(session_id)

    async def _watch(
        self, session_id: str, issued: float | None, ended: asyncio.Event, socket: _Socket
    ) -> None:
        loop = asyncio.get_running_loop()
        vouched = loop.time()
        while True:
            try:
                async with asyncio.timeout(self.poll):
                    await ended.wait()
                break
            except TimeoutError:
                pass
            # Following the feed, ends arrive by themselves: no question for the store.
            alive = self._live.known(session_id, issued) if self._live.following() else None
            try:
                if alive is None:
                    alive = await self._live.check(session_id)
            except TokenStoreUnavailable:
                if loop.time() - vouched > self.stale:
                    await socket.close(_TRY_AGAIN_LATER, "token_store_unavailable")
                    return
                continue
            if not alive:
                break
            vouched = loop.time()
        await socket.close(_SESSION_ENDED, "session_ended")


class _Socket:
    """The app's view of the socket: after the library closed it, the app's sends are dropped
    and its next receive is the disconnect."""

    __slots__ = ("_closing", "_receive", "_send", "accepted", "closed")

    def __init__(self, receive: Receive, send: Send) -> None:
        self._receive = receive
        self._send = send
        self._closing: dict[str, Any] | None = None  # a close waiting for the app's accept
        self.accepted = False
        self.closed = False

    async def receive(self) -> Message:
        if self.closed and self._closing is None:
            return {"type": "websocket.disconnect", "code": _SESSION_ENDED}
        return await self._receive()

    async def send(self, message: Message) -> None:
        if self.closed:
            if self._closing is not None and message["type"] == "websocket.accept":
                await self._send(message)
                close, self._closing = self._closing, None
                await self._send(close)
            return
        kind = message["type"]
        if kind == "websocket.accept":
            self.accepted = True
        elif kind == "websocket.close" or kind == "websocket.http.response.start":
            self.closed = True
        await self._send(message)

    async def close(self, code: int, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        close = {"type": "websocket.close", "code": code, "reason": reason}
        if self.accepted:
            await self._send(close)
        else:
            self._closing = close  # closed as soon as the app accepts it
