"""With a Redis token store the counts hold across instances: two middlewares on one real
redis-server reach a limit together. A Redis that fails never fails a request: each instance
counts alone until it is back, and says so once."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx2
import pytest

from tests.conftest import make_starlette
from tests.limits.helpers import JSON, OFFICE, limits, settings_with, with_clock
from tests.tokens.conftest import RedisServer, redis_token_store
from tiktok_asgi import TikTokAuthMiddleware, TikTokSettings
from tiktok_asgi.emulator import TikTokEmulator
from tiktok_asgi.limits import Rate
from tiktok_asgi.redis_store import RedisTokenStore

BASE_URL = "https://testserver"


@asynccontextmanager
async def instance(
    settings: TikTokSettings, store: RedisTokenStore, emulator: TikTokEmulator
) -> AsyncIterator[httpx2.AsyncClient]:
    """One instance of the application, and a client reaching it from the office's address."""
    app = TikTokAuthMiddleware(
        make_starlette(), settings=settings, transport=emulator.transport(), token_store=store
    )
    with_clock(app)  # the shared window is Redis's own: this clock is for the fallback only
    transport = httpx2.ASGITransport(app, client=(OFFICE, 40000))
    async with httpx2.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        yield client


async def _login(client: httpx2.AsyncClient) -> int:
    return (await client.get("/auth/tiktok/login", headers=JSON)).status_code


async def test_two_instances_reach_the_limit_together(
    redis_server: RedisServer, emulator: TikTokEmulator
) -> None:
    settings = settings_with(emulator, limits(login=Rate(per_client=4, window=30)))
    async with (
        redis_token_store(redis_server, 1.0) as store_a,
        redis_token_store(redis_server, 1.0) as store_b,
        instance(settings, store_a, emulator) as a,
        instance(settings, store_b, emulator) as b,
    ):
        answers = [await _login(a), await _login(b), await _login(a), await _login(b)]
        assert answers == [200, 200, 200, 200]
        refused = await b.get("/auth/tiktok/login", headers=JSON)
        assert refused.status_code == 429
        assert 0 < int(refused.headers["retry-after"]) <= 30
        assert await _login(a) == 429
        # One key, under the store's prefix, expiring with its window; no address in it.
        keys = await store_a.redis.keys("tiktok_asgi:limit:*")
        assert len(keys) == 1
        assert OFFICE.encode() not in keys[0]
        assert 0 < await store_a.redis.pttl(keys[0]) <= 30_000


async def test_a_failing_redis_counts_in_each_process_without_a_500(
    redis_server: RedisServer, emulator: TikTokEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    settings = settings_with(emulator, limits(login=Rate(per_client=3)))
    caplog.set_level(logging.INFO, logger="tiktok_asgi")
    async with (
        redis_token_store(redis_server, 0.5) as store,
        instance(settings, store, emulator) as client,
    ):
        assert await _login(client) == 200  # counted in Redis
        redis_server.stop()
        assert [await _login(client) for _ in range(4)] == [200, 200, 200, 429]
        failed = [r for r in caplog.records if r.__dict__.get("event") == "rate_limit_store_failed"]
        assert len(failed) == 1
