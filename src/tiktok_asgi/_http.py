"""The one place that imports httpx2, and the shared connection pool to TikTok.

Authlib builds a fresh ``AsyncOAuth2Client`` for every call and closes it afterwards. A shared
transport handed to those clients must therefore survive their ``aclose()``; the real pool is
closed by :class:`SharedTransport` itself, at lifespan shutdown.
"""

from __future__ import annotations

import httpx2
from httpx2 import (
    ASGITransport,
    AsyncBaseTransport,
    AsyncClient,
    AsyncHTTPTransport,
    ConnectError,
    HTTPError,
    MockTransport,
    ReadTimeout,
    Request,
    Response,
    TimeoutException,
    TransportError,
)

__all__ = [
    "ASGITransport",
    "AsyncBaseTransport",
    "AsyncClient",
    "AsyncHTTPTransport",
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
        """The transport to hand to Authlib's per-call clients."""
        if self._view is None:
            self._own = AsyncHTTPTransport()
            self._view = _NonClosing(self._own)
        return self._view

    async def aclose(self) -> None:
        if self._own is not None:
            own, self._own, self._view = self._own, None, None
            await own.aclose()
