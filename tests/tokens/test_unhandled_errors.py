"""A TikTokAuthError that a Starlette view does not handle is answered by the middleware."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.support.calls import get_access_token
from tests.support.signin import async_sign_in
from tests.tokens.conftest import (
    browser,
    cleared,
    expire_access_token,
    session_id,
    withdraw_at_tiktok,
)
from tiktok_asgi import MemoryTokenStore, TikTokAuthMiddleware, TikTokSettings, TokenStoreError
from tiktok_asgi.emulator import TikTokEmulator


async def _token(request: Request) -> JSONResponse:
    return JSONResponse({"access_token": await get_access_token(request)})


def _app_without_handler(
    settings: TikTokSettings, store: MemoryTokenStore, emulator: TikTokEmulator
) -> Starlette:
    app = Starlette(routes=[Route("/token", _token)])  # no exception handler registered
    app.add_middleware(
        TikTokAuthMiddleware, settings=settings, transport=emulator.transport(), token_store=store
    )
    return app


async def test_a_refused_refresh_in_an_unhandled_view_answers_401_and_signs_out(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    store = MemoryTokenStore()
    async with browser(_app_without_handler(tiktok_settings, store, tiktok_emulator)) as client:
        await async_sign_in(client, tiktok_settings, tiktok_emulator)
        access = await expire_access_token(
            store, tiktok_settings, session_id(client, tiktok_settings)
        )
        await withdraw_at_tiktok(tiktok_emulator, tiktok_settings, access)
        response = await client.get("/token", headers={"accept": "application/json"})
    assert response.status_code == 401
    assert response.json()["error"] == "login_required"
    assert response.headers["cache-control"] == "no-store"
    assert cleared(response, tiktok_settings)


async def test_an_unavailable_store_in_an_unhandled_view_answers_503(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    class BrokenStore(MemoryTokenStore):
        broken = False

        async def get(self, key: str) -> bytes | None:
            if self.broken:
                raise TokenStoreError("down")
            return await super().get(key)

    store = BrokenStore()
    async with browser(_app_without_handler(tiktok_settings, store, tiktok_emulator)) as client:
        await async_sign_in(client, tiktok_settings, tiktok_emulator)
        store.broken = True
        response = await client.get("/token", headers={"accept": "application/json"})
    assert response.status_code == 503
    assert response.json()["error"] == "token_store_unavailable"
    assert not cleared(response, tiktok_settings)  # an outage never signs anyone out
