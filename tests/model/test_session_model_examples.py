"""Examples the session model found, minimised: each names the invariant it checks."""

from __future__ import annotations

import asyncio

import pytest

from tests.model.harness import WEBHOOK_URL, Browser, Gate, MemoryBackend, World
from tests.support.signin import identity_value


async def _signed_in(world: World, username: str = "mayacooks") -> Browser:
    browser = Browser("browser")
    done = await world.sign_in(browser, username)
    assert identity_value(done, world.settings.cookie_name), done.text
    return browser


def _copy(browser: Browser) -> Browser:
    """Another browser with the same cookies (a stolen or second copy)."""
    return Browser("copy", browser.jar)


def _store(world: World, *, down: bool) -> None:
    for store in world.all_stores:
        store.down = down


async def _me(world: World, browser: Browser, at: int) -> str | None:
    answer = await browser.request(world.apps[at], "GET", "/me")
    assert answer.status == 200, answer.text
    user: str | None = answer.json()["user"]
    return user


async def test_authorization_removed_is_not_answered_500_when_the_store_fails_once() -> None:
    """No answer is a 500: a store failure is ``token_store_unavailable`` everywhere else."""
    world = World(MemoryBackend())
    await _signed_in(world)
    world.stores[0].fail_next.append("index_members")
    world.emulator.register_webhook(WEBHOOK_URL, transport=world.hooks[0])
    status = await world.emulator.remove_app("mayacooks")
    assert status != 500


@pytest.mark.parametrize("where", [0, 1], ids=["signed out here", "signed out elsewhere"])
async def test_a_refresh_finishing_after_sign_out_hands_out_no_token_while_the_store_is_down(
    where: int,
) -> None:
    """An ended session is never signed in again: not even by a refresh that was in flight."""
    world = World(MemoryBackend())
    browser = await _signed_in(world)
    gate = Gate()
    world.tiktok.hold_next_refresh(gate, after=True)  # TikTok rotated; the answer is on its way
    refresh = asyncio.create_task(_copy(browser).request(world.apps[0], "GET", "/token?rejected=1"))
    await gate.reached.wait()
    signed_out = await browser.request(world.apps[where], "POST", world.settings.logout_path)
    assert signed_out.status == 303
    await world.advance(1.0)  # past the delay before another instance must see an end
    _store(world, down=True)
    gate.opened.set()
    answer = await refresh
    assert answer.status != 200, "a fresh access token for a signed-out session"


async def test_a_refresh_finishing_after_a_held_sign_out_hands_out_no_token() -> None:
    """An instance holding a session's end never signs it in again, though the store still
    holds the record until the end is written."""
    world = World(MemoryBackend())
    browser = await _signed_in(world)
    gate = Gate()
    world.tiktok.hold_next_refresh(gate, after=True)
    refresh = asyncio.create_task(_copy(browser).request(world.apps[0], "GET", "/token?rejected=1"))
    await gate.reached.wait()
    world.stores[0].fail_next.append("delete")  # the sign-out cannot reach the store: held
    signed_out = await browser.request(world.apps[0], "POST", world.settings.logout_path)
    assert signed_out.status == 503, signed_out.text
    gate.opened.set()
    answer = await refresh
    assert answer.status != 200, "a fresh access token for a session this instance ended"


async def test_a_rotated_token_held_by_one_instance_is_not_sent_again_by_another() -> None:
    """No refresh token is sent to TikTok twice, and a session nobody ended stays signed in."""
    world = World(MemoryBackend())
    browser = await _signed_in(world)
    gate = Gate()
    world.tiktok.hold_next_refresh(gate, after=True)
    refresh = asyncio.create_task(_copy(browser).request(world.apps[0], "GET", "/token?rejected=1"))
    await gate.reached.wait()
    _store(world, down=True)  # TikTok rotated the tokens; the store cannot take them
    gate.opened.set()
    first = await refresh
    assert first.status == 200, first.text  # instance 0 holds the rotated tokens
    _store(world, down=False)  # back, before instance 0's writer retries
    # Instance 1 waits for the refresh lock instance 0 keeps until it wrote what it held.
    waiting = asyncio.create_task(_copy(browser).request(world.apps[1], "GET", "/token?rejected=1"))
    await world.advance(6.0)  # instance 0 writes what it held, and lets the lock go
    second = await waiting
    assert world.refresh_tokens_sent_twice() == 0
    assert second.status == 200, second.text
    assert await _me(world, _copy(browser), 0) == world.open_id("mayacooks")
    assert await _me(world, _copy(browser), 1) == world.open_id("mayacooks")


async def test_a_session_a_failed_end_user_sessions_signed_out_stays_signed_out() -> None:
    """Ended is final: an instance that answered a session as ended never signs it in again."""
    world = World(MemoryBackend())
    browser = await _signed_in(world)
    open_id = world.open_id("mayacooks")
    world.stores[0].fail_next.append("delete")
    failed = await browser.request(world.apps[0], "POST", f"/end/{open_id}")
    assert failed.status == 503, failed.text
    now = await _me(world, _copy(browser), 0)
    await world.advance(1.0)  # the liveness cache ages out
    later = await _me(world, _copy(browser), 0)
    assert not (now is None and later == open_id), "signed out, then signed in again"
