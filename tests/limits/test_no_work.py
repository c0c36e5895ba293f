"""A refused request does nothing else: no pending login or QR code spent, no token store
written, no call to TikTok; once the window has passed, the very same request succeeds."""

from __future__ import annotations

import json

from tests.conftest import start_login
from tests.limits.helpers import (
    APP_LINK,
    EXCHANGE,
    JSON,
    QR,
    WEBHOOK,
    app_for,
    browser,
    limits,
    removed_event,
    settings_with,
    signed_webhook,
    with_clock,
)
from tests.support.signin import sign_in
from tiktok_asgi import MemoryTokenStore, TikTokWebhookEvent
from tiktok_asgi.emulator import TikTokEmulator
from tiktok_asgi.limits import Rate


def test_a_refused_callback_spends_no_state_and_calls_no_one(emulator: TikTokEmulator) -> None:
    settings = settings_with(emulator, limits(callback=Rate(per_client=2)))
    app = app_for(emulator, settings)
    clock = with_clock(app)
    person, junk = browser(app), browser(app)  # behind the same address
    callback = emulator.approve(start_login(person, settings))
    for _ in range(2):
        junk.get("/auth/tiktok/callback?code=x&state=y", headers=JSON)
    refused = person.get(callback, follow_redirects=False)
    assert refused.status_code == 429
    assert "set-cookie" not in refused.headers  # the pending login's cookie stays
    assert emulator.count("token") == 0
    assert emulator.count("userinfo") == 0
    clock.advance(60)
    done = person.get(callback, follow_redirects=False)
    assert done.status_code == 302, done.text
    assert person.get("/me").json()["authenticated"] is True


def test_refused_qr_requests_call_no_one(emulator: TikTokEmulator) -> None:
    rates = limits(qr_start=Rate(per_client=1), qr_status=Rate(per_client=1))
    app = app_for(emulator, settings_with(emulator, rates))
    clock = with_clock(app)
    client = browser(app)
    code = client.post(QR, headers=JSON).json()
    assert client.get(f"{QR}/{code['qr_id']}", headers=JSON).json() == {"status": "new"}
    assert client.post(QR, headers=JSON).status_code == 429
    emulator.confirm_qr(code["scan_url"])
    assert client.get(f"{QR}/{code['qr_id']}", headers=JSON).status_code == 429
    assert emulator.count("get_qrcode") == 1
    assert emulator.count("check_qrcode") == 1
    clock.advance(60)
    confirmed = client.get(f"{QR}/{code['qr_id']}", headers=JSON)
    assert confirmed.json() == {"status": "confirmed"}  # the code was not spent
    assert client.get("/me").json()["authenticated"] is True


def test_a_refused_exchange_keeps_the_code(emulator: TikTokEmulator) -> None:
    app = app_for(emulator, settings_with(emulator, limits(exchange=Rate(per_client=1))))
    clock = with_clock(app)
    client = browser(app)
    body = json.dumps(
        {"code": emulator.native_code("mayacooks", redirect_uri=APP_LINK), "redirect_uri": APP_LINK}
    )
    headers = {"content-type": "application/json"}
    assert client.post(EXCHANGE, content=b"[]", headers=headers).status_code == 400
    assert client.post(EXCHANGE, content=body, headers=headers).status_code == 429
    assert emulator.count("token") == 0
    clock.advance(60)
    session = client.post(EXCHANGE, content=body, headers=headers)
    assert session.status_code == 200, session.text
    assert session.json()["token_type"] == "Bearer"


def test_a_refused_webhook_changes_nothing(emulator: TikTokEmulator) -> None:
    settings = settings_with(emulator, limits(webhook=Rate(per_client=1)))
    heard: list[TikTokWebhookEvent] = []

    async def on_webhook(event: TikTokWebhookEvent) -> None:
        heard.append(event)

    app = app_for(emulator, settings, token_store=MemoryTokenStore(), on_webhook=on_webhook)
    clock = with_clock(app)
    person = browser(app)
    sign_in(person, settings, emulator)
    tiktok = browser(app, "192.0.2.50")  # TikTok's sender
    open_id = emulator.user("mayacooks").open_id
    body = removed_event(settings, open_id)
    assert tiktok.post(WEBHOOK, content=b"{}").status_code == 401  # someone's junk
    refused = tiktok.post(WEBHOOK, content=body, headers=signed_webhook(settings, body))
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "60"
    assert heard == []
    assert person.get("/me").json()["authenticated"] is True  # the session was not ended
    clock.advance(60)
    delivered = tiktok.post(WEBHOOK, content=body, headers=signed_webhook(settings, body))
    assert delivered.status_code == 200  # TikTok's redelivery is handled
    assert [e.user_openid for e in heard] == [open_id]
    assert person.get("/me").json()["authenticated"] is False
