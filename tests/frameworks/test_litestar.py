"""tiktok_asgi.litestar with real Litestar: the plugin answers the login paths (Litestar runs
middleware only for matched routes), ``request.user`` in HTTP and WebSocket handlers, the guards
follow the one not-signed-in rule, and the paths have names for ``url_for``."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar, Request, WebSocket, get, websocket
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from tests.conftest import BASE_URL, sign_in
from tests.frameworks.helpers import ws_headers
from tiktok_asgi import (
    LoginRequired,
    MemoryTokenStore,
    TikTokSettings,
    TikTokUser,
    tiktok_context,
)
from tiktok_asgi.emulator import TikTokEmulator
from tiktok_asgi.litestar import TikTokPlugin, login_required, require_scopes

BROWSER = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
API = {"accept": "application/json"}


@get("/who")
async def who(request: Request[Any, Any, Any]) -> dict[str, Any]:
    user = request.user
    return {
        "type": type(user).__name__,
        "authenticated": user.is_authenticated,
        "auth": list(request.auth.scopes),
    }


@get("/me", guards=[login_required])
async def me(request: Request[TikTokUser, Any, Any]) -> dict[str, str]:
    return {"open_id": request.user.open_id}


@get("/stats", guards=[require_scopes("user.info.stats")])
async def stats(request: Request[TikTokUser, Any, Any]) -> dict[str, int | None]:
    return {"followers": request.user.follower_count}


@get("/token")
async def token() -> None:
    raise LoginRequired()  # as get_access_token does when TikTok refuses a refresh


@get("/links")
async def links(request: Request[Any, Any, Any]) -> list[str]:
    names = ("tiktok_login", "tiktok_callback", "tiktok_logout", "tiktok_disconnect")
    return [request.url_for(n) for n in names]


@get("/context")
async def context(request: Request[Any, Any, Any]) -> dict[str, Any]:
    user = tiktok_context(request.scope).user  # type: ignore[arg-type]
    return {"open_id": user.open_id if user else None}


@websocket("/live")
async def live(socket: WebSocket[Any, Any, Any]) -> None:
    await socket.accept()
    await socket.send_json({"type": type(socket.user).__name__, "name": socket.user.display_name})
    await socket.close()


@websocket("/private", guards=[login_required])
async def private(socket: WebSocket[TikTokUser, Any, Any]) -> None:
    await socket.accept()
    await socket.send_json({"open_id": socket.user.open_id})
    await socket.close()


@pytest.fixture
def client(tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings) -> TestClient:
    plugin = TikTokPlugin(settings=tiktok_settings, transport=tiktok_emulator.transport())
    app = Litestar([who, me, stats, token, links, context, live, private], plugins=[plugin])
    return TestClient(app, base_url=BASE_URL)


def test_plugin_signs_in_and_request_user_is_the_tiktok_user(
    client: TestClient, tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    assert client.get("/who").json() == {
        "type": "UnauthenticatedUser",
        "authenticated": False,
        "auth": [],
    }
    maya = tiktok_emulator.user("mayacooks")
    assert sign_in(client, tiktok_settings, tiktok_emulator, user=maya, next="/me") == "/me"
    assert client.get("/who").json() == {
        "type": "TikTokUser",
        "authenticated": True,
        "auth": ["authenticated", *tiktok_settings.scopes],
    }
    assert client.get("/me").json() == {"open_id": maya.open_id}
    assert client.get("/context").json() == {"open_id": maya.open_id}
    with client.websocket_connect("/live", headers=ws_headers(client, tiktok_settings)) as ws:
        assert ws.receive_json() == {"type": "TikTokUser", "name": maya.display_name}
    with client.websocket_connect("/private", headers=ws_headers(client, tiktok_settings)) as ws:
        assert ws.receive_json() == {"open_id": maya.open_id}

    out = client.post(tiktok_settings.logout_path, follow_redirects=False)
    assert out.status_code == 303
    assert client.get("/who").json()["type"] == "UnauthenticatedUser"


def test_guards_send_browsers_to_login_and_answer_api_clients_401(client: TestClient) -> None:
    for path in ("/me", "/stats", "/token"):
        page = client.get(f"{path}?x=1", headers=BROWSER, follow_redirects=False)
        assert page.status_code == 302
        assert page.headers["location"] == f"/auth/tiktok/login?next=%2F{path[1:]}%3Fx%3D1"
        assert page.headers["cache-control"] == "no-store"
        api = client.get(path, headers=API)
        assert api.status_code == 401
        assert api.json()["error"] == "login_required"


def test_missing_scope_is_403(
    client: TestClient, tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    sign_in(client, tiktok_settings, tiktok_emulator, scopes=["user.info.basic"])
    refused = client.get("/stats", headers=BROWSER)
    assert refused.status_code == 403
    assert refused.json()["error"] == "insufficient_scope"
    assert "user.info.stats" in refused.json()["error_description"]


def test_guarded_websocket_is_closed_with_1008(client: TestClient) -> None:
    with pytest.raises(WebSocketDisconnect) as closed, client.websocket_connect("/private") as ws:
        ws.receive_json()
    assert closed.value.code == 1008


def test_paths_have_names_and_unknown_paths_stay_404(
    client: TestClient, tiktok_settings: TikTokSettings
) -> None:
    assert client.get("/links").json() == [
        BASE_URL + tiktok_settings.login_path,
        BASE_URL + tiktok_settings.callback_path,
        BASE_URL + tiktok_settings.logout_path,
        BASE_URL + "/auth/tiktok/disconnect",
    ]
    assert client.get("/nowhere").status_code == 404
    # The login path is the middleware's: a wrong method gets its 405, not Litestar's.
    wrong = client.post(tiktok_settings.login_path, headers=API)
    assert (wrong.status_code, wrong.headers["allow"]) == (405, "GET")
    with (
        pytest.raises(WebSocketDisconnect),
        client.websocket_connect(tiktok_settings.login_path) as ws,
    ):
        ws.receive_json()


def test_the_disconnect_path_reaches_the_middleware(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    plugin = TikTokPlugin(
        settings=tiktok_settings,
        transport=tiktok_emulator.transport(),
        token_store=MemoryTokenStore(),
    )
    client = TestClient(Litestar([who], plugins=[plugin]), base_url=BASE_URL)
    sign_in(client, tiktok_settings, tiktok_emulator)
    page = client.get("/auth/tiktok/disconnect", headers=BROWSER)
    assert "Disconnect TikTok?" in page.text
    out = client.post("/auth/tiktok/disconnect", follow_redirects=False)
    assert out.status_code == 303
    assert client.get("/who").json()["type"] == "UnauthenticatedUser"
    assert not tiktok_emulator.is_connected("mayacooks")


def test_plugin_takes_the_middleware_arguments_and_checks_them() -> None:
    with pytest.raises(TypeError, match="TikTokSettings"):
        TikTokPlugin(settings="TIKTOK_CLIENT_KEY")
    with pytest.raises(TypeError, match="unexpected keyword"):
        TikTokPlugin(settings=None, on_logn=None)


def test_connection_pool_closes_at_shutdown(tiktok_settings: TikTokSettings) -> None:
    """Litestar keeps lifespan events from route middleware: the plugin closes the pool itself."""
    plugin = TikTokPlugin(settings=tiktok_settings)
    pool = plugin.middleware._transport
    with TestClient(Litestar([who], plugins=[plugin]), base_url=BASE_URL) as client:
        assert client.get("/who").status_code == 200
        pool.get()  # what the first call to TikTok does
        assert pool._own is not None
    assert pool._own is None
