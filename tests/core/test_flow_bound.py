"""Pending logins are bounded per browser: every login started and never finished used to add a
flow cookie to the browser's requests (all of them, with a ``__Host-`` name) until the ``Cookie``
header outgrew what servers accept, and the site answered 400 to that browser."""

from __future__ import annotations

import secrets

import pytest
from starlette.testclient import TestClient

from tests.conftest import BASE_URL, make_app, start_login
from tests.core.helpers import new_users
from tiktok_asgi import TikTokSettings
from tiktok_asgi._cookies.flow import MAX_PENDING_LOGINS
from tiktok_asgi.emulator import TikTokEmulator

STARTS = 200


def _flow_cookies(client: TestClient, settings: TikTokSettings) -> list[str]:
    return [
        c.name for c in client.cookies.jar if c.name.startswith(f"{settings.cookie_name}_flow_")
    ]


@pytest.mark.parametrize(
    ("redirect_uri", "cookie_name"),
    [
        ("https://testserver/auth/tiktok/callback", "tiktok_session"),  # __Host-, at Path=/
        ("https://testserver/auth/tiktok/callback", "app_session"),  # below /auth/tiktok
        ("http://127.0.0.1:8000/auth/tiktok/callback", "tiktok_session"),  # plain http
    ],
)
def test_many_login_starts_keep_only_the_newest_few_and_they_all_finish(
    tiktok_emulator: TikTokEmulator, redirect_uri: str, cookie_name: str
) -> None:
    tiktok_emulator.register_redirect_uri(redirect_uri)
    settings = tiktok_emulator.settings(redirect_uri=redirect_uri, cookie_name=cookie_name)
    base_url = redirect_uri.removesuffix(settings.callback_path)
    client = TestClient(make_app(settings, tiktok_emulator.transport()), base_url=base_url)
    users = new_users(tiktok_emulator, MAX_PENDING_LOGINS, "tab")
    started = [start_login(client, settings, next=f"/tab/{i}") for i in range(STARTS)]
    assert len(_flow_cookies(client, settings)) == MAX_PENDING_LOGINS
    # The Cookie header of every request stays small.
    assert len(client.build_request("GET", "/me").headers.get("cookie", "")) < 4096
    assert client.get("/me").status_code == 200

    newest = list(range(STARTS - MAX_PENDING_LOGINS, STARTS))
    # An older one was dropped: its answer matches nothing in this browser.
    dropped = client.get(tiktok_emulator.approve(started[newest[0] - 1]), follow_redirects=False)
    assert dropped.status_code == 400
    assert "state_mismatch" in dropped.text
    # The newest ones finish, in any order, each as its own user.
    for user, i in zip(users, reversed(newest), strict=True):
        callback = tiktok_emulator.approve(started[i], user=user)
        answer = client.get(callback, follow_redirects=False)
        assert answer.status_code == 302, answer.text
        assert answer.headers["location"] == f"/tab/{i}"
        assert client.get("/me", headers={"accept": "application/json"}).json()["identity"] == (
            user.open_id
        )
    assert _flow_cookies(client, settings) == []


def test_long_next_targets_are_bounded_in_bytes_too(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    client = TestClient(make_app(tiktok_settings, tiktok_emulator.transport()), base_url=BASE_URL)
    long_next = "/" + secrets.token_hex(950)  # random: the signer compresses repetitions
    started = [start_login(client, tiktok_settings, next=long_next) for _ in range(30)]
    assert 1 <= len(_flow_cookies(client, tiktok_settings)) < MAX_PENDING_LOGINS
    assert len(client.build_request("GET", "/me").headers["cookie"]) < 8192
    answer = client.get(tiktok_emulator.approve(started[-1]), follow_redirects=False)
    assert answer.status_code == 302
    assert answer.headers["location"] == long_next


def test_flow_cookies_that_cannot_finish_are_cleared_by_the_next_login(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    client = TestClient(make_app(tiktok_settings, tiktok_emulator.transport()), base_url=BASE_URL)
    junk = f"{tiktok_settings.cookie_name}_flow_0123456789abcdef"
    client.cookies.set(junk, "altered.value", domain="testserver.local", path="/")
    login = client.get(tiktok_settings.login_path, follow_redirects=False)
    cleared = [h for h in login.headers.get_list("set-cookie") if h.startswith(f"{junk}=;")]
    assert len(cleared) == 1
    assert "Max-Age=0" in cleared[0]
