"""The one place that imports httpx2: the shared connection pool to TikTok, tied to the
application's lifespan, and what a failure to reach TikTok becomes.

The pool is owned by :class:`SharedTransport`, never by the clients that use it: a client's
``aclose()`` leaves it open, and it is closed at lifespan shutdown.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from time import perf_counter
from typing import Any

import httpx2
from httpx2 import (
    ASGITransport,
    AsyncBaseTransport,
    AsyncClient,
    AsyncHTTPTransport,
    Auth,
    ConnectError,
    HTTPError,
    MockTransport,
    ReadTimeout,
    Request,
    Response,
    TimeoutException,
    TransportError,
)
from starlette.types import Receive

from tiktok_asgi._telemetry import TELEMETRY
from tiktok_asgi.errors import TikTokUnavailable

__all__ = [
    "ASGITransport",
    "AsyncBaseTransport",
    "AsyncClient",
    "AsyncHTTPTransport",
    "Auth",
    "ConnectError",
    "HTTPError",
    "MockTransport",
    "ReadTimeout",
    "Request",
    "Response",
    "SharedTransport",
    "TimeoutException",
    "TransportError",
    "httpx2",
    "reaching_tiktok",
]


class _NonClosing(AsyncBaseTransport):
    """Forwards requests to a transport and ignores ``aclose()`` from per-call clients."""

    __slots__ = ("_inner",)

    def __init__(self, inner: AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: Request) -> Response:
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        return None


class SharedTransport:
    """Owns the connection pool used for every call to TikTok.

    A transport supplied by the application is used as it is and never closed here (its owner
    closes it). Otherwise a pooled ``AsyncHTTPTransport`` is opened on first use (or at lifespan
    startup) and closed at lifespan shutdown; a later request opens a fresh one.
    """

    def __init__(self, supplied: AsyncBaseTransport | None = None) -> None:
        self._supplied = supplied
        self._own: AsyncHTTPTransport | None = None
        self._view: _NonClosing | None = _NonClosing(supplied) if supplied is not None else None

    def get(self) -> AsyncBaseTransport:
        """The transport every call to TikTok goes through."""
        if self._view is None:
            self._own = AsyncHTTPTransport()
            self._view = _NonClosing(self._own)
        return self._view

    async def aclose(self) -> None:
        if self._own is not None:
            own, self._own, self._view = self._own, None, None
            await own.aclose()

    def watch_lifespan(self, receive: Receive) -> Receive:
        """``receive`` of a lifespan scope, opening the pool at startup and closing it at
        shutdown."""

        async def watched() -> Any:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.get()
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
            return message

        return watched


def endpoint_name(what: str) -> str:
    """The ``endpoint`` attribute of a call: ``token``, ``user_info``, ``revoke``,
    ``get_qrcode``, ``check_qrcode``, or ``api`` for the bearer calls of :mod:`tiktok_asgi.api`."""
    if what.startswith("API "):
        return "api"
    return what.removesuffix(" endpoint").replace(" ", "_")


@asynccontextmanager
async def reaching_tiktok(what: str) -> AsyncIterator[None]:
    """Network failures become :class:`TikTokUnavailable` (503, or 504 on a timeout); with
    telemetry, the call's duration is recorded by endpoint and outcome."""
    started = perf_counter()
    outcome = "ok"
    try:
        yield
    except TimeoutException as exc:
        outcome = "timeout"
        raise TikTokUnavailable(
            description=f"TikTok's {what} did not answer in time", status_code=504
        ) from exc
    except TransportError as exc:
        outcome = "unreachable"
        raise TikTokUnavailable(description=f"TikTok's {what} could not be reached") from exc
    finally:
        if TELEMETRY.measuring:
            attributes = {"endpoint": endpoint_name(what), "outcome": outcome}
            TELEMETRY.record("tiktok_asgi.tiktok.duration", perf_counter() - started, attributes)
