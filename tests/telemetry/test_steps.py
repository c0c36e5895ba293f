"""Each sign-in step against the emulator: its span, its metric points and its audit event."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import httpx2
import pytest
from opentelemetry.trace import StatusCode

from tests.sessions.test_webhooks import removed_body
from tests.support.signin import async_sign_in
from tests.telemetry.conftest import WEBHOOK, Events, Recorded, signed_webhook
from tests.tokens.conftest import (
    BASE_URL,
    browser,
    expire_access_token,
    session_id,
    withdraw_at_tiktok,
    wrap,
)
from tiktok_asgi import MemoryTokenStore, TikTokSettings
from tiktok_asgi.emulator import TikTokEmulator
from tiktok_asgi.events import (
    Disconnected,
    RefreshRefused,
    SessionsEnded,
    SignedIn,
    SignedOut,
    SignInRefused,
    TokenRefreshed,
    WebhookReceived,
    digest,
    session_digest,
)

CLIENT = "127.0.0.1"  # httpx2's ASGITransport's client address
DISCONNECT = "/auth/tiktok/disconnect"


def _app(settings: TikTokSettings, emulator: TikTokEmulator, events: Events, **kw: Any) -> Any:
    return wrap(settings, MemoryTokenStore(), emulator, on_event=events, **kw)


async def test_a_sign_in_is_a_callback_span_with_its_steps_as_children(
    tiktok_emulator: TikTokEmulator,
    tiktok_settings: TikTokSettings,
    recorded: Recorded,
    events: Events,
) -> None:
    user = tiktok_emulator.users[1]
    async with browser(_app(tiktok_settings, tiktok_emulator, events)) as client:
        await async_sign_in(client, tiktok_settings, tiktok_emulator, user=user)
        sid = session_id(client, tiktok_settings)
    login, callback = recorded.one("tiktok_asgi.login"), recorded.one("tiktok_asgi.callback")
    assert login.parent is None
    assert callback.parent is None
    assert callback.context is not None
    children = {
        s.name: s
        for s in recorded.spans()
        if s.parent is not None and s.parent.span_id == callback.context.span_id
    }
    assert set(children) == {
        "tiktok_asgi.code_exchange",
        "tiktok_asgi.user_info",
        "tiktok_asgi.store_save",
    }
    info = children["tiktok_asgi.user_info"]
    assert info.attributes is not None
    assert info.attributes["tiktok_asgi.open_id.digest"] == digest(user.open_id)
    assert callback.status.status_code is StatusCode.UNSET
    (event,) = callback.events
    assert event.name == "tiktok_asgi.signed_in"
    assert event.attributes is not None
    assert event.attributes["tiktok_asgi.how"] == "web"
    # The metric points.
    assert recorded.value("tiktok_asgi.sign_ins", outcome="ok", how="web") == 1
    assert recorded.value("tiktok_asgi.tiktok.duration", endpoint="token", outcome="ok") == 1
    assert recorded.value("tiktok_asgi.tiktok.duration", endpoint="user_info") == 1
    assert recorded.value("tiktok_asgi.store.duration", operation="create") == 1
    # The audit event.
    (signed_in,) = events.of(SignedIn)
    assert signed_in.how == "web"
    assert signed_in.open_id == user.open_id
    assert signed_in.session == session_digest(sid) != sid
    assert signed_in.client == CLIENT
    assert abs(signed_in.at - time.time()) < 60


@pytest.mark.parametrize("refusal", ["access_denied", "state_mismatch"])
async def test_a_refused_sign_in_fails_its_callback_span(
    tiktok_emulator: TikTokEmulator,
    tiktok_settings: TikTokSettings,
    recorded: Recorded,
    events: Events,
    refusal: str,
) -> None:
    async with browser(_app(tiktok_settings, tiktok_emulator, events)) as client:
        login = await client.get(tiktok_settings.login_path)
        if refusal == "access_denied":
            callback = tiktok_emulator.deny(login.headers["location"])
        else:
            callback = tiktok_emulator.approve(login.headers["location"])
            callback = callback.replace("state=", "state=x")
        answer = await client.get(callback, headers={"accept": "application/json"})
        assert answer.json()["error"] == refusal
    span = recorded.one("tiktok_asgi.callback")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes is not None
    assert span.attributes["error.type"] == refusal
    assert not recorded.named("tiktok_asgi.code_exchange")  # TikTok was not asked
    assert recorded.value("tiktok_asgi.sign_ins", outcome=refusal, how="web") == 1
    assert recorded.value("tiktok_asgi.sign_ins", outcome="ok") is None
    (refused,) = events.of(SignInRefused)
    assert (refused.reason, refused.how, refused.client) == (refusal, "web", CLIENT)
    assert events.of(SignedIn) == []


async def test_a_refresh_and_a_refused_refresh(
    tiktok_emulator: TikTokEmulator,
    tiktok_settings: TikTokSettings,
    recorded: Recorded,
    events: Events,
) -> None:
    store = MemoryTokenStore()
    app = wrap(tiktok_settings, store, tiktok_emulator, on_event=events)
    async with browser(app) as client:
        await async_sign_in(client, tiktok_settings, tiktok_emulator)
        sid = session_id(client, tiktok_settings)
        await expire_access_token(store, tiktok_settings, sid)
        assert (await client.get("/token")).status_code == 200
        (refreshed,) = events.of(TokenRefreshed)
        assert refreshed.session == session_digest(sid)
        assert refreshed.client == CLIENT
        span = recorded.one("tiktok_asgi.refresh")
        assert span.status.status_code is StatusCode.UNSET
        assert [e.name for e in span.events] == ["tiktok_asgi.token_refreshed"]
        assert recorded.value("tiktok_asgi.refreshes", outcome="ok") == 1
        # TikTok withdraws the grant: the next refresh is refused and the user signed out.
        token = await expire_access_token(store, tiktok_settings, sid)
        await withdraw_at_tiktok(tiktok_emulator, tiktok_settings, token)
        assert (await client.get("/token")).status_code == 401
    (refused,) = events.of(RefreshRefused)
    assert refused.code == "invalid_grant"
    failed = [
        s for s in recorded.named("tiktok_asgi.refresh") if s.status.status_code.name == "ERROR"
    ]
    assert len(failed) == 1
    assert failed[0].attributes is not None
    assert failed[0].attributes["error.type"] == "invalid_grant"
    assert recorded.value("tiktok_asgi.refreshes", outcome="invalid_grant") == 1


async def test_a_sign_out_with_a_revoke(
    tiktok_emulator: TikTokEmulator,
    tiktok_settings: TikTokSettings,
    recorded: Recorded,
    events: Events,
) -> None:
    app = _app(tiktok_settings, tiktok_emulator, events, revoke_on_logout=True)
    async with browser(app) as client:
        await async_sign_in(client, tiktok_settings, tiktok_emulator)
        sid = session_id(client, tiktok_settings)
        assert (await client.post(tiktok_settings.logout_path)).status_code == 303
    logout = recorded.one("tiktok_asgi.logout")
    revoke = recorded.one("tiktok_asgi.revoke")
    assert logout.context is not None
    assert revoke.parent is not None
    assert revoke.parent.span_id == logout.context.span_id
    assert recorded.value("tiktok_asgi.revocations", outcome="ok") == 1
    assert recorded.value("tiktok_asgi.tiktok.duration", endpoint="revoke") == 1
    (signed_out,) = events.of(SignedOut)
    assert signed_out.session == session_digest(sid)
    assert signed_out.revoked
    assert not signed_out.held
    assert signed_out.client == CLIENT


async def test_a_disconnect_ends_every_session_of_the_user(
    tiktok_emulator: TikTokEmulator,
    tiktok_settings: TikTokSettings,
    recorded: Recorded,
    events: Events,
) -> None:
    app = _app(tiktok_settings, tiktok_emulator, events)
    user = tiktok_emulator.users[0]
    async with browser(app) as phone, browser(app) as laptop:
        await async_sign_in(phone, tiktok_settings, tiktok_emulator, user=user)
        await async_sign_in(laptop, tiktok_settings, tiktok_emulator, user=user)
        assert (await laptop.post(DISCONNECT)).status_code == 303
    span = recorded.one("tiktok_asgi.disconnect")
    assert span.context is not None
    (revoke,) = recorded.named("tiktok_asgi.revoke")
    assert revoke.parent is not None
    assert revoke.parent.span_id == span.context.span_id
    assert [e.name for e in span.events] == [
        "tiktok_asgi.sessions_ended",
        "tiktok_asgi.disconnected",
    ]
    (ended,) = events.of(SessionsEnded)
    assert (ended.cause, ended.count, ended.open_id) == ("disconnect", 2, user.open_id)
    (disconnected,) = events.of(Disconnected)
    assert disconnected.sessions_ended == 2
    assert disconnected.client == CLIENT
    assert recorded.value("tiktok_asgi.sessions_ended", cause="disconnect") == 2
    assert recorded.value("tiktok_asgi.revocations", outcome="ok") == 1


async def test_webhooks_handled_duplicate_and_refused(
    tiktok_emulator: TikTokEmulator,
    tiktok_settings: TikTokSettings,
    recorded: Recorded,
    events: Events,
) -> None:
    user = tiktok_emulator.users[0]
    async with browser(_app(tiktok_settings, tiktok_emulator, events)) as client:
        await async_sign_in(client, tiktok_settings, tiktok_emulator, user=user)
        body = removed_body(tiktok_settings, user.open_id)
        headers = signed_webhook(tiktok_settings, body)
        assert (await client.post(WEBHOOK, content=body, headers=headers)).status_code == 200
        assert (await client.post(WEBHOOK, content=body, headers=headers)).status_code == 200
        forged = {**headers, "TikTok-Signature": "t=1,s=00"}
        assert (await client.post(WEBHOOK, content=body, headers=forged)).status_code == 401
    received = events.of(WebhookReceived)
    assert [(e.event, e.result, e.code) for e in received] == [
        ("authorization.removed", "handled", None),
        ("authorization.removed", "duplicate", None),
        (None, "refused", "webhook_signature_invalid"),
    ]
    assert received[0].open_id == user.open_id
    (ended,) = events.of(SessionsEnded)
    assert (ended.cause, ended.count) == ("authorization_removed", 1)
    handled, duplicate, refused = recorded.named("tiktok_asgi.webhook")
    assert handled.status.status_code is StatusCode.UNSET
    assert duplicate.status.status_code is StatusCode.UNSET
    assert refused.status.status_code is StatusCode.ERROR
    assert refused.attributes is not None
    assert refused.attributes["http.response.status_code"] == 401
    webhooks = "tiktok_asgi.webhooks"
    assert recorded.value(webhooks, event="authorization.removed", result="handled") == 1
    assert recorded.value(webhooks, event="authorization.removed", result="duplicate") == 1
    assert recorded.value(webhooks, event="", result="refused") == 1
    cause = "authorization_removed"
    assert recorded.value("tiktok_asgi.sessions_ended", cause=cause) == 1


async def test_end_user_sessions_is_an_event(
    tiktok_emulator: TikTokEmulator,
    tiktok_settings: TikTokSettings,
    recorded: Recorded,
    events: Events,
) -> None:
    from tests.sessions.conftest import session_app

    user = tiktok_emulator.users[0]
    app = session_app(tiktok_settings, MemoryTokenStore(), tiktok_emulator, on_event=events)
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url=BASE_URL
    ) as client:
        await async_sign_in(client, tiktok_settings, tiktok_emulator, user=user)
        answer = await client.post(f"/end/{user.open_id}")
        assert answer.json() == {"ended": 1}
    (ended,) = events.of(SessionsEnded)
    assert (ended.cause, ended.count, ended.client) == ("end_user_sessions", 1, CLIENT)
    assert recorded.value("tiktok_asgi.sessions_ended", cause="end_user_sessions") == 1


async def test_the_log_lines_are_the_events(
    tiktok_emulator: TikTokEmulator,
    tiktok_settings: TikTokSettings,
    recorded: Recorded,
    events: Events,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="tiktok_asgi")
    user = tiktok_emulator.users[0]
    store = MemoryTokenStore()
    app = wrap(tiktok_settings, store, tiktok_emulator, on_event=events)
    async with browser(app) as client:
        login = await client.get(tiktok_settings.login_path)
        await client.get(tiktok_emulator.deny(login.headers["location"]))
        await async_sign_in(client, tiktok_settings, tiktok_emulator, user=user)
        await expire_access_token(store, tiktok_settings, session_id(client, tiktok_settings))
        await client.get("/token")
        body = json.dumps({"reason": 1})  # not a webhook: a body the endpoint refuses
        await client.post(WEBHOOK, content=body, headers={"content-type": "application/json"})
        await client.post(tiktok_settings.logout_path)
    logged = [
        r.event  # type: ignore[attr-defined]
        for r in caplog.records
        if r.name == "tiktok_asgi" and getattr(r, "event", None) != "login_started"
    ]
    assert [type(e).__name__ for e in events.seen] == [
        "SignInRefused",
        "SignedIn",
        "TokenRefreshed",
        "WebhookReceived",
        "SignedOut",
    ]
    assert logged == ["login_failed", "login_succeeded", "token_refreshed", "webhook", "logout"]
    assert recorded.value("tiktok_asgi.sign_ins", outcome="access_denied") == 1
    assert recorded.value("tiktok_asgi.sign_ins", outcome="ok") == 1


async def test_a_failing_on_event_is_logged_and_changes_nothing(
    tiktok_emulator: TikTokEmulator,
    tiktok_settings: TikTokSettings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(event: object) -> None:
        raise RuntimeError("the application's bug")

    async with browser(
        wrap(tiktok_settings, MemoryTokenStore(), tiktok_emulator, on_event=broken)
    ) as client:
        await async_sign_in(client, tiktok_settings, tiktok_emulator)
        assert (await client.post(tiktok_settings.logout_path)).status_code == 303
    failures = [r for r in caplog.records if getattr(r, "event", None) == "on_event_failed"]
    assert [r.getMessage() for r in failures] == [
        "on_event_failed event=signed_in",
        "on_event_failed event=signed_out",
    ]


def test_on_event_must_be_callable(tiktok_settings: TikTokSettings) -> None:
    with pytest.raises(TypeError, match="on_event must be an async callable"):
        wrap(tiktok_settings, MemoryTokenStore(), None, on_event="audit")


async def test_a_users_oldest_session_beyond_the_limit_is_an_event(
    tiktok_emulator: TikTokEmulator,
    tiktok_settings: TikTokSettings,
    recorded: Recorded,
    events: Events,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("tiktok_asgi._session.tokens.MAX_SESSIONS_PER_USER", 1)
    user = tiktok_emulator.users[0]
    app = _app(tiktok_settings, tiktok_emulator, events)
    async with browser(app) as first, browser(app) as second:
        await async_sign_in(first, tiktok_settings, tiktok_emulator, user=user)
        oldest = session_id(first, tiktok_settings)
        await async_sign_in(second, tiktok_settings, tiktok_emulator, user=user)
    (ended,) = events.of(SessionsEnded)
    assert (ended.cause, ended.count, ended.open_id) == ("too_many", 1, user.open_id)
    assert ended.session == session_digest(oldest)
    assert recorded.value("tiktok_asgi.sessions_ended", cause="too_many") == 1
