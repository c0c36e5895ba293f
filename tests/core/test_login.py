"""The login path: the authorize redirect TikTok expects, PKCE, and the flow cookie."""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import unquote, urlsplit

import pytest
from starlette.testclient import TestClient

from tests.conftest import BASE_URL, make_app, start_login
from tests.core.helpers import cookie_named, one, query_of
from tiktok_asgi import TikTokSettings
from tiktok_asgi.emulator import EmulatorRejected, TikTokEmulator

SCOPES = ("user.info.basic", "user.info.profile")


@pytest.fixture
def tiktok_settings(tiktok_emulator: TikTokEmulator) -> TikTokSettings:
    return tiktok_emulator.settings(scopes=SCOPES)


def test_login_redirects_to_tiktok_authorize_url(
    client: TestClient, tiktok_settings: TikTokSettings
) -> None:
    response = client.get(
        tiktok_settings.login_path, params={"next": "/somewhere"}, follow_redirects=False
    )
    assert response.status_code == 302
    url = response.headers["location"]
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == tiktok_settings.authorize_url
    query = query_of(url)
    assert set(query) == {
        "client_key",
        "scope",
        "response_type",
        "redirect_uri",
        "state",
        "code_challenge",
        "code_challenge_method",
    }
    assert query["client_key"] == [tiktok_settings.client_key]
    assert query["scope"] == ["user.info.basic,user.info.profile"]
    assert query["response_type"] == ["code"]
    assert query["redirect_uri"] == [tiktok_settings.redirect_uri]
    assert len(query["state"][0]) >= 20
    assert "client_id" not in url
    assert tiktok_settings.client_secret not in url
    assert tiktok_settings.client_secret not in unquote(url)
    # The page is never cached: it carries a fresh state.
    assert response.headers["cache-control"] == "no-store"


def test_state_differs_per_login(client: TestClient, tiktok_settings: TikTokSettings) -> None:
    states = {one(start_login(client, tiktok_settings), "state") for _ in range(5)}
    assert len(states) == 5


def test_disable_auto_auth_only_when_set(
    tiktok_emulator: TikTokEmulator, client: TestClient, tiktok_settings: TikTokSettings
) -> None:
    assert "disable_auto_auth" not in query_of(start_login(client, tiktok_settings))
    forced = tiktok_settings.replace(disable_auto_auth=True)
    other = TestClient(make_app(forced, tiktok_emulator.transport()), base_url=BASE_URL)
    assert one(start_login(other, forced), "disable_auto_auth") == "1"


def test_pkce_is_base64url_by_default(client: TestClient, tiktok_settings: TikTokSettings) -> None:
    # TikTok's consent page refuses web sign-ins without a challenge (RFC 7636 S256).
    assert tiktok_settings.pkce == "base64url"
    query = query_of(start_login(client, tiktok_settings))
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43


def test_no_challenge_when_pkce_is_turned_off(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    off = tiktok_settings.replace(pkce=None)
    client = TestClient(make_app(off, tiktok_emulator.transport()), base_url=BASE_URL)
    url = start_login(client, off)
    query = query_of(url)
    assert "code_challenge" not in query
    assert "code_challenge_method" not in query
    # ... which today's TikTok refuses for a web app, as the emulator does.
    with pytest.raises(EmulatorRejected, match="code_challenge"):
        tiktok_emulator.approve(url)


def _expected_challenge(verifier: str, encoding: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    if encoding == "hex":
        return digest.hex()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@pytest.mark.parametrize("encoding", ["hex", "base64url"])
def test_pkce_challenge_matches_the_verifier_sent_to_the_token_endpoint(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings, encoding: str
) -> None:
    if encoding == "hex":  # TikTok checks hex challenges for desktop apps only
        tiktok_emulator = TikTokEmulator(app_type="desktop")
    pkce_settings = tiktok_settings.replace(pkce=encoding)
    client = TestClient(make_app(pkce_settings, tiktok_emulator.transport()), base_url=BASE_URL)
    url = start_login(client, pkce_settings)
    challenge = one(url, "code_challenge")
    assert one(url, "code_challenge_method") == "S256"
    if encoding == "hex":
        assert len(challenge) == 64
        assert challenge == challenge.lower()
        int(challenge, 16)
    else:
        assert len(challenge) == 43
        assert "=" not in challenge
    callback = tiktok_emulator.approve(url)
    response = client.get(callback, follow_redirects=False)
    assert response.status_code == 302, response.text
    (token_request,) = [r for r in tiktok_emulator.requests if r.endpoint == "token"]
    (verifier,) = token_request.form["code_verifier"]
    assert 43 <= len(verifier) <= 128
    assert challenge == _expected_challenge(verifier, encoding)
    # The verifier never travels in a URL.
    for seen in (url, callback, response.headers["location"]):
        assert verifier not in seen
    for recorded in tiktok_emulator.requests:
        assert verifier not in recorded.path
        assert all(verifier not in v for values in recorded.query.values() for v in values)


def test_pkce_verifier_is_fresh_per_login(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    pkce_settings = tiktok_settings.replace(pkce="hex")
    client = TestClient(make_app(pkce_settings, tiktok_emulator.transport()), base_url=BASE_URL)
    challenges = {one(start_login(client, pkce_settings), "code_challenge") for _ in range(4)}
    assert len(challenges) == 4


def test_flow_cookie_attributes_exact_on_https(
    client: TestClient, tiktok_settings: TikTokSettings
) -> None:
    response = client.get(tiktok_settings.login_path, follow_redirects=False)
    name, value, attributes = cookie_named(response, "__Host-tiktok_session_flow_")
    assert len(name) > len("__Host-tiktok_session_flow_")
    assert value
    # A __Host- cookie must have Path=/: browsers drop it otherwise.
    assert attributes == ["Path=/", "Max-Age=600", "HttpOnly", "Secure", "SameSite=Lax"]
    # Only the flow cookie: logging in does not touch the identity cookie.
    assert len(response.headers.get_list("set-cookie")) == 1


def test_flow_cookie_max_age_follows_settings(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    short = tiktok_settings.replace(flow_max_age=90)
    client = TestClient(make_app(short, tiktok_emulator.transport()), base_url=BASE_URL)
    _, _, attributes = cookie_named(
        client.get(short.login_path, follow_redirects=False), "__Host-tiktok_session_flow_"
    )
    assert "Max-Age=90" in attributes


def test_flow_cookie_has_no_secure_on_plain_http_loopback(
    tiktok_emulator: TikTokEmulator,
) -> None:
    tiktok_settings = tiktok_emulator.settings(
        redirect_uri="http://127.0.0.1:8000/auth/tiktok/callback"
    )
    client = TestClient(
        make_app(tiktok_settings, tiktok_emulator.transport()), base_url="http://127.0.0.1:8000"
    )
    response = client.get(tiktok_settings.login_path, follow_redirects=False)
    _, _, attributes = cookie_named(response, "tiktok_session_flow_")
    assert attributes == ["Path=/auth/tiktok", "Max-Age=600", "HttpOnly", "SameSite=Lax"]


@pytest.mark.parametrize(
    ("login_path", "expected"), [("/oauth/tiktok/login", "/oauth/tiktok"), ("/login", "/")]
)
def test_flow_cookie_path_covers_the_login_and_the_redirect_uri_path(
    tiktok_emulator: TikTokEmulator, login_path: str, expected: str
) -> None:
    # The login must see the browser's pending logins to keep only a few of them.
    tiktok_emulator.register_redirect_uri("https://testserver/oauth/tiktok/done")
    tiktok_settings = tiktok_emulator.settings(
        redirect_uri="https://testserver/oauth/tiktok/done",
        callback_path="/oauth/tiktok/done",
        login_path=login_path,
        cookie_name="app_session",  # a name without the __Host- prefix, which needs Path=/
    )
    client = TestClient(make_app(tiktok_settings, tiktok_emulator.transport()), base_url=BASE_URL)
    response = client.get(tiktok_settings.login_path, follow_redirects=False)
    _, _, attributes = cookie_named(response, "app_session_flow_")
    assert attributes[0] == f"Path={expected}"


def test_login_accepts_head_and_refuses_post(
    client: TestClient, tiktok_settings: TikTokSettings
) -> None:
    assert client.head(tiktok_settings.login_path, follow_redirects=False).status_code == 302
    response = client.post(tiktok_settings.login_path, follow_redirects=False)
    assert response.status_code == 405
    assert response.headers["allow"] == "GET"
