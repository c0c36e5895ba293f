"""protected_paths: browsers go to login with next, other clients get 401 JSON, WebSockets are
closed with 1008; a prefix covers itself and what is below it, nothing else."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket, WebSocketDisconnect

from tests.conftest import BASE_URL, sign_in
from tests.frameworks.helpers import ws_headers
from tiktok_asgi import TikTokAuthMiddleware, TikTokSettings
from tiktok_asgi.emulator import TikTokEmulator

HTML = {"accept": "text/html,application/xhtml+xml"}


async def page(request: Request) -> JSONResponse:
    return JSONResponse({"path": request.url.path, "who": request.user.display_name})


async def socket(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_json({"who": websocket.user.display_name})
    await websocket.close()


def make(settings: TikTokSettings, emulator: TikTokEmulator) -> TestClient:
    app = Starlette(
        routes=[Route("/{path:path}", page), WebSocketRoute("/app/ws", socket)],
    )
    wrapped = TikTokAuthMiddleware(
        app,
        settings=settings.replace(protected_paths=("/app", "/admin/")),
        transport=emulator.transport(),
    )
    return TestClient(wrapped, base_url=BASE_URL)


@pytest.mark.parametrize(
    "path", ["/app", "/app/", "/app/x", "/app/x/y", "/admin/", "/admin/z", "/admin"]
)
def test_protected(
    path: str, tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    client = make(tiktok_settings, tiktok_emulator)
    browser = client.get(f"{path}?q=1", headers=HTML, follow_redirects=False)
    assert browser.status_code == 302
    assert browser.headers["location"] == (
        f"{tiktok_settings.login_path}?next={path.replace('/', '%2F')}%3Fq%3D1"
    )
    api = client.get(path, headers={"accept": "application/json"})
    assert api.status_code == 401
    assert api.json() == {
        "error": "login_required",
        "error_description": "Sign in with TikTok first.",
        "log_id": None,
    }
    # A non-GET from a browser is not redirected (the body would be lost).
    assert client.post(path, headers=HTML).status_code == 401


@pytest.mark.parametrize("path", ["/application", "/apps", "/", "/administrator", "/ap"])
def test_not_protected(
    path: str, tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    client = make(tiktok_settings, tiktok_emulator)
    response = client.get(path, headers=HTML, follow_redirects=False)
    assert response.status_code == 200
    assert response.json() == {"path": path, "who": ""}


def test_browser_comes_back_signed_in(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    client = make(tiktok_settings, tiktok_emulator)
    location = client.get("/app/x?q=1", headers=HTML, follow_redirects=False).headers["location"]
    assert location.startswith(tiktok_settings.login_path)
    person = tiktok_emulator.user("priya.reads")
    target = sign_in(client, tiktok_settings, tiktok_emulator, user=person, next="/app/x?q=1")
    assert target == "/app/x?q=1"
    assert client.get(target).json() == {"path": "/app/x", "who": person.display_name}


def test_websocket_closed_with_1008(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    client = make(tiktok_settings, tiktok_emulator)
    # Accepted, then closed: browsers see 1008, not the 1006 of a refused handshake.
    with client.websocket_connect("/app/ws") as ws, pytest.raises(WebSocketDisconnect) as info:
        ws.receive_json()
    assert (info.value.code, info.value.reason) == (1008, "login_required")
    person = tiktok_emulator.user("mayacooks")
    sign_in(client, tiktok_settings, tiktok_emulator, user=person)
    with client.websocket_connect("/app/ws", headers=ws_headers(client, tiktok_settings)) as ws:
        assert ws.receive_json() == {"who": person.display_name}
