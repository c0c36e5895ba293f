"""Each of TikTok's four webhook events arrives typed; any other event, or content not shaped as
TikTok documents it, arrives untyped and is answered 200 all the same."""

from __future__ import annotations

import json
import logging
import time

import httpx2
import pytest

from tests.sessions.conftest import session_app, signed_in_browser, who
from tests.sessions.test_webhooks import WEBHOOK, Hook, deliver
from tiktok_asgi import MemoryTokenStore, TikTokSettings
from tiktok_asgi.emulator import TikTokEmulator
from tiktok_asgi.webhooks import (
    AuthorizationRemoved,
    PortabilityDownloadReady,
    VideoPublishCompleted,
    VideoUploadFailed,
    WebhookContent,
    sign_webhook,
)

APP = "https://testserver"
SHARE_ID = "video.6974245311675353080.VDCxrcMJ"


@pytest.fixture
def webhook_settings(tiktok_emulator: TikTokEmulator) -> TikTokSettings:
    return tiktok_emulator.settings(webhook_path=WEBHOOK)


def listening(
    settings: TikTokSettings, emulator: TikTokEmulator
) -> tuple[Hook, httpx2.ASGITransport]:
    """An app whose hook records every event, registered as the emulator's webhook URL."""
    hook = Hook()
    app = session_app(settings, MemoryTokenStore(), emulator, on_webhook=hook)
    emulator.register_webhook(APP + WEBHOOK, transport=httpx2.ASGITransport(app=app))
    return hook, httpx2.ASGITransport(app=app)


@pytest.mark.parametrize(
    ("reason", "name"),
    [
        (0, "unknown"),
        (1, "user_disconnected"),
        (2, "account_deleted"),
        (3, "age_changed"),
        (4, "account_banned"),
        (5, "developer_revoked"),
        (9, "unknown"),  # a code TikTok may add later
    ],
)
async def test_authorization_removed_carries_its_reason_and_name(
    webhook_settings: TikTokSettings, tiktok_emulator: TikTokEmulator, reason: int, name: str
) -> None:
    hook, _ = listening(webhook_settings, tiktok_emulator)
    status = await tiktok_emulator.send_webhook(
        "authorization.removed", "mayacooks", {"reason": reason}
    )
    assert status == 200
    (event,) = hook.events
    assert event.typed == AuthorizationRemoved(reason)
    assert isinstance(event.typed, AuthorizationRemoved)
    assert event.typed.reason_name == name
    assert event.typed.event == event.event == "authorization.removed"


@pytest.mark.parametrize(
    ("event_name", "content", "typed"),
    [
        ("video.upload.failed", {"share_id": SHARE_ID}, VideoUploadFailed(SHARE_ID)),
        ("video.publish.completed", {"share_id": SHARE_ID}, VideoPublishCompleted(SHARE_ID)),
        (
            "portability.download.ready",
            {"request_id": 7273934409683142658},
            PortabilityDownloadReady("7273934409683142658"),
        ),
        ("portability.download.ready", {"request_id": "r-1"}, PortabilityDownloadReady("r-1")),
    ],
)
async def test_every_other_event_of_tiktok_is_typed(
    webhook_settings: TikTokSettings,
    tiktok_emulator: TikTokEmulator,
    event_name: str,
    content: dict[str, object],
    typed: WebhookContent,
) -> None:
    hook, _ = listening(webhook_settings, tiktok_emulator)
    maya = tiktok_emulator.user("mayacooks")
    assert await tiktok_emulator.send_webhook(event_name, maya, content) == 200
    (event,) = hook.events
    assert (event.event, event.user_openid, event.typed) == (event_name, maya.open_id, typed)
    assert event.typed is not None
    assert event.typed.event == event_name
    assert dict(event.content) == content


@pytest.mark.parametrize(
    ("event_name", "kind", "field"),
    [
        ("authorization.removed", AuthorizationRemoved, "reason"),
        ("video.upload.failed", VideoUploadFailed, "share_id"),
        ("video.publish.completed", VideoPublishCompleted, "share_id"),
        ("portability.download.ready", PortabilityDownloadReady, "request_id"),
    ],
)
async def test_the_emulator_sends_typical_content_by_default(
    webhook_settings: TikTokSettings,
    tiktok_emulator: TikTokEmulator,
    event_name: str,
    kind: type,
    field: str,
) -> None:
    hook, _ = listening(webhook_settings, tiktok_emulator)
    assert await tiktok_emulator.send_webhook(event_name, "leo.skates") == 200
    (event,) = hook.events
    assert isinstance(event.typed, kind)
    assert set(event.content) == {field}
    if field == "share_id":
        assert event.content["share_id"].startswith("video.")
    if field == "request_id":
        assert type(event.content["request_id"]) is int  # the Data Portability API's int64


async def test_an_event_of_another_name_is_passed_on_untyped(
    webhook_settings: TikTokSettings, tiktok_emulator: TikTokEmulator
) -> None:
    hook, transport = listening(webhook_settings, tiktok_emulator)
    body = json.dumps(
        {
            "client_key": webhook_settings.client_key,
            "event": "video.publish.scheduled",
            "create_time": int(time.time()),
            "user_openid": "someone",
            "content": json.dumps({"when": 1}),
        }
    ).encode()
    async with httpx2.AsyncClient(transport=transport, base_url=APP) as tiktok:
        signature = sign_webhook(webhook_settings.client_secret, body, int(time.time()))
        assert (await deliver(tiktok, body, signature)).status_code == 200
    (event,) = hook.events
    assert (event.event, event.typed, dict(event.content)) == (
        "video.publish.scheduled",
        None,
        {"when": 1},
    )


@pytest.mark.parametrize(
    ("event_name", "content"),
    [
        ("authorization.removed", {}),
        ("authorization.removed", {"reason": "1"}),
        ("authorization.removed", {"reason": True}),
        ("video.upload.failed", {"share_id": 5}),
        ("video.publish.completed", {"share_id": ""}),
        ("portability.download.ready", {"request_id": 1.5}),
        ("portability.download.ready", {}),
    ],
)
async def test_a_known_event_with_unexpected_content_is_handled_untyped(
    webhook_settings: TikTokSettings,
    tiktok_emulator: TikTokEmulator,
    caplog: pytest.LogCaptureFixture,
    event_name: str,
    content: dict[str, object],
) -> None:
    hook, _ = listening(webhook_settings, tiktok_emulator)
    with caplog.at_level(logging.WARNING, logger="tiktok_asgi"):
        assert await tiktok_emulator.send_webhook(event_name, "mayacooks", content) == 200
    (event,) = hook.events
    assert event.typed is None
    assert dict(event.content) == content
    (record,) = [r for r in caplog.records if r.getMessage().startswith("webhook_content")]
    assert record.getMessage() == f"webhook_content_unexpected event={event_name}"


async def test_authorization_removed_with_unexpected_content_still_ends_the_sessions(
    webhook_settings: TikTokSettings, tiktok_emulator: TikTokEmulator
) -> None:
    hook = Hook()
    app = session_app(webhook_settings, MemoryTokenStore(), tiktok_emulator, on_webhook=hook)
    tiktok_emulator.register_webhook(APP + WEBHOOK, transport=httpx2.ASGITransport(app=app))
    async with signed_in_browser(app, webhook_settings, tiktok_emulator) as phone:
        assert await who(phone) == "Maya Chen"
        content = {"reason": "gone"}
        assert await tiktok_emulator.send_webhook("authorization.removed", "mayacooks", content)
        assert await who(phone) is None
    assert [e.typed for e in hook.events] == [None]


async def test_the_emulator_revokes_before_it_says_authorization_removed(
    webhook_settings: TikTokSettings, tiktok_emulator: TikTokEmulator
) -> None:
    app = session_app(webhook_settings, MemoryTokenStore(), tiktok_emulator)
    async with signed_in_browser(app, webhook_settings, tiktok_emulator):
        assert tiktok_emulator.is_connected("mayacooks")
        assert await tiktok_emulator.send_webhook("video.upload.failed", "mayacooks") is None
        assert tiktok_emulator.is_connected("mayacooks")  # only removal revokes
        content = {"reason": 5}
        assert (
            await tiktok_emulator.send_webhook("authorization.removed", "mayacooks", content)
            is None
        )
        assert not tiktok_emulator.is_connected("mayacooks")


async def test_the_emulator_sends_only_tiktoks_events(tiktok_emulator: TikTokEmulator) -> None:
    with pytest.raises(ValueError, match=r"TikTok sends no 'video\.deleted' event"):
        await tiktok_emulator.send_webhook("video.deleted", "mayacooks")
    with pytest.raises(LookupError):
        await tiktok_emulator.send_webhook("video.upload.failed", "nobody")
