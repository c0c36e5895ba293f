"""TikTok's bad days: every call we make, times every way it can fail, each cell a defined outcome.

Calls: the token exchange and the user info of a sign-in, a token refresh, the revoke of a
logout, an API call through ``tiktok_api``. Faults come from the emulator's fault injection.
For every cell: the answer (status, code, ``log_id`` when TikTok gave one), no identity created,
nothing stored half-way, and the time spent bounded by ``http_timeout``.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import httpx2
import pytest

from tests.support.signin import async_sign_in
from tests.tokens.conftest import (
    browser,
    cleared,
    expire_access_token,
    read_record,
    session_id,
    signed_in,
    wrap,
)
from tiktok_asgi import MemoryTokenStore, TikTokSettings
from tiktok_asgi.emulator import Fault, TikTokEmulator
from tiktok_asgi.stores import TokenStore

TIMEOUT = 0.25  # http_timeout of every cell (a timeout cell waits it out)
JSON = {"accept": "application/json"}

FAULTS: dict[str, Fault] = {
    "5xx": Fault.status(503),
    "connection_refused": Fault.connection_refused(),
    "timeout": Fault.timeout(60),
    "malformed_json": Fault.malformed_json(),
    "html_error_page": Fault.html_error_page(),
    "200_error_body": Fault.error_body("internal_error"),
    "429_retry_after": Fault.rate_limited(retry_after=30),
    "empty_body": Fault.empty_body(),
}
# fault -> (status, error code, TikTok gave a log_id) for the token, user info, refresh and API
# calls. A rate limit on the sign-in or a refresh is TikTok asking the app to wait: 503 with its
# code, log_id and Retry-After; on an API call it is 429 (``TikTokRateLimited``), raised at once
# when Retry-After exceeds ``max_retry_wait`` (5 s) instead of sleeping 30 s.
EXPECTED: dict[str, tuple[int, str, bool]] = {
    "5xx": (502, "server_error", False),
    "connection_refused": (503, "tiktok_unavailable", False),
    "timeout": (504, "tiktok_unavailable", False),
    "malformed_json": (502, "invalid_response", False),
    "html_error_page": (502, "server_error", False),
    "200_error_body": (502, "internal_error", True),
    "429_retry_after": (503, "rate_limit_exceeded", True),
    "empty_body": (502, "invalid_response", False),
}
API_EXPECTED = {**EXPECTED, "429_retry_after": (429, "rate_limit_exceeded", True)}


@pytest.fixture
def tiktok_emulator() -> TikTokEmulator:
    return TikTokEmulator(rate_limit=None)


@pytest.fixture
def tiktok_settings(tiktok_emulator: TikTokEmulator) -> TikTokSettings:
    return tiktok_emulator.settings(http_timeout=TIMEOUT)


def _bounded(started: float) -> float:
    elapsed = time.monotonic() - started
    assert elapsed < TIMEOUT + 2, elapsed
    return elapsed


def _check_error(response: httpx2.Response, expected: tuple[int, str, bool]) -> dict[str, Any]:
    status, code, has_log_id = expected
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["error"] == code
    assert bool(body["log_id"]) is has_log_id
    assert body["error_description"]
    return body


def _no_identity(response: httpx2.Response, settings: TikTokSettings) -> None:
    for header in response.headers.get_list("set-cookie"):
        name, _, rest = header.partition("=")
        assert not (name == settings.cookie_name and rest.split(";")[0]), header


async def _get_while_failing(
    client: httpx2.AsyncClient, emulator: TikTokEmulator, endpoint: str, fault: str, url: str
) -> httpx2.Response:
    """GET ``url`` while TikTok's ``endpoint`` fails with ``fault``, answered in bounded time."""
    emulator.inject(endpoint, FAULTS[fault])
    started = time.monotonic()
    response = await client.get(url, headers=JSON)
    _bounded(started)
    return response


async def _failure_keeps_the_session(
    signed: tuple[httpx2.AsyncClient, TokenStore, str],
    settings: TikTokSettings,
    emulator: TikTokEmulator,
    endpoint: str,
    fault: str,
    url: str,
    expected: tuple[int, str, bool],
) -> dict[str, Any]:
    """A transient failure of ``endpoint`` answers ``expected`` and keeps the session and its
    stored record untouched; the record it kept."""
    client, store, sid = signed
    before = await read_record(store, settings, sid)
    response = await _get_while_failing(client, emulator, endpoint, fault, url)
    _check_error(response, expected)
    assert not cleared(response, settings)
    assert await read_record(store, settings, sid) == before
    return before


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("endpoint", ["token", "userinfo"])
async def test_sign_in(
    tiktok_emulator: TikTokEmulator,
    tiktok_settings: TikTokSettings,
    caplog: pytest.LogCaptureFixture,
    endpoint: str,
    fault: str,
) -> None:
    store = MemoryTokenStore()
    caplog.set_level(logging.INFO, logger="tiktok_asgi")
    async with browser(wrap(tiktok_settings, store, tiktok_emulator)) as client:
        login = await client.get(tiktok_settings.login_path)
        callback = tiktok_emulator.approve(login.headers["location"])
        response = await _get_while_failing(client, tiktok_emulator, endpoint, fault, callback)
        body = _check_error(response, EXPECTED[fault])
        if fault == "429_retry_after":  # TikTok's hint is passed on to the client
            assert response.headers["retry-after"] == "30"
        else:
            assert "retry-after" not in response.headers
        _no_identity(response, tiktok_settings)
        assert tiktok_settings.cookie_name not in client.cookies
        assert len(store) == 0  # no token kept for a sign-in that failed
        assert (await client.get("/token", headers=JSON)).status_code == 401
    (failed,) = [r for r in caplog.records if getattr(r, "event", None) == "login_failed"]
    assert failed.code == body["error"]  # type: ignore[attr-defined]
    assert failed.log_id == body["log_id"]  # type: ignore[attr-defined]
    assert not [r for r in caplog.records if getattr(r, "event", None) == "login_succeeded"]
    if endpoint == "userinfo":  # the code was spent on a token exchange that succeeded
        assert tiktok_emulator.count("token") == 1


@pytest.mark.parametrize("fault", FAULTS)
async def test_refresh(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings, fault: str
) -> None:
    async with signed_in(tiktok_settings, tiktok_emulator) as signed:
        client, store, sid = signed
        await expire_access_token(store, tiktok_settings, sid)
        # A transient failure keeps the session and the old record, untouched.
        before = await _failure_keeps_the_session(
            signed, tiktok_settings, tiktok_emulator, "token", fault, "/token", EXPECTED[fault]
        )
        # TikTok recovers: the next request refreshes.
        after = await client.get("/token", headers=JSON)
        assert after.status_code == 200
        assert after.json()["access_token"] != before["access_token"]
    assert tiktok_emulator.count("token", "refresh_token") == 2


async def test_a_refused_refresh_signs_out(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    async with signed_in(tiktok_settings, tiktok_emulator) as (client, store, sid):
        await expire_access_token(store, tiktok_settings, sid)
        tiktok_emulator.inject("token", Fault.error_body("invalid_grant"))
        response = await client.get("/token", headers=JSON)
        _check_error(response, (401, "login_required", True))
        assert cleared(response, tiktok_settings)
        assert await store.get("tiktok_asgi:token:" + sid) is None


@pytest.mark.parametrize("fault", FAULTS)
async def test_revoke(
    tiktok_emulator: TikTokEmulator,
    tiktok_settings: TikTokSettings,
    caplog: pytest.LogCaptureFixture,
    fault: str,
) -> None:
    """Logout never depends on TikTok: the session ends locally; the failed revoke is logged."""
    store = MemoryTokenStore()
    caplog.set_level(logging.INFO, logger="tiktok_asgi")
    async with browser(
        wrap(tiktok_settings, store, tiktok_emulator, revoke_on_logout=True)
    ) as client:
        await async_sign_in(client, tiktok_settings, tiktok_emulator)
        sid = session_id(client, tiktok_settings)
        tiktok_emulator.inject("revoke", FAULTS[fault])
        started = time.monotonic()
        response = await client.post(tiktok_settings.logout_path, headers=JSON)
        _bounded(started)
        assert response.status_code == 303
        assert cleared(response, tiktok_settings)
        assert await store.get("tiktok_asgi:token:" + sid) is None
        assert (await client.get("/token", headers=JSON)).status_code == 401
    _, code, has_log_id = EXPECTED[fault]
    (failed,) = [r for r in caplog.records if r.getMessage().startswith("revoke_failed")]
    assert failed.code == code  # type: ignore[attr-defined]
    assert bool(failed.log_id) is has_log_id  # type: ignore[attr-defined]
    assert tiktok_emulator.count("revoke") == 1


@pytest.mark.parametrize("fault", FAULTS)
async def test_api_call(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings, fault: str
) -> None:
    async with signed_in(tiktok_settings, tiktok_emulator) as signed:
        await _failure_keeps_the_session(
            signed,
            tiktok_settings,
            tiktok_emulator,
            "video_list",
            fault,
            "/videos",
            API_EXPECTED[fault],
        )
        client, _, _ = signed
        assert (await client.get("/videos", headers=JSON)).status_code == 200
    assert tiktok_emulator.count("video_list") == 2  # no retry except the bounded 429 policy


def test_the_matrix_is_complete() -> None:
    assert set(FAULTS) == set(EXPECTED) == set(API_EXPECTED)
    assert len(FAULTS) == 8
