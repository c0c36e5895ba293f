"""The emulator's side of webhooks: a user removes the app and TikTok tells the app."""

from __future__ import annotations

import time

import httpx2
import pytest

from tests.sessions.conftest import session_app, signed_in_browser, who
from tests.sessions.test_webhooks import WEBHOOK, Hook
from tests.support.faulty_store import FaultyStore
from tests.support.serving import serving
from tiktok_asgi import MemoryTokenStore, TikTokSettings
from tiktok_asgi.emulator import TikTokEmulator
from tiktok_asgi.emulator.__main__ import build_emulator, parse

APP = "https://testserver"


@pytest.fixture
def webhook_settings(tiktok_emulator: TikTokEmulator) -> TikTokSettings:
    return tiktok_emulator.settings(webhook_path=WEBHOOK)


async def test_remove_app_signs_the_user_out_through_a_signed_webhook(
    webhook_settings: TikTokSettings, tiktok_emulator: TikTokEmulator
) -> None:
    hook = Hook()
    app = session_app(webhook_settings, MemoryTokenStore(), tiktok_emulator, on_webhook=hook)
    tiktok_emulator.register_webhook(APP + WEBHOOK, transport=httpx2.ASGITransport(app=app))
    async with signed_in_browser(app, webhook_settings, tiktok_emulator) as client:
        assert await tiktok_emulator.remove_app("mayacooks", reason=1) == 200
        assert await who(client) is None
    (event,) = hook.events
    assert event.event == "authorization.removed"
    assert event.user_openid == tiktok_emulator.user("mayacooks").open_id
    assert dict(event.content) == {"reason": 1}


async def test_the_connected_apps_page_removes_the_app(
    webhook_settings: TikTokSettings, tiktok_emulator: TikTokEmulator
) -> None:
    app = session_app(webhook_settings, MemoryTokenStore(), tiktok_emulator)
    tiktok_emulator.register_webhook(APP + WEBHOOK, transport=httpx2.ASGITransport(app=app))
    async with (
        signed_in_browser(app, webhook_settings, tiktok_emulator) as client,
        httpx2.AsyncClient(
            transport=tiktok_emulator.transport(), base_url="https://www.tiktok.com"
        ) as tiktok,
    ):
        page = await tiktok.get("/apps", params={"user": "mayacooks"})
        assert page.status_code == 200
        assert "Emulated App" in page.text
        assert "Remove" in page.text
        removed = await tiktok.post("/apps/remove", data={"user": "mayacooks"})
        assert removed.status_code == 303
        after = await tiktok.get(removed.headers["location"])
        assert "HTTP 200" in after.text
        assert "No apps are connected" in after.text
        assert await who(client) is None
        refused = await tiktok.post("/apps/remove", data={"user": "nobody-here"})
        assert refused.status_code == 400


async def test_without_a_webhook_url_the_grants_still_end(
    tiktok_settings: TikTokSettings, tiktok_emulator: TikTokEmulator
) -> None:
    app = session_app(tiktok_settings, MemoryTokenStore(), tiktok_emulator)
    async with signed_in_browser(app, tiktok_settings, tiktok_emulator):
        assert tiktok_emulator._core.state.connected(tiktok_emulator.user("mayacooks").open_id)
        assert await tiktok_emulator.remove_app("mayacooks") is None
        assert not tiktok_emulator._core.state.connected(tiktok_emulator.user("mayacooks").open_id)


def test_the_webhook_url_must_be_absolute(tiktok_emulator: TikTokEmulator) -> None:
    with pytest.raises(ValueError, match="absolute http"):
        tiktok_emulator.register_webhook("/auth/tiktok/webhook")


async def test_the_event_reaches_a_served_app_over_real_http(
    webhook_settings: TikTokSettings, tiktok_emulator: TikTokEmulator
) -> None:
    hook = Hook()
    app = session_app(webhook_settings, MemoryTokenStore(), tiktok_emulator, on_webhook=hook)
    async with serving(app) as origin:
        tiktok_emulator.register_webhook(origin + WEBHOOK)  # no transport: real HTTP
        async with signed_in_browser(app, webhook_settings, tiktok_emulator) as client:
            assert await tiktok_emulator.remove_app("mayacooks", reason=2) == 200
            assert await who(client) is None
    assert [dict(e.content) for e in hook.events] == [{"reason": 2}]


def test_the_standalone_emulator_takes_a_webhook_url() -> None:
    emulator = build_emulator(parse(["--webhook-url", "http://127.0.0.1:8000/auth/tiktok/webhook"]))
    assert emulator.is_connected("mayacooks") is False
    with pytest.raises(ValueError, match="absolute http"):
        build_emulator(parse(["--webhook-url", "nowhere"]))


async def test_a_store_outage_during_the_removal_is_redelivered_and_then_ends_the_sessions() -> (
    None
):
    now = [float(int(time.time()))]
    emulator = TikTokEmulator(clock=lambda: now[0])
    settings = emulator.settings(webhook_path=WEBHOOK)
    store = FaultyStore(MemoryTokenStore())
    app = session_app(settings, store, emulator)
    emulator.register_webhook(APP + WEBHOOK, transport=httpx2.ASGITransport(app=app))
    async with signed_in_browser(app, settings, emulator) as client:
        store.down = True
        assert await emulator.remove_app("mayacooks", reason=1) == 503  # not taken: not marked
        store.down = False
        # Nothing was lost, nothing was half done: the session lives until the event is handled.
        assert await who(client) == emulator.user("mayacooks").display_name
        (pending,) = emulator.pending_webhooks
        now[0] = pending.due_at
        (attempt,) = await emulator.deliver_due()
        assert attempt.status == 200
        assert await who(client) is None
        assert emulator.pending_webhooks == []
