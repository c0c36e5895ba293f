"""The token and revoke endpoints: the success shape, rotation, PKCE and every refusal."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from httpx2 import AsyncClient
from tests.emulator.helpers import (
    B64_CHALLENGE,
    HEX_CHALLENGE,
    REDIRECT,
    REVOKE,
    TOKEN,
    VERIFIER,
    Api,
    Clock,
    authorize_url,
    callback_params,
)

from tiktok_asgi.emulator import TikTokEmulator

LOG_ID = re.compile(r"^\d{14}[0-9A-F]{20}$")


def assert_error(response: object, error: str, status: int = 200) -> dict[str, str]:
    body: dict[str, str] = response.json()  # type: ignore[attr-defined]
    assert response.status_code == status  # type: ignore[attr-defined]
    assert body["error"] == error, body
    assert body["error_description"]
    assert LOG_ID.match(body["log_id"])
    assert "access_token" not in body
    return body


async def test_success_is_flat_with_every_field(api: Api) -> None:
    code = api.code(scope="user.info.basic,video.list")
    response = await api.token(code=code)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {
        "access_token",
        "expires_in",
        "open_id",
        "refresh_expires_in",
        "refresh_token",
        "scope",
        "token_type",
    }
    assert body["access_token"].startswith("act.")
    assert body["refresh_token"].startswith("rft.")
    # Today's lifetimes: 2 hours and 180 days.
    assert body["expires_in"] == 7200
    assert body["refresh_expires_in"] == 15_552_000
    assert body["open_id"] == api.emu.users[0].open_id
    assert body["scope"] == "user.info.basic,video.list"
    assert body["token_type"] == "Bearer"


async def test_partial_consent_is_reflected_in_token_scope(api: Api) -> None:
    token = await api.login(scopes=["user.info.profile"])
    assert token["scope"] == "user.info.basic,user.info.profile"


@pytest.mark.parametrize(
    ("change", "error", "words"),
    [
        ({"client_secret": "wrong"}, "invalid_client", "secret"),
        ({"client_key": "wrong"}, "invalid_client", "key"),
        ({"client_key": None, "client_id": "emulator-client-key"}, "invalid_client", "client_id"),
        ({"client_secret": None}, "invalid_client", "secret"),
        ({"grant_type": "password"}, "unsupported_grant_type", "password"),
        ({"grant_type": None}, "invalid_request", "grant_type"),
        ({"redirect_uri": None}, "invalid_request", "redirect_uri"),
        ({"disable_auto_auth": "1"}, "invalid_request", "disable_auto_auth"),
        ({"scope": "user.info.basic"}, "invalid_request", "scope"),
        ({"code": "not-a-code*1!1234.va"}, "invalid_grant", "invalid"),
    ],
)
async def test_code_exchange_refusals(
    api: Api, change: dict[str, str | None], error: str, words: str
) -> None:
    form: dict[str, str | None] = {"code": api.code(), **change}
    body = assert_error(await api.token(**form), error)
    assert words in body["error_description"]


async def test_basic_auth_without_body_credentials_is_invalid_client(api: Api) -> None:
    code = api.code()
    form = {"code": code, "grant_type": "authorization_code", "redirect_uri": REDIRECT}
    response = await api.client.post(
        TOKEN, data=form, auth=(api.emu.client_key, api.emu.client_secret)
    )
    body = assert_error(response, "invalid_client")
    assert "Basic" in body["error_description"]


async def test_json_body_is_refused(api: Api) -> None:
    code = api.code()
    response = await api.client.post(
        TOKEN,
        json={
            "client_key": api.emu.client_key,
            "client_secret": api.emu.client_secret,
            "code": code,
            "grant_type": "authorization_code",
            "redirect_uri": REDIRECT,
        },
    )
    assert_error(response, "invalid_request")


async def test_redirect_uri_must_match_the_authorize_one(api: Api) -> None:
    code = api.code()
    other = "http://127.0.0.1:8000/auth/tiktok/callback"
    body = assert_error(await api.token(code=code, redirect_uri=other), "invalid_request")
    assert body["error_description"] == (
        "Redirect_uri is not matched with the uri when requesting code."
    )


async def test_reused_code_is_refused_and_revokes_its_tokens(api: Api) -> None:
    code = api.code()
    first = (await api.token(code=code)).json()
    assert (await api.userinfo(first["access_token"])).status_code == 200
    assert_error(await api.token(code=code), "invalid_grant")
    assert (await api.userinfo(first["access_token"])).status_code == 401
    assert_error(await api.refresh(first["refresh_token"]), "invalid_grant")


async def test_expired_code_is_refused(api: Api, clock: Clock) -> None:
    code = api.code()
    clock.advance(601)
    body = assert_error(await api.token(code=code), "invalid_grant")
    assert "expired" in body["error_description"]


async def test_code_still_percent_encoded_is_refused(api: Api) -> None:
    code = api.code()
    assert_error(await api.token(code=quote(code, safe="")), "invalid_grant")
    assert (await api.token(code=code)).status_code == 200


@pytest.mark.parametrize(
    ("challenge", "verifier", "ok"),
    [
        (B64_CHALLENGE, VERIFIER, True),
        (B64_CHALLENGE, VERIFIER + "y", False),
        (B64_CHALLENGE, "z" * 43, False),
        (B64_CHALLENGE, None, False),
        (B64_CHALLENGE, "short", False),
        (HEX_CHALLENGE, VERIFIER, True),  # TikTok documents no web encoding: hex too
        (HEX_CHALLENGE, VERIFIER + "y", False),
    ],
    ids=[
        "base64url-ok",
        "wrong",
        "other",
        "no-verifier",
        "short-verifier",
        "hex-on-web",
        "hex-wrong",
    ],
)
async def test_web_pkce_checks_the_verifier(
    api: Api, challenge: str, verifier: str | None, ok: bool
) -> None:
    code = api.code(code_challenge=challenge)
    response = await api.token(code=code, code_verifier=verifier)
    if ok:
        assert response.json()["token_type"] == "Bearer"
    else:
        body = assert_error(response, "invalid_request")
        assert body["error_description"] == "Code verifier or code challenge is invalid."


async def test_refresh_rotates_both_tokens(api: Api) -> None:
    first = await api.login()
    response = await api.refresh(first["refresh_token"])
    second = response.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert second["scope"] == first["scope"]
    assert second["open_id"] == first["open_id"]
    # The old pair is dead; the new one works.
    assert_error(await api.refresh(first["refresh_token"]), "invalid_grant")
    assert (await api.userinfo(first["access_token"])).status_code == 401
    assert (await api.userinfo(second["access_token"])).status_code == 200
    assert api.emu.count("token", grant_type="refresh_token") == 2
    assert api.emu.count("token", grant_type="authorization_code") == 1


@pytest.mark.parametrize(
    ("extra", "words"),
    [({"scope": "user.info.basic"}, "scope"), ({"redirect_uri": REDIRECT}, "redirect_uri")],
)
async def test_refresh_refuses_scope_and_redirect_uri(
    api: Api, extra: dict[str, str], words: str
) -> None:
    token = await api.login()
    body = assert_error(await api.refresh(token["refresh_token"], **extra), "invalid_request")
    assert words in body["error_description"]


async def test_refresh_without_client_key_is_refused(api: Api) -> None:
    token = await api.login()
    form = {
        "client_secret": api.emu.client_secret,
        "grant_type": "refresh_token",
        "refresh_token": token["refresh_token"],
    }
    assert_error(await api.client.post(TOKEN, data=form), "invalid_client")


async def test_expired_refresh_token_is_refused(api: Api, clock: Clock) -> None:
    token = await api.login()
    clock.advance(15_552_000 - 1)
    assert (await api.refresh(token["refresh_token"])).json()["token_type"] == "Bearer"
    token = await api.login()
    clock.advance(15_552_000 + 1)
    assert_error(await api.refresh(token["refresh_token"]), "invalid_grant")


async def test_token_error_status_is_configurable() -> None:
    emu = TikTokEmulator(token_error_status=400)
    async with AsyncClient(transport=emu.transport()) as client:
        assert_error(await Api(emu, client).token(code="nope"), "invalid_grant", status=400)


async def test_revoke_kills_access_and_refresh_token(api: Api) -> None:
    token = await api.login()
    form = {
        "client_key": api.emu.client_key,
        "client_secret": api.emu.client_secret,
        "token": token["access_token"],
    }
    response = await api.client.post(REVOKE, data=form)
    assert response.status_code == 200
    assert response.json() == {}
    userinfo = await api.userinfo(token["access_token"])
    assert userinfo.status_code == 401
    assert userinfo.json()["error"]["code"] == "access_token_invalid"
    assert_error(await api.refresh(token["refresh_token"]), "invalid_grant")
    assert_error(await api.client.post(REVOKE, data=form), "invalid_request")


async def test_revoke_disconnects_the_app_from_the_users_account(api: Api) -> None:
    # TikTok: revoking "disconnects your app from the user's TikTok account", every grant.
    first, second = await api.login(), await api.login()
    other_user = api.emu.users[1]
    code = callback_params(api.emu.approve(authorize_url(api.emu), user=other_user))["code"]
    other = (await api.token(code=code)).json()
    form = {
        "client_key": api.emu.client_key,
        "client_secret": api.emu.client_secret,
        "token": first["access_token"],
    }
    assert (await api.client.post(REVOKE, data=form)).json() == {}
    assert (await api.userinfo(second["access_token"])).status_code == 401
    assert_error(await api.refresh(second["refresh_token"]), "invalid_grant")
    assert not api.emu.is_connected(api.emu.users[0])
    assert (await api.userinfo(other["access_token"])).status_code == 200
    assert api.emu.is_connected(other_user)


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"client_secret": "wrong"}, "invalid_client"),
        ({"client_key": None, "client_id": "emulator-client-key"}, "invalid_client"),
        ({"token": None}, "invalid_request"),
        ({"scope": "user.info.basic"}, "invalid_request"),
    ],
)
async def test_revoke_refusals(api: Api, change: dict[str, str | None], error: str) -> None:
    token = await api.login()
    form: dict[str, str | None] = {
        "client_key": api.emu.client_key,
        "client_secret": api.emu.client_secret,
        "token": token["access_token"],
        **change,
    }
    response = await api.client.post(REVOKE, data={k: v for k, v in form.items() if v})
    assert_error(response, error)
    assert (await api.userinfo(token["access_token"])).status_code == 200


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("POST", "https://open.tiktokapis.com/v2/oauth/token"),
        ("POST", "https://open.tiktokapis.com/v2/oauth/revoke"),
        ("GET", "https://open.tiktokapis.com/v2/user/info"),
        ("POST", "https://open.tiktokapis.com/v2/video/list"),
        ("GET", "https://www.tiktok.com/v2/auth/authorize"),
    ],
)
async def test_missing_trailing_slash_is_404(api: Api, method: str, url: str) -> None:
    response = await api.client.request(method, url)
    assert response.status_code == 404
    assert "location" not in response.headers


async def test_token_endpoint_accepts_post_only(api: Api) -> None:
    assert (await api.client.get(TOKEN)).status_code == 405
