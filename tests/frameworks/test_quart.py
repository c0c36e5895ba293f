"""tiktok_asgi.quart: current_user(), @login_required and @require_scopes for requests and
websockets, answering as the middleware's protected paths do."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import pytest
from quart import Quart, websocket
from starlette.testclient import TestClient
from starlette.types import ASGIApp
from starlette.websockets import WebSocketDisconnect

from tests.conftest import BASE_URL, make_app, sign_in
from tests.frameworks.helpers import ws_headers
from tests.support.calls import get_access_token
from tiktok_asgi import TikTokAuthMiddleware, TikTokSettings
from tiktok_asgi.emulator import TikTokEmulator
from tiktok_asgi.quart import current_user, install, login_required, require_scopes

BASIC = ["user.info.basic"]
HTML = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


def make_quart(settings: TikTokSettings, emulator: TikTokEmulator) -> Quart:
    app = Quart(__name__)
    install(app)

    @app.get("/who")
    async def who() -> dict[str, Any]:
        user = current_user()
        return {"open_id": user.open_id if user else None}

    @app.route("/me", methods=["GET", "POST"])
    @login_required
    async def me() -> dict[str, Any]:
        user = current_user()
        assert user is not None
        return {"open_id": user.open_id}

    @app.get("/stats")
    @require_scopes("user.info.stats")
    async def stats() -> dict[str, Any]:
        user = current_user()
        assert user is not None
        return {"followers": user.follower_count}

    @app.websocket("/ws")
    @login_required
    async def ws() -> None:
        user = current_user()
        assert user is not None
        await websocket.send_json({"open_id": user.open_id})

    @app.websocket("/ws/stats")
    @require_scopes("user.info.stats")
    async def ws_stats() -> None:
        await websocket.send_json({"ok": True})

    @app.websocket("/ws/token")
    async def ws_token() -> None:
        # Anonymous: LoginRequired before accepting, answered by install()'s handler.
        await get_access_token(cast(Any, websocket.scope))
        await websocket.send_json({"ok": True})  # pragma: no cover - anonymous only

    app.asgi_app = TikTokAuthMiddleware(  # type: ignore[method-assign, assignment]
        cast(ASGIApp, app.asgi_app), settings=settings, transport=emulator.transport()
    )
    return app


@pytest.fixture
def client(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> Iterator[TestClient]:
    with TestClient(make_quart(tiktok_settings, tiktok_emulator), base_url=BASE_URL) as client:
        yield client


def test_anonymous_api_request_gets_the_middlewares_401(
    client: TestClient, tiktok_settings: TikTokSettings
) -> None:
    response = client.get("/me", headers={"accept": "application/json"})
    assert response.status_code == 401
    reference = TestClient(
        make_app(tiktok_settings.replace(protected_paths=("/me",))), base_url=BASE_URL
    ).get("/me")
    assert response.content == reference.content
    assert response.json()["error"] == "login_required"
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    # A form post from a page is not a page load: no redirect that would lose the body.
    assert client.post("/me", headers=HTML).status_code == 401


def test_anonymous_browser_is_sent_to_login_and_back(
    client: TestClient, tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    response = client.get("/me?tab=likes", headers=HTML, follow_redirects=False)
    assert response.status_code == 302
    assert response.headers["location"] == "/auth/tiktok/login?next=%2Fme%3Ftab%3Dlikes"
    assert response.headers["cache-control"] == "no-store"
    person = tiktok_emulator.user("priya.reads")
    target = sign_in(client, tiktok_settings, tiktok_emulator, user=person, next="/me?tab=likes")
    assert target == "/me?tab=likes"
    assert client.get(target).json() == {"open_id": person.open_id}


def test_redirect_follows_a_custom_login_path(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    settings = tiktok_settings.replace(login_path="/signin")
    with TestClient(make_quart(settings, tiktok_emulator), base_url=BASE_URL) as client:
        response = client.get("/me", headers=HTML, follow_redirects=False)
    assert response.headers["location"] == "/signin?next=%2Fme"


def test_current_user_and_scopes(
    client: TestClient, tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    assert client.get("/who").json() == {"open_id": None}
    person = tiktok_emulator.user("mayacooks")
    sign_in(client, tiktok_settings, tiktok_emulator, user=person, scopes=BASIC)
    assert client.get("/who").json() == {"open_id": person.open_id}
    assert client.get("/me").json() == {"open_id": person.open_id}
    refused = client.get("/stats", headers=HTML)
    assert refused.status_code == 403
    assert refused.json()["error"] == "insufficient_scope"
    assert "user.info.stats" in refused.json()["error_description"]

    sign_in(client, tiktok_settings, tiktok_emulator, user=person)
    assert client.get("/stats").json() == {"followers": person.follower_count}


def test_websockets(
    client: TestClient, tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    # Accepted, then closed: closed during the handshake, a server would answer HTTP 403, which
    # browsers report as 1006.
    with client.websocket_connect("/ws") as ws, pytest.raises(WebSocketDisconnect) as anonymous:
        ws.receive_json()
    # Quart sends a close reason only to servers announcing ASGI spec 2.3 (the TestClient does
    # not); the code is what clients act on.
    assert anonymous.value.code == 1008

    person = tiktok_emulator.user("leo.skates")
    sign_in(client, tiktok_settings, tiktok_emulator, user=person, scopes=BASIC)
    with client.websocket_connect("/ws", headers=ws_headers(client, tiktok_settings)) as ws:
        assert ws.receive_json() == {"open_id": person.open_id}
    with (
        client.websocket_connect("/ws/stats", headers=ws_headers(client, tiktok_settings)) as ws,
        pytest.raises(WebSocketDisconnect) as scoped,
    ):
        ws.receive_json()
    assert scoped.value.code == 1008


def test_auth_error_in_a_websocket_view_is_closed_after_the_handshake(client: TestClient) -> None:
    with client.websocket_connect("/ws/token") as ws, pytest.raises(WebSocketDisconnect) as closed:
        ws.receive_json()
    assert closed.value.code == 1008


def test_current_user_outside_a_request() -> None:
    with pytest.raises(RuntimeError, match="Quart"):
        current_user()
