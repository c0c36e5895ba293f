"""SPA mode: GET <login_path> with Accept: application/json answers the authorization URL as
JSON, still sets the flow cookie, and the callback then works."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.testclient import TestClient

from tests.conftest import BASE_URL, make_app
from tests.core.helpers import cookie_named, one
from tiktok_asgi import TikTokSettings
from tiktok_asgi.emulator import TikTokEmulator


def test_spa_login(tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings) -> None:
    client = TestClient(make_app(tiktok_settings, tiktok_emulator.transport()), base_url=BASE_URL)
    response = client.get(
        tiktok_settings.login_path,
        params={"next": "/dashboard"},
        headers={"accept": "application/json"},
        follow_redirects=False,
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert list(body) == ["authorization_url"]
    url = body["authorization_url"]
    assert url.startswith(tiktok_settings.authorize_url + "?")
    assert one(url, "client_key") == tiktok_settings.client_key
    assert one(url, "state")
    _, value, attributes = cookie_named(response, f"{tiktok_settings.cookie_name}_flow_")
    assert value
    assert "HttpOnly" in attributes

    person = tiktok_emulator.user("jonasbuilds")
    callback = client.get(tiktok_emulator.approve(url, user=person), follow_redirects=False)
    assert callback.status_code == 302
    assert callback.headers["location"] == "/dashboard"
    assert client.get("/me").json()["identity"] == person.open_id


def test_spa_login_without_the_flow_cookie_fails(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    app = make_app(tiktok_settings, tiktok_emulator.transport())
    spa = TestClient(app, base_url=BASE_URL)
    url = spa.get(tiktok_settings.login_path, headers={"accept": "application/json"}).json()[
        "authorization_url"
    ]
    callback = tiktok_emulator.approve(url)
    other_browser = TestClient(app, base_url=BASE_URL)
    refused = other_browser.get(callback, headers={"accept": "application/json"})
    assert refused.status_code == 400
    assert refused.json()["error"].startswith("state_")
    assert urlsplit(callback).path == tiktok_settings.callback_path


def test_a_browser_still_gets_the_redirect(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    client = TestClient(make_app(tiktok_settings, tiktok_emulator.transport()), base_url=BASE_URL)
    for accept in ("text/html,application/json;q=0.9", "*/*", None):
        headers = {"accept": accept} if accept else {}
        response = client.get(tiktok_settings.login_path, headers=headers, follow_redirects=False)
        assert response.status_code == 302, accept
