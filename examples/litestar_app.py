"""Sign in with TikTok in a Litestar app: ``TikTokPlugin``, ``request.user`` and the guards.

Run it from the repository root, then open http://127.0.0.1:8000::

    EXAMPLE_EMULATOR=1 uvicorn examples.litestar_app:app

It talks to TikTok with the app of the ``TIKTOK_*`` variables (``TIKTOK_SECRET_KEY`` too). With
``EXAMPLE_EMULATOR=1`` it signs in against the TikTok emulator mounted at ``/tiktok`` instead.
"""

from __future__ import annotations

import html
from typing import Any

from litestar import Litestar, MediaType, Request, Response, WebSocket, get, websocket
from litestar.exceptions import WebSocketDisconnect
from litestar.handlers import asgi
from litestar.types import Receive, Scope, Send

from tiktok_asgi import TikTokSettings, TikTokUser
from tiktok_asgi.emulator import TikTokEmulator
from tiktok_asgi.litestar import TikTokPlugin, login_required, require_scopes

from .accounts import PAGE_HEADERS, Accounts, application


@get("/", media_type=MediaType.HTML)
async def home(request: Request[Any, Any, Any]) -> Response[str]:
    if not request.user.is_authenticated:
        login = request.url_for("tiktok_login")
        page = f'<p><a href="{html.escape(login)}?next=/me">Sign in with TikTok</a></p>'
        return Response(page, media_type=MediaType.HTML, headers=PAGE_HEADERS)
    # Escape everything from TikTok: a display name is anyone's text.
    logout = html.escape(request.url_for("tiktok_logout"))
    page = (
        f"<p>Hello {html.escape(request.user.display_name)}! <a href='/me'>/me</a> "
        f"<a href='/stats'>/stats</a></p><form method='post' action='{logout}'>"
        "<button>Sign out</button></form>"
    )
    return Response(page, media_type=MediaType.HTML, headers=PAGE_HEADERS)


@get("/me", guards=[login_required])
async def me(request: Request[TikTokUser, Any, Any]) -> dict[str, Any]:
    user = request.user
    return {
        "open_id": user.open_id,
        "display_name": user.display_name,
        "app_user_id": user.extra.get("app_user_id"),
        "scopes": list(user.granted_scopes),
    }


@get("/stats", guards=[require_scopes("user.info.stats")])
async def stats(request: Request[TikTokUser, Any, Any]) -> dict[str, int | None]:
    return {"followers": request.user.follower_count, "likes": request.user.likes_count}


@websocket("/ws", guards=[login_required])
async def echo(socket: WebSocket[TikTokUser, Any, Any]) -> None:
    await socket.accept()
    await socket.send_json({"hello": socket.user.display_name})
    try:
        while True:
            text = await socket.receive_text()
            await socket.send_json({"echo": text, "from": socket.user.open_id})
    except WebSocketDisconnect:
        pass


def create_app(
    settings: TikTokSettings, emulator: TikTokEmulator | None = None, **middleware_options: Any
) -> Litestar:
    """The application; ``emulator`` is mounted at ``/tiktok`` when given."""
    accounts = Accounts()
    handlers: list[Any] = [home, me, stats, echo]
    if emulator is not None:

        @asgi("/tiktok", is_mount=True, copy_scope=True)
        async def tiktok(scope: Scope, receive: Receive, send: Send) -> None:
            # Litestar hands a mount the rest of the path; the emulator's links need the prefix.
            scope["root_path"] = scope.get("root_path", "") + "/tiktok"
            await emulator(scope, receive, send)  # type: ignore[arg-type]

        handlers.append(tiktok)
    plugin = TikTokPlugin(
        settings=settings,
        on_login=accounts.on_login,
        load_user=accounts.load_user,
        **middleware_options,
    )
    app = Litestar(handlers, plugins=[plugin])
    app.state.accounts = accounts
    return app


app = application(create_app)
