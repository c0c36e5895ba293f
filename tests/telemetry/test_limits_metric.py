"""Requests refused by the limits are counted by kind and scope (what was let through is not)."""

from __future__ import annotations

from tests.limits.helpers import JSON, app_for, browser, limits, settings_with
from tests.telemetry.conftest import Recorded
from tiktok_asgi.emulator import TikTokEmulator
from tiktok_asgi.limits import Rate


def test_a_refused_request_is_counted_by_kind_and_scope(
    tiktok_emulator: TikTokEmulator, recorded: Recorded
) -> None:
    settings = settings_with(tiktok_emulator, limits(login=Rate(per_client=2)))
    client = browser(app_for(tiktok_emulator, settings))
    answers = [client.get("/auth/tiktok/login", headers=JSON).status_code for _ in range(5)]
    assert answers == [200, 200, 429, 429, 429]
    assert recorded.value("tiktok_asgi.rate_limited", kind="login", scope="client") == 3
    assert recorded.value("tiktok_asgi.rate_limited", kind="callback") is None
