"""Logout: POST only, same-site only, clears the identity cookie, safe redirect."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from tests.conftest import BASE_URL, make_app, sign_in
from tests.core.helpers import cookie_named
from tiktok_asgi import TikTokSettings
from tiktok_asgi.emulator import TikTokEmulator


@pytest.fixture
def tiktok_settings(tiktok_emulator: TikTokEmulator) -> TikTokSettings:
    return tiktok_emulator.settings(login_redirect="/bye")


@pytest.fixture
def client(
    client: TestClient, tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> TestClient:
    """The shared browser, signed in."""
    sign_in(client, tiktok_settings, tiktok_emulator)
    assert client.get("/me").json()["authenticated"] is True
    return client


def test_post_logout_clears_identity_and_redirects(
    client: TestClient, tiktok_settings: TikTokSettings
) -> None:
    response = client.post(tiktok_settings.logout_path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/bye"
    assert response.headers["cache-control"] == "no-store"
    name, value, attributes = cookie_named(response, "tiktok_session=")
    assert (name, value) == ("tiktok_session", "")
    assert attributes == [
        "Path=/",
        "Max-Age=0",
        "Expires=Thu, 01 Jan 1970 00:00:00 GMT",
        "HttpOnly",
        "Secure",
        "SameSite=Lax",
    ]
    assert "tiktok_session" not in client.cookies
    assert client.get("/me").json()["authenticated"] is False


def test_post_logout_to_safe_next(client: TestClient, tiktok_settings: TikTokSettings) -> None:
    response = client.post(
        tiktok_settings.logout_path, params={"next": "/see-you?soon=1"}, follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/see-you?soon=1"


def test_post_logout_to_unsafe_next_goes_to_login_redirect(
    client: TestClient, tiktok_settings: TikTokSettings
) -> None:
    response = client.post(
        tiktok_settings.logout_path,
        params={"next": "https://evil.example/"},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/bye"


def test_get_logout_from_an_api_client_is_405_and_keeps_the_session(
    client: TestClient, tiktok_settings: TikTokSettings
) -> None:
    response = client.get(
        tiktok_settings.logout_path, headers={"accept": "application/json"}, follow_redirects=False
    )
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert not response.headers.get_list("set-cookie")
    assert client.get("/me").json()["authenticated"] is True


def test_cross_site_logout_is_403_and_keeps_the_session(
    client: TestClient, tiktok_settings: TikTokSettings
) -> None:
    response = client.post(
        tiktok_settings.logout_path,
        headers={"sec-fetch-site": "cross-site", "accept": "application/json"},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert response.json()["error"] == "csrf_rejected"
    assert not response.headers.get_list("set-cookie")
    assert client.get("/me").json()["authenticated"] is True


@pytest.mark.parametrize("site", ["same-origin", "same-site", "none"])
def test_same_site_logout_is_allowed(
    client: TestClient, tiktok_settings: TikTokSettings, site: str
) -> None:
    response = client.post(
        tiktok_settings.logout_path, headers={"sec-fetch-site": site}, follow_redirects=False
    )
    assert response.status_code == 303
    assert client.get("/me").json()["authenticated"] is False


def test_logout_when_anonymous_still_redirects(tiktok_settings: TikTokSettings) -> None:
    client = TestClient(make_app(tiktok_settings), base_url=BASE_URL)
    response = client.post(tiktok_settings.logout_path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/bye"
