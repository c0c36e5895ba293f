"""The rows: one application per adapter, each built as its documentation says, each with the
same routes.

- ``/admin/x`` and ``/admin/`` answer ``SECRET``; ``protected_paths`` is ``("/admin/",)``;
- ``/admin/ws`` sends ``SECRET`` over a WebSocket (refused by ``protected_paths``);
- ``guarded_socket`` is a WebSocket behind the adapter's own ``login_required``;
- ``/token`` calls ``get_access_token`` (on an anonymous request it raises ``LoginRequired``);
- ``/stats`` needs the scope ``STATS`` through the adapter's ``require_scopes``.

A new adapter is one builder and one ``Adapter`` in ``ADAPTERS`` (see ``contract.py``).
"""

from __future__ import annotations

from typing import Annotated, Any, cast

from fastapi import Depends, FastAPI, Request
from fastapi import WebSocket as FastAPIWebSocket
from litestar import Litestar, MediaType, get, websocket
from litestar import Request as LitestarRequest
from litestar import WebSocket as LitestarWebSocket
from quart import Quart
from quart import request as quart_request
from quart import websocket as quart_websocket
from starlette.applications import Starlette
from starlette.requests import Request as StarletteRequest
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp
from starlette.websockets import WebSocket

from tests.matrix import django_app
from tests.matrix.contract import SECRET, STATS, Adapter
from tests.matrix.servers import hypercorn_server
from tests.support.calls import get_access_token
from tiktok_asgi import TikTokAuthMiddleware, TikTokSettings, TikTokUser
from tiktok_asgi import fastapi as tt_fastapi
from tiktok_asgi import litestar as tt_litestar
from tiktok_asgi import quart as tt_quart
from tiktok_asgi import starlette as tt_starlette
from tiktok_asgi._tiktok.http import AsyncBaseTransport

# Starlette ------------------------------------------------------------------------------------


async def _secret(request: StarletteRequest) -> Response:
    return PlainTextResponse(SECRET)


async def _secret_socket(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text(SECRET)
    await websocket.close()


@tt_starlette.login_required
async def _guarded_socket(websocket: WebSocket) -> None:
    await _secret_socket(websocket)


async def _token(request: StarletteRequest) -> Response:
    return JSONResponse({"token": await get_access_token(request)})


@tt_starlette.require_scopes(STATS)
async def _stats(request: StarletteRequest) -> Response:
    return PlainTextResponse(SECRET)


def starlette_app(settings: TikTokSettings, transport: AsyncBaseTransport) -> ASGIApp:
    app = Starlette(
        routes=[
            Route("/admin/x", _secret),
            Route("/admin/", _secret),
            WebSocketRoute("/admin/ws", _secret_socket),
            WebSocketRoute("/guarded/ws", _guarded_socket),
            Route("/token", _token),
            Route("/stats", _stats),
        ]
    )
    app.add_middleware(TikTokAuthMiddleware, settings=settings, transport=transport)
    return app


# FastAPI --------------------------------------------------------------------------------------

StatsUser = Annotated[TikTokUser, Depends(tt_fastapi.require_scopes(STATS))]


def fastapi_app(settings: TikTokSettings, transport: AsyncBaseTransport) -> ASGIApp:
    app = FastAPI()
    app.add_middleware(TikTokAuthMiddleware, settings=settings, transport=transport)
    tt_fastapi.install(app, settings=settings)

    @app.get("/admin/x", response_class=PlainTextResponse)
    async def secret() -> str:
        return SECRET

    @app.get("/admin/", response_class=PlainTextResponse)
    async def secret_index() -> str:
        return SECRET

    @app.websocket("/admin/ws")
    async def secret_socket(websocket: FastAPIWebSocket) -> None:
        await _secret_socket(websocket)

    @app.websocket("/guarded/ws")
    async def guarded_socket(websocket: FastAPIWebSocket, user: tt_fastapi.CurrentUser) -> None:
        await _secret_socket(websocket)

    @app.get("/token")
    async def token(request: Request) -> dict[str, str]:
        return {"token": await get_access_token(request)}

    @app.get("/stats", response_class=PlainTextResponse)
    async def stats(user: StatsUser) -> str:
        return SECRET

    return app


# Quart (served by Hypercorn, its own server) ---------------------------------------------------


def quart_app(settings: TikTokSettings, transport: AsyncBaseTransport) -> ASGIApp:
    app = Quart(__name__)
    tt_quart.install(app)

    @app.get("/admin/x")
    @app.get("/admin/")
    async def secret() -> str:
        return SECRET

    @app.websocket("/admin/ws")
    async def secret_socket() -> None:
        await quart_websocket.accept()
        await quart_websocket.send(SECRET)

    @app.websocket("/guarded/ws")
    @tt_quart.login_required
    async def guarded_socket() -> None:
        await quart_websocket.accept()
        await quart_websocket.send(SECRET)

    @app.get("/token")
    async def token() -> dict[str, str]:
        return {"token": await get_access_token(cast(Any, quart_request.scope))}

    @app.get("/stats")
    @tt_quart.require_scopes(STATS)
    async def stats() -> str:
        return SECRET

    app.asgi_app = TikTokAuthMiddleware(  # type: ignore[method-assign, assignment]
        cast(ASGIApp, app.asgi_app), settings=settings, transport=transport
    )
    return cast(ASGIApp, app)


# Litestar -------------------------------------------------------------------------------------


@get(["/admin/x", "/admin/"], media_type=MediaType.TEXT)
async def _litestar_secret() -> str:
    return SECRET


async def _litestar_send_secret(socket: LitestarWebSocket[Any, Any, Any]) -> None:
    await socket.accept()
    await socket.send_text(SECRET)
    await socket.close()


@websocket("/admin/ws")
async def _litestar_secret_socket(socket: LitestarWebSocket[Any, Any, Any]) -> None:
    await _litestar_send_secret(socket)


@websocket("/guarded/ws", guards=[tt_litestar.login_required])
async def _litestar_guarded_socket(socket: LitestarWebSocket[Any, Any, Any]) -> None:
    await _litestar_send_secret(socket)


@get("/token")
async def _litestar_token(request: LitestarRequest[Any, Any, Any]) -> dict[str, str]:
    return {"token": await get_access_token(cast(Any, request.scope))}


@get("/stats", guards=[tt_litestar.require_scopes(STATS)], media_type=MediaType.TEXT)
async def _litestar_stats() -> str:
    return SECRET


def litestar_app(settings: TikTokSettings, transport: AsyncBaseTransport) -> ASGIApp:
    handlers = [
        _litestar_secret,
        _litestar_secret_socket,
        _litestar_guarded_socket,
        _litestar_token,
        _litestar_stats,
    ]
    plugin = tt_litestar.TikTokPlugin(settings=settings, transport=transport)
    return cast(ASGIApp, Litestar(handlers, plugins=[plugin]))


ADAPTERS = (
    Adapter("starlette", starlette_app),
    Adapter("fastapi", fastapi_app),
    Adapter("quart", quart_app, server=hypercorn_server),
    Adapter("litestar", litestar_app),
    # Django has no WebSockets: its guarded socket is the one protected_paths guards.
    Adapter("django", django_app.build, guarded_socket="/admin/ws", around=django_app.serving),
)
