"""Lifespan and the connection pool: the app's own lifespan runs, our pool opens and closes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from tests.conftest import BASE_URL, make_starlette, sign_in, start_login
from tests.support.processes import free_port
from tiktok_asgi import TikTokAuthMiddleware, TikTokSettings
from tiktok_asgi._tiktok.http import AsyncBaseTransport, AsyncHTTPTransport
from tiktok_asgi._tiktok.http import Request as HTTPRequest
from tiktok_asgi._tiktok.http import Response as HTTPResponse
from tiktok_asgi.emulator import TikTokEmulator


class CountingTransport(AsyncBaseTransport):
    """An application's own transport: forwards to the emulator, counts requests and closes."""

    def __init__(self, inner: AsyncBaseTransport) -> None:
        self.inner = inner
        self.requests = 0
        self.closes = 0

    async def handle_async_request(self, request: HTTPRequest) -> HTTPResponse:
        self.requests += 1
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        self.closes += 1


def _app_with_lifespan(events: list[str]) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        events.append("startup")
        yield
        events.append("shutdown")

    return make_starlette(lifespan=lifespan)


def test_lifespan_reaches_the_app(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    events: list[str] = []
    app = TikTokAuthMiddleware(
        _app_with_lifespan(events), settings=tiktok_settings, transport=tiktok_emulator.transport()
    )
    with TestClient(app, base_url=BASE_URL) as client:
        assert events == ["startup"]
        sign_in(client, tiktok_settings, tiktok_emulator)
        assert client.get("/me").json()["authenticated"] is True
    assert events == ["startup", "shutdown"]


def test_own_pool_opens_at_startup_and_closes_at_shutdown(
    tiktok_settings: TikTokSettings,
) -> None:
    events: list[str] = []
    app = TikTokAuthMiddleware(_app_with_lifespan(events), settings=tiktok_settings)
    pool = app._transport
    assert pool._own is None
    with TestClient(app, base_url=BASE_URL) as client:
        own = pool._own
        assert isinstance(own, AsyncHTTPTransport)
        # Requests use the pool opened at startup (a login builds its URL without the network).
        start_login(client, tiktok_settings)
        start_login(client, tiktok_settings)
        assert pool._own is own
    assert pool._own is None
    assert events == ["startup", "shutdown"]


def test_without_lifespan_the_pool_opens_on_first_use(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    # "TikTok" on a loopback port nobody listens on: the first call opens the pool and fails.
    settings = tiktok_settings.replace(token_url=f"http://127.0.0.1:{free_port()}/v2/oauth/token/")
    app = TikTokAuthMiddleware(make_starlette(), settings=settings)
    client = TestClient(app, base_url=BASE_URL)  # no ``with``: no lifespan at all
    callback = tiktok_emulator.approve(start_login(client, settings))
    assert app._transport._own is None  # the login answer calls nobody
    response = client.get(callback, headers={"accept": "application/json"})
    assert response.json()["error"] == "tiktok_unavailable"
    assert isinstance(app._transport._own, AsyncHTTPTransport)


def test_without_lifespan_a_supplied_transport_signs_in(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    transport = CountingTransport(tiktok_emulator.transport())
    app = TikTokAuthMiddleware(make_starlette(), settings=tiktok_settings, transport=transport)
    client = TestClient(app, base_url=BASE_URL)
    sign_in(client, tiktok_settings, tiktok_emulator)
    assert client.get("/me").json()["authenticated"] is True
    assert transport.requests == 2  # token and user info
    assert app._transport._own is None


def test_supplied_transport_is_never_closed(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    transport = CountingTransport(tiktok_emulator.transport())
    events: list[str] = []
    app = TikTokAuthMiddleware(
        _app_with_lifespan(events), settings=tiktok_settings, transport=transport
    )
    with TestClient(app, base_url=BASE_URL) as client:
        for _ in range(3):
            sign_in(client, tiktok_settings, tiktok_emulator)
        # Authlib closes its per-call client after every call; that never reaches the transport.
        assert transport.requests == 6
        assert transport.closes == 0
    assert events == ["startup", "shutdown"]
    assert transport.closes == 0
    assert app._transport._own is None
    # Still usable after the app shut down: it is the application's to close.
    with TestClient(app, base_url=BASE_URL) as again:
        sign_in(again, tiktok_settings, tiktok_emulator)
    assert transport.requests == 8
    assert transport.closes == 0


class Recorder:
    """An inner ASGI app that records exactly what it was called with."""

    def __init__(self) -> None:
        self.calls: list[tuple[dict[str, Any], Any, Any]] = []
        self.messages: list[dict[str, Any]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.calls.append((scope, receive, send))
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                self.messages.append(message)
                kind = message["type"].rsplit(".", 1)[1]
                await send({"type": f"lifespan.{kind}.complete"})
                if kind == "shutdown":
                    return


async def test_unknown_scope_type_passes_straight_through(
    tiktok_settings: TikTokSettings,
) -> None:
    inner = Recorder()
    app = TikTokAuthMiddleware(inner, settings=tiktok_settings)
    scope = {"type": "custom.protocol", "path": tiktok_settings.login_path, "headers": []}
    snapshot = dict(scope)

    async def receive() -> dict[str, Any]:
        raise AssertionError("not expected")

    async def send(message: dict[str, Any]) -> None:
        raise AssertionError("not expected")

    await app(scope, receive, send)
    ((seen_scope, seen_receive, seen_send),) = inner.calls
    assert seen_scope is scope
    assert scope == snapshot  # no user, no auth added
    assert seen_receive is receive
    assert seen_send is send


async def test_lifespan_scope_passes_through_untouched(
    tiktok_settings: TikTokSettings,
) -> None:
    inner = Recorder()
    app = TikTokAuthMiddleware(inner, settings=tiktok_settings)
    scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    snapshot = dict(scope)
    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    ((seen_scope, _, seen_send),) = inner.calls
    assert seen_scope is scope
    assert scope == snapshot
    assert seen_send is send  # replies reach the server unchanged
    assert inner.messages == [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    assert sent == [{"type": "lifespan.startup.complete"}, {"type": "lifespan.shutdown.complete"}]
    assert app._transport._own is None  # opened at startup, closed at shutdown


@pytest.mark.parametrize("kind", ["http", "websocket"])
async def test_http_and_websocket_scopes_get_user_and_auth(
    tiktok_settings: TikTokSettings, kind: str
) -> None:
    inner = Recorder()
    app = TikTokAuthMiddleware(inner, settings=tiktok_settings)
    scope: dict[str, Any] = {"type": kind, "path": "/elsewhere", "headers": [], "method": "GET"}

    async def receive() -> dict[str, Any]:
        raise AssertionError("not expected")

    async def send(message: dict[str, Any]) -> None:
        raise AssertionError("not expected")

    await app(scope, receive, send)
    assert scope["user"].is_authenticated is False
    assert list(scope["auth"].scopes) == []
