"""An HTTP transport that answers for TikTok's hosts from the emulator, in the caller's loop."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable

import anyio
from httpx2 import (
    ASGITransport,
    AsyncBaseTransport,
    ConnectError,
    ReadTimeout,
    Request,
    Response,
)
from starlette.types import Receive, Scope, Send

from tiktok_asgi.emulator._core import Core, record_of
from tiktok_asgi.emulator._endpoints import HOSTS, endpoint_at

__all__ = ["EmulatorTransport"]

_HOSTS = frozenset(HOSTS)
_REFUSED = frozenset({"connection_refused"})


class EmulatorTransport(AsyncBaseTransport):
    """Dispatches requests for ``www.tiktok.com`` and ``open.tiktokapis.com`` to the emulator.

    Any other host fails with ``ConnectError``, as an offline machine would. Stateless apart
    from the emulator, so one instance can serve many clients; ``aclose()`` does nothing.
    The client's read timeout is enforced here (an in-process app has no socket to time out).
    """

    def __init__(self, core: Core, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self._core = core
        self._asgi = ASGITransport(app=app, client=("127.0.0.1", 50000))

    async def handle_async_request(self, request: Request) -> Response:
        host = request.url.host
        if host not in _HOSTS:
            raise ConnectError(f"the TikTok emulator does not serve host {host!r}", request=request)
        endpoint = endpoint_at(request.url.path)
        if endpoint is not None and endpoint.host == host:
            fault = self._core.state.take_fault(endpoint.name, only=_REFUSED)
            if fault is not None:
                body = await request.aread()
                self._core.state.record(
                    record_of(
                        endpoint.name,
                        request.method,
                        request.url.path,
                        request.url.query,
                        request.headers.multi_items(),
                        body,
                        fault.kind,
                    )
                )
                raise ConnectError("[Errno 111] Connection refused (emulated)", request=request)
        timeouts = request.extensions.get("timeout", {})
        read_timeout = timeouts.get("read") if isinstance(timeouts, dict) else None
        limit = math.inf if read_timeout is None else float(read_timeout)
        try:
            with anyio.fail_after(limit):
                return await self._asgi.handle_async_request(request)
        except TimeoutError:
            raise ReadTimeout(f"no response within {limit} s (emulated)", request=request) from None

    async def aclose(self) -> None:
        return None
