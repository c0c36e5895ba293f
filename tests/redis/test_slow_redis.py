"""A slow Redis is not an outage: with Redis far away (a delay each way, in a proxy), three
instances under steady sign-ins and token reads answer almost everything, only later.

Each instance's store is built from the proxy's URL, so it has the warm pool: connections opened
by ``start()`` and kept, none of them costing more than TCP's round trip to open.
``benchmarks/slow_redis.py`` compares with a plain ``Redis.from_url`` client, at 300 ms.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.redis.conftest import JSON, Tally, browser, lifespan, session_app, try_sign_in
from tests.support.latency_proxy import LatencyProxy
from tests.support.redis_deployments import RedisProcess
from tiktok_asgi import TikTokSettings
from tiktok_asgi.emulator import EmulatorUser, TikTokEmulator
from tiktok_asgi.redis_store import RedisTokenStore

pytestmark = pytest.mark.redis

DELAY = 0.15  # seconds each way: every Redis round trip takes 0.3 s
INSTANCES = 3
WORKERS = 6  # per instance, each signing in, then reading its token READS times
READS = 4
STAGGER = 0.03  # seconds between two workers' starts: sign-ins and reads overlap throughout
POOL = 12  # connections per instance
MOST_SECONDS = 20.0  # a bound on the whole load, never reached when all is well


@pytest.fixture
def tiktok_emulator() -> TikTokEmulator:
    """Access tokens of TikTok's two hours: a token read is a read, no refresh."""
    return TikTokEmulator(users=EmulatorUser.generate(12, prefix="slow."), rate_limit=None)


async def test_three_instances_on_a_distant_redis_answer_all_but_one_percent(
    redis_process: RedisProcess, tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    tally = Tally()

    async with LatencyProxy(redis_process.port, DELAY) as proxy:
        stores = [RedisTokenStore(proxy.url, pool_size=POOL) for _ in range(INSTANCES)]
        apps = [session_app(tiktok_settings, store, tiktok_emulator) for store in stores]
        try:
            await asyncio.gather(*(store.start() for store in stores))
            assert proxy.connections == INSTANCES * POOL
            await stores[0].start()  # idempotent: nothing more opened
            assert proxy.connections == INSTANCES * POOL

            async def worker(n: int) -> None:
                await asyncio.sleep(n * STAGGER)
                user = tiktok_emulator.users[n % len(tiktok_emulator.users)].username
                async with browser(apps[n % INSTANCES]) as client:
                    if await try_sign_in(client, tiktok_settings, tiktok_emulator, user, tally):
                        for _ in range(READS):
                            token = await client.get("/token", headers=JSON)
                            tally.saw(token, expect=(200,))

            async with lifespan(apps[0]), lifespan(apps[1]), lifespan(apps[2]):
                await asyncio.wait_for(
                    asyncio.gather(*(worker(n) for n in range(INSTANCES * WORKERS))), MOST_SECONDS
                )
        finally:
            for store in stores:
                await store.aclose()

    errors = tally.unavailable + len(tally.wrong)
    assert not tally.wrong, tally.wrong[:5]
    assert tally.answers >= INSTANCES * WORKERS * 2  # a sign-in is two answers
    assert errors <= 0.01 * tally.answers, (errors, tally.answers, tally.unavailable_at)
