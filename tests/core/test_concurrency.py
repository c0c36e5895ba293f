"""Concurrency: many browsers and many tabs at once, with failures mixed in, never cross."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from tests.conftest import BASE_URL, make_app
from tests.core.helpers import new_users
from tests.support.signin import async_sign_in
from tiktok_asgi import TikTokSettings
from tiktok_asgi._tiktok.http import ASGITransport, AsyncClient
from tiktok_asgi.emulator import EmulatorUser, Fault, TikTokEmulator

JSON = {"accept": "application/json"}


@asynccontextmanager
async def _a_browser_each(
    emulator: TikTokEmulator, settings: TikTokSettings, count: int, prefix: str
) -> AsyncIterator[list[tuple[AsyncClient, EmulatorUser]]]:
    """``count`` new TikTok users, each with their own browser (own cookies) on the app; the
    browsers are closed afterwards."""
    users = new_users(emulator, count, prefix)
    app = make_app(settings, emulator.transport())
    browsers = [AsyncClient(transport=ASGITransport(app=app), base_url=BASE_URL) for _ in users]
    try:
        yield list(zip(browsers, users, strict=True))
    finally:
        for browser in browsers:
            await browser.aclose()


async def test_many_tabs_of_one_browser_at_once(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    app = make_app(tiktok_settings, tiktok_emulator.transport())
    tiktok_emulator.inject("token", Fault.latency(0.02), times=None)
    async with AsyncClient(transport=ASGITransport(app=app), base_url=BASE_URL) as browser:
        logins = await asyncio.gather(
            *(
                browser.get(tiktok_settings.login_path, params={"next": f"/tab/{i}"})
                for i in range(8)
            )
        )
        callbacks = [tiktok_emulator.approve(r.headers["location"]) for r in logins]
        done = await asyncio.wait_for(
            asyncio.gather(*(browser.get(c) for c in reversed(callbacks))), timeout=30
        )
        assert [r.status_code for r in done] == [302] * 8
        assert [r.headers["location"] for r in done] == [f"/tab/{i}" for i in reversed(range(8))]
        assert (await browser.get("/me")).json()["authenticated"] is True
    assert tiktok_emulator.count("token", grant_type="authorization_code") == 8


async def test_failures_mixed_into_concurrent_logins_stay_with_their_browser(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    # Start every login first, so the failures below hit some of them, whichever they are.
    async with _a_browser_each(tiktok_emulator, tiktok_settings, 20, "m") as pairs:
        callbacks = []
        for browser, user in pairs:
            login = await browser.get(tiktok_settings.login_path)
            callbacks.append(tiktok_emulator.approve(login.headers["location"], user=user))
        tiktok_emulator.inject("userinfo", Fault.error_body("internal_error"), times=5)
        tiktok_emulator.inject("token", Fault.latency(0.02), times=None)

        async def finish(browser: AsyncClient, callback: str) -> tuple[int, dict[str, Any]]:
            done = await browser.get(callback, headers=JSON)
            me = await browser.get("/me")
            return done.status_code, me.json()

        results = await asyncio.wait_for(
            asyncio.gather(*(finish(b, c) for (b, _), c in zip(pairs, callbacks, strict=True))),
            timeout=30,
        )
    failed = [(s, me) for s, me in results if s != 302]
    assert len(failed) == 5
    assert {s for s, _ in failed} == {502}
    assert all(me["authenticated"] is False for _, me in failed)
    for (status, me), (_, user) in zip(results, pairs, strict=True):
        if status == 302:
            assert me["identity"] == user.open_id
            assert me["display_name"] == user.display_name


async def test_concurrent_signed_in_requests_see_their_own_user(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    async with _a_browser_each(tiktok_emulator, tiktok_settings, 10, "r") as pairs:
        for browser, user in pairs:
            await async_sign_in(browser, tiktok_settings, tiktok_emulator, user=user)
        rounds = [(user, browser.get("/me")) for _ in range(5) for browser, user in pairs]
        answers = await asyncio.gather(*(request for _, request in rounds))
    for (user, _), answer in zip(rounds, answers, strict=True):
        assert answer.json()["identity"] == user.open_id
