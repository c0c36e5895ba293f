"""``send`` wrappers of the gate: what a response must carry that the application cannot know.

Each remembers whether the response has started, so that an error a view leaves unhandled can
still be answered in the library's shape when nothing has been sent yet.
"""

from __future__ import annotations

from starlette.types import Message, Send

from .context import TikTokContext

__all__ = ["ClearOnResponse", "SignOutOnResponse", "Watched"]

Header = tuple[bytes, bytes]


class Watched:
    """``send`` that remembers whether the response has started."""

    __slots__ = ("_send", "started")

    def __init__(self, send: Send) -> None:
        self._send = send
        self.started = False

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)


class ClearOnResponse(Watched):
    """``send`` of a request with tossed identity cookies: the response clears all of them."""

    __slots__ = ("_clear",)

    def __init__(self, send: Send, clear: list[Header]) -> None:
        super().__init__(send)
        self._clear = clear

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
            message["headers"] = [*message.get("headers", ()), *self._clear]
        await self._send(message)


class SignOutOnResponse(Watched):
    """``send`` of a signed-in request: once its context is signed out, the response clears the
    identity cookie; a profile re-read from TikTok comes with the re-issued one."""

    __slots__ = ("_clear", "_context", "_renewed")

    def __init__(
        self, context: TikTokContext, send: Send, clear: Header, renewed: Header | None
    ) -> None:
        self._send = send  # not super().__init__(): this runs on every signed-in request
        self.started = False
        self._context = context
        self._clear = clear
        self._renewed = renewed

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
            if self._context.signed_out:
                message["headers"] = [*message.get("headers", ()), self._clear]
            elif self._renewed is not None:
                message["headers"] = [*message.get("headers", ()), self._renewed]
        await self._send(message)
