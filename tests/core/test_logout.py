"""Logout: POST only, from this site's own origin, clears the identity cookie, safe redirect."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from tests.conftest import BASE_URL, make_app, sign_in
from tests.core.helpers import cookie_named, parse_set_cookie
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
    name, value, attributes = cookie_named(response, "__Host-tiktok_session=")
    assert (name, value) == ("__Host-tiktok_session", "")
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


@pytest.mark.parametrize("site", ["same-origin", "none"])
def test_same_origin_logout_is_allowed(
    client: TestClient, tiktok_settings: TikTokSettings, site: str
) -> None:
    response = client.post(
        tiktok_settings.logout_path, headers={"sec-fetch-site": site}, follow_redirects=False
    )
    assert response.status_code == 303
    assert client.get("/me").json()["authenticated"] is False


@pytest.mark.parametrize(
    "headers",
    [
        {"sec-fetch-site": "same-site"},  # a sibling subdomain's form
        {"origin": "https://evil.example"},
        {"origin": "https://testserver:8443"},  # another port of this host
        {"origin": "https://sub.testserver"},
        {"origin": "null"},
        {"origin": "https://testserver", "sec-fetch-site": "same-site"},
    ],
)
def test_logout_from_another_origin_is_403_and_keeps_the_session(
    client: TestClient, tiktok_settings: TikTokSettings, headers: dict[str, str]
) -> None:
    response = client.post(
        tiktok_settings.logout_path,
        headers={**headers, "accept": "application/json"},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert response.json()["error"] == "csrf_rejected"
    assert not response.headers.get_list("set-cookie")
    assert client.get("/me").json()["authenticated"] is True


@pytest.mark.parametrize("origin", ["https://testserver", "HTTPS://TESTSERVER"])
def test_logout_from_the_sites_own_origin_is_allowed(
    client: TestClient, tiktok_settings: TikTokSettings, origin: str
) -> None:
    response = client.post(
        tiktok_settings.logout_path,
        headers={"origin": origin, "sec-fetch-site": "same-origin"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert client.get("/me").json()["authenticated"] is False


def test_logout_also_clears_copies_on_parent_domains(
    tiktok_emulator: TikTokEmulator,
) -> None:
    # Without the __Host- prefix a sibling subdomain can set the name on the parent domain.
    settings = tiktok_emulator.settings(
        "https://app.shop.example/auth/tiktok/callback", cookie_name="shop_session"
    )
    client = TestClient(make_app(settings), base_url="https://app.shop.example")
    response = client.post(settings.logout_path, follow_redirects=False)
    assert response.status_code == 303
    cleared = {
        tuple(a for a in parse_set_cookie(h)[2] if a.startswith(("Domain=", "Path=")))
        for h in response.headers.get_list("set-cookie")
        if h.startswith("shop_session=;")
    }
    assert cleared == {("Path=/",), ("Path=/", "Domain=shop.example")}


def test_logout_when_anonymous_still_redirects(tiktok_settings: TikTokSettings) -> None:
    client = TestClient(make_app(tiktok_settings), base_url=BASE_URL)
    response = client.post(tiktok_settings.logout_path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/bye"
