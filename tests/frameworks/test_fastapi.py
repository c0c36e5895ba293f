"""tiktok_asgi.fastapi: CurrentUser, OptionalUser, require_scopes over HTTP and WebSocket, the
error shape, and the OpenAPI schema."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from fastapi import Depends, FastAPI, WebSocket
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from tests.conftest import BASE_URL, make_app, sign_in
from tests.frameworks.helpers import ws_headers
from tests.support.calls import get_access_token
from tiktok_asgi import (
    TikTokAPIError,
    TikTokAuthError,
    TikTokAuthMiddleware,
    TikTokSettings,
    TikTokUser,
)
from tiktok_asgi.emulator import TikTokEmulator
from tiktok_asgi.fastapi import (
    CurrentUser,
    OptionalUser,
    TikTokHTTPException,
    install,
    require_scopes,
)

BASIC = ["user.info.basic"]
LOGIN_REQUIRED = {
    "error": "login_required",
    "error_description": "Sign in with TikTok first.",
    "log_id": None,
}


def make_api(
    settings: TikTokSettings, emulator: TikTokEmulator, *, installed: bool = True
) -> FastAPI:
    api = FastAPI()
    api.add_middleware(TikTokAuthMiddleware, settings=settings, transport=emulator.transport())
    if installed:
        install(api, settings=settings)

    @api.get("/public")
    async def public() -> dict[str, str]:
        return {"page": "public"}

    @api.get("/me")
    async def me(user: CurrentUser) -> dict[str, Any]:
        return {"open_id": user.open_id, "scopes": list(user.granted_scopes)}

    @api.get("/maybe")
    async def maybe(user: OptionalUser) -> dict[str, str | None]:
        return {"open_id": user.open_id if user else None}

    @api.get("/stats")
    async def stats(
        user: Annotated[TikTokUser, Depends(require_scopes("user.info.stats"))],
    ) -> dict[str, int | None]:
        return {"followers": user.follower_count}

    @api.post("/videos", dependencies=[Depends(require_scopes("user.info.stats", "video.list"))])
    async def videos() -> dict[str, bool]:
        return {"ok": True}

    @api.get("/fails")
    async def fails(user: CurrentUser) -> None:
        raise TikTokAPIError("rate_limit_exceeded", "Too many requests.", log_id="20250101ABC")

    @api.websocket("/ws")
    async def ws(websocket: WebSocket, user: CurrentUser) -> None:
        await websocket.accept()
        await websocket.send_json({"open_id": user.open_id})
        await websocket.close()

    @api.websocket("/ws/stats")
    async def ws_stats(
        websocket: WebSocket,
        user: Annotated[TikTokUser, Depends(require_scopes("user.info.stats"))],
    ) -> None:
        await websocket.accept()
        await websocket.send_json({"followers": user.follower_count})
        await websocket.close()

    @api.websocket("/ws/token")
    async def ws_token(websocket: WebSocket) -> None:
        token = await get_access_token(websocket)  # anonymous: LoginRequired, before accepting
        await websocket.accept()  # pragma: no cover - anonymous only
        await websocket.send_json({"token": bool(token)})  # pragma: no cover

    return api


def test_anonymous_gets_the_middlewares_401_byte_for_byte(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    client = TestClient(make_api(tiktok_settings, tiktok_emulator), base_url=BASE_URL)
    response = client.get("/me", headers={"accept": "application/json"})
    assert response.status_code == 401
    assert response.json() == LOGIN_REQUIRED
    assert response.headers["cache-control"] == "no-store"

    guarded = make_app(tiktok_settings.replace(protected_paths=("/me",)))
    reference = TestClient(guarded, base_url=BASE_URL).get("/me")
    assert reference.status_code == 401
    assert response.content == reference.content
    assert response.headers["content-type"] == reference.headers["content-type"]


def test_optional_user_and_public_routes(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    client = TestClient(make_api(tiktok_settings, tiktok_emulator), base_url=BASE_URL)
    assert client.get("/maybe").json() == {"open_id": None}
    assert client.get("/public").json() == {"page": "public"}
    person = tiktok_emulator.user("leo.skates")
    sign_in(client, tiktok_settings, tiktok_emulator, user=person)
    assert client.get("/maybe").json() == {"open_id": person.open_id}


def test_signed_in_user_and_scopes(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    person = tiktok_emulator.user("amara_dances")
    client = TestClient(make_api(tiktok_settings, tiktok_emulator), base_url=BASE_URL)
    sign_in(client, tiktok_settings, tiktok_emulator, user=person, scopes=BASIC)
    assert client.get("/me").json() == {"open_id": person.open_id, "scopes": BASIC}

    refused = client.get("/stats")
    assert refused.status_code == 403
    body = refused.json()
    assert body["error"] == "insufficient_scope"
    assert "user.info.stats" in body["error_description"]
    assert body["log_id"] is None
    both = client.post("/videos").json()["error_description"]
    assert "user.info.stats, video.list" in both

    sign_in(client, tiktok_settings, tiktok_emulator, user=person)  # every scope this time
    assert client.get("/stats").json() == {"followers": person.follower_count}
    assert client.post("/videos").json() == {"ok": True}


def test_partial_grant_names_only_the_missing_scope(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    client = TestClient(make_api(tiktok_settings, tiktok_emulator), base_url=BASE_URL)
    sign_in(client, tiktok_settings, tiktok_emulator, scopes=[*BASIC, "user.info.stats"])
    description = client.post("/videos").json()["error_description"]
    assert "video.list" in description
    assert "user.info.stats" not in description


def test_tiktok_errors_raised_by_routes_keep_their_shape(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    client = TestClient(make_api(tiktok_settings, tiktok_emulator), base_url=BASE_URL)
    sign_in(client, tiktok_settings, tiktok_emulator)
    response = client.get("/fails")
    assert response.status_code == 502
    assert response.json() == {
        "error": "rate_limit_exceeded",
        "error_description": "Too many requests.",
        "log_id": "20250101ABC",
    }


def test_without_install_fastapi_nests_the_same_object_under_detail(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    api = make_api(tiktok_settings, tiktok_emulator, installed=False)
    client = TestClient(api, base_url=BASE_URL)
    response = client.get("/me")
    assert response.status_code == 401
    assert response.json() == {"detail": LOGIN_REQUIRED}
    schema = api.openapi()
    assert "401" not in schema["paths"]["/me"]["get"]["responses"]


def test_websocket_routes(tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings) -> None:
    client = TestClient(make_api(tiktok_settings, tiktok_emulator), base_url=BASE_URL)
    # Accepted, then closed: closed during the handshake, a server would answer HTTP 403, which
    # browsers report as 1006.
    with client.websocket_connect("/ws") as ws, pytest.raises(WebSocketDisconnect) as anonymous:
        ws.receive_json()
    assert (anonymous.value.code, anonymous.value.reason) == (1008, "login_required")

    person = tiktok_emulator.user("jonasbuilds")
    sign_in(client, tiktok_settings, tiktok_emulator, user=person, scopes=BASIC)
    with client.websocket_connect("/ws", headers=ws_headers(client, tiktok_settings)) as ws:
        assert ws.receive_json() == {"open_id": person.open_id}
    with (
        client.websocket_connect("/ws/stats", headers=ws_headers(client, tiktok_settings)) as ws,
        pytest.raises(WebSocketDisconnect) as scoped,
    ):
        ws.receive_json()
    assert (scoped.value.code, scoped.value.reason) == (1008, "insufficient_scope")

    sign_in(client, tiktok_settings, tiktok_emulator, user=person)
    with client.websocket_connect("/ws/stats", headers=ws_headers(client, tiktok_settings)) as ws:
        assert ws.receive_json() == {"followers": person.follower_count}


def test_without_install_a_refused_websocket_is_closed_after_the_handshake_too(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    api = make_api(tiktok_settings, tiktok_emulator, installed=False)
    client = TestClient(api, base_url=BASE_URL)
    with client.websocket_connect("/ws") as ws, pytest.raises(WebSocketDisconnect) as closed:
        ws.receive_json()
    assert (closed.value.code, closed.value.reason) == (1008, "login_required")


def test_auth_error_in_a_websocket_route_is_closed_after_the_handshake(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    client = TestClient(make_api(tiktok_settings, tiktok_emulator), base_url=BASE_URL)
    with client.websocket_connect("/ws/token") as ws, pytest.raises(WebSocketDisconnect) as closed:
        ws.receive_json()
    assert (closed.value.code, closed.value.reason) == (1008, "login_required")


def test_openapi_documents_refusals_and_the_cookie(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    settings = tiktok_settings.replace(cookie_name="sid")
    api = make_api(settings, tiktok_emulator)
    install(api, settings=settings)  # twice: harmless
    served = TestClient(api, base_url=BASE_URL).get("/openapi.json").json()
    assert served == api.openapi()
    paths = served["paths"]

    me = paths["/me"]["get"]
    assert me["security"] == [{"TikTokSession": []}]
    assert me["responses"]["401"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/TikTokError"
    }
    assert "403" not in me["responses"]
    assert set(paths["/stats"]["get"]["responses"]) == {"200", "401", "403"}
    assert "user.info.stats" in paths["/stats"]["get"]["responses"]["403"]["description"]
    videos = paths["/videos"]["post"]["responses"]["403"]["description"]
    assert "user.info.stats, video.list" in videos
    assert paths["/maybe"]["get"]["security"] == [{}, {"TikTokSession": []}]
    assert "401" not in paths["/maybe"]["get"]["responses"]
    assert "security" not in paths["/public"]["get"]
    assert "401" not in paths["/public"]["get"]["responses"]

    components = served["components"]
    assert components["securitySchemes"]["TikTokSession"] == {
        "type": "apiKey",
        "in": "cookie",
        "name": "sid",
        "description": "The signed identity cookie set by Sign in with TikTok "
        "(GET /auth/tiktok/login).",
    }
    assert components["schemas"]["TikTokError"]["required"] == [
        "error",
        "error_description",
        "log_id",
    ]


def test_http_exception_carries_the_error() -> None:
    error = TikTokAuthError("login_required", "x", status_code=401)
    exc = TikTokHTTPException(error)
    assert (exc.status_code, exc.detail, exc.error) == (401, error.as_dict(), error)


@pytest.mark.parametrize("bad", [(), ("user.info.basic,user.info.stats",), ("",), ("a b",)])
def test_require_scopes_wants_separate_scope_names(bad: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="scope"):
        require_scopes(*bad)


def test_without_the_middleware_the_error_names_the_fix() -> None:
    api = FastAPI()

    @api.get("/me")
    async def me(user: CurrentUser) -> str:
        return user.open_id  # pragma: no cover

    with pytest.raises(RuntimeError, match="TikTokAuthMiddleware"):
        TestClient(api).get("/me")
