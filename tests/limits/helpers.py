"""An application with small limits, browsers at chosen addresses, and the limiter's clock."""

from __future__ import annotations

import json
import time
from typing import Any

from starlette.testclient import TestClient

from tests.conftest import BASE_URL, make_app
from tiktok_asgi import TikTokAuthMiddleware, TikTokSettings
from tiktok_asgi._limits import RequestLimiter
from tiktok_asgi.emulator import TikTokEmulator
from tiktok_asgi.limits import Rate, RequestLimits
from tiktok_asgi.webhooks import sign_webhook

JSON = {"accept": "application/json"}
HTML = {"accept": "text/html"}
APP_LINK = "https://app.example.com/tiktok/auth"
WEBHOOK = "/auth/tiktok/webhook"
EXCHANGE = "/auth/tiktok/exchange"
QR = "/auth/tiktok/qr"
OFFICE = "203.0.113.7"  # many people behind one address
ELSEWHERE = "198.51.100.9"
WIDE = Rate(per_client=1000, per_browser=1000)


class Clock:
    """The limiter's clock, moved by the test: no real waits."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def limits(**rates: Rate | None) -> RequestLimits:
    """Wide limits for every kind but those given."""
    kinds = ("login", "callback", "qr_start", "qr_status", "exchange", "webhook")
    return RequestLimits(**{kind: rates.get(kind, WIDE) for kind in kinds})  # type: ignore[arg-type]


def settings_with(emulator: TikTokEmulator, limits: RequestLimits | None) -> TikTokSettings:
    return emulator.settings(
        http_timeout=5.0,
        webhook_path=WEBHOOK,
        native_redirect_uris=[APP_LINK],
        limits=limits,
    )


def limiter_of(app: TikTokAuthMiddleware) -> RequestLimiter:
    found = app._limits
    assert found is not None
    return found


def with_clock(app: TikTokAuthMiddleware) -> Clock:
    clock = Clock()
    limiter_of(app).clock = clock
    return clock


def browser(app: Any, address: str = OFFICE) -> TestClient:
    """A browser at ``address`` (``scope["client"]``) on ``https://testserver``."""
    return TestClient(app, base_url=BASE_URL, client=(address, 40000))


def app_for(emulator: TikTokEmulator, settings: TikTokSettings, **kwargs: Any) -> Any:
    return make_app(settings, emulator.transport(), **kwargs)


def signed_webhook(settings: TikTokSettings, body: bytes) -> dict[str, str]:
    return {"tiktok-signature": sign_webhook(settings.client_secret, body, int(time.time()))}


def removed_event(settings: TikTokSettings, open_id: str) -> bytes:
    event = {
        "client_key": settings.client_key,
        "event": "authorization.removed",
        "create_time": int(time.time()),
        "user_openid": open_id,
        "content": json.dumps({"reason": 1}),
    }
    return json.dumps(event).encode()
