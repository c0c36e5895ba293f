"""Structured log events on the ``tiktok_asgi`` logger, and the secret scan that guards them."""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx2
import pytest

from tests.security.secret_scan import SCANNER, SPANS, findings_in
from tests.support.signin import async_sign_in
from tests.tokens.conftest import (
    browser,
    expire_access_token,
    session_id,
    wrap,
)
from tiktok_asgi import MemoryTokenStore, TikTokSettings
from tiktok_asgi.emulator import Fault, TikTokEmulator


@pytest.fixture
def tiktok_emulator() -> TikTokEmulator:
    return TikTokEmulator(rate_limit=None)


@pytest.fixture
def tiktok_settings(tiktok_emulator: TikTokEmulator) -> TikTokSettings:
    return tiktok_emulator.settings(http_timeout=2.0)


def _events(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "tiktok_asgi" and hasattr(r, "event")]


@asynccontextmanager
async def _logged_browser(
    emulator: TikTokEmulator, settings: TikTokSettings, caplog: pytest.LogCaptureFixture
) -> AsyncIterator[tuple[httpx2.AsyncClient, MemoryTokenStore]]:
    """A browser on an app that revokes on logout, every ``tiktok_asgi`` record captured; the
    browser and the app's token store."""
    caplog.set_level(logging.DEBUG, logger="tiktok_asgi")
    store = MemoryTokenStore()
    async with browser(wrap(settings, store, emulator, revoke_on_logout=True)) as client:
        yield client, store


async def _sign_in_while_failing(
    client: httpx2.AsyncClient,
    settings: TikTokSettings,
    emulator: TikTokEmulator,
    endpoint: str,
    fault: Fault,
) -> httpx2.Response:
    """The callback of a sign-in during which TikTok's ``endpoint`` answers with ``fault``."""
    login = await client.get(settings.login_path)
    emulator.inject(endpoint, fault)
    return await client.get(emulator.approve(login.headers["location"]))


async def test_each_event_of_a_session_lifetime(
    tiktok_emulator: TikTokEmulator,
    tiktok_settings: TikTokSettings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    user = tiktok_emulator.users[2]
    async with _logged_browser(tiktok_emulator, tiktok_settings, caplog) as (client, store):
        # A failed sign-in: TikTok's error with its log_id.
        failed = await _sign_in_while_failing(
            client, tiktok_settings, tiktok_emulator, "token", Fault.error_body("invalid_grant")
        )
        assert failed.status_code == 502
        # A sign-in, a refresh, a logout.
        await async_sign_in(client, tiktok_settings, tiktok_emulator, user=user)
        await expire_access_token(store, tiktok_settings, session_id(client, tiktok_settings))
        assert (await client.get("/token")).status_code == 200
        assert (await client.post(tiktok_settings.logout_path)).status_code == 303
    records = _events(caplog)
    assert [r.event for r in records] == [  # type: ignore[attr-defined]
        "login_started",
        "login_failed",
        "login_started",
        "login_succeeded",
        "token_refreshed",
        "logout",
    ]
    started, failure, _, success, refreshed, logout = records
    assert failure.levelno == logging.WARNING
    assert failure.code == "invalid_grant"  # type: ignore[attr-defined]
    assert failure.log_id  # type: ignore[attr-defined]
    assert failure.log_id.encode() in failed.content  # type: ignore[attr-defined]
    assert success.open_id == user.open_id  # type: ignore[attr-defined]
    for record in (started, success, refreshed, logout):
        assert record.levelno == logging.INFO
    for record in records:
        assert findings_in(record) == []


def test_the_scanner_recognises_each_kind_of_secret(tiktok_emulator: TikTokEmulator) -> None:
    planted = {
        "access token": "act.1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6dAbCdEfGhIjKlMnOpQrStUvWxYz12!4608.va",
        "refresh token": "rft.1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6dAbCdEfGhIjKlMnOpQrStUvWxYz12!4608.va",
        "authorization code": "AbCdEfGhIjKlMnOpQrStUvWx-_AbCdEfGhIjKlMnOpQrStUv*1!4608.va",
        "signed cookie": "eyJvcGVuX2lkIjoiYWJjIn0.Zx1a2b.Q2hlY2tzdW1DaGVja3N1bUNoZWNrc3Vt",
        "encrypted token record": "gAAAAABmZXhhbXBsZWV4YW1wbGVleGFtcGxl",
        "bearer header": "Authorization: Bearer abcdefgh12345678",
        "client secret": f"client_key=k&client_secret={tiktok_emulator.client_secret}",
        "secret key": "emulator-test-secret-key-never-use-in-production",
    }
    for kind, text in planted.items():
        as_message = logging.LogRecord("tiktok_asgi", logging.INFO, "f", 1, text, None, None)
        as_argument = logging.LogRecord("tiktok_asgi", logging.INFO, "f", 1, "x=%s", (text,), None)
        as_extra = logging.LogRecord("tiktok_asgi", logging.INFO, "f", 1, "event", None, None)
        as_extra.detail = text
        try:
            raise RuntimeError(text)
        except RuntimeError:
            as_exception = logging.LogRecord(
                "tiktok_asgi", logging.ERROR, "f", 1, "failed", None, sys.exc_info()
            )
        for record in (as_message, as_argument, as_extra, as_exception):
            assert kind in findings_in(record), (kind, record.msg)
    clean = logging.LogRecord(
        "tiktok_asgi",
        logging.WARNING,
        "f",
        1,
        "login_failed code=%s log_id=%s",
        ("invalid_grant", "2026112303203279559E9D91AF99369CBC"),
        None,
    )
    assert findings_in(clean) == []


def test_the_session_scan_is_running(caplog: pytest.LogCaptureFixture) -> None:
    # The scanner is attached to the tiktok_asgi logger for the whole run.
    assert SCANNER in logging.getLogger("tiktok_asgi").handlers
    before = SCANNER.records
    logging.getLogger("tiktok_asgi").debug("probe", extra={"event": "probe"})
    assert SCANNER.records == before + 1


async def test_the_session_scan_sees_every_span_and_what_it_carries(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    from opentelemetry import trace

    before = SPANS.spans
    async with browser(wrap(tiktok_settings, MemoryTokenStore(), tiktok_emulator)) as client:
        await async_sign_in(client, tiktok_settings, tiktok_emulator)
    assert SPANS.spans >= before + 4  # login, callback, code exchange, user info, store save
    leaks = len(SCANNER.leaks)
    with trace.get_tracer("probe").start_as_current_span("probe") as span:
        span.set_attribute("planted", "act." + "0" * 32)
    try:
        assert SCANNER.leaks[leaks:] == ["span probe: access token"]
    finally:
        del SCANNER.leaks[leaks:]  # planted here, not a leak of the library


async def test_failed_calls_log_no_secret_even_with_exceptions(
    tiktok_emulator: TikTokEmulator,
    tiktok_settings: TikTokSettings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with _logged_browser(tiktok_emulator, tiktok_settings, caplog) as (client, _):
        for fault in (Fault.connection_refused(), Fault.malformed_json(), Fault.status(500)):
            await _sign_in_while_failing(
                client, tiktok_settings, tiktok_emulator, "userinfo", fault
            )
        await async_sign_in(client, tiktok_settings, tiktok_emulator)
        tiktok_emulator.inject("revoke", Fault.error_body("invalid_request"))
        await client.post(tiktok_settings.logout_path)
    assert len(caplog.records) >= 8
    for record in caplog.records:
        assert findings_in(record) == [], record.getMessage()
