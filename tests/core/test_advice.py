"""TikTok's errors name the fix: a short text for the person, a log line for the developer."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

import pytest
from starlette.testclient import TestClient

from tests.conftest import BASE_URL, make_app, start_login
from tests.core.helpers import one
from tiktok_asgi import TikTokSettings
from tiktok_asgi.advice import ADVICE
from tiktok_asgi.emulator import Fault, TikTokEmulator

JSON = {"accept": "application/json"}
# Every error value and code of the login-kit note (sections 3 to 9).
TIKTOK_ERRORS = [
    "access_denied",
    "invalid_client",
    "invalid_grant",
    "invalid_request",
    "invalid_scope",
    "unauthorized_client",
    "unsupported_grant_type",
    "unsupported_response_type",
    "server_error",
    "temporarily_unavailable",
    "access_token_invalid",
    "scope_not_authorized",
    "scope_permission_missed",
    "invalid_params",
    "invalid_param",
    "rate_limit_exceeded",
    "internal_error",
    "non_sandbox_target",
    "scope",
    "code_challenge",
]


@pytest.mark.parametrize("code", TIKTOK_ERRORS)
def test_every_tiktok_error_has_words_for_both(code: str) -> None:
    advice = ADVICE[code]
    assert advice.person
    assert advice.developer
    assert "{" not in advice.person  # nothing of the set-up is shown to the person


@pytest.mark.parametrize(
    ("description", "fix"),
    [
        ("Redirect_uri is not matched with the uri when requesting code.", "register redirect_uri"),
        ("Code verifier or code challenge is invalid.", "TikTok refused the PKCE challenge"),
    ],
)
def test_a_token_refusal_logs_what_to_change(
    tiktok_emulator: TikTokEmulator,
    tiktok_settings: TikTokSettings,
    client: TestClient,
    caplog: pytest.LogCaptureFixture,
    description: str,
    fix: str,
) -> None:
    callback = tiktok_emulator.approve(start_login(client, tiktok_settings))
    tiktok_emulator.inject("token", Fault.error_body("invalid_request", message=description))
    with caplog.at_level(logging.WARNING, logger="tiktok_asgi"):
        response = client.get(callback, headers=JSON)
    assert response.status_code == 502
    assert response.json()["error"] == "invalid_request"
    assert response.json()["error_description"] == ADVICE["invalid_request"].person
    (record,) = [r for r in caplog.records if r.getMessage().startswith("login_failed")]
    assert fix in record.getMessage()
    assert record.fix.startswith(fix)  # type: ignore[attr-defined]
    if "redirect_uri" in fix:
        assert tiktok_settings.redirect_uri in record.getMessage()


@pytest.mark.parametrize(
    ("emulator", "pkce", "other"),
    [
        # A web app of a TikTok that wants base64url, signed in with hex: try base64url.
        (TikTokEmulator(strict_pkce=True), "hex", "base64url"),
        # A desktop app, which wants hex, signed in with base64url: try hex.
        (TikTokEmulator(app_type="desktop"), "base64url", "hex"),
    ],
)
def test_a_pkce_refusal_names_the_other_encoding(
    emulator: TikTokEmulator, pkce: str, other: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = emulator.settings(pkce=pkce)
    client = TestClient(make_app(settings, emulator.transport()), base_url=BASE_URL)
    callback = emulator.approve(start_login(client, settings))
    with caplog.at_level(logging.WARNING, logger="tiktok_asgi"):
        response = client.get(callback, headers=JSON)
    assert response.json()["error"] == "invalid_request"
    (record,) = [r for r in caplog.records if r.getMessage().startswith("login_failed")]
    assert f"now (pkce={pkce!r}): try pkce={other!r}" in record.fix  # type: ignore[attr-defined]


def test_the_callbacks_description_is_never_shown(
    client: TestClient, tiktok_settings: TikTokSettings, caplog: pytest.LogCaptureFixture
) -> None:
    state = one(start_login(client, tiktok_settings), "state")
    planted = "Call +1 555 0100 to restore your account"
    query = urlencode({"error": "non_sandbox_target", "error_description": planted, "state": state})
    with caplog.at_level(logging.WARNING, logger="tiktok_asgi"):
        page = client.get(f"{tiktok_settings.callback_path}?{query}")
    assert page.status_code == 400
    assert planted not in page.text
    assert ADVICE["non_sandbox_target"].person in page.text
    (record,) = [r for r in caplog.records if r.getMessage().startswith("login_failed")]
    assert "target user" in record.getMessage()
    assert planted not in record.getMessage()


def test_a_cancelled_sign_in_is_logged_at_info(
    tiktok_emulator: TikTokEmulator,
    tiktok_settings: TikTokSettings,
    client: TestClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="tiktok_asgi"):
        client.get(tiktok_emulator.deny(start_login(client, tiktok_settings)))
    (record,) = [r for r in caplog.records if r.getMessage().startswith("login_failed")]
    assert record.levelno == logging.INFO


def test_an_unknown_error_value_gets_a_generic_text(
    client: TestClient, tiktok_settings: TikTokSettings
) -> None:
    state = one(start_login(client, tiktok_settings), "state")
    planted = {"error": "brand_new_error", "error_description": "<b>hi</b>", "state": state}
    query = urlencode(planted)
    body = client.get(f"{tiktok_settings.callback_path}?{query}", headers=JSON).json()
    assert body["error"] == "brand_new_error"
    assert body["error_description"] == "TikTok did not grant the sign-in."
