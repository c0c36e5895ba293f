"""Live login sessions shared through a real redis-server by two middleware instances."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from redis.asyncio import Redis

from tests.sessions.conftest import copy_of, let_time_pass, session_app, signed_in_browser, who
from tests.tokens.conftest import RedisServer, cleared, redis_token_store
from tiktok_asgi import TikTokSettings
from tiktok_asgi._session import CACHE_SECONDS
from tiktok_asgi.emulator import TikTokEmulator
from tiktok_asgi.redis_store import RedisTokenStore
from tiktok_asgi.sessions import end_user_sessions_in_store

pytestmark = pytest.mark.redis


@asynccontextmanager
async def two_instances(
    settings: TikTokSettings, emulator: TikTokEmulator, redis_server: RedisServer
) -> AsyncIterator[tuple[RedisTokenStore, Any, Any]]:
    """Two middleware instances, each with its own client of one redis-server: the first
    instance's store and both apps."""
    async with (
        redis_token_store(redis_server, seconds=1.0) as store_a,
        redis_token_store(redis_server, seconds=1.0) as store_b,
    ):
        one = session_app(settings, store_a, emulator)
        two = session_app(settings, store_b, emulator)
        yield store_a, one, two


async def test_a_sign_out_on_one_instance_reaches_the_other_within_a_second(
    tiktok_settings: TikTokSettings, tiktok_emulator: TikTokEmulator, redis_server: RedisServer
) -> None:
    async with (
        two_instances(tiktok_settings, tiktok_emulator, redis_server) as (_, one, two),
        signed_in_browser(one, tiktok_settings, tiktok_emulator) as first,
        copy_of(first, two, tiktok_settings) as copy,
    ):
        assert await who(copy) == "Maya Chen"  # now cached on instance two
        assert (await first.post(tiktok_settings.logout_path)).status_code == 303
        signed_out_at = time.monotonic()
        seen = None
        for _ in range(30):  # bounded: 30 x 0.05 s
            response = await copy.get("/me")
            if response.json()["user"] is None:
                seen = time.monotonic() - signed_out_at
                assert cleared(response, tiktok_settings)
                break
            await asyncio.sleep(0.05)
        assert seen is not None
        assert seen < 1.5, seen


async def test_end_user_sessions_reaches_every_instance(
    tiktok_settings: TikTokSettings, tiktok_emulator: TikTokEmulator, redis_server: RedisServer
) -> None:
    maya = tiktok_emulator.user("mayacooks")
    async with (
        two_instances(tiktok_settings, tiktok_emulator, redis_server) as (store_a, one, two),
        signed_in_browser(one, tiktok_settings, tiktok_emulator) as on_one,
        signed_in_browser(two, tiktok_settings, tiktok_emulator) as on_two,
        signed_in_browser(two, tiktok_settings, tiktok_emulator, "leo.skates") as leo,
    ):
        assert await who(on_two) == "Maya Chen"
        ended = await end_user_sessions_in_store(
            maya.open_id, settings=tiktok_settings, token_store=store_a, revoke=False
        )
        assert ended == 2
        for app in (one, two):
            let_time_pass(app, CACHE_SECONDS)
        assert await who(on_one) is None
        assert await who(on_two) is None
        assert await who(leo) == "Leo Martins"


async def test_the_index_expires_with_the_records(
    tiktok_settings: TikTokSettings, tiktok_emulator: TikTokEmulator, redis_server: RedisServer
) -> None:
    peek = Redis.from_url(redis_server.url)
    maya = tiktok_emulator.user("mayacooks")
    try:
        async with redis_token_store(redis_server, seconds=1.0) as store:
            app = session_app(tiktok_settings, store, tiktok_emulator)
            async with signed_in_browser(app, tiktok_settings, tiktok_emulator):
                index = f"tiktok_asgi:user-sessions:{maya.open_id}"
                records = [k async for k in peek.scan_iter("tiktok_asgi:token:*")]
                assert len(records) == 1
                record_ttl = await peek.ttl(records[0])
                index_ttl = await peek.ttl(index)
                assert record_ttl > 0
                assert abs(index_ttl - record_ttl) <= 2
    finally:
        await peek.aclose()


async def test_redis_down_within_the_cache_window_the_answer_stands_then_503(
    tiktok_settings: TikTokSettings, tiktok_emulator: TikTokEmulator, redis_server: RedisServer
) -> None:
    async with redis_token_store(redis_server, seconds=0.3) as store:
        app = session_app(tiktok_settings, store, tiktok_emulator)
        async with signed_in_browser(app, tiktok_settings, tiktok_emulator) as client:
            assert await who(client) == "Maya Chen"
            redis_server.pause()
            try:
                assert await who(client) == "Maya Chen"  # cached, younger than the window
                let_time_pass(app, CACHE_SECONDS)
                refused = await client.get("/me", headers={"accept": "application/json"})
                assert refused.status_code == 503
                assert refused.json()["error"] == "token_store_unavailable"
                assert not cleared(refused, tiktok_settings)
            finally:
                redis_server.resume()
            assert await who(client) == "Maya Chen"  # nothing lost


async def test_redis_down_closes_a_websocket_with_1011(
    tiktok_settings: TikTokSettings, tiktok_emulator: TikTokEmulator, redis_server: RedisServer
) -> None:
    async with redis_token_store(redis_server, seconds=0.3) as store:
        app = session_app(tiktok_settings, store, tiktok_emulator)
        async with signed_in_browser(app, tiktok_settings, tiktok_emulator) as client:
            cookie = client.cookies[tiktok_settings.cookie_name]
        redis_server.pause()
        try:
            let_time_pass(app, CACHE_SECONDS)
            sent: list[dict[str, Any]] = []
            scope = {
                "type": "websocket",
                "path": "/ws",
                "headers": [(b"cookie", f"{tiktok_settings.cookie_name}={cookie}".encode())],
                "query_string": b"",
            }

            async def receive() -> dict[str, Any]:
                return {"type": "websocket.connect"}

            async def send(message: dict[str, Any]) -> None:
                sent.append(message)

            await app(scope, receive, send)
            assert sent == [  # after the handshake, so that browsers see the code
                {"type": "websocket.accept"},
                {"type": "websocket.close", "code": 1011, "reason": "token_store_unavailable"},
            ]
        finally:
            redis_server.resume()
