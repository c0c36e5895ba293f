"""The emulator mounted inside a Starlette app, driven through Starlette's TestClient."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route
from starlette.testclient import TestClient
from tests.emulator.helpers import REDIRECT, VERIFIER, authorize_url, callback_params

from tiktok_asgi.emulator import TEST_SECRET_KEY, TikTokEmulator

BASE = "https://testserver/tiktok"


@pytest.fixture
def emu() -> TikTokEmulator:
    return TikTokEmulator()


@pytest.fixture
def client(emu: TikTokEmulator) -> Iterator[TestClient]:
    async def home(request: object) -> PlainTextResponse:
        return PlainTextResponse("host app")

    app = Starlette(routes=[Route("/", home), Mount("/tiktok", app=emu)])
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as test_client:
        yield test_client


def test_login_round_trip_under_a_mount(emu: TikTokEmulator, client: TestClient) -> None:
    url = authorize_url(emu, base=f"{BASE}/v2/auth/authorize/")
    page = client.get(url)
    assert page.status_code == 200
    assert 'action="/tiktok/v2/auth/authorize/"' in page.text
    assert 'src="https://testserver/tiktok/avatars/' in page.text

    form = list(callback_params(url).items())
    form += [("user", emu.users[1].open_id), ("granted", "user.info.basic")]
    form.append(("action", "authorize"))
    consent = client.post(
        "/tiktok/v2/auth/authorize/",
        content=urlencode(form),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert consent.status_code == 302
    params = callback_params(consent.headers["location"])
    assert params["scopes"] == "user.info.basic"

    token = client.post(
        "/tiktok/v2/oauth/token/",
        data={
            "client_key": emu.client_key,
            "client_secret": emu.client_secret,
            "code": params["code"],
            "grant_type": "authorization_code",
            "redirect_uri": REDIRECT,
            "code_verifier": VERIFIER,
        },
    ).json()
    assert token["open_id"] == emu.users[1].open_id

    info = client.get(
        "/tiktok/v2/user/info/",
        params={"fields": "open_id,avatar_url"},
        headers={"Authorization": f"Bearer {token['access_token']}"},
    ).json()
    avatar_url = info["data"]["user"]["avatar_url"]
    assert avatar_url.startswith(f"{BASE}/avatars/{emu.users[1].open_id}.svg")
    avatar = client.get(avatar_url)
    assert avatar.status_code == 200
    assert avatar.headers["content-type"].startswith("image/svg+xml")
    assert client.get("/").text == "host app"


def test_no_slash_redirects_under_a_mount(client: TestClient) -> None:
    assert client.post("/tiktok/v2/oauth/token", data={}).status_code == 404


def test_index_lists_endpoints_with_the_mount_prefix(client: TestClient) -> None:
    page = client.get("/tiktok/").text
    assert f"{BASE}/v2/oauth/token/" in page
    assert "emulator-client-key" in page


def test_settings_point_at_the_mount(emu: TikTokEmulator) -> None:
    settings = emu.settings(base_url=BASE + "/")
    assert settings.authorize_url == f"{BASE}/v2/auth/authorize/"
    assert settings.token_url == f"{BASE}/v2/oauth/token/"
    assert settings.userinfo_url == f"{BASE}/v2/user/info/"
    assert settings.revoke_url == f"{BASE}/v2/oauth/revoke/"
    assert settings.client_key == emu.client_key
    assert settings.client_secret == emu.client_secret
    assert settings.redirect_uri == REDIRECT
    assert tuple(settings.scopes) == emu.approved_scopes
    assert settings.pkce == "base64url"


def test_settings_keep_real_urls_and_register_new_redirect(emu: TikTokEmulator) -> None:
    uri = "https://app.example/login/done"
    settings = emu.settings(uri, scopes=["user.info.basic"])
    assert settings.authorize_url == "https://www.tiktok.com/v2/auth/authorize/"
    assert settings.token_url == "https://open.tiktokapis.com/v2/oauth/token/"
    assert settings.callback_path == "/login/done"
    assert tuple(settings.scopes) == ("user.info.basic",)
    assert uri in emu.redirect_uris
    # Not the published test key on a host others can reach: a fresh random one.
    assert settings.secret_keys[0] != TEST_SECRET_KEY
    assert len(settings.secret_keys[0]) >= 48
    assert emu.settings(uri).secret_keys != settings.secret_keys
