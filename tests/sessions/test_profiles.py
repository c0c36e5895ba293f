"""Profiles that stay fresh: an old identity cookie is re-issued with TikTok's profile of now.

The cookies age on the test's wall clock (``wall_clock``): no test waits for them to.
"""

from __future__ import annotations

import asyncio
import time

import httpx2
import pytest

from tests.conftest import WallClock
from tests.sessions.conftest import session_app, signed_in_browser, who
from tests.tokens.conftest import cleared, read_record, session_id, withdraw_at_tiktok
from tiktok_asgi import MemoryTokenStore, TikTokSettings, TikTokUser
from tiktok_asgi.emulator import Fault, TikTokEmulator
from tiktok_asgi.stores import TokenStore


def _fresh_settings(emulator: TikTokEmulator, **changes: object) -> TikTokSettings:
    return emulator.settings(profile_max_age=1, **changes)


async def _stored_access_token(
    store: TokenStore, settings: TikTokSettings, client: httpx2.AsyncClient
) -> str:
    record = await read_record(store, settings, session_id(client, settings))
    token: str = record["access_token"]
    return token


async def test_a_name_changed_at_tiktok_shows_within_two_requests_after_a_second(
    tiktok_emulator: TikTokEmulator, wall_clock: WallClock
) -> None:
    settings = _fresh_settings(tiktok_emulator)
    app = session_app(settings, MemoryTokenStore(), tiktok_emulator)
    async with signed_in_browser(app, settings, tiktok_emulator) as client:
        tiktok_emulator.change_profile("mayacooks", display_name="Maya C.")
        assert await who(client) == "Maya Chen"  # the cookie is not a second old yet
        wall_clock.advance(1.1)
        seen = [await who(client), await who(client)]
        assert "Maya C." in seen
        old_cookie_requests = tiktok_emulator.count("userinfo")
        assert await who(client) == "Maya C."  # the re-issued cookie carries it
        assert tiktok_emulator.count("userinfo") == old_cookie_requests


async def test_a_token_tiktok_no_longer_accepts_signs_the_user_out(
    tiktok_emulator: TikTokEmulator, wall_clock: WallClock
) -> None:
    settings = _fresh_settings(tiktok_emulator)
    store = MemoryTokenStore()
    app = session_app(settings, store, tiktok_emulator)
    async with signed_in_browser(app, settings, tiktok_emulator) as client:
        await withdraw_at_tiktok(
            tiktok_emulator, settings, await _stored_access_token(store, settings, client)
        )
        wall_clock.advance(2.1)
        response = await client.get("/me")
        assert response.json() == {"user": None}
        assert cleared(response, settings)


@pytest.mark.parametrize("fault", [Fault.timeout(), Fault.status(503)])
async def test_tiktok_slow_or_down_keeps_the_old_profile_within_http_timeout(
    tiktok_emulator: TikTokEmulator, fault: Fault, wall_clock: WallClock
) -> None:
    settings = _fresh_settings(tiktok_emulator, http_timeout=0.25)
    app = session_app(settings, MemoryTokenStore(), tiktok_emulator)
    async with signed_in_browser(app, settings, tiktok_emulator) as client:
        wall_clock.advance(2.1)
        tiktok_emulator.inject("userinfo", fault, times=None)
        started = time.monotonic()
        response = await client.get("/me")
        took = time.monotonic() - started
        assert response.json() == {"user": "Maya Chen"}
        assert not cleared(response, settings)
        assert took < settings.http_timeout + 0.5, took


def test_profile_max_age_must_be_positive(tiktok_emulator: TikTokEmulator) -> None:
    with pytest.raises(ValueError, match="profile_max_age must be a positive"):
        tiktok_emulator.settings(profile_max_age=0)


async def test_load_user_gets_the_fresh_profile(
    tiktok_emulator: TikTokEmulator, wall_clock: WallClock
) -> None:
    settings = _fresh_settings(tiktok_emulator)
    loaded: list[str] = []

    async def load_user(user: TikTokUser) -> TikTokUser:
        loaded.append(user.display_name)
        return user

    app = session_app(settings, MemoryTokenStore(), tiktok_emulator, load_user=load_user)
    async with signed_in_browser(app, settings, tiktok_emulator) as client:
        tiktok_emulator.change_profile("mayacooks", display_name="Maya C.")
        wall_clock.advance(1.1)
        assert await who(client) == "Maya C."
    assert loaded[-1] == "Maya C."


async def test_requests_arriving_together_re_read_the_profile_once(
    tiktok_emulator: TikTokEmulator, wall_clock: WallClock
) -> None:
    settings = _fresh_settings(tiktok_emulator)
    app = session_app(settings, MemoryTokenStore(), tiktok_emulator)
    async with signed_in_browser(app, settings, tiktok_emulator) as client:
        wall_clock.advance(1.1)
        tiktok_emulator.inject("userinfo", Fault.latency(0.2))
        before = tiktok_emulator.count("userinfo")
        responses = await asyncio.gather(*(client.get("/me") for _ in range(10)))
        assert {r.status_code for r in responses} == {200}
        assert tiktok_emulator.count("userinfo") == before + 1
