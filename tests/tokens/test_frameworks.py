"""The documented ways to call TikTok as the user, in FastAPI, Starlette and Quart."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from quart import Quart, request
from starlette.applications import Starlette
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.support.signin import async_sign_in
from tests.tokens.conftest import (
    browser,
    expire_access_token,
    session_id,
)
from tiktok_asgi import (
    MemoryTokenStore,
    TikTokAuthError,
    TikTokAuthMiddleware,
    TikTokSettings,
)
from tiktok_asgi.api import tiktok_api
from tiktok_asgi.emulator import Fault, TikTokEmulator
from tiktok_asgi.fastapi import CurrentUser, install
from tiktok_asgi.quart import login_required


def fastapi_app(settings: TikTokSettings, emulator: TikTokEmulator, store: Any) -> Any:
    app = FastAPI()
    app.add_middleware(
        TikTokAuthMiddleware,
        settings=settings,
        token_store=store,
        transport=emulator.transport(),
    )
    install(app)  # TikTokAuthError -> {"error", "error_description", "log_id"} with its status

    @app.get("/videos")
    async def videos(conn: Request, user: CurrentUser) -> dict[str, Any]:
        return await tiktok_api(conn).post(
            "/v2/video/list/", params={"fields": "id,title"}, json={"max_count": 5}
        )

    return app


def starlette_app(settings: TikTokSettings, emulator: TikTokEmulator, store: Any) -> Any:
    async def videos(conn: Request) -> JSONResponse:
        data = await tiktok_api(conn).post(
            "/v2/video/list/", params={"fields": "id,title"}, json={"max_count": 5}
        )
        return JSONResponse(data)

    async def tiktok_error(conn: HTTPConnection, exc: Exception) -> JSONResponse:
        assert isinstance(exc, TikTokAuthError)
        return JSONResponse(exc.as_dict(), status_code=exc.status_code)

    app = Starlette(
        routes=[Route("/videos", videos)], exception_handlers={TikTokAuthError: tiktok_error}
    )
    return TikTokAuthMiddleware(
        app, settings=settings, token_store=store, transport=emulator.transport()
    )


def quart_app(settings: TikTokSettings, emulator: TikTokEmulator, store: Any) -> Any:
    app = Quart(__name__)
    app.asgi_app = TikTokAuthMiddleware(  # type: ignore[method-assign]
        app.asgi_app, settings=settings, token_store=store, transport=emulator.transport()
    )

    @app.errorhandler(TikTokAuthError)
    async def tiktok_error(exc: TikTokAuthError) -> tuple[dict[str, Any], int]:
        return exc.as_dict(), exc.status_code

    @app.get("/videos")
    @login_required
    async def videos() -> dict[str, Any]:
        return await tiktok_api(request.scope).post(
            "/v2/video/list/", params={"fields": "id,title"}, json={"max_count": 5}
        )

    return app


@pytest.mark.parametrize("build", [fastapi_app, starlette_app, quart_app])
async def test_calling_tiktok_as_the_user(
    build: Any, tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    store = MemoryTokenStore()
    async with browser(build(tiktok_settings, tiktok_emulator, store)) as client:
        await async_sign_in(client, tiktok_settings, tiktok_emulator)
        response = await client.get("/videos")
        assert response.status_code == 200, response.text
        assert [set(v) for v in response.json()["videos"]] == [{"id", "title"}] * len(
            response.json()["videos"]
        )
        assert response.json()["videos"]

        # A refresh TikTok refuses: 401 login_required, the cookie cleared, in every framework.
        await expire_access_token(store, tiktok_settings, session_id(client, tiktok_settings))
        tiktok_emulator.inject("token", Fault.error_body("invalid_grant"))
        response = await client.get("/videos", headers={"accept": "application/json"})
        assert response.status_code == 401, response.text
        assert response.json()["error"] == "login_required"
        assert tiktok_settings.cookie_name not in client.cookies
    assert len(store) == 0
