"""The pitfalls other TikTok login libraries shipped (kit reference, section 7), one test each.

Pitfall 12 (refresh requests) and the refresh/revoke half of pitfall 1 concern server-side token
sessions and are checked with them.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit

import pytest
from starlette.testclient import TestClient

from tests.conftest import BASE_URL, make_app, sign_in, signed_in_client, start_login
from tests.core.helpers import cookie_named, identity_serializer, new_users, one, query_of
from tiktok_asgi import TikTokSettings, TikTokUser
from tiktok_asgi._tiktok.http import ASGITransport, AsyncClient, MockTransport
from tiktok_asgi._tiktok.http import Request as HTTPRequest
from tiktok_asgi._tiktok.http import Response as HTTPResponse
from tiktok_asgi.emulator import EmulatorUser, Fault, TikTokEmulator
from tiktok_asgi.user import SCOPE_FIELDS

JSON = {"accept": "application/json"}
SCOPES = ("user.info.basic", "user.info.profile", "user.info.stats")


@pytest.fixture
def tiktok_settings(tiktok_emulator: TikTokEmulator) -> TikTokSettings:
    return tiktok_emulator.settings(scopes=SCOPES)


def _token_requests(emulator: TikTokEmulator) -> list[Any]:
    return [r for r in emulator.requests if r.endpoint == "token"]


def test_pitfall_1_client_key_not_client_id(
    tiktok_emulator: TikTokEmulator, client: TestClient, tiktok_settings: TikTokSettings
) -> None:
    url = start_login(client, tiktok_settings)
    assert query_of(url)["client_key"] == [tiktok_settings.client_key]
    assert "client_id" not in query_of(url)
    assert client.get(tiktok_emulator.approve(url), follow_redirects=False).status_code == 302
    (token,) = _token_requests(tiktok_emulator)
    assert token.form["client_key"] == [tiktok_settings.client_key]
    assert "client_id" not in token.form


def test_pitfall_2_scopes_are_comma_separated(
    tiktok_emulator: TikTokEmulator, client: TestClient, tiktok_settings: TikTokSettings
) -> None:
    url = start_login(client, tiktok_settings)
    raw_scope = urlsplit(url).query.split("scope=", 1)[1].split("&", 1)[0]
    assert unquote(raw_scope) == "user.info.basic,user.info.profile,user.info.stats"
    assert " " not in unquote(raw_scope)
    assert "+" not in raw_scope
    assert "%20" not in raw_scope
    # The emulator refuses space-joined scopes as TikTok does; this one it accepts.
    assert client.get(tiktok_emulator.approve(url), follow_redirects=False).status_code == 302


def test_pitfall_3_no_client_secret_in_the_authorize_url(
    tiktok_emulator: TikTokEmulator, client: TestClient, tiktok_settings: TikTokSettings
) -> None:
    response = client.get(tiktok_settings.login_path, follow_redirects=False)
    url = response.headers["location"]
    assert "client_secret" not in url
    assert tiktok_settings.client_secret not in unquote(unquote(url))
    # Nor anywhere else the browser sees: headers, body, cookies.
    everything = " ".join(f"{k}: {v}" for k, v in response.headers.multi_items()) + response.text
    assert tiktok_settings.client_secret not in everything
    _, flow_value, _ = cookie_named(response, "__Host-tiktok_session_flow_")
    assert tiktok_settings.client_secret not in unquote(flow_value)
    tiktok_emulator.approve(url)  # the emulator rejects an authorize URL carrying the secret


def _v1_tiktok() -> tuple[MockTransport, list[str]]:
    """A TikTok answering the token request in the retired v1 shape (``data.access_token``)."""
    paths: list[str] = []

    def handler(request: HTTPRequest) -> HTTPResponse:
        paths.append(request.url.path)
        if request.url.path == "/v2/oauth/token/":
            body = {
                "data": {
                    "access_token": "act.v1shape",
                    "expires_in": 86400,
                    "open_id": "v1-open-id",
                    "refresh_token": "rft.v1shape",
                    "scope": "user.info.basic",
                    "captcha": "",
                    "error_code": 0,
                    "description": "",
                },
                "message": "success",
            }
            return HTTPResponse(200, content=json.dumps(body).encode())
        user = {"open_id": "v1-open-id", "display_name": "Should Not Sign In"}
        body = {"data": {"user": user}, "error": {"code": "ok", "message": "", "log_id": "L"}}
        return HTTPResponse(200, content=json.dumps(body).encode())

    return MockTransport(handler), paths


def test_pitfall_4_the_v1_token_shape_is_rejected(tiktok_settings: TikTokSettings) -> None:
    transport, paths = _v1_tiktok()
    client = TestClient(make_app(tiktok_settings, transport), base_url=BASE_URL)
    state = one(start_login(client, tiktok_settings), "state")
    query = urlencode({"code": "code*1!1000.va", "scopes": "user.info.basic", "state": state})
    response = client.get(f"{tiktok_settings.callback_path}?{query}", headers=JSON)
    assert response.status_code == 502
    assert response.json()["error"] == "invalid_response"
    assert paths == ["/v2/oauth/token/"]  # no user info asked with a token never received
    assert client.get("/me").json()["authenticated"] is False


def test_pitfall_5_endpoints_keep_their_trailing_slashes(
    tiktok_emulator: TikTokEmulator, client: TestClient, tiktok_settings: TikTokSettings
) -> None:
    url = start_login(client, tiktok_settings)
    assert urlsplit(url).path == "/v2/auth/authorize/"
    sign_in(client, tiktok_settings, tiktok_emulator)
    paths = {r.endpoint: r.path for r in tiktok_emulator.requests}
    assert paths["token"] == "/v2/oauth/token/"
    assert paths["userinfo"] == "/v2/user/info/"
    assert tiktok_settings.revoke_url.endswith("/v2/oauth/revoke/")


def test_pitfall_6_http_200_with_an_error_is_not_a_token(
    tiktok_emulator: TikTokEmulator, client: TestClient, tiktok_settings: TikTokSettings
) -> None:
    tiktok_emulator.inject("token", Fault.error_body("invalid_grant", status=200))
    response = client.get(
        tiktok_emulator.approve(start_login(client, tiktok_settings)), headers=JSON
    )
    assert response.status_code == 502
    assert response.json()["error"] == "invalid_grant"
    assert tiktok_emulator.count("userinfo") == 0
    assert not [c for c in response.headers.get_list("set-cookie") if "__Host-tiktok_session=" in c]


def test_pitfall_7_no_email_is_invented(
    tiktok_emulator: TikTokEmulator, client: TestClient, tiktok_settings: TikTokSettings
) -> None:
    sign_in(client, tiktok_settings, tiktok_emulator)
    me = client.get("/me").json()
    assert me["user"]["username"]
    assert "email" not in json.dumps(me)
    payload = identity_serializer(tiktok_settings).loads(client.cookies["__Host-tiktok_session"])
    assert "email" not in payload
    user = TikTokUser.from_dict(payload)
    assert not hasattr(user, "email")
    assert "email" not in TikTokUser.__dataclass_fields__


def test_pitfall_8_fields_only_from_granted_scopes(
    tiktok_emulator: TikTokEmulator, client: TestClient, tiktok_settings: TikTokSettings
) -> None:
    # The person unticks profile and stats: asking for their fields would fail at TikTok.
    sign_in(client, tiktok_settings, tiktok_emulator, scopes=["user.info.basic"])
    (info,) = [r for r in tiktok_emulator.requests if r.endpoint == "userinfo"]
    assert info.query["fields"] == [",".join(SCOPE_FIELDS["user.info.basic"])]
    me = client.get("/me").json()
    assert me["authenticated"] is True
    assert me["scopes"] == ["authenticated", "user.info.basic"]


def test_pitfall_9_state_bound_to_browser_tabs_and_plain_http(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    app = make_app(tiktok_settings, tiktok_emulator.transport())
    # Bound to the browser: another browser cannot finish this login.
    alice = TestClient(app, base_url=BASE_URL)
    callback = tiktok_emulator.approve(start_login(alice, tiktok_settings))
    mallory = TestClient(app, base_url=BASE_URL)
    assert mallory.get(callback, headers=JSON).json()["error"] == "state_mismatch"
    # Several tabs: a second pending login does not break the first.
    first = tiktok_emulator.approve(start_login(alice, tiktok_settings, next="/one"))
    second = tiktok_emulator.approve(start_login(alice, tiktok_settings, next="/two"))
    assert alice.get(second, follow_redirects=False).headers["location"] == "/two"
    assert alice.get(first, follow_redirects=False).headers["location"] == "/one"
    # Plain http on 127.0.0.1: no Secure attribute, so the browser sends the cookies back.
    local = tiktok_emulator.settings(
        redirect_uri="http://127.0.0.1:8000/auth/tiktok/callback", scopes=SCOPES
    )
    browser = TestClient(
        make_app(local, tiktok_emulator.transport()), base_url="http://127.0.0.1:8000"
    )
    login = browser.get(local.login_path, follow_redirects=False)
    assert "Secure" not in cookie_named(login, "tiktok_session_flow_")[2]
    callback = tiktok_emulator.approve(login.headers["location"])
    assert callback.startswith("http://127.0.0.1:8000/auth/tiktok/callback?")
    done = browser.get(callback, follow_redirects=False)
    assert done.status_code == 302, done.text
    assert "Secure" not in cookie_named(done, "tiktok_session=")[2]
    assert browser.get("/me").json()["authenticated"] is True


async def test_pitfall_10_concurrent_logins_never_cross(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    users = new_users(tiktok_emulator, 32, "c")
    # Slow user info so that every login is in flight at the same time.
    tiktok_emulator.inject("userinfo", Fault.latency(0.05), times=None)
    app = make_app(tiktok_settings, tiktok_emulator.transport())

    async def login_as(user: EmulatorUser) -> tuple[EmulatorUser, dict[str, Any]]:
        async with AsyncClient(transport=ASGITransport(app=app), base_url=BASE_URL) as browser:
            login = await browser.get(
                tiktok_settings.login_path, params={"next": f"/u/{user.username}"}
            )
            assert login.status_code == 302
            callback = tiktok_emulator.approve(login.headers["location"], user=user)
            await asyncio.sleep(0)
            done = await browser.get(callback)
            assert done.status_code == 302, done.text
            assert done.headers["location"] == f"/u/{user.username}"
            me = await browser.get("/me")
            return user, me.json()

    results = await asyncio.wait_for(asyncio.gather(*(login_as(u) for u in users)), timeout=60)
    assert len(results) == 32
    for user, me in results:
        assert me["identity"] == user.open_id
        assert me["display_name"] == user.display_name
        assert me["user"]["username"] == user.username
        assert me["user"]["follower_count"] == user.follower_count
    assert len({me["identity"] for _, me in results}) == 32
    assert tiktok_emulator.count("token", grant_type="authorization_code") == 32


def test_pitfall_11_disable_auto_auth_only_on_authorize(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    forced = tiktok_settings.replace(disable_auto_auth=True)
    app = make_app(forced, tiktok_emulator.transport())
    client = signed_in_client(app, forced, tiktok_emulator)
    (authorize,) = [r for r in tiktok_emulator.requests if r.endpoint == "authorize"]
    assert authorize.query["disable_auto_auth"] == ["1"]
    for recorded in tiktok_emulator.requests:
        if recorded.endpoint == "authorize":
            continue
        assert "disable_auto_auth" not in recorded.form, recorded.endpoint
        assert "disable_auto_auth" not in recorded.query, recorded.endpoint
    assert client.get("/me").json()["authenticated"] is True
