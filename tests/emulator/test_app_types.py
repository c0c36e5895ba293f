"""Web and desktop apps: PKCE is required; web takes base64url (and hex unless strict), desktop
hex and any loopback port."""

from __future__ import annotations

import base64
import hashlib

import pytest
from httpx2 import AsyncClient
from tests.emulator.helpers import (
    AUTHORIZE,
    B64_CHALLENGE,
    HEX_CHALLENGE,
    REDIRECT,
    TOKEN,
    VERIFIER,
    authorize_url,
    callback_params,
)

from tiktok_asgi.emulator import EmulatorRejected, TikTokEmulator

INVALID_PKCE = "Code verifier or code challenge is invalid."
DESKTOP_REGISTERED = "http://127.0.0.1/auth/tiktok/callback"


async def _exchange(emu: TikTokEmulator, challenge: str, redirect_uri: str = REDIRECT) -> object:
    """Approve a sign-in sent with ``challenge`` to ``redirect_uri``, then exchange its code with
    ``VERIFIER``: TikTok's answer."""
    url = authorize_url(emu, redirect_uri=redirect_uri, code_challenge=challenge)
    form = {
        "client_key": emu.client_key,
        "client_secret": emu.client_secret,
        "code": callback_params(emu.approve(url))["code"],
        "grant_type": "authorization_code",
        "redirect_uri": redirect_uri,
        "code_verifier": VERIFIER,
    }
    async with AsyncClient(transport=emu.transport()) as client:
        return (await client.post(TOKEN, data=form)).json()


def test_web_is_the_default_app_type() -> None:
    emu = TikTokEmulator()
    assert emu.app_type == "web"
    assert emu.settings().pkce == "base64url"
    assert TikTokEmulator(app_type="desktop").settings().pkce == "hex"
    assert TikTokEmulator(app_type="desktop").settings(pkce="base64url").pkce == "base64url"


@pytest.mark.parametrize("app_type", ["web", "desktop"])
def test_authorize_without_challenge_is_refused(app_type: str) -> None:
    emu = TikTokEmulator(app_type=app_type)  # type: ignore[arg-type]
    url = authorize_url(emu, code_challenge=None, code_challenge_method=None)
    with pytest.raises(EmulatorRejected) as caught:
        emu.approve(url)
    assert caught.value.error == "invalid_request"
    assert "code_challenge" in caught.value.description
    assert caught.value.field == "code_challenge"
    assert caught.value.render == "page"


async def test_web_refusal_page_names_code_challenge() -> None:
    emu = TikTokEmulator()
    url = authorize_url(emu, code_challenge=None, code_challenge_method=None)
    async with AsyncClient(transport=emu.transport()) as client:
        response = await client.get(url)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    assert "location" not in response.headers
    page = response.text
    assert "We couldn't log in with TikTok" in page
    assert "If you're a developer, correct the following: code_challenge" in page
    assert "invalid_request" in page
    assert "Authorize</button>" not in page


@pytest.mark.parametrize("method", ["plain", "s256"])
def test_method_must_be_s256(method: str) -> None:
    emu = TikTokEmulator()
    with pytest.raises(EmulatorRejected) as caught:
        emu.approve(authorize_url(emu, code_challenge_method=method))
    assert caught.value.field == "code_challenge_method"
    assert "S256" in caught.value.description


async def test_web_base64url_round_trip() -> None:
    token = await _exchange(TikTokEmulator(), B64_CHALLENGE)
    assert token["token_type"] == "Bearer"  # type: ignore[index]


async def test_web_hex_challenge_is_accepted_unless_strict() -> None:
    # TikTok documents no encoding for web apps, and hex is reported to work there too.
    token = await _exchange(TikTokEmulator(), HEX_CHALLENGE)
    assert token["token_type"] == "Bearer"  # type: ignore[index]


async def test_strict_web_refuses_a_hex_challenge_at_the_token_exchange() -> None:
    emu = TikTokEmulator(strict_pkce=True)
    assert emu.strict_pkce is True
    body = await _exchange(emu, HEX_CHALLENGE)
    assert body["error"] == "invalid_request"  # type: ignore[index]
    assert body["error_description"] == INVALID_PKCE  # type: ignore[index]
    assert body["log_id"]  # type: ignore[index]
    token = await _exchange(emu, B64_CHALLENGE)
    assert token["token_type"] == "Bearer"  # type: ignore[index]


@pytest.mark.parametrize("strict", [False, True])
async def test_a_wrong_verifier_is_refused_in_either_encoding(strict: bool) -> None:
    emu = TikTokEmulator(strict_pkce=strict)
    other = hashlib.sha256(b"another-verifier-" + b"y" * 40).digest()
    for challenge in (other.hex(), base64.urlsafe_b64encode(other).rstrip(b"=").decode()):
        body = await _exchange(emu, challenge)
        assert body["error_description"] == INVALID_PKCE  # type: ignore[index]


@pytest.mark.parametrize(
    "registered",
    [
        DESKTOP_REGISTERED,
        "http://127.0.0.1:*/auth/tiktok/callback",
        "http://127.0.0.1:9/auth/tiktok/callback",
    ],
)
async def test_desktop_hex_round_trip_on_any_loopback_port(registered: str) -> None:
    emu = TikTokEmulator(app_type="desktop", redirect_uris=[registered])
    token = await _exchange(emu, HEX_CHALLENGE, "http://127.0.0.1:54817/auth/tiktok/callback")
    assert token["token_type"] == "Bearer"  # type: ignore[index]
    assert emu.redirect_uris == (registered,)


@pytest.mark.parametrize("strict", [False, True])
async def test_desktop_base64url_challenge_is_refused_with_tiktoks_text(strict: bool) -> None:
    emu = TikTokEmulator(app_type="desktop", redirect_uris=[DESKTOP_REGISTERED], strict_pkce=strict)
    body = await _exchange(emu, B64_CHALLENGE, "http://127.0.0.1:40001/auth/tiktok/callback")
    assert body == {
        "error": "invalid_request",
        "error_description": INVALID_PKCE,
        "log_id": body["log_id"],  # type: ignore[index]
    }


@pytest.mark.parametrize(
    "redirect",
    [
        "http://127.0.0.1:40001/other/callback",  # another path
        "http://localhost:40001/auth/tiktok/callback",  # another host
        "https://127.0.0.1:40001/auth/tiktok/callback",  # not plain loopback http
        "http://127.0.0.1:40001/auth/tiktok/callback/",  # trailing slash
    ],
)
def test_desktop_port_freedom_keeps_host_and_path(redirect: str) -> None:
    emu = TikTokEmulator(app_type="desktop", redirect_uris=[DESKTOP_REGISTERED])
    with pytest.raises(EmulatorRejected) as caught:
        emu.approve(authorize_url(emu, redirect_uri=redirect, code_challenge=HEX_CHALLENGE))
    assert caught.value.field == "redirect_uri"


def test_web_redirect_uris_match_exactly() -> None:
    emu = TikTokEmulator()
    other_port = "http://127.0.0.1:8001/auth/tiktok/callback"
    with pytest.raises(EmulatorRejected) as caught:
        emu.approve(authorize_url(emu, redirect_uri=other_port))
    assert caught.value.field == "redirect_uri"
    with pytest.raises(ValueError, match="desktop"):
        TikTokEmulator(redirect_uris=["http://localhost:*/auth/tiktok/callback"])
    with pytest.raises(ValueError, match="https"):
        TikTokEmulator(redirect_uris=["http://app.example/auth/tiktok/callback"])


def test_desktop_registration_covers_ports_without_growing() -> None:
    emu = TikTokEmulator(app_type="desktop", redirect_uris=["http://localhost:*/cb"])
    emu.register_redirect_uri("http://localhost:3000/cb")
    assert emu.redirect_uris == ("http://localhost:*/cb",)
    settings = emu.settings("http://localhost:3001/cb")
    assert settings.pkce == "hex"
    assert emu.redirect_uris == ("http://localhost:*/cb",)


async def test_desktop_consent_page_carries_the_challenge() -> None:
    emu = TikTokEmulator(app_type="desktop")
    async with AsyncClient(transport=emu.transport()) as client:
        page = await client.get(authorize_url(emu, base=AUTHORIZE, code_challenge=HEX_CHALLENGE))
    assert page.status_code == 200
    assert 'name="code_challenge"' in page.text
