"""Failures of a sign-in: the right code and status, three answer shapes, safe logs, never a 500."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from starlette.testclient import TestClient

from tests.conftest import BASE_URL, make_app, start_login
from tests.core.helpers import cookie_named, one, pending_login, query_of
from tiktok_asgi import TikTokSettings
from tiktok_asgi.emulator import Fault, TikTokEmulator

JSON = {"accept": "application/json"}


def _approved(emulator: TikTokEmulator, client: TestClient, tiktok_settings: TikTokSettings) -> str:
    return emulator.approve(start_login(client, tiktok_settings))


def _client_with(
    emulator: TikTokEmulator, settings: TikTokSettings, **changes: Any
) -> tuple[TestClient, TikTokSettings]:
    """A browser on the test app with ``settings`` changed by ``changes``, and those settings."""
    changed = settings.replace(**changes)
    return TestClient(make_app(changed, emulator.transport()), base_url=BASE_URL), changed


def test_callback_without_code_is_invalid_request(
    tiktok_emulator: TikTokEmulator, client: TestClient, tiktok_settings: TikTokSettings
) -> None:
    callback = _approved(tiktok_emulator, client, tiktok_settings)
    query = {k: v[0] for k, v in query_of(callback).items() if k != "code"}
    response = client.get(
        urlsplit(callback)._replace(query=urlencode(query)).geturl(), headers=JSON
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert tiktok_emulator.count("token") == 0


def test_denied_consent_is_access_denied_as_html_by_default(
    tiktok_emulator: TikTokEmulator, client: TestClient, tiktok_settings: TikTokSettings
) -> None:
    denied, flow_name, _ = pending_login(client, tiktok_settings, tiktok_emulator.deny)
    response = client.get(denied)
    assert 400 <= response.status_code < 500
    assert response.headers["content-type"].startswith("text/html")
    assert "access_denied" in response.text
    assert "Sign-in cancelled" in response.text
    assert response.headers["cache-control"] == "no-store"
    assert "default-src 'none'" in response.headers["content-security-policy"]
    # The pending login's flow cookie is cleared, and nobody is signed in.
    name, value, attributes = cookie_named(response, "__Host-tiktok_session_flow_")
    assert (name, value) == (flow_name, "")
    assert "Max-Age=0" in attributes
    assert client.get("/me").json()["authenticated"] is False
    assert tiktok_emulator.count("token") == 0


def test_denied_consent_as_json(
    tiktok_emulator: TikTokEmulator, client: TestClient, tiktok_settings: TikTokSettings
) -> None:
    denied = tiktok_emulator.deny(start_login(client, tiktok_settings))
    response = client.get(denied, headers=JSON)
    assert 400 <= response.status_code < 500
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error", "error_description", "log_id"}
    assert body["error"] == "access_denied"
    assert body["error_description"]


@pytest.mark.parametrize(
    ("error_redirect", "location"),
    [
        ("/sign-in-failed", "/sign-in-failed?error=access_denied"),
        # The page keeps its own query.
        ("/oops?from=tiktok", "/oops?from=tiktok&error=access_denied"),
    ],
)
def test_denied_consent_redirects_to_error_redirect_when_set(
    tiktok_emulator: TikTokEmulator,
    tiktok_settings: TikTokSettings,
    error_redirect: str,
    location: str,
) -> None:
    client, with_page = _client_with(
        tiktok_emulator, tiktok_settings, error_redirect=error_redirect
    )
    denied = tiktok_emulator.deny(start_login(client, with_page))
    response = client.get(denied, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == location
    # JSON clients still get JSON.
    denied = tiktok_emulator.deny(start_login(client, with_page))
    assert client.get(denied, headers=JSON).json()["error"] == "access_denied"


def test_unknown_error_value_is_not_reflected_raw(
    tiktok_emulator: TikTokEmulator, client: TestClient, tiktok_settings: TikTokSettings
) -> None:
    url = start_login(client, tiktok_settings)
    state = one(url, "state")
    hostile = "<script>alert(1)</script>"
    callback = f"/auth/tiktok/callback?{urlencode({'error': hostile, 'state': state})}"
    response = client.get(callback)
    assert response.status_code == 400
    assert "<script>" not in response.text
    assert client.get(callback, headers=JSON).json()["error"] == "authorization_error"


def test_wrong_client_secret_is_invalid_client_with_log_id(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    client, wrong = _client_with(tiktok_emulator, tiktok_settings, client_secret="not-the-secret")
    callback = _approved(tiktok_emulator, client, wrong)
    response = client.get(callback, headers=JSON)
    assert response.status_code == 502
    body = response.json()
    assert body["error"] == "invalid_client"
    assert body["log_id"]
    assert tiktok_emulator.count("userinfo") == 0
    assert client.get("/me").json()["authenticated"] is False


@pytest.mark.parametrize(
    ("endpoint", "code", "status"),
    [
        ("token", "invalid_grant", 200),
        ("token", "invalid_grant", 400),
        ("userinfo", "access_token_invalid", 200),
        ("userinfo", "access_token_invalid", 401),
    ],
)
def test_an_error_body_is_a_502_with_tiktoks_code_whatever_the_status(
    tiktok_emulator: TikTokEmulator,
    client: TestClient,
    tiktok_settings: TikTokSettings,
    endpoint: str,
    code: str,
    status: int,
) -> None:
    tiktok_emulator.inject(endpoint, Fault.error_body(code, status=status))
    response = client.get(_approved(tiktok_emulator, client, tiktok_settings), headers=JSON)
    assert response.status_code == 502
    body = response.json()
    assert body["error"] == code
    assert body["log_id"]
    if endpoint == "token":  # no user info is asked with a token never received
        assert tiktok_emulator.count("userinfo") == 0
    assert client.get("/me").json()["authenticated"] is False


def test_token_error_as_html_page_shows_the_log_id(
    tiktok_emulator: TikTokEmulator, client: TestClient, tiktok_settings: TikTokSettings
) -> None:
    tiktok_emulator.inject("token", Fault.error_body("invalid_grant"))
    response = client.get(_approved(tiktok_emulator, client, tiktok_settings))
    assert response.status_code == 502
    assert response.headers["content-type"].startswith("text/html")
    assert "invalid_grant" in response.text
    assert "TikTok log id" in response.text


@pytest.mark.parametrize("endpoint", ["token", "userinfo"])
def test_network_failure_is_503_tiktok_unavailable(
    tiktok_emulator: TikTokEmulator,
    client: TestClient,
    tiktok_settings: TikTokSettings,
    endpoint: str,
) -> None:
    tiktok_emulator.inject(endpoint, Fault.connection_refused())
    response = client.get(_approved(tiktok_emulator, client, tiktok_settings), headers=JSON)
    assert response.status_code == 503
    assert response.json()["error"] == "tiktok_unavailable"
    html = client.get(_approved(tiktok_emulator, client, tiktok_settings))
    assert html.status_code == 200  # the fault fired once: the next login succeeds
    assert client.get("/me").json()["authenticated"] is True


@pytest.mark.parametrize("endpoint", ["token", "userinfo"])
def test_timeout_is_504_tiktok_unavailable(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings, endpoint: str
) -> None:
    client, quick = _client_with(tiktok_emulator, tiktok_settings, http_timeout=0.2)
    tiktok_emulator.inject(endpoint, Fault.timeout(5))
    response = client.get(_approved(tiktok_emulator, client, quick), headers=JSON)
    assert response.status_code == 504
    assert response.json()["error"] == "tiktok_unavailable"
    page = client.get(_approved(tiktok_emulator, client, quick), follow_redirects=False)
    assert page.status_code == 302


FAULTS = [
    pytest.param(Fault.status(500), id="500-gateway-page"),
    pytest.param(Fault.status(503, {"unexpected": True}), id="503-json"),
    pytest.param(Fault.status(200, "not json at all"), id="200-text"),
    pytest.param(Fault.malformed_json(), id="malformed-json"),
    pytest.param(Fault.html_error_page(), id="html-error-page"),
    pytest.param(Fault.empty_body(), id="empty-body"),
    pytest.param(Fault.empty_body(500), id="empty-body-500"),
    pytest.param(Fault.rate_limited(), id="rate-limited"),
    pytest.param(Fault.error_body("internal_error", status=500), id="internal-error"),
    pytest.param(Fault.status(200, {}), id="200-empty-object"),
    pytest.param(Fault.status(200, {"data": None, "error": "boom"}), id="200-odd-shape"),
]


@pytest.mark.parametrize("endpoint", ["token", "userinfo"])
@pytest.mark.parametrize("fault", FAULTS)
def test_no_fault_of_tiktok_becomes_a_500(
    tiktok_emulator: TikTokEmulator,
    client: TestClient,
    tiktok_settings: TikTokSettings,
    endpoint: str,
    fault: Fault,
) -> None:
    tiktok_emulator.inject(endpoint, fault)
    response = client.get(_approved(tiktok_emulator, client, tiktok_settings), headers=JSON)
    assert response.status_code in (502, 503, 504), response.text
    body = response.json()
    assert set(body) == {"error", "error_description", "log_id"}
    assert body["error"]
    assert client.get("/me").json()["authenticated"] is False


def test_failures_are_logged_with_log_id_and_without_secrets(
    tiktok_emulator: TikTokEmulator,
    client: TestClient,
    tiktok_settings: TikTokSettings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []

    # A successful login first, so that tokens exist which must never be logged.
    callback = _approved(tiktok_emulator, client, tiktok_settings)
    seen.append(one(callback, "code"))
    assert client.get(callback, follow_redirects=False).status_code == 302

    tiktok_emulator.inject("userinfo", Fault.error_body("access_token_invalid"))
    callback = _approved(tiktok_emulator, client, tiktok_settings)
    seen.append(one(callback, "code"))
    response = client.get(callback, headers=JSON)
    log_id = response.json()["log_id"]
    assert log_id

    tiktok_emulator.inject("token", Fault.error_body("invalid_grant"))
    callback = _approved(tiktok_emulator, client, tiktok_settings)
    seen.append(one(callback, "code"))
    token_log_id = client.get(callback, headers=JSON).json()["log_id"]

    failures = [
        r for r in caplog.records if r.name == "tiktok_asgi" and r.levelno >= logging.WARNING
    ]
    messages = [r.getMessage() for r in failures]
    assert any(log_id in m and "access_token_invalid" in m for m in messages), messages
    assert any(token_log_id in m and "invalid_grant" in m for m in messages), messages
    assert any(getattr(r, "log_id", None) == log_id for r in failures)

    tokens = [
        r.headers["authorization"].removeprefix("Bearer ")
        for r in tiktok_emulator.requests
        if r.endpoint == "userinfo"
    ]
    assert tokens
    secrets = [tiktok_settings.client_secret, *tiktok_settings.secret_keys, *tokens, *seen]
    for record in caplog.records:
        text = record.getMessage() + repr(record.__dict__)
        for secret in secrets:
            assert secret not in text, (secret, record.getMessage())
        assert "act." not in text
        assert "rft." not in text


def test_failed_login_leaves_an_existing_session_alone(
    tiktok_emulator: TikTokEmulator, client: TestClient, tiktok_settings: TikTokSettings
) -> None:
    assert client.get(_approved(tiktok_emulator, client, tiktok_settings)).status_code == 200
    before = client.get("/me").json()
    assert before["authenticated"] is True
    tiktok_emulator.inject("token", Fault.error_body("invalid_grant"))
    response = client.get(_approved(tiktok_emulator, client, tiktok_settings), headers=JSON)
    assert response.status_code == 502
    assert not [
        c for c in response.headers.get_list("set-cookie") if c.startswith("__Host-tiktok_session=")
    ]
    assert client.get("/me").json() == before
