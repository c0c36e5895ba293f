"""The provider: user info must name the token's account, the PKCE verifier stays out of every
log, and the one Authlib client shared by all sign-ins never holds a user's token."""

from __future__ import annotations

import json
import logging

import httpx2
import pytest
from starlette.testclient import TestClient

from tests.conftest import BASE_URL, make_app, sign_in, start_login
from tests.core.helpers import set_cookies
from tiktok_asgi import TikTokAuthMiddleware, TikTokSettings
from tiktok_asgi.emulator import TikTokEmulator


class _OtherAccountInUserInfo(httpx2.AsyncBaseTransport):
    """TikTok's answers, except that user info describes another account than the token's."""

    def __init__(self, inner: httpx2.AsyncBaseTransport, open_id: str) -> None:
        self._inner = inner
        self._open_id = open_id

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self._inner.handle_async_request(request)
        if request.url.path != "/v2/user/info/":
            return response
        await response.aread()
        body = json.loads(response.content)
        body["data"]["user"]["open_id"] = self._open_id
        return httpx2.Response(response.status_code, json=body)


@pytest.mark.parametrize("accept", ["text/html", "application/json"])
def test_user_info_for_another_open_id_signs_nobody_in(
    tiktok_emulator: TikTokEmulator,
    tiktok_settings: TikTokSettings,
    caplog: pytest.LogCaptureFixture,
    accept: str,
) -> None:
    transport = _OtherAccountInUserInfo(tiktok_emulator.transport(), "someone-else")
    client = TestClient(make_app(tiktok_settings, transport), base_url=BASE_URL)
    callback = tiktok_emulator.approve(start_login(client, tiktok_settings))
    with caplog.at_level(logging.ERROR, logger="tiktok_asgi"):
        response = client.get(callback, headers={"accept": accept}, follow_redirects=False)
    assert response.status_code == 502
    assert "open_id_mismatch" in response.text
    assert not [c for c in set_cookies(response) if c.startswith(f"{tiktok_settings.cookie_name}=")]
    assert client.get("/me").json()["authenticated"] is False
    (record,) = [r for r in caplog.records if r.getMessage().startswith("open_id_mismatch")]
    assert "token_log_id=" in record.getMessage()
    assert "userinfo_log_id=" in record.getMessage()
    assert "someone-else" not in record.getMessage()


@pytest.mark.parametrize("pkce", ["base64url", "hex"])
def test_the_verifier_reaches_no_log_of_any_library(
    tiktok_emulator: TikTokEmulator,
    tiktok_settings: TikTokSettings,
    caplog: pytest.LogCaptureFixture,
    pkce: str,
) -> None:
    settings = tiktok_settings.replace(pkce=pkce)
    if pkce == "hex":
        tiktok_emulator = TikTokEmulator(app_type="desktop")  # type: ignore[call-arg]
        settings = tiktok_emulator.settings()
    client = TestClient(make_app(settings, tiktok_emulator.transport()), base_url=BASE_URL)
    with caplog.at_level(logging.DEBUG):  # every logger: Authlib, httpx2, httpcore, ours
        sign_in(client, settings, tiktok_emulator)
    (token_request,) = [r for r in tiktok_emulator.requests if r.endpoint == "token"]
    (verifier,) = token_request.form["code_verifier"]
    assert caplog.records  # the capture did see the sign-in
    for record in caplog.records:
        assert verifier not in record.getMessage(), record.name


def test_one_authlib_client_serves_every_sign_in_and_keeps_no_token(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    app = make_app(tiktok_settings, tiktok_emulator.transport())
    assert isinstance(app, TikTokAuthMiddleware)
    for person in tiktok_emulator.users[:3]:
        client = TestClient(app, base_url=BASE_URL)
        sign_in(client, tiktok_settings, tiktok_emulator, user=person)
        assert client.get("/me").json()["identity"] == person.open_id
    provider = app._tiktok
    shared = provider._oauth_client()
    assert provider._oauth_client() is shared
    assert shared.token is None  # no user's token is left on the shared client
