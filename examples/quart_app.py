"""Sign in with TikTok in a Quart app: ``current_user()``, ``@login_required``, ``@require_scopes``.

Run it from the repository root, then open http://127.0.0.1:8000::

    EXAMPLE_EMULATOR=1 hypercorn examples.quart_app:app --bind 127.0.0.1:8000

It talks to TikTok with the app of the ``TIKTOK_*`` variables (``TIKTOK_SECRET_KEY`` too). With
``EXAMPLE_EMULATOR=1`` it signs in against the TikTok emulator served at ``/tiktok`` instead.
On another port (``hypercorn examples.quart_app:app --bind 127.0.0.1:9000``, or
``python -m examples.quart_app --port 9000``) the emulator's redirect URI follows: the app is
built at the first request, for its origin (see ``examples/first_request.py``).
"""

from __future__ import annotations

import html
from typing import Any, cast

from quart import Quart, request, websocket
from starlette.types import ASGIApp, Receive, Scope, Send

from tiktok_asgi import TikTokAuthMiddleware, TikTokSettings, login_url
from tiktok_asgi.emulator import TikTokEmulator
from tiktok_asgi.quart import current_user, install, login_required, require_scopes

from .accounts import PAGE_HEADERS, Accounts, application


def mount(prefix: str, inner: ASGIApp, outer: ASGIApp) -> ASGIApp:
    """Send ``prefix`` and everything below it to ``inner`` (as Starlette's ``Mount`` does),
    the rest, lifespan included, to ``outer``."""

    async def dispatch(scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] in ("http", "websocket") and (
            path == prefix or path.startswith(prefix + "/")
        ):
            scope = {**scope, "root_path": scope.get("root_path", "") + prefix}
            await inner(scope, receive, send)
        else:
            await outer(scope, receive, send)

    return dispatch


def create_app(
    settings: TikTokSettings, emulator: TikTokEmulator | None = None, **middleware_options: Any
) -> Quart:
    """The application; ``emulator`` is served at ``/tiktok`` when given."""
    accounts = Accounts()
    app = Quart(__name__)
    app.extensions["accounts"] = accounts
    install(app, settings=settings)  # view errors as the middleware answers them; named paths
    logout = html.escape(settings.logout_path)

    @app.get("/")
    async def home() -> tuple[str, dict[str, str]]:
        user = current_user()
        if user is None:
            login = html.escape(login_url(cast(Scope, request.scope), next="/me"))
            page = f'<p><a href="{login}">Sign in with TikTok</a></p>'
        else:
            # Escape everything from TikTok: a display name is anyone's text.
            page = (
                f"<p>Hello {html.escape(user.display_name)}! <a href='/me'>/me</a> "
                f"<a href='/stats'>/stats</a></p><form method='post' action='{logout}'>"
                "<button>Sign out</button></form>"
            )
        return page, PAGE_HEADERS

    @app.get("/me")
    @login_required
    async def me() -> dict[str, Any]:
        user = current_user()
        assert user is not None  # login_required let the request through
        return {
            "open_id": user.open_id,
            "display_name": user.display_name,
            "app_user_id": user.extra.get("app_user_id"),
            "scopes": list(user.granted_scopes),
        }

    @app.get("/stats")
    @require_scopes("user.info.stats")
    async def stats() -> dict[str, int | None]:
        user = current_user()
        assert user is not None
        return {"followers": user.follower_count, "likes": user.likes_count}

    @app.websocket("/ws")
    @login_required
    async def echo() -> None:
        user = current_user()
        assert user is not None
        await websocket.accept()
        await websocket.send_json({"hello": user.display_name})
        while True:
            text = await websocket.receive()
            await websocket.send_json({"echo": text, "from": user.open_id})

    # Wrap asgi_app, not app: app stays a Quart app (its CLI and test client keep working).
    asgi: ASGIApp = TikTokAuthMiddleware(
        cast(ASGIApp, app.asgi_app),  # Quart types ASGI with hypercorn's TypedDicts
        settings=settings,
        on_login=accounts.on_login,
        load_user=accounts.load_user,
        **middleware_options,
    )
    if emulator is not None:
        asgi = mount("/tiktok", emulator, asgi)
    app.asgi_app = asgi  # type: ignore[method-assign, assignment]
    return app


app = application(create_app)


if __name__ == "__main__":
    from examples.accounts import serve

    serve("examples.quart_app:app")
