"""RedisTokenStore against a real redis-server: the store, shared refresh locks, outages."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from tests.support.signin import async_sign_in
from tests.tokens.conftest import (
    RedisServer,
    browser,
    cleared,
    expire_access_token,
    read_record,
    redis_token_store,
    session_id,
    signed_in,
    store_key,
    wrap,
)
from tiktok_asgi import TikTokSettings, TokenStore, TokenStoreError
from tiktok_asgi.emulator import Fault, TikTokEmulator
from tiktok_asgi.redis_store import RedisTokenStore

pytestmark = pytest.mark.redis


async def test_get_set_with_ttl_and_delete(redis_server: RedisServer) -> None:
    store = RedisTokenStore(redis_server.url, key_prefix="app1:")
    peek = Redis.from_url(redis_server.url)
    try:
        assert isinstance(store, TokenStore)
        assert await store.get("k") is None
        await store.set("k", b"\x00value\xff", ttl=120)
        assert await store.get("k") == b"\x00value\xff"
        assert await peek.get("app1:k") == b"\x00value\xff"
        assert 118 <= await peek.ttl("app1:k") <= 120
        await store.set("short", b"v", ttl=1)
        assert 0 < await peek.pttl("app1:short") <= 1000
        await peek.pexpire("app1:short", 1)  # its second is up: no need to wait for it
        await asyncio.sleep(0.005)
        assert await store.get("short") is None
        await store.delete("k")
        assert await store.get("k") is None
        assert await peek.exists("app1:k") == 0
        await store.ping()
    finally:
        await store.aclose()
        await peek.aclose()


async def test_a_client_passed_in_stays_open(redis_server: RedisServer) -> None:
    client = Redis.from_url(redis_server.url)
    store = RedisTokenStore(client)
    try:
        await store.set("k", b"v", 60)
        await store.aclose()
        assert await client.get("k") == b"v"  # still usable: the caller owns it
        assert "redis://" not in repr(store)
    finally:
        await client.aclose()


async def test_a_decoding_client_is_refused_clearly(redis_server: RedisServer) -> None:
    client = Redis.from_url(redis_server.url, decode_responses=True)
    store = RedisTokenStore(client)
    try:
        await store.set("k", b"v", 60)
        with pytest.raises(TokenStoreError, match="decode"):
            await store.get("k")
    finally:
        await client.aclose()


def test_bad_arguments() -> None:
    with pytest.raises(TypeError, match=r"redis:// URL"):
        RedisTokenStore(6379)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timeout"):
        RedisTokenStore("redis://127.0.0.1:1/0", timeout=0)


async def test_the_lock_excludes_and_expires(redis_store: RedisTokenStore) -> None:
    order: list[str] = []

    async def hold(name: str, seconds: float) -> None:
        async with redis_store.lock("sess", timeout=5):
            order.append(f"{name}+")
            await asyncio.sleep(seconds)
            order.append(f"{name}-")

    await asyncio.gather(hold("a", 0.3), hold("b", 0.0))
    assert order in (["a+", "a-", "b+", "b-"], ["b+", "b-", "a+", "a-"])

    # A holder that never lets go (a crashed process) blocks others at most the lease.
    other = RedisTokenStore(redis_store.redis)
    stuck = other.lock("crashed", timeout=0.5)
    await stuck.__aenter__()
    started = time.monotonic()
    async with redis_store.lock("crashed", timeout=3):
        waited = time.monotonic() - started
    assert 0.3 <= waited < 2.5
    with pytest.raises(TokenStoreError):  # the crashed holder's lease is gone
        await stuck.__aexit__(None, None, None)


async def test_a_lock_taken_too_long_is_a_store_error(redis_store: RedisTokenStore) -> None:
    async with redis_store.lock("busy", timeout=10):
        started = time.monotonic()
        with pytest.raises(TokenStoreError, match="stayed taken"):
            async with redis_store.lock("busy", timeout=0.4):
                pass
        assert time.monotonic() - started < 2


async def test_tokens_in_redis_are_encrypted_and_live_as_long_as_the_cookie(
    redis_store: RedisTokenStore, tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    async with browser(wrap(tiktok_settings, redis_store, tiktok_emulator)) as client:
        await async_sign_in(client, tiktok_settings, tiktok_emulator)
        sid = session_id(client, tiktok_settings)
        assert (await client.get("/token")).status_code == 200
    record = await read_record(redis_store, tiktok_settings, sid)
    keys = [k async for k in redis_store.redis.scan_iter("tiktok_asgi:token:*")]
    assert keys == [store_key(sid).encode()]
    index = f"tiktok_asgi:user-sessions:{record['open_id']}".encode()
    assert await redis_store.redis.exists(index)  # the record's user's sessions index
    raw = await redis_store.redis.get(keys[0])
    assert record["access_token"].encode() not in raw
    assert record["refresh_token"].encode() not in raw
    assert b"act." not in raw
    assert b"rft." not in raw
    # As long as the identity cookie naming it can live, not the refresh token's 180 days.
    max_age = tiktok_settings.cookie_max_age
    assert max_age - 5 <= await redis_store.redis.ttl(store_key(sid)) <= max_age
    assert max_age - 5 <= await redis_store.redis.ttl(index) <= max_age + 1


async def test_two_instances_sharing_redis_refresh_once_for_fifty_requests(
    redis_server: RedisServer, tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    stores = [RedisTokenStore(redis_server.url), RedisTokenStore(redis_server.url)]
    apps = [wrap(tiktok_settings, store, tiktok_emulator) for store in stores]
    try:
        async with browser(apps[0]) as one, browser(apps[1]) as two:
            await async_sign_in(one, tiktok_settings, tiktok_emulator)
            two.cookies = one.cookies
            sid = session_id(one, tiktok_settings)
            assert (await two.get("/token")).status_code == 200  # signed in through the other
            await expire_access_token(stores[0], tiktok_settings, sid)
            tiktok_emulator.inject("token", Fault.latency(0.3))
            responses = await asyncio.gather(*(client.get("/videos") for client in [one, two] * 25))
            record = await read_record(stores[1], tiktok_settings, sid)
    finally:
        for store in stores:
            await store.aclose()
    assert [r.status_code for r in responses] == [200] * 50, {r.text for r in responses}
    assert tiktok_emulator.count("token", grant_type="refresh_token") == 1
    calls = [r for r in tiktok_emulator.requests if r.endpoint == "video_list"]
    assert len(calls) == 50
    assert {c.headers["authorization"] for c in calls} == {f"Bearer {record['access_token']}"}


@pytest.fixture
async def quick_store(redis_server: RedisServer) -> AsyncIterator[RedisTokenStore]:
    """A store on ``redis_server`` that gives up after half a second."""
    async with redis_token_store(redis_server, seconds=0.5) as store:
        yield store


async def _timed_get(client: Any, path: str) -> tuple[Any, float]:
    started = time.monotonic()
    # As an API client: the middleware's own 503 (the login session cannot be checked) is JSON.
    response = await client.get(path, headers={"accept": "application/json"})
    return response, time.monotonic() - started


async def test_a_stalled_redis_is_503_within_the_timeout_and_nothing_is_lost(
    redis_server: RedisServer,
    quick_store: RedisTokenStore,
    tiktok_emulator: TikTokEmulator,
    tiktok_settings: TikTokSettings,
) -> None:
    async with signed_in(tiktok_settings, tiktok_emulator, quick_store) as (client, _, _):
        before = (await client.get("/token")).json()
        redis_server.pause()  # SIGSTOP: connections accepted by the kernel, never answered
        try:
            for path in ("/token", "/videos", "/token"):
                response, elapsed = await _timed_get(client, path)
                assert response.status_code == 503, response.text
                assert response.json()["error"] == "token_store_unavailable"
                assert not cleared(response, tiktok_settings)  # an outage is no sign-out
                assert elapsed < 1.5
        finally:
            redis_server.resume()
        response = await client.get("/token")
        assert response.status_code == 200, response.text
        assert response.json() == before
        assert (await client.get("/videos")).status_code == 200
        assert tiktok_emulator.count("token", grant_type="refresh_token") == 0


async def test_logout_while_redis_stalls_is_503_and_the_end_is_written_once_it_is_back(
    redis_server: RedisServer,
    quick_store: RedisTokenStore,
    tiktok_emulator: TikTokEmulator,
    tiktok_settings: TikTokSettings,
) -> None:
    async with signed_in(tiktok_settings, tiktok_emulator, quick_store) as (client, _, sid):
        copied = client.cookies[tiktok_settings.cookie_name]
        redis_server.pause()
        try:
            started = time.monotonic()
            response = await client.post(
                tiktok_settings.logout_path, headers={"accept": "application/json"}
            )
            elapsed = time.monotonic() - started
            # Ended in this process at once, although the store has not heard of it yet.
            client.cookies.set(tiktok_settings.cookie_name, copied)
            assert (await client.get("/token")).status_code == 401
        finally:
            redis_server.resume()
        # Not "signed out": the store did not take it; this browser's cookie goes all the same.
        assert response.status_code == 503
        assert response.json()["error"] == "token_store_unavailable"
        assert cleared(response, tiktok_settings)
        assert elapsed < 2.5
        # Held, then written: every instance sharing the store refuses the copy from then on.
        for _ in range(100):
            if not await quick_store.redis.exists(store_key(sid)):
                break
            await asyncio.sleep(0.05)
        assert not await quick_store.redis.exists(store_key(sid))


async def test_a_stopped_redis_is_503_and_the_session_works_once_it_is_back(
    redis_server: RedisServer,
    quick_store: RedisTokenStore,
    tiktok_emulator: TikTokEmulator,
    tiktok_settings: TikTokSettings,
) -> None:
    async with signed_in(tiktok_settings, tiktok_emulator, quick_store) as (client, store, sid):
        before = (await client.get("/token")).json()
        redis_server.shutdown_saving()  # the data survives on disk, as a real deployment's
        for _ in range(3):
            response, elapsed = await _timed_get(client, "/token")
            assert response.status_code == 503
            assert response.json()["error"] == "token_store_unavailable"
            assert not cleared(response, tiktok_settings)
            assert elapsed < 2.0
        # A refresh due while Redis is down must not lose the refresh token either.
        redis_server.start()
        await expire_access_token(store, tiktok_settings, sid)
        redis_server.shutdown_saving()
        response, _ = await _timed_get(client, "/token")
        assert response.status_code == 503
        assert tiktok_emulator.count("token", grant_type="refresh_token") == 0
        redis_server.start()
        response = await client.get("/token")
        assert response.status_code == 200, response.text
        assert response.json() != before  # refreshed now, with the kept refresh token
        assert tiktok_emulator.count("token", grant_type="refresh_token") == 1
        assert (await client.get("/videos")).status_code == 200


async def test_an_unreachable_redis_fails_fast(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = RedisTokenStore(f"redis://127.0.0.1:{port}/0", timeout=0.5)
    try:
        async with browser(wrap(tiktok_settings, store, tiktok_emulator)) as client:
            response = await client.get(tiktok_settings.login_path)
            callback = tiktok_emulator.approve(response.headers["location"])
            started = time.monotonic()
            response = await client.get(callback, headers={"accept": "application/json"})
            elapsed = time.monotonic() - started
    finally:
        await store.aclose()
    assert response.status_code == 503
    assert response.json()["error"] == "token_store_unavailable"
    assert elapsed < 2.0


_NOT_THE_STORES = ("cmdstat_info", "cmdstat_config", "cmdstat_client", "cmdstat_hello")


async def _commands(redis: Redis) -> int:
    """Commands Redis ran since the last reset, less this count and new connections' set-up."""
    stats = await redis.info("commandstats")
    return sum(v["calls"] for k, v in stats.items() if not k.startswith(_NOT_THE_STORES))


async def test_fifty_requests_waiting_for_one_refresh_cost_about_two_redis_commands_each(
    redis_store: RedisTokenStore, tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    async with browser(wrap(tiktok_settings, redis_store, tiktok_emulator)) as client:
        await async_sign_in(client, tiktok_settings, tiktok_emulator)
        await expire_access_token(redis_store, tiktok_settings, session_id(client, tiktok_settings))
        tiktok_emulator.inject("token", Fault.latency(0.2))
        await redis_store.redis.config_resetstat()
        responses = await asyncio.gather(*(client.get("/token") for _ in range(50)))
        commands = await _commands(redis_store.redis)
    assert [r.status_code for r in responses] == [200] * 50
    assert len({r.json()["access_token"] for r in responses}) == 1
    assert tiktok_emulator.count("token", grant_type="refresh_token") == 1
    # Each request reads the record, and reads it again once the refresh is done; only the one
    # that refreshes takes the lock, re-reads under it and writes the new record (108 seen).
    assert commands <= 2 * 50 + 10, commands
