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
from tiktok_asgi.emulator import Fault, TikTokEmulator

JSON = {"accept": "application/json"}


@asynccontextmanager
async def _browsers(app: Any, count: int) -> AsyncIterator[list[AsyncClient]]:
    """``count`` browsers on ``app``, each with its own cookies; closed afterwards."""
    browsers = [
        AsyncClient(transport=ASGITransport(app=app), base_url=BASE_URL) for _ in range(count)
    ]
    try:
        yield browsers
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
    users = new_users(tiktok_emulator, 20, "m")
    app = make_app(tiktok_settings, tiktok_emulator.transport())
    # Start every login first, so the failures below hit some of them, whichever they are.
    async with _browsers(app, len(users)) as browsers:
        callbacks = []
        for browser, user in zip(browsers, users, strict=True):
            login = await browser.get(tiktok_settings.login_path)
            callbacks.append(tiktok_emulator.approve(login.headers["location"], user=user))
        tiktok_emulator.inject("userinfo", Fault.error_body("internal_error"), times=5)
        tiktok_emulator.inject("token", Fault.latency(0.02), times=None)

        async def finish(browser: AsyncClient, callback: str) -> tuple[int, dict[str, Any]]:
            done = await browser.get(callback, headers=JSON)
            me = await browser.get("/me")
            return done.status_code, me.json()

        results = await asyncio.wait_for(
            asyncio.gather(*(finish(b, c) for b, c in zip(browsers, callbacks, strict=True))),
            timeout=30,
        )
    failed = [(s, me) for s, me in results if s != 302]
    assert len(failed) == 5
    assert {s for s, _ in failed} == {502}
    assert all(me["authenticated"] is False for _, me in failed)
    for (status, me), user in zip(results, users, strict=True):
        if status == 302:
            assert me["identity"] == user.open_id
            assert me["display_name"] == user.display_name


async def test_concurrent_signed_in_requests_see_their_own_user(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    users = new_users(tiktok_emulator, 10, "r")
    app = make_app(tiktok_settings, tiktok_emulator.transport())
    async with _browsers(app, len(users)) as browsers:
        for browser, user in zip(browsers, users, strict=True):
            await async_sign_in(browser, tiktok_settings, tiktok_emulator, user=user)
        rounds = [
            (user, browser.get("/me"))
            for _ in range(5)
            for browser, user in zip(browsers, users, strict=True)
        ]
        answers = await asyncio.gather(*(request for _, request in rounds))
    for (user, _), answer in zip(rounds, answers, strict=True):
        assert answer.json()["identity"] == user.open_id
