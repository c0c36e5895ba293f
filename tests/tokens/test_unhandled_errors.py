"""A TikTokAuthError that a Starlette view does not handle is answered by the middleware."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.tokens.conftest import (
    browser,
    cleared,
    expire_access_token,
    session_id,
    sign_in,
    withdraw_at_tiktok,
)
from tiktok_asgi import (
    MemoryTokenStore,
    TikTokAuthMiddleware,
    TikTokSettings,
    TokenStoreError,
    get_access_token,
)
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
    emulator: TikTokEmulator, settings: TikTokSettings
) -> None:
    store = MemoryTokenStore()
    async with browser(_app_without_handler(settings, store, emulator)) as client:
        await sign_in(client, settings, emulator)
        access = await expire_access_token(store, settings, session_id(client, settings))
        await withdraw_at_tiktok(emulator, settings, access)
        response = await client.get("/token", headers={"accept": "application/json"})
    assert response.status_code == 401
    assert response.json()["error"] == "login_required"
    assert response.headers["cache-control"] == "no-store"
    assert cleared(response, settings)


async def test_an_unavailable_store_in_an_unhandled_view_answers_503(
    emulator: TikTokEmulator, settings: TikTokSettings
) -> None:
    class BrokenStore(MemoryTokenStore):
        broken = False

        async def get(self, key: str) -> bytes | None:
            if self.broken:
                raise TokenStoreError("down")
            return await super().get(key)

    store = BrokenStore()
    async with browser(_app_without_handler(settings, store, emulator)) as client:
        await sign_in(client, settings, emulator)
        store.broken = True
        response = await client.get("/token", headers={"accept": "application/json"})
    assert response.status_code == 503
    assert response.json()["error"] == "token_store_unavailable"
    assert not cleared(response, settings)  # an outage never signs anyone out
