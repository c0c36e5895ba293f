"""The callback: the token request TikTok expects, user info from granted scopes, the cookies."""

from __future__ import annotations

import re
from urllib.parse import urlencode, urlsplit

import pytest
from starlette.testclient import TestClient

from tests.conftest import BASE_URL, make_app, sign_in, start_login
from tests.core.helpers import cookie_named, identity_serializer, one, pending_login, query_of
from tiktok_asgi import TikTokSettings
from tiktok_asgi.emulator import TikTokEmulator
from tiktok_asgi.user import SCOPE_FIELDS

SCOPES = ("user.info.basic", "user.info.profile")


@pytest.fixture
def tiktok_settings(tiktok_emulator: TikTokEmulator) -> TikTokSettings:
    return tiktok_emulator.settings(scopes=SCOPES)


def _requests(emulator: TikTokEmulator, endpoint: str) -> list[object]:
    return [r for r in emulator.requests if r.endpoint == endpoint]


def test_token_request_body_is_exactly_what_tiktok_reads(
    tiktok_emulator: TikTokEmulator, client: TestClient, tiktok_settings: TikTokSettings
) -> None:
    callback = tiktok_emulator.approve(start_login(client, tiktok_settings))
    code = one(callback, "code")
    assert client.get(callback, follow_redirects=False).status_code == 302
    (token,) = [r for r in tiktok_emulator.requests if r.endpoint == "token"]
    assert token.method == "POST"
    assert token.path == "/v2/oauth/token/"
    (verifier,) = token.form.pop("code_verifier")
    assert token.form == {
        "client_key": [tiktok_settings.client_key],
        "client_secret": [tiktok_settings.client_secret],
        "code": [code],
        "grant_type": ["authorization_code"],
        "redirect_uri": [tiktok_settings.redirect_uri],
    }
    assert 43 <= len(verifier) <= 128
    assert re.fullmatch(r"[A-Za-z0-9._~-]+", verifier)
    assert token.query == {}
    assert token.headers["content-type"].startswith("application/x-www-form-urlencoded")
    assert "authorization" not in token.headers
    assert tiktok_emulator.count("token", grant_type="authorization_code") == 1


def test_token_request_with_pkce_adds_only_the_verifier(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    pkce = tiktok_settings.replace(pkce="base64url")  # a web app's encoding
    client = TestClient(make_app(pkce, tiktok_emulator.transport()), base_url=BASE_URL)
    sign_in(client, pkce, tiktok_emulator)
    (token,) = [r for r in tiktok_emulator.requests if r.endpoint == "token"]
    assert set(token.form) == {
        "client_key",
        "client_secret",
        "code",
        "grant_type",
        "redirect_uri",
        "code_verifier",
    }


def test_userinfo_is_requested_with_a_bearer_token_and_granted_fields(
    tiktok_emulator: TikTokEmulator, client: TestClient, tiktok_settings: TikTokSettings
) -> None:
    sign_in(client, tiktok_settings, tiktok_emulator)
    (info,) = [r for r in tiktok_emulator.requests if r.endpoint == "userinfo"]
    assert info.method == "GET"
    assert info.path == "/v2/user/info/"
    assert info.headers["authorization"].startswith("Bearer act.")
    fields = info.query["fields"][0].split(",")
    assert set(fields) == set(SCOPE_FIELDS["user.info.basic"] + SCOPE_FIELDS["user.info.profile"])


def test_tampered_callback_scopes_do_not_widen_the_fields(
    tiktok_emulator: TikTokEmulator, client: TestClient, tiktok_settings: TikTokSettings
) -> None:
    callback = tiktok_emulator.approve(start_login(client, tiktok_settings))
    query = {k: v[0] for k, v in query_of(callback).items()}
    query["scopes"] = "user.info.basic,user.info.profile,user.info.stats"
    tampered = urlsplit(callback)._replace(query=urlencode(query)).geturl()
    assert client.get(tampered, follow_redirects=False).status_code == 302
    (info,) = [r for r in tiktok_emulator.requests if r.endpoint == "userinfo"]
    fields = set(info.query["fields"][0].split(","))
    assert not fields & set(SCOPE_FIELDS["user.info.stats"])
    me = client.get("/me").json()
    assert me["user"]["granted_scopes"] == ["user.info.basic", "user.info.profile"]
    assert "follower_count" not in me["user"]
    assert "user.info.stats" not in me["scopes"]


def test_partial_consent_leaves_profile_fields_none(
    tiktok_emulator: TikTokEmulator, client: TestClient, tiktok_settings: TikTokSettings
) -> None:
    sign_in(client, tiktok_settings, tiktok_emulator, scopes=["user.info.basic"])
    (info,) = [r for r in tiktok_emulator.requests if r.endpoint == "userinfo"]
    assert set(info.query["fields"][0].split(",")) == set(SCOPE_FIELDS["user.info.basic"])
    me = client.get("/me").json()
    assert me["authenticated"] is True
    assert me["scopes"] == ["authenticated", "user.info.basic"]
    assert "username" not in me["user"]
    assert "bio_description" not in me["user"]


def test_codes_with_star_and_bang_are_decoded_exactly_once(
    tiktok_emulator: TikTokEmulator, client: TestClient, tiktok_settings: TikTokSettings
) -> None:
    callback = tiktok_emulator.approve(start_login(client, tiktok_settings))
    raw_code = urlsplit(callback).query.split("code=", 1)[1].split("&", 1)[0]
    assert "%2A" in raw_code
    assert "%21" in raw_code
    code = one(callback, "code")
    assert "*" in code
    assert "!" in code
    assert client.get(callback, follow_redirects=False).status_code == 302
    (token,) = [r for r in tiktok_emulator.requests if r.endpoint == "token"]
    assert token.form["code"] == [code]


def test_identity_cookie_attributes_and_payload(
    tiktok_emulator: TikTokEmulator, client: TestClient, tiktok_settings: TikTokSettings
) -> None:
    url = start_login(client, tiktok_settings, next="/somewhere")
    callback = tiktok_emulator.approve(url)
    code = one(callback, "code")
    response = client.get(callback, follow_redirects=False)
    assert response.status_code == 302
    assert response.headers["location"] == "/somewhere"
    assert response.headers["cache-control"] == "no-store"

    name, value, attributes = cookie_named(response, "__Host-tiktok_session=")
    assert name == "__Host-tiktok_session"
    assert attributes == [
        "Path=/",
        f"Max-Age={tiktok_settings.cookie_max_age}",
        "HttpOnly",
        "Secure",
        "SameSite=Lax",
    ]
    assert len(name) + 1 + len(value) < 4096

    payload = identity_serializer(tiktok_settings).loads(value)
    (info,) = [r for r in tiktok_emulator.requests if r.endpoint == "userinfo"]
    access_token = info.headers["authorization"].removeprefix("Bearer ")
    assert payload["open_id"]
    assert payload["granted_scopes"] == list(SCOPES)
    flat = repr(payload)
    for secret in (access_token, code, tiktok_settings.client_secret):
        assert secret not in flat
        assert secret not in value
    assert "access_token" not in payload
    assert "refresh_token" not in payload
    assert "rft." not in flat
    assert "act." not in flat
    assert "code" not in payload


def test_flow_cookie_is_cleared_by_the_callback(
    tiktok_emulator: TikTokEmulator, client: TestClient, tiktok_settings: TikTokSettings
) -> None:
    callback, flow_name, _ = pending_login(client, tiktok_settings, tiktok_emulator.approve)
    response = client.get(callback, follow_redirects=False)
    name, value, attributes = cookie_named(response, "__Host-tiktok_session_flow_")
    assert name == flow_name
    assert value == ""
    assert attributes == [
        "Path=/",
        "Max-Age=0",
        "Expires=Thu, 01 Jan 1970 00:00:00 GMT",
        "HttpOnly",
        "Secure",
        "SameSite=Lax",
    ]
    assert flow_name not in client.cookies


def test_redirects_to_login_redirect_without_next(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    landing = tiktok_settings.replace(login_redirect="/welcome")
    client = TestClient(make_app(landing, tiktok_emulator.transport()), base_url=BASE_URL)
    assert sign_in(client, landing, tiktok_emulator) == "/welcome"
    assert sign_in(client, landing, tiktok_emulator, next="https://evil.example/") == "/welcome"
    assert sign_in(client, landing, tiktok_emulator, next="/me?x=1") == "/me?x=1"


def test_signed_in_user_is_seen_by_the_app(
    tiktok_emulator: TikTokEmulator, client: TestClient, tiktok_settings: TikTokSettings
) -> None:
    assert client.get("/me").json()["authenticated"] is False
    user = tiktok_emulator.users[0]
    sign_in(client, tiktok_settings, tiktok_emulator, user=user)
    me = client.get("/me").json()
    assert me["authenticated"] is True
    assert me["identity"] == user.open_id
    assert me["display_name"] == user.display_name
    assert me["user"]["username"] == user.username
