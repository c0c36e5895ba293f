"""Starlette's own auth vocabulary works unchanged: request.user, request.auth, @requires. The
adapter's guards refuse a WebSocket after its handshake."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket, WebSocketDisconnect

from tests.conftest import BASE_URL, sign_in
from tests.frameworks.helpers import ws_headers
from tiktok_asgi import TikTokAuthMiddleware, TikTokSettings, TikTokUser
from tiktok_asgi.emulator import TikTokEmulator
from tiktok_asgi.starlette import login_required, require_scopes

BASIC = ["user.info.basic"]


@requires("authenticated")
async def me(request: Request) -> JSONResponse:
    user: TikTokUser = request.user
    return JSONResponse({"identity": user.identity, "scopes": list(request.auth.scopes)})


@requires("user.info.stats")
async def stats(request: Request) -> JSONResponse:
    return JSONResponse({"followers": request.user.follower_count})


@requires(["authenticated", "user.info.stats"])
async def live(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_json({"followers": websocket.user.follower_count})
    await websocket.close()


@login_required
async def guarded(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_json({"open_id": websocket.user.open_id})
    await websocket.close()


@require_scopes("user.info.stats")
async def guarded_stats(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_json({"followers": websocket.user.follower_count})
    await websocket.close()


@pytest.fixture
def client(tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings) -> TestClient:
    app = Starlette(
        routes=[
            Route("/me", me),
            Route("/stats", stats),
            WebSocketRoute("/live", live),
            WebSocketRoute("/guarded", guarded),
            WebSocketRoute("/guarded/stats", guarded_stats),
        ],
        middleware=[
            Middleware(
                TikTokAuthMiddleware,
                settings=tiktok_settings,
                transport=tiktok_emulator.transport(),
            )
        ],
    )
    return TestClient(app, base_url=BASE_URL)


def test_requires(
    client: TestClient, tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    assert client.get("/me").status_code == 403  # Starlette's default refusal
    assert client.get("/stats").status_code == 403
    person = tiktok_emulator.user("amara_dances")
    sign_in(client, tiktok_settings, tiktok_emulator, user=person, scopes=BASIC)
    assert client.get("/me").json() == {
        "identity": person.open_id,
        "scopes": ["authenticated", "user.info.basic"],
    }
    assert client.get("/stats").status_code == 403
    sign_in(client, tiktok_settings, tiktok_emulator, user=person)
    assert client.get("/stats").json() == {"followers": person.follower_count}


def test_requires_on_a_websocket(
    client: TestClient, tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    with pytest.raises(WebSocketDisconnect), client.websocket_connect("/live"):
        pass  # pragma: no cover - Starlette closes before accepting
    person = tiktok_emulator.user("mayacooks")
    sign_in(client, tiktok_settings, tiktok_emulator, user=person, scopes=BASIC)
    with (
        pytest.raises(WebSocketDisconnect),
        client.websocket_connect("/live", headers=ws_headers(client, tiktok_settings)),
    ):
        pass  # pragma: no cover
    sign_in(client, tiktok_settings, tiktok_emulator, user=person)
    with client.websocket_connect("/live", headers=ws_headers(client, tiktok_settings)) as ws:
        assert ws.receive_json() == {"followers": person.follower_count}


def test_guarded_websocket_is_accepted_then_closed_with_1008(
    client: TestClient, tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    # Closed during the handshake, a server would answer HTTP 403: browsers report 1006.
    with client.websocket_connect("/guarded") as ws, pytest.raises(WebSocketDisconnect) as anon:
        ws.receive_json()
    assert (anon.value.code, anon.value.reason) == (1008, "login_required")

    person = tiktok_emulator.user("leo.skates")
    sign_in(client, tiktok_settings, tiktok_emulator, user=person, scopes=BASIC)
    headers = ws_headers(client, tiktok_settings)
    with client.websocket_connect("/guarded", headers=headers) as ws:
        assert ws.receive_json() == {"open_id": person.open_id}
    with (
        client.websocket_connect("/guarded/stats", headers=headers) as ws,
        pytest.raises(WebSocketDisconnect) as scoped,
    ):
        ws.receive_json()
    assert (scoped.value.code, scoped.value.reason) == (1008, "insufficient_scope")
