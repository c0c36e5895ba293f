"""Sign in with TikTok in a Starlette app: ``request.user``, ``request.auth``, ``@requires``.

Run it from the repository root, then open http://127.0.0.1:8000::

    TIKTOK_EMULATOR=1 uvicorn examples.starlette_app:app

It talks to TikTok with the app of the ``TIKTOK_*`` variables (``TIKTOK_SECRET_KEY`` too). With
``TIKTOK_EMULATOR=1`` it signs in against the TikTok emulator mounted at ``/tiktok`` instead.
Everything under ``/app`` is protected by the ``protected_paths`` setting, without decorators.
"""

from __future__ import annotations

import html
from typing import Any

from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from tiktok_asgi import TikTokAuthMiddleware, TikTokSettings, TikTokUser
from tiktok_asgi.emulator import TikTokEmulator

from .accounts import PAGE_HEADERS, Accounts, configure


async def home(request: Request) -> HTMLResponse:
    if not request.user.is_authenticated:
        return HTMLResponse(
            '<p><a href="/auth/tiktok/login?next=/app">Sign in with TikTok</a></p>',
            headers=PAGE_HEADERS,
        )
    # Escape everything from TikTok: a display name is anyone's text.
    return HTMLResponse(
        f"<p>Hello {html.escape(request.user.display_name)}! <a href='/me'>/me</a> "
        "<a href='/stats'>/stats</a> <a href='/app'>/app</a></p>"
        "<form method='post' action='/auth/tiktok/logout'><button>Sign out</button></form>",
        headers=PAGE_HEADERS,
    )


@requires("authenticated", status_code=401)
async def me(request: Request) -> JSONResponse:
    user: TikTokUser = request.user
    return JSONResponse(
        {
            "open_id": user.open_id,
            "display_name": user.display_name,
            "app_user_id": user.extra.get("app_user_id"),
            "scopes": list(request.auth.scopes),  # "authenticated" + the granted TikTok scopes
        }
    )


@requires(["authenticated", "user.info.stats"])  # 403 unless the stats scope was granted
async def stats(request: Request) -> JSONResponse:
    user: TikTokUser = request.user
    return JSONResponse({"followers": user.follower_count, "likes": user.likes_count})


async def dashboard(request: Request) -> JSONResponse:
    # No decorator: protected_paths=("/app",) lets only signed-in users reach /app and /app/...
    return JSONResponse({"dashboard_for": request.user.identity})


@requires("authenticated")
async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_json({"hello": websocket.user.display_name})
    try:
        while True:
            text = await websocket.receive_text()
            await websocket.send_json({"echo": text, "from": websocket.user.identity})
    except WebSocketDisconnect:
        pass


def create_app(
    settings: TikTokSettings, emulator: TikTokEmulator | None = None, **middleware_options: Any
) -> Starlette:
    """The application; ``emulator`` is mounted at ``/tiktok`` when given."""
    accounts = Accounts()
    settings = settings.replace(protected_paths=(*settings.protected_paths, "/app"))
    routes: list[BaseRoute] = [
        Route("/", home),
        Route("/me", me),
        Route("/stats", stats),
        Route("/app", dashboard),
        Route("/app/{page}", dashboard),
        WebSocketRoute("/ws", echo),
    ]
    if emulator is not None:
        routes.append(Mount("/tiktok", app=emulator))
    middleware = [
        Middleware(
            TikTokAuthMiddleware,
            settings=settings,
            on_login=accounts.on_login,
            load_user=accounts.load_user,
            **middleware_options,
        )
    ]
    app = Starlette(routes=routes, middleware=middleware)
    app.state.accounts = accounts
    return app


app = create_app(*configure())
