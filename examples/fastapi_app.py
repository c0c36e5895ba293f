"""Sign in with TikTok in a FastAPI app.

Run it from the repository root, then open http://127.0.0.1:8000::

    EXAMPLE_EMULATOR=1 uvicorn examples.fastapi_app:app

It talks to TikTok with the app of the ``TIKTOK_*`` variables (``TIKTOK_SECRET_KEY`` too). With
``EXAMPLE_EMULATOR=1`` it signs in against the TikTok emulator mounted at ``/tiktok`` instead.
On another port (``uvicorn examples.fastapi_app:app --port 9000``, or
``python -m examples.fastapi_app --port 9000``) the emulator's redirect URI follows: the app is
built at the first request, for its origin (see ``examples/first_request.py``).
"""

from __future__ import annotations

import html
from typing import Annotated, Any

from fastapi import Depends, FastAPI, WebSocket, WebSocketDisconnect
from fastapi.responses import HTMLResponse

from tiktok_asgi import TikTokAuthMiddleware, TikTokSettings, TikTokUser
from tiktok_asgi.emulator import TikTokEmulator
from tiktok_asgi.fastapi import CurrentUser, OptionalUser, install, require_scopes

from .accounts import PAGE_HEADERS, Accounts, application


def create_app(
    settings: TikTokSettings, emulator: TikTokEmulator | None = None, **middleware_options: Any
) -> FastAPI:
    """The application; ``emulator`` is mounted at ``/tiktok`` when given."""
    accounts = Accounts()
    app = FastAPI(title="Sign in with TikTok (FastAPI example)")
    app.state.accounts = accounts
    app.add_middleware(
        TikTokAuthMiddleware,
        settings=settings,
        on_login=accounts.on_login,
        load_user=accounts.load_user,
        **middleware_options,
    )
    install(app, settings=settings)  # the JSON errors; 401/403 documented in /docs
    if emulator is not None:
        app.mount("/tiktok", emulator)

    login, logout = html.escape(settings.login_path), html.escape(settings.logout_path)

    @app.get("/", response_class=HTMLResponse)
    async def home(user: OptionalUser) -> HTMLResponse:
        if user is None:
            page = f'<p><a href="{login}?next=/me">Sign in with TikTok</a></p>'
        else:
            # Escape everything from TikTok: a display name is anyone's text.
            page = (
                f"<p>Hello {html.escape(user.display_name)}! <a href='/me'>/me</a> "
                "<a href='/stats'>/stats</a> <a href='/docs'>/docs</a></p>"
                f"<form method='post' action='{logout}'><button>Sign out</button></form>"
            )
        return HTMLResponse(page, headers=PAGE_HEADERS)

    @app.get("/me")
    async def me(user: CurrentUser) -> dict[str, Any]:
        return {
            "open_id": user.open_id,
            "display_name": user.display_name,
            "app_user_id": user.extra.get("app_user_id"),
            "scopes": list(user.granted_scopes),
        }

    @app.get("/stats")
    async def stats(
        user: Annotated[TikTokUser, Depends(require_scopes("user.info.stats"))],
    ) -> dict[str, int | None]:
        return {"followers": user.follower_count, "likes": user.likes_count}

    @app.websocket("/ws")
    async def echo(websocket: WebSocket, user: CurrentUser) -> None:
        await websocket.accept()
        await websocket.send_json({"hello": user.display_name})
        try:
            async for text in websocket.iter_text():
                await websocket.send_json({"echo": text, "from": user.open_id})
        except WebSocketDisconnect:
            pass

    return app


app = application(create_app)


if __name__ == "__main__":
    from examples.accounts import serve

    serve("examples.fastapi_app:app")
