"""Shared helpers: a small Starlette app behind the middleware, and a signed-in browser.

The emulator and settings fixtures are the shipped plugin's ``tiktok_emulator`` and
``tiktok_settings``; a module needing other settings overrides ``tiktok_settings``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket

from tests.security.secret_scan import secret_scan  # noqa: F401 (session-wide log scan)
from tests.support.signin import JSON, authorization_url, login_url, sign_in
from tiktok_asgi import TikTokAuthMiddleware, TikTokSettings, TikTokUser
from tiktok_asgi._tiktok.http import AsyncBaseTransport
from tiktok_asgi.emulator import EmulatorUser, TikTokEmulator

BASE_URL = "https://testserver"


def describe(conn: HTTPConnection) -> dict[str, Any]:
    """What the application sees of ``scope["user"]`` and ``scope["auth"]``, as JSON."""
    user = conn.user
    return {
        "authenticated": user.is_authenticated,
        "display_name": user.display_name,
        "identity": user.identity if user.is_authenticated else None,
        "user_class": type(user).__name__,
        "user": user.to_dict() if isinstance(user, TikTokUser) else None,
        "scopes": list(conn.auth.scopes),
    }


async def _home(request: Request) -> JSONResponse:
    return JSONResponse({"page": "home", **describe(request)})


async def _me(request: Request) -> JSONResponse:
    return JSONResponse(describe(request))


async def _ws(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_json(describe(websocket))
    await websocket.close()


def make_starlette(**starlette_kwargs: Any) -> Starlette:
    """The bare application: ``/`` and ``/me`` echo the user as JSON, ``/ws`` does it over a
    WebSocket."""
    return Starlette(
        routes=[Route("/", _home), Route("/me", _me), WebSocketRoute("/ws", _ws)],
        **starlette_kwargs,
    )


class WallClock:
    """This process's ``time.time``, moved forward by a test instead of waiting for it."""

    def __init__(self) -> None:
        self.ahead = 0.0

    def advance(self, seconds: float) -> None:
        self.ahead += seconds


@pytest.fixture
def wall_clock(monkeypatch: pytest.MonkeyPatch) -> WallClock:
    """``time.time`` runs ahead by what the test advanced: every reader of the wall clock in this
    process (cookie ages, token expiries) sees the time pass together, with no real wait. The
    event loop's clock (timeouts) is not moved."""
    clock = WallClock()
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + clock.ahead)
    return clock


@pytest.fixture
def client(tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings) -> TestClient:
    """A browser on ``https://testserver``, in front of :func:`make_app` on the emulator."""
    return TestClient(make_app(tiktok_settings, tiktok_emulator.transport()), base_url=BASE_URL)


def make_app(
    settings: TikTokSettings,
    transport: AsyncBaseTransport | None = None,
    **middleware_kwargs: Any,
) -> TikTokAuthMiddleware:
    """The test application wrapped in the middleware."""
    return TikTokAuthMiddleware(
        make_starlette(), settings=settings, transport=transport, **middleware_kwargs
    )


def start_login(
    client: TestClient, settings: TikTokSettings, next: str | None = None, *, spa: bool = False
) -> str:
    """GET the login path; the authorize URL it redirects to (or, with ``spa``, answers)."""
    response = client.get(
        login_url(settings.login_path, next),
        headers=JSON if spa else None,
        follow_redirects=False,
    )
    return authorization_url(response, spa=spa)


def signed_in_client(
    app: Any,
    settings: TikTokSettings,
    emulator: TikTokEmulator,
    *,
    user: EmulatorUser | None = None,
    scopes: Sequence[str] | None = None,
) -> TestClient:
    """A browser (TestClient on ``https://testserver``) signed in through the full flow."""
    client = TestClient(app, base_url=BASE_URL)
    sign_in(client, settings, emulator, user=user, scopes=scopes)
    return client
