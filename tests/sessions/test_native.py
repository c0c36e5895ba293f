"""Codes from TikTok's native SDKs and Minis: exchanged for a bearer session that requests carry
in ``Authorization``, ended like a cookie session, and out of every browser's reach."""

from __future__ import annotations

import json
import secrets
from typing import Any

import httpx2
import pytest

from tests.sessions.conftest import browser, signed_in_browser
from tests.sessions.test_seams import app_over
from tests.support.signin import async_sign_in
from tiktok_asgi import MemoryTokenStore, TikTokAuthMiddleware, TikTokSettings
from tiktok_asgi.emulator import TikTokEmulator
from tiktok_asgi.sessions import end_user_sessions_in_store

APP_LINK = "https://app.example.com/tiktok/auth"
EXCHANGE = "/auth/tiktok/exchange"
JSON = {"content-type": "application/json"}


@pytest.fixture
def emulator() -> TikTokEmulator:
    return TikTokEmulator(
        redirect_uris=["https://testserver/auth/tiktok/callback", APP_LINK],
        access_token_ttl=7200,
    )


@pytest.fixture
def settings(emulator: TikTokEmulator) -> TikTokSettings:
    return emulator.settings(http_timeout=5.0, native_redirect_uris=[APP_LINK])


def app_with(
    settings: TikTokSettings, emulator: TikTokEmulator, store: bool = True
) -> TikTokAuthMiddleware:
    if store:
        return app_over(settings, MemoryTokenStore(), emulator.transport())
    plain = app_over(settings, MemoryTokenStore(), emulator.transport())
    return TikTokAuthMiddleware(plain.app, settings=settings, transport=emulator.transport())


async def exchange(client: httpx2.AsyncClient, body: Any, **headers: str) -> httpx2.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return await client.post(EXCHANGE, content=content, headers={**JSON, **headers})


def sdk_code(emulator: TikTokEmulator, user: str = "mayacooks") -> dict[str, str]:
    """What an iOS or Android app sends its server after TikTok's SDK signed the user in."""
    verifier = secrets.token_urlsafe(48)
    code = emulator.native_code(user, redirect_uri=APP_LINK, code_verifier=verifier)
    return {"code": code, "code_verifier": verifier, "redirect_uri": APP_LINK}


async def who(client: httpx2.AsyncClient, token: str | None) -> str | None:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    answer = await client.get("/me", headers=headers)
    assert answer.status_code == 200, answer.text
    name: str | None = answer.json()["user"]
    return name


@pytest.mark.parametrize("store", [True, False])
async def test_a_native_apps_code_becomes_a_bearer_session(
    store: bool, settings: TikTokSettings, emulator: TikTokEmulator
) -> None:
    app = app_with(settings, emulator, store)
    maya = emulator.user("mayacooks")
    async with browser(app) as client:
        answer = await exchange(client, sdk_code(emulator))
        assert answer.status_code == 200, answer.text
        assert "set-cookie" not in answer.headers
        session = answer.json()
        assert session["token_type"] == "Bearer"
        assert session["expires_in"] == settings.cookie_max_age
        assert session["user"]["open_id"] == maya.open_id
        assert session["user"]["display_name"] == maya.display_name
        assert await who(client, session["access_token"]) == maya.display_name
        assert await who(client, None) is None


async def test_a_minis_code_has_no_redirect_uri_and_no_verifier(
    settings: TikTokSettings, emulator: TikTokEmulator
) -> None:
    app = app_with(settings, emulator)
    async with browser(app) as client:
        answer = await exchange(client, {"code": emulator.native_code("leo.skates")})
        assert answer.status_code == 200, answer.text
        assert await who(client, answer.json()["access_token"]) == "Leo Martins"


@pytest.mark.parametrize("ending", ["sign-out", "end_user_sessions", "disconnect"])
async def test_a_bearer_session_ends_as_a_cookie_session_does(
    ending: str, settings: TikTokSettings, emulator: TikTokEmulator
) -> None:
    store = MemoryTokenStore()
    app = app_over(settings, store, emulator.transport())
    maya = emulator.user("mayacooks")
    async with browser(app) as client, signed_in_browser(app, settings, emulator) as laptop:
        token = (await exchange(client, sdk_code(emulator))).json()["access_token"]
        bearer = {"authorization": f"Bearer {token}"}
        revokes = emulator.count("revoke")
        if ending == "sign-out":
            answer = await client.post(settings.logout_path, headers=bearer)
            assert answer.status_code == 204  # no page, no cookie for an app
            assert "set-cookie" not in answer.headers
            assert (await laptop.get("/me")).json()["user"] == maya.display_name
        elif ending == "end_user_sessions":
            ended = await end_user_sessions_in_store(
                maya.open_id, settings=settings, token_store=store
            )
            assert ended == 2
        else:
            assert settings.disconnect_path is not None
            answer = await client.post(settings.disconnect_path, headers=bearer)
            assert answer.status_code == 204
            assert emulator.count("revoke") == revokes + 1
            assert (await laptop.get("/me")).json()["user"] is None  # every session ended
        assert await who(client, token) is None


async def test_no_browser_can_obtain_or_carry_a_bearer_session(
    settings: TikTokSettings, emulator: TikTokEmulator
) -> None:
    app = app_with(settings, emulator)
    async with browser(app) as client:
        # A page cannot make the browser exchange a code: browsers send Origin (and
        # Sec-Fetch-Site) on a cross-site POST, and a form cannot send JSON.
        for headers in ({"origin": "https://evil.example"}, {"sec-fetch-site": "cross-site"}):
            refused = await exchange(client, sdk_code(emulator), **headers)
            assert refused.status_code == 403
        form = await client.post(
            EXCHANGE,
            data=sdk_code(emulator),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert form.status_code == 400
        token = (await exchange(client, sdk_code(emulator))).json()["access_token"]
        # A bearer token is no identity cookie, and an identity cookie no bearer token.
        client.cookies.set(settings.cookie_name, token)
        assert (await client.get("/me")).json()["user"] is None
    async with browser(app) as web:
        await async_sign_in(web, settings, emulator)
        cookie = web.cookies[settings.cookie_name]
        web.cookies.clear()
        assert await who(web, cookie) is None


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"not json", "JSON object"),
        (b"[" * 5000 + b"]" * 5000, "JSON object"),
        ([], "JSON object"),
        ({}, "code must be"),
        ({"code": ""}, "code must be"),
        ({"code": "a" * 2000}, "code must be"),
        ({"code": "c", "code_verifier": "short"}, "code_verifier"),
        ({"code": "c", "redirect_uri": "https://evil.example/cb"}, "native_redirect_uris"),
    ],
)
async def test_a_malformed_exchange_is_a_400_that_names_the_problem(
    body: Any, why: str, settings: TikTokSettings, emulator: TikTokEmulator
) -> None:
    app = app_with(settings, emulator)
    async with browser(app) as client:
        answer = await exchange(client, body)
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request"
    assert why in answer.json()["error_description"]


async def test_tiktok_refusing_the_code_is_its_typed_error_and_a_get_is_405(
    settings: TikTokSettings, emulator: TikTokEmulator
) -> None:
    app = app_with(settings, emulator)
    async with browser(app) as client:
        wrong = sdk_code(emulator)
        wrong["code_verifier"] = secrets.token_urlsafe(48)
        refused = await exchange(client, wrong)
        assert refused.status_code == 502
        assert refused.json()["error"] == "invalid_request"
        used = sdk_code(emulator)
        assert (await exchange(client, used)).status_code == 200
        assert (await exchange(client, used)).json()["error"] == "invalid_grant"  # once only
        get = await client.get(EXCHANGE)
        assert get.status_code == 405
        assert get.headers["allow"] == "POST"


def test_exchange_settings_fail_at_start_up_with_the_fix(emulator: TikTokEmulator) -> None:
    with pytest.raises(ValueError, match="native_redirect_uris must be a sequence"):
        emulator.settings(native_redirect_uris="https://app.example.com/cb")
    with pytest.raises(ValueError, match="without a fragment"):
        emulator.settings(native_redirect_uris=["https://app.example.com/cb#x"])
    with pytest.raises(ValueError, match="exchange_path"):
        emulator.settings(exchange_path="/auth/tiktok/logout")
    assert emulator.settings(exchange_path=None).exchange_path is None
