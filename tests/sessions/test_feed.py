"""Ends of login sessions pushed to every instance through the store's feed (a Redis stream).

With the feed followed, another instance's sign-out reaches this one without a question to
Redis; when the feed is lost (a stall, an outage, Redis losing its data), every request asks
Redis again until the follower has caught up: stale liveness is never served.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from redis.asyncio import Redis

from tests.sessions.conftest import copy_of, session_app, signed_in_browser, who
from tests.support.faulty_store import FaultyStore
from tests.tokens.conftest import RedisServer, redis_token_store
from tiktok_asgi import TikTokSettings, TokenStoreError
from tiktok_asgi._session.feed import FRESH_SECONDS, EndsFollower, EndsRead
from tiktok_asgi._session.liveness import CACHE_SECONDS, LiveSessions
from tiktok_asgi.emulator import TikTokEmulator

pytestmark = pytest.mark.redis

_BOUND = 2.0  # seconds any wait below may take at most


# The follower alone, fed scripted reads --------------------------------------------------------


def _follower() -> tuple[EndsFollower, list[str]]:
    heard: list[str] = []
    follower = EndsFollower(_never, heard.append, keep=100.0)
    return follower, heard


async def _never(after: str, wait: float) -> EndsRead:
    raise AssertionError("not read in this test")


def test_an_end_read_is_heard_and_kept_until_no_cookie_can_name_it() -> None:
    follower, heard = _follower()
    wall = [1_000.0]
    follower.wall = lambda: wall[0]
    follower.take(EndsRead("E:1", 900.0, "5-0", ["k1", "k2"], caught_up=True), after="0")
    assert heard == ["k1", "k2"]
    assert follower.caught_up
    assert follower.position == "5-0"
    assert set(follower.ended) == {"k1", "k2"}
    wall[0] += 101.0  # past a cookie's lifetime: no cookie names them any more
    follower.take(EndsRead("E:1", 900.0, "6-0", ["k3"], caught_up=True), after="5-0")
    assert set(follower.ended) == {"k3"}


def test_a_partial_read_is_not_caught_up() -> None:
    follower, _ = _follower()
    follower.take(EndsRead("E:1", 900.0, "5-0", ["k1"], caught_up=False), after="0")
    assert not follower.caught_up
    assert not follower.fresh()


def test_a_new_epoch_is_read_from_its_start_and_keeps_what_ended() -> None:
    follower, heard = _follower()
    follower.take(EndsRead("E:1", 900.0, "5-0", ["k1"], caught_up=True), after="0")
    # Redis lost its data: the read from the old position says another epoch.
    follower.take(EndsRead("E:2", 2_000.0, "9-0", ["k9"], caught_up=True), after="5-0")
    assert follower.epoch == "E:2"
    assert follower.since == 2_000.0
    assert follower.position == "0"
    assert not follower.caught_up
    assert heard == ["k1"]  # what was read past the old position is read again, in order
    follower.take(EndsRead("E:2", 2_000.0, "9-0", ["k8", "k9"], caught_up=True), after="0")
    assert heard == ["k1", "k8", "k9"]
    assert "k1" in follower.ended
    assert follower.caught_up


def test_answers_are_local_only_while_the_feed_answered_recently() -> None:
    follower, _ = _follower()
    now = [50.0]
    follower.clock = lambda: now[0]
    follower.take(EndsRead("E:1", 900.0, "5-0", [], caught_up=True), after="0")
    assert follower.fresh()
    now[0] += FRESH_SECONDS  # a read that stalls: no error, just silence
    assert not follower.fresh()


async def test_a_lost_feed_is_logged_retried_and_followed_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    script: list[EndsRead | Exception] = [
        EndsRead("E:1", 900.0, "1-0", [], caught_up=True),
        TokenStoreError("down"),
        TokenStoreError("down"),
        EndsRead("E:1", 900.0, "2-0", ["k1"], caught_up=True),
    ]
    states: list[bool] = []
    done = asyncio.Event()

    async def read(after: str, wait: float) -> EndsRead | None:
        if not script:
            done.set()
            return None  # the store was closed: the follower stops by itself
        step = script.pop(0)
        if isinstance(step, Exception):
            raise step
        return step

    heard: list[str] = []
    follower = EndsFollower(read, heard.append, keep=100.0)

    async def no_sleep(seconds: float) -> None:
        states.append(follower.caught_up)

    follower.sleep = no_sleep
    with caplog.at_level(logging.INFO, logger="tiktok_asgi"):
        follower.ensure_running()
        async with asyncio.timeout(_BOUND):
            await done.wait()
        await follower.stop()
    assert states == [False, False]  # lost: local answers stop at once
    assert heard == ["k1"]
    messages = [r.getMessage() for r in caplog.records]
    assert sum("session_feed_lost" in m for m in messages) == 1
    assert sum("session_feed_following" in m for m in messages) == 2


# Two instances on a real redis-server --------------------------------------------------------


@asynccontextmanager
async def two_instances(
    settings: TikTokSettings, emulator: TikTokEmulator, redis_server: RedisServer
) -> AsyncIterator[tuple[Any, Any, FaultyStore]]:
    """Two middleware instances with their own Redis clients; the second's store is watched
    (every call it makes is listed) and can be cut."""
    async with (
        redis_token_store(redis_server, seconds=1.0) as store_a,
        redis_token_store(redis_server, seconds=1.0) as store_b,
    ):
        watched = FaultyStore(store_b)
        one = session_app(settings, store_a, emulator)
        two = session_app(settings, watched, emulator)
        try:
            yield one, two, watched
        finally:
            for app in (one, two):
                assert app._tokens is not None
                await app._tokens.aclose()


def _live(app: Any) -> LiveSessions:
    live: LiveSessions = app._tokens.live
    return live


async def _followed(app: Any, copy: Any) -> tuple[LiveSessions, EndsFollower]:
    """``copy`` is signed in on ``app``, which then follows its store's feed."""
    assert await who(copy) == "Maya Chen"
    live = _live(app)
    await _until(live.following)
    assert live.feed is not None
    return live, live.feed


def _epoch_began_long_ago(app: Any) -> None:
    """As on a site that has run for a while: the epoch was made once, long before these
    sign-ins (the first minutes of an epoch vouch for no cookie, as clocks may differ)."""
    feed = _live(app).feed
    assert feed is not None
    feed.since -= 3_600


async def _until(condition: Callable[[], bool]) -> None:
    """Once ``condition()`` holds (polled every 2 ms, for at most :data:`_BOUND`)."""
    for _ in range(int(_BOUND / 0.002)):
        if condition():
            return
        await asyncio.sleep(0.002)
    raise AssertionError("not within the bound")


async def test_a_sign_out_reaches_another_instance_pushed_not_polled(
    tiktok_settings: TikTokSettings, tiktok_emulator: TikTokEmulator, redis_server: RedisServer
) -> None:
    async with (
        two_instances(tiktok_settings, tiktok_emulator, redis_server) as (one, two, watched),
        signed_in_browser(one, tiktok_settings, tiktok_emulator) as first,
        copy_of(first, two, tiktok_settings) as copy,
    ):
        assert await who(copy) == "Maya Chen"  # asks Redis once, and starts following
        await _until(_live(two).following)
        _epoch_began_long_ago(two)
        watched.calls.clear()
        for _ in range(20):
            assert await who(copy) == "Maya Chen"
        assert "exists" not in watched.calls  # answered in the process

        assert (await first.post(tiktok_settings.logout_path)).status_code == 303
        signed_out = time.monotonic()
        while await who(copy) is not None:
            assert time.monotonic() - signed_out < _BOUND
            await asyncio.sleep(0.002)
        # The promise: within 100 ms (about one Redis round trip here; see the benchmarks).
        assert time.monotonic() - signed_out < 0.1
        assert "exists" not in watched.calls  # pushed: the second instance never asked


async def test_a_new_sign_in_on_another_instance_is_answered_without_asking(
    tiktok_settings: TikTokSettings, tiktok_emulator: TikTokEmulator, redis_server: RedisServer
) -> None:
    async with two_instances(tiktok_settings, tiktok_emulator, redis_server) as (one, two, w):
        async with (
            signed_in_browser(one, tiktok_settings, tiktok_emulator, "leo.skates") as leo,
            copy_of(leo, two, tiktok_settings) as leo_there,
        ):
            assert await who(leo_there) == "Leo Martins"
        await _until(_live(two).following)
        _epoch_began_long_ago(two)
        async with (
            signed_in_browser(one, tiktok_settings, tiktok_emulator) as first,
            copy_of(first, two, tiktok_settings) as first_there,
        ):
            w.calls.clear()
            # Signed after the feed's epoch began: any end of it would be in the feed.
            assert await who(first_there) == "Maya Chen"
            assert "exists" not in w.calls


async def test_a_stalled_feed_falls_back_to_asking_redis(
    tiktok_settings: TikTokSettings, tiktok_emulator: TikTokEmulator, redis_server: RedisServer
) -> None:
    async with (
        two_instances(tiktok_settings, tiktok_emulator, redis_server) as (one, two, watched),
        signed_in_browser(one, tiktok_settings, tiktok_emulator) as first,
        copy_of(first, two, tiktok_settings) as copy,
    ):
        live, feed = await _followed(two, copy)
        watched.calls.clear()
        watched.hold("read_ends")  # the feed's connection goes silent, no error
        await _until(lambda: "read_ends" in watched.calls)
        feed.clock = lambda: time.monotonic() + FRESH_SECONDS
        live.clock = lambda: time.monotonic() + CACHE_SECONDS  # and no cached answer stands
        watched.calls.clear()
        assert await who(copy) == "Maya Chen"
        assert "exists" in watched.calls  # asked, not answered from a silent feed

        assert (await first.post(tiktok_settings.logout_path)).status_code == 303
        live.clock = lambda: time.monotonic() + 2 * CACHE_SECONDS
        assert await who(copy) is None  # seen without the feed
        watched.release()


async def test_redis_losing_its_data_revives_no_session(
    tiktok_settings: TikTokSettings,
    tiktok_emulator: TikTokEmulator,
    redis_server: RedisServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with (
        two_instances(tiktok_settings, tiktok_emulator, redis_server) as (one, two, _),
        signed_in_browser(one, tiktok_settings, tiktok_emulator) as first,
        copy_of(first, two, tiktok_settings) as copy,
    ):
        _, feed = await _followed(two, copy)
        old_epoch = feed.epoch
        client = Redis.from_url(redis_server.url)
        try:
            with caplog.at_level(logging.WARNING, logger="tiktok_asgi"):
                await client.flushall()  # records, the feed and its epoch: all gone
                await client.set("nudge", "1")
                await _until(lambda: feed.epoch not in (None, old_epoch) and feed.caught_up)
        finally:
            await client.aclose()
        assert any("session_feed_restarted" in r.getMessage() for r in caplog.records)
        for app in (one, two):
            _live(app).clock = lambda: time.monotonic() + CACHE_SECONDS  # no cached answer
        assert await who(copy) is None  # asked Redis: the record is gone
        assert await who(first) is None


async def test_ends_held_while_redis_was_down_reach_the_other_instance(
    tiktok_settings: TikTokSettings, tiktok_emulator: TikTokEmulator, redis_server: RedisServer
) -> None:
    async with (
        redis_token_store(redis_server, seconds=1.0) as store_a,
        redis_token_store(redis_server, seconds=1.0) as store_b,
    ):
        faulty_a = FaultyStore(store_a)
        one = session_app(tiktok_settings, faulty_a, tiktok_emulator)
        two = session_app(tiktok_settings, store_b, tiktok_emulator)
        assert one._tokens is not None
        assert two._tokens is not None
        retries: list[float] = []

        async def quick(seconds: float) -> None:
            retries.append(seconds)
            await asyncio.sleep(0)

        one._tokens.sleep = quick
        try:
            async with (
                signed_in_browser(one, tiktok_settings, tiktok_emulator) as first,
                copy_of(first, two, tiktok_settings) as copy,
            ):
                assert await who(copy) == "Maya Chen"
                await _until(_live(two).following)
                faulty_a.down = True
                assert (await first.post(tiktok_settings.logout_path)).status_code == 503
                assert await who(copy) == "Maya Chen"  # nothing reached Redis yet
                faulty_a.down = False
                await _until(lambda: not _live(one).unwritten_ends)
                for _ in range(int(_BOUND / 0.002)):  # the held end reaches the other one
                    if await who(copy) is None:
                        break
                    await asyncio.sleep(0.002)
                else:
                    raise AssertionError("the held end never reached the other instance")
        finally:
            await one._tokens.aclose()
            await two._tokens.aclose()


async def test_the_lifespan_opens_the_store_and_follows_the_feed_until_shutdown(
    tiktok_settings: TikTokSettings, tiktok_emulator: TikTokEmulator, redis_server: RedisServer
) -> None:
    async with redis_token_store(redis_server, seconds=1.0) as store:
        app = session_app(tiktok_settings, store, tiktok_emulator)
        inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

        async def send(message: dict[str, Any]) -> None:
            await outbox.put(message)

        lifespan = asyncio.create_task(
            app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, inbox.get, send)
        )
        await inbox.put({"type": "lifespan.startup"})
        assert (await asyncio.wait_for(outbox.get(), _BOUND))["type"] == "lifespan.startup.complete"
        await _until(_live(app).following)  # before any request
        await inbox.put({"type": "lifespan.shutdown"})
        assert (await asyncio.wait_for(outbox.get(), _BOUND))["type"] == (
            "lifespan.shutdown.complete"
        )
        await asyncio.wait_for(lifespan, _BOUND)
        assert not _live(app).following()
