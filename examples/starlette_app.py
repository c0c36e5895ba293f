"""Sign in with TikTok in a Starlette app: ``request.user``, ``request.auth``, ``@login_required``.

Run it from the repository root, then open http://127.0.0.1:8000::

    EXAMPLE_EMULATOR=1 uvicorn examples.starlette_app:app

It talks to TikTok with the app of the ``TIKTOK_*`` variables (``TIKTOK_SECRET_KEY`` too). With
``EXAMPLE_EMULATOR=1`` it signs in against the TikTok emulator mounted at ``/tiktok`` instead.
On another port (``uvicorn examples.starlette_app:app --port 9000``, or
``python -m examples.starlette_app --port 9000``) the emulator's redirect URI follows: the app is
built at the first request, for its origin (see ``examples/first_request.py``).

Everything under ``/app`` is protected by the ``protected_paths`` setting, without decorators.
``@login_required`` sends a browser to the login page and answers API clients 401;
``install(app, settings=settings)`` names the login paths for ``request.url_for``.
"""

from __future__ import annotations

import html
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from tiktok_asgi import TikTokAuthMiddleware, TikTokSettings, TikTokUser
from tiktok_asgi.emulator import TikTokEmulator
from tiktok_asgi.starlette import install, login_required, require_scopes

from .accounts import PAGE_HEADERS, Accounts, application


async def home(request: Request) -> HTMLResponse:
    if not request.user.is_authenticated:
        login = request.url_for("tiktok_login").include_query_params(next="/app")
        return HTMLResponse(
            f'<p><a href="{html.escape(str(login))}">Sign in with TikTok</a></p>',
            headers=PAGE_HEADERS,
        )
    # Escape everything from TikTok: a display name is anyone's text.
    logout = html.escape(str(request.url_for("tiktok_logout")))
    return HTMLResponse(
        f"<p>Hello {html.escape(request.user.display_name)}! <a href='/me'>/me</a> "
        f"<a href='/stats'>/stats</a> <a href='/app'>/app</a></p>"
        f"<form method='post' action='{logout}'><button>Sign out</button></form>",
        headers=PAGE_HEADERS,
    )


@login_required  # browsers go to the login page and come back; API clients get 401 JSON
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


@require_scopes("user.info.stats")  # 403 unless the stats scope was granted
async def stats(request: Request) -> JSONResponse:
    user: TikTokUser = request.user
    return JSONResponse({"followers": user.follower_count, "likes": user.likes_count})


async def dashboard(request: Request) -> JSONResponse:
    # No decorator: protected_paths=("/app",) lets only signed-in users reach /app and /app/...
    return JSONResponse({"dashboard_for": request.user.identity})


@login_required  # anonymous WebSockets are closed with 1008
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
    install(app, settings=settings)  # url_for("tiktok_login"), "tiktok_callback", "tiktok_logout"
    app.state.accounts = accounts
    return app


app = application(create_app)


if __name__ == "__main__":
    from examples.accounts import serve

    serve("examples.starlette_app:app")
