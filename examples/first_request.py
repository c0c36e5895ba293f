"""An example's app built at its first request, for the origin that request shows.

With the emulator in the app, the redirect URI and the emulator's URLs need the origin the
browser uses, and the server's ``--host``/``--port`` (uvicorn's, hypercorn's) are not the
example's to read. So the app is built when the first request arrives:

- its origin is that request's own (``http://<Host>``) when it comes from this machine and names
  it (``localhost``, ``127.0.0.1`` or ``[::1]``, any port: an SSH tunnel's too);
- otherwise it is ``http://127.0.0.1:<the port the server listens on>``, since a ``Host`` from
  elsewhere is anyone's choice.

The server's lifespan is answered at once (there is nothing to start yet); the built app's own
lifespan starts before it serves its first request and stops at the server's shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import re
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BuiltAtFirstRequest", "request_origin"]

_LOOPBACK_HOST = re.compile(r"(localhost|127\.0\.0\.1|\[::1\])(:[0-9]{1,5})?")


def request_origin(scope: Scope, fallback_host: str = "127.0.0.1") -> str:
    """The origin to build the app for, by the rule of this module."""
    host = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"host"), "")
    client = (scope.get("client") or ("",))[0]
    if _LOOPBACK_HOST.fullmatch(host) and _is_loopback(client):
        return f"http://{host}"
    port = (scope.get("server") or (None, None))[1]
    return f"http://{fallback_host}:{port or 80}"


def _is_loopback(address: str | None) -> bool:
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)  # ::ffff:127.0.0.1 on a dual-stack socket
    return ip.is_loopback or (mapped is not None and mapped.is_loopback)


class BuiltAtFirstRequest:
    """The ASGI app ``build(origin)`` returns, built at the first ``http`` or ``websocket``
    request."""

    def __init__(self, build: Callable[[str], ASGIApp]) -> None:
        self._build = build
        self._app: ASGIApp | None = None
        self._building = asyncio.Lock()
        self._server_lifespan: Scope | None = None
        self._lifespan: _Lifespan | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._answer_lifespan(scope, receive, send)
            return
        app = self._app if self._app is not None else await self._first(scope)
        await app(scope, receive, send)

    async def _first(self, scope: Scope) -> ASGIApp:
        async with self._building:  # concurrent first requests: one app
            if self._app is None:
                origin = request_origin(scope)
                app = self._build(origin)
                if self._server_lifespan is not None:
                    self._lifespan = await _Lifespan.start(app, self._server_lifespan)
                self._app = app
                print(f"Built for {origin}/ (the origin of the first request)", flush=True)
        return self._app

    async def _answer_lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        await receive()  # lifespan.startup
        self._server_lifespan = scope
        await send({"type": "lifespan.startup.complete"})
        await receive()  # lifespan.shutdown
        if self._lifespan is not None:
            await self._lifespan.stop()
        await send({"type": "lifespan.shutdown.complete"})


class _Lifespan:
    """An app's lifespan protocol, driven from here."""

    def __init__(self, app: ASGIApp, scope: Scope) -> None:
        self._to_app: asyncio.Queue[Message] = asyncio.Queue()
        self._from_app: asyncio.Queue[Message] = asyncio.Queue()
        self._task = asyncio.create_task(app(dict(scope), self._to_app.get, self._from_app.put))

    @classmethod
    async def start(cls, app: ASGIApp, scope: Scope) -> _Lifespan | None:
        """Started, or None for an app without a lifespan (it returned or raised at once)."""
        lifespan = cls(app, scope)
        return lifespan if await lifespan._step("startup") else None

    async def stop(self) -> None:
        await self._step("shutdown")
        with contextlib.suppress(Exception):
            await self._task

    async def _step(self, name: str) -> bool:
        await self._to_app.put({"type": f"lifespan.{name}"})
        answer = asyncio.ensure_future(self._from_app.get())
        await asyncio.wait({answer, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if not answer.done():
            answer.cancel()
            if not self._task.cancelled():
                self._task.exception()  # retrieved: not reported again at exit
            return False
        message = answer.result()
        if message["type"] == f"lifespan.{name}.failed":
            raise RuntimeError(f"the example's {name} failed: {message.get('message', '')}")
        return True
