"""An application that tells who is signed in and can end a user's sessions, over a token
store; browsers signed in to it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from tests.support.calls import end_user_sessions
from tests.support.signin import async_sign_in
from tests.tokens.conftest import (  # noqa: F401 (fixtures)
    BASE_URL,
    redis_server,
    redis_store,
    shared_redis_server,
)
from tiktok_asgi import TikTokAuthMiddleware, TikTokSettings
from tiktok_asgi.emulator import TikTokEmulator
from tiktok_asgi.stores import TokenStore


async def _me(request: Request) -> JSONResponse:
    user = request.scope["user"]
    return JSONResponse({"user": user.display_name if user.is_authenticated else None})


async def _end(request: Request) -> JSONResponse:
    open_id = request.path_params["open_id"]
    return JSONResponse({"ended": await end_user_sessions(request, open_id)})


async def _ws(websocket: WebSocket) -> None:
    await websocket.accept()
    user = websocket.scope["user"]
    await websocket.send_json({"user": user.display_name if user.is_authenticated else None})
    await websocket.close()


def session_app(
    settings: TikTokSettings, store: TokenStore, emulator: TikTokEmulator, **kwargs: Any
) -> TikTokAuthMiddleware:
    """``/me`` answers who is signed in, ``POST /end/{open_id}`` ends that user's sessions."""
    app = Starlette(
        routes=[
            Route("/me", _me),
            Route("/end/{open_id}", _end, methods=["POST"]),
            WebSocketRoute("/ws", _ws),
        ]
    )
    return TikTokAuthMiddleware(
        app, settings=settings, transport=emulator.transport(), token_store=store, **kwargs
    )


def browser(app: Any) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url=BASE_URL, timeout=30
    )


@asynccontextmanager
async def signed_in_browser(
    app: Any, settings: TikTokSettings, emulator: TikTokEmulator, user: str = "mayacooks"
) -> AsyncIterator[httpx2.AsyncClient]:
    async with browser(app) as client:
        await async_sign_in(client, settings, emulator, user=user)
        yield client


def copy_of(client: httpx2.AsyncClient, app: Any, settings: TikTokSettings) -> httpx2.AsyncClient:
    """Another browser carrying a copy of ``client``'s identity cookie."""
    other = browser(app)
    other.cookies.set(settings.cookie_name, client.cookies[settings.cookie_name])
    return other


def let_time_pass(app: TikTokAuthMiddleware, seconds: float) -> None:
    """The app's answers of whether sessions are alive age by ``seconds`` (its cached answers
    of the store, and the freshness of the store's feed of ends), as if that much time passed:
    their clocks jump ahead instead of the test waiting."""
    tokens = app._tokens
    assert tokens is not None
    live = tokens.live
    for holder in (live, live.feed):
        if holder is not None:
            holder.clock = _ahead(holder.clock, seconds)


def _ahead(clock: Callable[[], float], seconds: float) -> Callable[[], float]:
    return lambda: clock() + seconds


async def who(client: httpx2.AsyncClient) -> str | None:
    response = await client.get("/me")
    assert response.status_code == 200, response.text
    name: str | None = response.json()["user"]
    return name


@pytest.fixture
def tiktok_settings(tiktok_emulator: TikTokEmulator) -> TikTokSettings:
    return tiktok_emulator.settings(http_timeout=5.0)
