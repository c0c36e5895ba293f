"""A redirect URI that cannot reach the callback because of a mount or a root path: the sign-in
would end on a 404 the middleware never sees, so the first of its own requests under that root
path logs the fix, once."""

from __future__ import annotations

import logging

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from tests.conftest import BASE_URL, make_app, make_starlette, sign_in
from tests.support.asgi import call
from tiktok_asgi import TikTokAuthMiddleware, TikTokSettings
from tiktok_asgi.emulator import TikTokEmulator

EVENT = "callback_unreachable"
REGISTER = (
    "the middleware is served below root path '/api', where its callback answers at "
    "/api/auth/tiktok/callback; redirect_uri https://testserver/auth/tiktok/callback sends the "
    "browser elsewhere after sign-in (a 404): register "
    "https://testserver/api/auth/tiktok/callback as the redirect URI in the TikTok app console "
    "and set redirect_uri to it"
)


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if getattr(r, "event", None) == EVENT]


def _mounted(
    settings: TikTokSettings, emulator: TikTokEmulator, base_url: str = BASE_URL
) -> TestClient:
    inner = TikTokAuthMiddleware(
        make_starlette(), settings=settings, transport=emulator.transport()
    )
    return TestClient(Starlette(routes=[Mount("/api", app=inner)]), base_url=base_url)


def test_under_a_mount_a_redirect_uri_without_its_prefix_is_logged_once(
    tiktok_emulator: TikTokEmulator,
    tiktok_settings: TikTokSettings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert tiktok_settings.redirect_uri == "https://testserver/auth/tiktok/callback"
    client = _mounted(tiktok_settings, tiktok_emulator)
    with caplog.at_level(logging.WARNING, logger="tiktok_asgi"):
        login = client.get("/api/auth/tiktok/login", follow_redirects=False)
        assert login.status_code == 302
        callback = tiktok_emulator.approve(login.headers["location"])
        assert client.get(callback).status_code == 404  # what the person would see
        client.get("/api/auth/tiktok/login", follow_redirects=False)
        client.get("/api/me")
    assert _warnings(caplog) == [REGISTER]
    assert caplog.records[0].levelno == logging.WARNING


def test_under_a_mount_a_callback_path_repeating_the_mount_is_logged(
    tiktok_emulator: TikTokEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    settings = tiktok_emulator.settings(
        "https://testserver/api/auth/tiktok/callback", callback_path="/api/auth/tiktok/callback"
    )
    client = _mounted(settings, tiktok_emulator)
    with caplog.at_level(logging.WARNING, logger="tiktok_asgi"):
        client.get("/api/auth/tiktok/login", follow_redirects=False)
    assert _warnings(caplog) == [
        "the middleware is served below root path '/api', where its callback answers at "
        "/api/api/auth/tiktok/callback; redirect_uri https://testserver/api/auth/tiktok/callback "
        "sends the browser elsewhere after sign-in (a 404): set callback_path to "
        "'/auth/tiktok/callback', its path below the root path"
    ]


def test_under_a_mount_a_redirect_uri_with_its_prefix_signs_in_without_a_word(
    tiktok_emulator: TikTokEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    settings = tiktok_emulator.settings(
        "https://testserver/api/auth/tiktok/callback", callback_path="/auth/tiktok/callback"
    )
    client = _mounted(settings, tiktok_emulator, base_url=f"{BASE_URL}/api")
    with caplog.at_level(logging.DEBUG, logger="tiktok_asgi"):
        sign_in(client, settings, tiktok_emulator)
        assert client.get("/me").json()["authenticated"] is True
    assert _warnings(caplog) == []


@pytest.mark.parametrize("in_path", [True, False], ids=["uvicorn-style", "hypercorn-style"])
def test_under_a_root_path_each_root_path_is_checked_once(
    tiktok_emulator: TikTokEmulator,
    tiktok_settings: TikTokSettings,
    caplog: pytest.LogCaptureFixture,
    in_path: bool,
) -> None:
    app = make_app(tiktok_settings, tiktok_emulator.transport())
    login = tiktok_settings.login_path

    def get(path: str, root_path: str) -> int:
        return call(app, "GET", root_path + path if in_path else path, root_path=root_path).status

    with caplog.at_level(logging.WARNING, logger="tiktok_asgi"):
        assert get("/me", "/api") == 200  # not the library's path: nothing compared
        assert _warnings(caplog) == []
        assert get(login, "/api") == 302
        assert get(login, "/api") == 302
        assert get(login, "") == 302  # no root path: the redirect URI reaches the callback
        assert get(login, "/v2") == 302
    assert _warnings(caplog) == [REGISTER, REGISTER.replace("/api", "/v2")]
