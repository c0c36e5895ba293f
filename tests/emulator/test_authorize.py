"""The authorize endpoint: consent page, consent form, approve() and deny(), every refusal."""

from __future__ import annotations

import re

import pytest
from tests.emulator.helpers import (
    AUTHORIZE,
    B64_CHALLENGE,
    REDIRECT,
    Api,
    authorize_url,
    callback_params,
)
from tests.support.consent_page import post_consent

from tiktok_asgi.emulator import EmulatorRejected, TikTokEmulator

HEX_CHALLENGE = "a" * 64

REJECTIONS = [
    pytest.param(
        {"client_key": None, "client_id": "emulator-client-key"},
        "invalid_request",
        "client_id",
        id="client_id-instead-of-client_key",
    ),
    pytest.param({"client_key": None}, "invalid_request", "client_key", id="no-client_key"),
    pytest.param({"client_key": "someone-else"}, "invalid_client", "Client key", id="unknown-key"),
    pytest.param(
        {"client_secret": "emulator-client-secret"}, "invalid_request", "leaked", id="secret-in-url"
    ),
    pytest.param(
        {"scope": "user.info.basic user.info.profile"}, "invalid_scope", "commas", id="space-scopes"
    ),
    pytest.param(
        {"scope": "user.info.basic,video.publish"},
        "invalid_scope",
        "video.publish",
        id="unapproved",
    ),
    pytest.param({"scope": None}, "invalid_scope", "missing", id="no-scope"),
    pytest.param({"scope": "user.info.basic,"}, "invalid_scope", "approved", id="empty-scope"),
    pytest.param(
        {"redirect_uri": "https://evil.example/auth/tiktok/callback"},
        "invalid_request",
        "not registered",
        id="unregistered-redirect",
    ),
    pytest.param(
        {"redirect_uri": REDIRECT + "/"},
        "invalid_request",
        "trailing slash",
        id="trailing-slash-redirect",
    ),
    pytest.param({"redirect_uri": None}, "invalid_request", "redirect_uri", id="no-redirect"),
    pytest.param({"response_type": "token"}, "unsupported_response_type", "code", id="token-type"),
    pytest.param({"state": None}, "invalid_request", "state", id="no-state"),
    pytest.param({"disable_auto_auth": "true"}, "invalid_request", "0 or 1", id="auto-auth-bool"),
    pytest.param(
        {"code_challenge": HEX_CHALLENGE, "code_challenge_method": "plain"},
        "invalid_request",
        "S256",
        id="pkce-plain",
    ),
    pytest.param(
        {"code_challenge": "short", "code_challenge_method": "S256"},
        "invalid_request",
        "invalid",
        id="pkce-malformed",
    ),
    pytest.param({"code_challenge": None}, "invalid_request", "code_challenge", id="method-only"),
    pytest.param(
        {"code_challenge": None, "code_challenge_method": None},
        "invalid_request",
        "code_challenge is required",
        id="no-pkce",
    ),
    pytest.param({"code_challenge_method": None}, "invalid_request", "S256", id="no-method"),
]


@pytest.mark.parametrize(("params", "error", "words"), REJECTIONS)
def test_approve_rejects_what_tiktok_rejects(
    emu: TikTokEmulator, params: dict[str, str | None], error: str, words: str
) -> None:
    with pytest.raises(EmulatorRejected) as caught:
        emu.approve(authorize_url(emu, **params))
    assert caught.value.error == error
    assert words in caught.value.description


@pytest.mark.parametrize(("params", "error", "words"), REJECTIONS)
async def test_page_shows_an_error_instead_of_redirecting(
    api: Api, params: dict[str, str | None], error: str, words: str
) -> None:
    response = await api.client.get(authorize_url(api.emu, **params))
    assert response.status_code == 400
    assert "location" not in response.headers
    assert error in response.text
    assert response.headers["cache-control"] == "no-store"


def test_repeated_parameter_is_rejected(emu: TikTokEmulator) -> None:
    url = authorize_url(emu) + "&state=other"
    with pytest.raises(EmulatorRejected, match="repeated"):
        emu.approve(url)


def test_path_without_trailing_slash_is_rejected(emu: TikTokEmulator) -> None:
    with pytest.raises(EmulatorRejected) as caught:
        emu.approve(authorize_url(emu, base=AUTHORIZE.rstrip("/")))
    assert caught.value.error == "not_found"


async def test_consent_page_offers_accounts_scopes_and_two_buttons(api: Api) -> None:
    url = authorize_url(api.emu, disable_auto_auth="1")
    response = await api.client.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-frame-options"] == "DENY"
    csp = response.headers["content-security-policy"]
    assert "script-src" not in csp
    assert "default-src 'none'" in csp
    assert "form-action 'self' https://testserver" in csp
    page = response.text
    assert "<script" not in page.lower()
    assert '<button name="action" value="authorize">Authorize</button>' in page
    assert '<button name="action" value="cancel">Cancel</button>' in page
    assert "Emulated App" in page
    # Basic info is ticked and cannot be unticked; the others are optional.
    assert '<input type="checkbox" checked disabled' in page
    assert '<input type="hidden" name="granted" value="user.info.basic">' in page
    for scope in ("user.info.profile", "user.info.stats", "video.list"):
        assert f'<input type="checkbox" name="granted" value="{scope}" checked>' in page
    for user in api.emu.users:
        assert f'value="{user.open_id}"' in page
        assert f"@{user.username}" in page
    assert '<input type="hidden" name="disable_auto_auth" value="1">' in page
    assert 'src="https://www.tiktok.com/avatars/' in page


async def test_consent_form_authorize_redirects_with_code_scopes_state(api: Api) -> None:
    user = api.emu.users[2]
    response = await post_consent(
        api.client, api.emu, user=user.open_id, granted=["user.info.basic", "video.list"]
    )
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith(REDIRECT + "?code=")
    params = callback_params(location)
    assert params["scopes"] == "user.info.basic,video.list"
    assert params["state"] == "state-123"
    token = await api.token(code=params["code"])
    assert token.json()["open_id"] == user.open_id
    assert token.json()["scope"] == "user.info.basic,video.list"


async def test_consent_form_cannot_drop_basic_info(api: Api) -> None:
    response = await post_consent(
        api.client, api.emu, user=api.emu.users[0].open_id, granted=["user.info.stats"]
    )
    assert callback_params(response.headers["location"])["scopes"] == (
        "user.info.basic,user.info.stats"
    )


async def test_consent_form_cancel_redirects_access_denied(api: Api) -> None:
    response = await post_consent(api.client, api.emu, action="cancel")
    assert response.status_code == 302
    params = callback_params(response.headers["location"])
    assert params == {
        "error": "access_denied",
        "error_description": "The user denied the authorization request.",
        "state": "state-123",
    }


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"redirect_uri": "https://evil.example/cb"}, "invalid_request"),
        ({"scope": "user.info.basic,video.publish"}, "invalid_scope"),
        ({"client_key": "forged"}, "invalid_client"),
    ],
)
async def test_consent_form_revalidates_hidden_fields(
    api: Api, change: dict[str, str], error: str
) -> None:
    response = await post_consent(api.client, api.emu, **change)
    assert response.status_code == 400
    assert error in response.text


async def test_consent_form_granting_an_unrequested_scope_is_refused(api: Api) -> None:
    response = await post_consent(
        api.client, api.emu, scope="user.info.basic", granted=["user.info.basic", "video.list"]
    )
    assert response.status_code == 400
    assert "invalid_scope" in response.text


async def test_consent_form_without_account_shows_page_again(api: Api) -> None:
    response = await post_consent(api.client, api.emu, user="")
    assert response.status_code == 400
    assert "Choose an account" in response.text


def test_approve_defaults_to_first_user_and_all_scopes(emu: TikTokEmulator) -> None:
    url = authorize_url(emu)
    params = callback_params(emu.approve(url))
    assert params["scopes"] == "user.info.basic,user.info.profile,user.info.stats,video.list"
    assert params["state"] == "state-123"
    assert emu.requests[-1].endpoint == "authorize"
    assert emu.requests[-1].query["client_key"] == [emu.client_key]


def test_approve_picks_user_by_username_and_partial_scopes(emu: TikTokEmulator) -> None:
    url = authorize_url(emu)
    params = callback_params(emu.approve(url, user="@leo.skates", scopes=["user.info.stats"]))
    assert params["scopes"] == "user.info.basic,user.info.stats"
    with pytest.raises(ValueError, match="not requested"):
        emu.approve(authorize_url(emu, scope="user.info.basic"), scopes=["video.list"])
    with pytest.raises(LookupError):
        emu.approve(url, user="nobody_here")


def test_code_contains_star_and_bang_and_is_percent_encoded(emu: TikTokEmulator) -> None:
    location = emu.approve(authorize_url(emu))
    raw_code = re.search(r"code=([^&]+)", location)
    assert raw_code is not None
    assert "%2A" in raw_code.group(1)
    assert "%21" in raw_code.group(1)
    assert "*" not in location
    assert "!" not in location
    code = callback_params(location)["code"]
    assert "*" in code
    assert "!" in code
    assert code.endswith(".va")


def test_deny_redirects_with_access_denied(emu: TikTokEmulator) -> None:
    params = callback_params(emu.deny(authorize_url(emu)))
    assert params["error"] == "access_denied"
    assert params["state"] == "state-123"
    with pytest.raises(EmulatorRejected):
        emu.deny(authorize_url(emu, client_key=None, client_id=emu.client_key))


async def test_authorize_is_served_only_on_www_tiktok_com(api: Api) -> None:
    wrong_host = authorize_url(api.emu, base="https://open.tiktokapis.com/v2/auth/authorize/")
    assert (await api.client.get(wrong_host)).status_code == 404
    token_on_www = await api.client.post("https://www.tiktok.com/v2/oauth/token/", data={})
    assert token_on_www.status_code == 404


@pytest.mark.parametrize("app_type", ["web", "desktop"])
@pytest.mark.parametrize("challenge", [HEX_CHALLENGE, B64_CHALLENGE])
def test_any_well_formed_s256_challenge_gets_a_code(app_type: str, challenge: str) -> None:
    # Which encoding the app type expects is checked at the token exchange, as at TikTok.
    emu = TikTokEmulator(app_type=app_type)  # type: ignore[arg-type]
    assert "code=" in emu.approve(authorize_url(emu, code_challenge=challenge))


def test_uppercase_hex_challenge_is_malformed(emu: TikTokEmulator) -> None:
    with pytest.raises(EmulatorRejected, match="Code verifier or code challenge"):
        emu.approve(authorize_url(emu, code_challenge=HEX_CHALLENGE.upper()))
