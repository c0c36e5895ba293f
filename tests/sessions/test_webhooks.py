"""TikTok's webhooks: verified exactly as documented; authorization.removed ends the sessions."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import httpx2
import pytest

from tests.sessions.conftest import let_time_pass, session_app, signed_in_browser, who
from tests.tokens.conftest import RedisServer, redis_token_store
from tiktok_asgi import (
    MemoryTokenStore,
    TikTokAuthMiddleware,
    TikTokSettings,
    TikTokWebhookEvent,
)
from tiktok_asgi.emulator import TikTokEmulator
from tiktok_asgi.webhooks import sign_webhook

WEBHOOK = "/auth/tiktok/webhook"


def removed_body(settings: TikTokSettings, open_id: str, reason: int = 1) -> bytes:
    return json.dumps(
        {
            "client_key": settings.client_key,
            "event": "authorization.removed",
            "create_time": int(time.time()),
            "user_openid": open_id,
            "content": json.dumps({"reason": reason}),
        }
    ).encode()


async def deliver(
    client: httpx2.AsyncClient, body: bytes, signature: str | None
) -> httpx2.Response:
    headers = {"content-type": "application/json"}
    if signature is not None:
        headers["TikTok-Signature"] = signature
    return await client.post(WEBHOOK, content=body, headers=headers)


class Hook:
    def __init__(self) -> None:
        self.events: list[TikTokWebhookEvent] = []

    async def __call__(self, event: TikTokWebhookEvent) -> None:
        self.events.append(event)


@pytest.fixture
def webhook_settings(tiktok_emulator: TikTokEmulator) -> TikTokSettings:
    return tiktok_emulator.settings(http_timeout=5.0, webhook_path=WEBHOOK)


async def test_authorization_removed_signs_the_user_out_and_reaches_the_hook_once(
    webhook_settings: TikTokSettings, tiktok_emulator: TikTokEmulator
) -> None:
    hook = Hook()
    app = session_app(webhook_settings, MemoryTokenStore(), tiktok_emulator, on_webhook=hook)
    maya = tiktok_emulator.user("mayacooks")
    async with (
        signed_in_browser(app, webhook_settings, tiktok_emulator) as phone,
        signed_in_browser(app, webhook_settings, tiktok_emulator, "leo.skates") as leo,
    ):
        body = removed_body(webhook_settings, maya.open_id)
        signature = sign_webhook(webhook_settings.client_secret, body, int(time.time()))
        revokes = tiktok_emulator.count("revoke")
        first = await deliver(phone, body, signature)
        assert first.status_code == 200
        assert await who(phone) is None
        assert await who(leo) == "Leo Martins"
        # TikTok retries later with a new timestamp: the same event, not handled twice.
        again = await deliver(
            phone, body, sign_webhook(webhook_settings.client_secret, body, int(time.time()) + 1)
        )
        assert again.status_code == 200
        assert len(hook.events) == 1
        event = hook.events[0]
        assert event.event == "authorization.removed"
        assert event.user_openid == maya.open_id
        assert event.client_key == webhook_settings.client_key
        assert dict(event.content) == {"reason": 1}
        assert isinstance(event.create_time, int)
        assert tiktok_emulator.count("revoke") == revokes  # TikTok revoked it already


def _refusals(settings: TikTokSettings, body: bytes) -> dict[str, tuple[bytes, str | None]]:
    now = int(time.time())
    good = sign_webhook(settings.client_secret, body, now)
    stamp, mac = good.split(",")
    no_dot = hmac.new(
        settings.client_secret.encode(), str(now).encode() + body, hashlib.sha256
    ).hexdigest()
    changed = body.replace(b'"reason\\": 1', b'"reason\\": 2')
    assert changed != body
    return {
        "wrong secret": (body, sign_webhook("not-the-client-secret", body, now)),
        "changed body": (changed, good),
        "changed timestamp": (body, f"t={now + 1},{mac}"),
        "missing header": (body, None),
        "an hour old": (body, sign_webhook(settings.client_secret, body, now - 3600)),
        "malformed": (body, "garbage"),
        "upper-case hex": (body, f"{stamp},s={mac.removeprefix('s=').upper()}"),
        "base64 instead of hex": (body, f"{stamp},s=" + "A" * 43 + "="),
        "no dot in the signed text": (body, f"t={now},s={no_dot}"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "wrong secret",
        "changed body",
        "changed timestamp",
        "missing header",
        "an hour old",
        "malformed",
        "upper-case hex",
        "base64 instead of hex",
        "no dot in the signed text",
    ],
)
async def test_a_bad_signature_is_refused_and_changes_nothing(
    webhook_settings: TikTokSettings, tiktok_emulator: TikTokEmulator, case: str
) -> None:
    hook = Hook()
    app = session_app(webhook_settings, MemoryTokenStore(), tiktok_emulator, on_webhook=hook)
    maya = tiktok_emulator.user("mayacooks")
    async with signed_in_browser(app, webhook_settings, tiktok_emulator) as phone:
        body, signature = _refusals(webhook_settings, removed_body(webhook_settings, maya.open_id))[
            case
        ]
        refused = await deliver(phone, body, signature)
        assert refused.status_code == 401
        assert refused.json()["error"] == "webhook_signature_invalid"
        assert await who(phone) == "Maya Chen"
        assert hook.events == []
        # The same event, correctly signed, is not taken for a repeat of the refused one.
        good = sign_webhook(webhook_settings.client_secret, body, int(time.time()))
        if case != "changed body":
            assert (await deliver(phone, body, good)).status_code == 200
            assert len(hook.events) == 1


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"not json", "webhook_event_invalid"),
        (b"[1, 2]", "webhook_event_invalid"),
        (
            json.dumps(
                {
                    "client_key": "another-app",
                    "event": "authorization.removed",
                    "create_time": 1,
                    "user_openid": "x",
                    "content": "{}",
                }
            ).encode(),
            "webhook_event_invalid",
        ),
        (
            json.dumps(
                {
                    "client_key": "CLIENT",
                    "event": "authorization.removed",
                    "create_time": 1,
                    "user_openid": "x",
                    "content": "{not json",
                }
            ).encode(),
            "webhook_event_invalid",
        ),
        (
            json.dumps(
                {"client_key": "CLIENT", "event": "", "create_time": 1, "user_openid": "x"}
            ).encode(),
            "webhook_event_invalid",
        ),
        (b"{" + b" " * (70 * 1024) + b"}", "webhook_event_invalid"),
    ],
)
async def test_a_signed_body_that_is_no_event_for_this_app_is_refused(
    webhook_settings: TikTokSettings, tiktok_emulator: TikTokEmulator, body: bytes, error: str
) -> None:
    hook = Hook()
    body = body.replace(b"CLIENT", webhook_settings.client_key.encode())
    app = session_app(webhook_settings, MemoryTokenStore(), tiktok_emulator, on_webhook=hook)
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url="https://t"
    ) as client:
        signature = sign_webhook(webhook_settings.client_secret, body, int(time.time()))
        refused = await deliver(client, body, signature)
        assert refused.status_code == 400
        assert refused.json()["error"] == error
    assert hook.events == []


async def test_only_post_is_answered(
    webhook_settings: TikTokSettings, tiktok_emulator: TikTokEmulator
) -> None:
    app = session_app(webhook_settings, MemoryTokenStore(), tiktok_emulator)
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url="https://t"
    ) as client:
        answer = await client.get(WEBHOOK)
        assert answer.status_code == 405
        assert answer.headers["allow"] == "POST"


async def test_without_a_store_events_still_reach_the_hook_once(
    webhook_settings: TikTokSettings, tiktok_emulator: TikTokEmulator
) -> None:
    hook = Hook()
    app = TikTokAuthMiddleware(
        session_app(webhook_settings, MemoryTokenStore(), tiktok_emulator).app,
        settings=webhook_settings,
        on_webhook=hook,
    )
    body = removed_body(webhook_settings, "someone")
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url="https://t"
    ) as client:
        for _ in range(2):
            signature = sign_webhook(webhook_settings.client_secret, body, int(time.time()))
            assert (await deliver(client, body, signature)).status_code == 200
    assert len(hook.events) == 1


async def test_a_failing_hook_is_500_and_tiktok_s_redelivery_is_handled(
    webhook_settings: TikTokSettings,
    tiktok_emulator: TikTokEmulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[str] = []

    async def flaky(event: TikTokWebhookEvent) -> None:
        calls.append(event.event)
        if len(calls) == 1:
            raise RuntimeError("the application's bug")

    app = session_app(webhook_settings, MemoryTokenStore(), tiktok_emulator, on_webhook=flaky)
    body = removed_body(webhook_settings, "someone")
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url="https://t"
    ) as client:
        signature = sign_webhook(webhook_settings.client_secret, body, int(time.time()))
        failed = await deliver(client, body, signature)
        assert failed.status_code == 500  # not marked handled: TikTok delivers it again
        assert failed.json()["error"] == "webhook_handling_failed"
        assert (await deliver(client, body, signature)).status_code == 200
        assert (await deliver(client, body, signature)).status_code == 200  # handled once
    assert calls == ["authorization.removed", "authorization.removed"]
    assert "webhook handling failed" in caplog.text


@pytest.mark.redis
async def test_a_repeat_on_another_instance_is_not_handled_again(
    webhook_settings: TikTokSettings, tiktok_emulator: TikTokEmulator, redis_server: RedisServer
) -> None:
    hook = Hook()
    maya = tiktok_emulator.user("mayacooks")
    async with (
        redis_token_store(redis_server, seconds=1.0) as store_a,
        redis_token_store(redis_server, seconds=1.0) as store_b,
    ):
        one = session_app(webhook_settings, store_a, tiktok_emulator, on_webhook=hook)
        two = session_app(webhook_settings, store_b, tiktok_emulator, on_webhook=hook)
        async with (
            signed_in_browser(one, webhook_settings, tiktok_emulator) as phone,
            httpx2.AsyncClient(
                transport=httpx2.ASGITransport(app=two), base_url="https://t"
            ) as tiktok,
        ):
            body = removed_body(webhook_settings, maya.open_id)
            for _ in range(2):
                signature = sign_webhook(webhook_settings.client_secret, body, int(time.time()))
                assert (await deliver(tiktok, body, signature)).status_code == 200
            assert len(hook.events) == 1
            let_time_pass(one, 1.0)  # instance one sees the ended session within a second
            assert await who(phone) is None


@pytest.mark.parametrize(
    ("changes", "fix"),
    [
        ({"webhook_path": "webhook"}, "webhook_path must be a path"),
        ({"webhook_path": "/auth/tiktok/logout"}, "webhook_path must differ"),
        ({"webhook_tolerance": 0}, "webhook_tolerance must be between"),
    ],
)
def test_wrong_webhook_settings_fail_at_start_up(
    tiktok_emulator: TikTokEmulator, changes: dict[str, Any], fix: str
) -> None:
    with pytest.raises(ValueError, match=fix):
        tiktok_emulator.settings(**changes)


def test_on_webhook_needs_a_webhook_path(
    tiktok_settings: TikTokSettings, tiktok_emulator: TikTokEmulator
) -> None:
    with pytest.raises(ValueError, match="on_webhook needs webhook_path"):
        session_app(tiktok_settings, MemoryTokenStore(), tiktok_emulator, on_webhook=Hook())


@pytest.mark.redis
async def test_redis_down_a_webhook_is_503_and_handled_once_when_it_is_back(
    webhook_settings: TikTokSettings, tiktok_emulator: TikTokEmulator, redis_server: RedisServer
) -> None:
    hook = Hook()
    async with redis_token_store(redis_server, seconds=0.3) as store:
        app = session_app(webhook_settings, store, tiktok_emulator, on_webhook=hook)
        body = removed_body(webhook_settings, "someone")
        async with httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=app), base_url="https://t"
        ) as tiktok:
            redis_server.pause()
            try:
                signature = sign_webhook(webhook_settings.client_secret, body, int(time.time()))
                refused = await deliver(tiktok, body, signature)
                assert refused.status_code == 503  # TikTok delivers again later
                assert refused.json()["error"] == "token_store_unavailable"
            finally:
                redis_server.resume()
            for _ in range(2):
                signature = sign_webhook(webhook_settings.client_secret, body, int(time.time()))
                assert (await deliver(tiktok, body, signature)).status_code == 200
    assert len(hook.events) == 1


async def test_a_body_in_endless_empty_pieces_is_refused(
    webhook_settings: TikTokSettings, tiktok_emulator: TikTokEmulator
) -> None:
    app = session_app(webhook_settings, MemoryTokenStore(), tiktok_emulator)
    sent: list[dict[str, Any]] = []
    pieces = 0

    async def receive() -> dict[str, Any]:
        nonlocal pieces
        pieces += 1
        return {"type": "http.request", "body": b"", "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": WEBHOOK,
        "headers": [(b"tiktok-signature", b"t=1,s=00")],
        "query_string": b"",
    }
    await app(scope, receive, send)
    assert sent[0]["status"] == 400
    assert pieces <= 1024


async def test_the_signature_header_is_looked_at_before_the_body_is_read(
    webhook_settings: TikTokSettings, tiktok_emulator: TikTokEmulator
) -> None:
    app = session_app(webhook_settings, MemoryTokenStore(), tiktok_emulator)
    read: list[str] = []
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        read.append("body")
        return {"type": "http.request", "body": b"x" * 60_000, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    for header in ([], [(b"tiktok-signature", b"nonsense")]):
        scope = {
            "type": "http",
            "method": "POST",
            "path": webhook_settings.webhook_path,
            "root_path": "",
            "query_string": b"",
            "headers": header,
        }
        await app(scope, receive, send)
        assert sent[-2]["status"] == 401
    assert read == []  # a POST without a well-formed signature costs no body read


async def test_deeply_nested_json_is_a_400_not_a_recursion_error(
    webhook_settings: TikTokSettings, tiktok_emulator: TikTokEmulator
) -> None:
    app = session_app(webhook_settings, MemoryTokenStore(), tiktok_emulator)
    nested = b"[" * 50_000 + b"]" * 50_000
    content = json.dumps("[" * 5_000 + "]" * 5_000)  # and inside the event's content
    inner = (
        b'{"client_key": "%s", "event": "x", "create_time": 1, "user_openid": "u", "content": %s}'
        % (webhook_settings.client_key.encode(), content.encode())
    )
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url="https://t"
    ) as client:
        for body in (nested, inner):
            signature = sign_webhook(webhook_settings.client_secret, body, int(time.time()))
            answer = await deliver(client, body, signature)
            assert answer.status_code == 400
            assert answer.json()["error"] == "webhook_event_invalid"
