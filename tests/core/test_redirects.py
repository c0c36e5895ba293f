"""Open-redirect safety of ``next``, after login and after logout."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from tests.conftest import BASE_URL, make_app, sign_in
from tiktok_asgi import TikTokSettings
from tiktok_asgi.emulator import TikTokEmulator

HOSTILE = [
    "//evil.com",
    "///evil.com",
    "//evil.com/%2F..",
    "/\\evil.com",
    "/\\/evil.com",
    "\\\\evil.com",
    "\\/evil.com",
    "https://evil.com",
    "http://evil.com/path",
    "HTTPS://EVIL.COM",
    "https:evil.com",
    "http:/\\evil.com",
    "evil.com",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(document.cookie)",
    "data:text/html,<script>alert(1)</script>",
    "/%2F%2Fevil.com",
    "/%2fevil.com",
    "%2F%2Fevil.com",
    "/%5Cevil.com",
    "/%252F%252Fevil.com",
    "/%25252F%25252Fevil.com",
    "/\tevil.com",
    "/\t/evil.com",
    "/%09/evil.com",
    "/\r\nLocation: https://evil.com",
    "/%0d%0aSet-Cookie:%20pwned=1",
    "/\x00evil.com",
    "/／evil.com",  # fullwidth solidus
    "／／evil.com",
    "/∕evil.com",  # division slash
    "/⁄evil.com",  # fraction slash
    "/＼evil.com",  # fullwidth reverse solidus
    " //evil.com",
    "?next=//evil.com",
    "#//evil.com",
    "/" + "a" * 5000,
]

GOOD = [
    "/",
    "/somewhere",
    "/me?tab=videos&page=2",
    "/a/b/c",
    "/search?q=%2F%2Fevil.com",
    "/caf%C3%A9",
    "/path%20with%20spaces",
]


@pytest.fixture
def tiktok_settings(tiktok_emulator: TikTokEmulator) -> TikTokSettings:
    return tiktok_emulator.settings(login_redirect="/landing")


@pytest.mark.parametrize("target", HOSTILE)
def test_hostile_next_after_logout_goes_to_login_redirect(
    tiktok_settings: TikTokSettings, target: str
) -> None:
    client = TestClient(make_app(tiktok_settings), base_url=BASE_URL)
    response = client.post(
        tiktok_settings.logout_path, params={"next": target}, follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/landing"


@pytest.mark.parametrize("target", HOSTILE)
def test_hostile_next_after_login_goes_to_login_redirect(
    tiktok_emulator: TikTokEmulator,
    client: TestClient,
    tiktok_settings: TikTokSettings,
    target: str,
) -> None:
    assert sign_in(client, tiktok_settings, tiktok_emulator, next=target) == "/landing"


@pytest.mark.parametrize("target", GOOD)
def test_good_next_is_preserved(
    tiktok_emulator: TikTokEmulator,
    client: TestClient,
    tiktok_settings: TikTokSettings,
    target: str,
) -> None:
    assert sign_in(client, tiktok_settings, tiktok_emulator, next=target) == target
    response = client.post(
        tiktok_settings.logout_path, params={"next": target}, follow_redirects=False
    )
    assert response.headers["location"] == target


def test_missing_next_goes_to_login_redirect(
    tiktok_emulator: TikTokEmulator, client: TestClient, tiktok_settings: TikTokSettings
) -> None:
    assert sign_in(client, tiktok_settings, tiktok_emulator) == "/landing"
