"""The real middleware (and its Authlib client) against the emulator, for each app type."""

from __future__ import annotations

import random

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from tiktok_asgi import TikTokAuthMiddleware, TikTokSettings
from tiktok_asgi.emulator import EmulatorRejected, TikTokEmulator


async def _home(request: Request) -> JSONResponse:
    user = request.user
    name = user.display_name if user.is_authenticated else None
    return JSONResponse({"signed_in": user.is_authenticated, "name": name})


def _client(emu: TikTokEmulator, settings: TikTokSettings, base_url: str) -> TestClient:
    app = TikTokAuthMiddleware(
        Starlette(routes=[Route("/", _home)]), settings=settings, transport=emu.transport()
    )
    return TestClient(app, base_url=base_url, follow_redirects=False)


def _authorize_url(client: TestClient, settings: TikTokSettings) -> str:
    response = client.get(settings.login_path)
    assert response.status_code == 302, response.text
    return str(response.headers["location"])


@pytest.fixture
def loopback_port() -> int:
    return random.randint(20_000, 60_000)


def test_web_app_signs_in_with_base64url_pkce() -> None:
    emu = TikTokEmulator()
    settings = emu.settings()
    with _client(emu, settings, "https://testserver") as client:
        url = _authorize_url(client, settings)
        assert "code_challenge=" in url
        callback = client.get(emu.approve(url, user="leo.skates"))
        assert callback.status_code == 302, callback.text
        assert client.get("/").json() == {"signed_in": True, "name": "Leo Martins"}
    (token,) = [r for r in emu.requests if r.endpoint == "token"]
    assert token.form["code_verifier"]


def test_desktop_app_signs_in_on_a_loopback_port(loopback_port: int) -> None:
    registered = "http://127.0.0.1/auth/tiktok/callback"
    emu = TikTokEmulator(app_type="desktop", redirect_uris=[registered])
    base = f"http://127.0.0.1:{loopback_port}"
    settings = emu.settings(f"{base}/auth/tiktok/callback")
    assert settings.pkce == "hex"
    assert emu.redirect_uris == (registered,)
    with _client(emu, settings, base) as client:
        url = _authorize_url(client, settings)
        callback = client.get(emu.approve(url, user="mayacooks"))
        assert callback.status_code == 302, callback.text
        assert client.get("/").json() == {"signed_in": True, "name": "Maya Chen"}


def test_desktop_app_sending_base64url_is_refused_at_the_token_exchange(
    loopback_port: int,
) -> None:
    emu = TikTokEmulator(app_type="desktop", redirect_uris=["http://127.0.0.1:*/cb"])
    base = f"http://127.0.0.1:{loopback_port}"
    settings = emu.settings(f"{base}/cb", pkce="base64url")
    with _client(emu, settings, base) as client:
        url = _authorize_url(client, settings)
        client.get(emu.approve(url))
        assert client.get("/").json()["signed_in"] is False
    assert emu.count("token") == 1
    assert emu.count("userinfo") == 0


def test_web_app_without_pkce_cannot_start_a_login() -> None:
    emu = TikTokEmulator()
    settings = emu.settings(pkce=None)
    with _client(emu, settings, "https://testserver") as client:
        url = _authorize_url(client, settings)
        assert "code_challenge" not in url
    with pytest.raises(EmulatorRejected, match="code_challenge") as caught:
        emu.approve(url)
    assert caught.value.field == "code_challenge"


def test_sandbox_app_signs_in_its_target_user_only() -> None:
    emu = TikTokEmulator(sandbox=True, target_users=["amara_dances"])
    settings = emu.settings()
    with _client(emu, settings, "https://testserver") as client:
        refused_url = _authorize_url(client, settings)
        with pytest.raises(EmulatorRejected, match="non_sandbox_target"):
            emu.approve(refused_url, user="mayacooks")
        url = _authorize_url(client, settings)
        assert client.get(emu.approve(url, user="amara_dances")).status_code == 302
        assert client.get("/").json()["name"] == "Amara Okafor"


def test_app_without_display_api_signs_in_with_basic_info() -> None:
    emu = TikTokEmulator(products=["login_kit"])
    settings = emu.settings()
    assert tuple(settings.scopes) == ("user.info.basic",)
    with _client(emu, settings, "https://testserver") as client:
        url = _authorize_url(client, settings)
        assert client.get(emu.approve(url)).status_code == 302
        assert client.get("/").json()["signed_in"] is True
    # Asking for a Display API scope anyway is TikTok's bare scope error.
    wider = emu.settings(scopes=["user.info.basic", "user.info.profile"])
    with (
        _client(emu, wider, "https://testserver") as client,
        pytest.raises(EmulatorRejected, match="Display API"),
    ):
        emu.approve(_authorize_url(client, wider))
