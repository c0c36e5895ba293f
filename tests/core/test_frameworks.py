"""End-to-end sign-in under Starlette, FastAPI and Quart; WebSockets see the user too."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi import Request as FastAPIRequest
from quart import Quart
from quart import request as quart_request
from starlette.authentication import requires
from starlette.middleware import Middleware
from starlette.testclient import TestClient

from tests.conftest import BASE_URL, describe, make_app, make_starlette, signed_in_client
from tiktok_asgi import TikTokAuthMiddleware, TikTokSettings, TikTokUser
from tiktok_asgi._tiktok.http import ASGITransport, AsyncClient
from tiktok_asgi.emulator import TikTokEmulator


def test_starlette_wrapped_directly(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    person = tiktok_emulator.user("amara_dances")
    app = make_app(tiktok_settings, tiktok_emulator.transport())
    client = signed_in_client(app, tiktok_settings, tiktok_emulator, user=person)
    home = client.get("/").json()
    assert home["page"] == "home"
    assert home["identity"] == person.open_id
    assert home["user_class"] == "TikTokUser"


def test_starlette_middleware_list(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    app = make_starlette(
        middleware=[
            Middleware(
                TikTokAuthMiddleware,
                settings=tiktok_settings,
                transport=tiktok_emulator.transport(),
            )
        ]
    )
    person = tiktok_emulator.user("jonasbuilds")
    client = signed_in_client(app, tiktok_settings, tiktok_emulator, user=person)
    assert client.get("/me").json()["identity"] == person.open_id


def test_fastapi(tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings) -> None:
    api = FastAPI()
    api.add_middleware(
        TikTokAuthMiddleware, settings=tiktok_settings, transport=tiktok_emulator.transport()
    )

    @api.get("/me")
    async def me(request: FastAPIRequest) -> dict[str, Any]:
        return describe(request)

    @api.get("/private")
    @requires("authenticated")
    async def private(request: FastAPIRequest) -> dict[str, str]:
        user = request.user
        assert isinstance(user, TikTokUser)
        return {"username": user.username or ""}

    anonymous = TestClient(api, base_url=BASE_URL)
    assert anonymous.get("/me").json()["authenticated"] is False
    assert anonymous.get("/private").status_code == 403

    person = tiktok_emulator.user("priya.reads")
    client = signed_in_client(api, tiktok_settings, tiktok_emulator, user=person)
    seen = client.get("/me").json()
    assert seen["identity"] == person.open_id
    assert seen["scopes"][0] == "authenticated"
    assert client.get("/private").json() == {"username": "priya.reads"}


async def test_quart(tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings) -> None:
    quart_app = Quart(__name__)

    @quart_app.get("/me")
    async def me() -> dict[str, Any]:
        user = quart_request.scope["user"]
        return {
            "authenticated": user.is_authenticated,
            "identity": user.identity if user.is_authenticated else None,
            "scopes": list(quart_request.scope["auth"].scopes),
        }

    quart_app.asgi_app = TikTokAuthMiddleware(  # type: ignore[method-assign]
        quart_app.asgi_app, settings=tiktok_settings, transport=tiktok_emulator.transport()
    )
    person = tiktok_emulator.user("leo.skates")
    # Driven over ASGI exactly as a server drives it.
    async with AsyncClient(transport=ASGITransport(app=quart_app), base_url=BASE_URL) as browser:
        assert (await browser.get("/me")).json()["authenticated"] is False
        login = await browser.get(tiktok_settings.login_path, params={"next": "/me"})
        assert login.status_code == 302
        callback = tiktok_emulator.approve(login.headers["location"], user=person)
        done = await browser.get(callback)
        assert done.status_code == 302, done.text
        assert done.headers["location"] == "/me"
        me = (await browser.get("/me")).json()
    assert me["authenticated"] is True
    assert me["identity"] == person.open_id
    assert me["scopes"] == ["authenticated", *tiktok_settings.scopes]


async def test_quart_test_client_goes_through_asgi_app(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    """Quart's own test client calls ``asgi_app`` too, so it sees the wrapped middleware."""
    quart_app = Quart(__name__)

    @quart_app.get("/who")
    async def who() -> dict[str, bool]:
        return {"has_user": "user" in quart_request.scope}

    quart_app.asgi_app = TikTokAuthMiddleware(  # type: ignore[method-assign]
        quart_app.asgi_app, settings=tiktok_settings, transport=tiktok_emulator.transport()
    )
    response = await quart_app.test_client().get("/who")
    direct = await response.get_json()
    async with AsyncClient(transport=ASGITransport(app=quart_app), base_url=BASE_URL) as browser:
        served = (await browser.get("/who")).json()
    assert served == {"has_user": True}
    assert direct == {"has_user": True}


def test_websocket_sees_the_user(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    app = make_app(tiktok_settings, tiktok_emulator.transport())
    person = tiktok_emulator.user("mayacooks")
    client = signed_in_client(app, tiktok_settings, tiktok_emulator, user=person)
    cookie = client.cookies["__Host-tiktok_session"]
    with client.websocket_connect(
        "/ws", headers={"cookie": f"__Host-tiktok_session={cookie}"}
    ) as ws:
        seen = ws.receive_json()
    assert seen["authenticated"] is True
    assert seen["identity"] == person.open_id
    assert seen["user_class"] == "TikTokUser"
    assert seen["scopes"] == ["authenticated", *tiktok_settings.scopes]

    with TestClient(app, base_url=BASE_URL).websocket_connect("/ws") as ws:
        anonymous = ws.receive_json()
    assert anonymous["authenticated"] is False
    assert anonymous["user_class"] == "UnauthenticatedUser"
    assert anonymous["scopes"] == []
