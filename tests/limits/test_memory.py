"""Requests from ever new addresses cannot grow the counts without bound: at most
``max_tracked`` are kept, the oldest forgotten first, each about 220 bytes."""

from __future__ import annotations

import asyncio
import hashlib
import sys
import tracemalloc

from starlette.types import ASGIApp, Message

from tests.limits.helpers import app_for, limiter_of, limits, settings_with, with_clock
from tiktok_asgi._limit_counts import LocalCounts
from tiktok_asgi._limits import counted_client
from tiktok_asgi.emulator import TikTokEmulator
from tiktok_asgi.limits import Rate, RequestLimits


async def _from(app: ASGIApp, address: str, path: str = "/auth/tiktok/login") -> int:
    """One request to ``path`` from ``address``, as a server hands it over; its status."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "https",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), (b"accept", b"application/json")],
        "client": (address, 40000),
        "server": ("testserver", 443),
    }
    started: list[int] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            started.append(message["status"])

    await app(scope, receive, send)
    return started[0]


async def test_spraying_addresses_keeps_at_most_max_tracked(emulator: TikTokEmulator) -> None:
    rates = RequestLimits(login=Rate(per_client=3), max_tracked=1000)
    app = app_for(emulator, settings_with(emulator, rates))
    clock = with_clock(app)
    counts = limiter_of(app)._local
    hot = "192.0.2.1"
    assert [await _from(app, hot) for _ in range(4)] == [200, 200, 200, 429]
    for i in range(2000):
        clock.advance(0.001)
        assert await _from(app, f"10.{i >> 16}.{(i >> 8) & 255}.{i & 255}") == 200
    assert len(counts) == 1000
    # The oldest went first: the hot client's count among them (its window starts again).
    assert await _from(app, hot) == 200
    # An IPv6 subscriber changing addresses within its /64 stays one client.
    v6 = [await _from(app, f"2001:db8:1:2::{i:x}") for i in range(4)]
    assert v6 == [200, 200, 200, 429]
    assert await _from(app, "2001:db8:1:3::1") == 200


def test_each_count_costs_about_220_bytes() -> None:
    n = 20_000
    keys = [
        "login:c:" + hashlib.blake2b(str(i).encode(), digest_size=12).hexdigest() for i in range(n)
    ]
    counts = LocalCounts(n)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i, key in enumerate(keys):
            counts.hit(key, 60, float(i))
        # The keys are made by the limiter for each count: theirs is part of the cost.
        grown = tracemalloc.get_traced_memory()[0] - before
        per_entry = (grown + sum(map(sys.getsizeof, keys))) / n
    finally:
        tracemalloc.stop()
    assert len(counts) == n
    assert 150 < per_entry < 300, per_entry


def test_ipv4_mapped_and_odd_addresses_are_kept_as_they_are() -> None:
    assert counted_client({"client": ("::ffff:192.0.2.7", 1)}) == "192.0.2.7"
    assert counted_client({"client": ("2001:db8:1:2:aaaa::1", 1)}) == "20010db800010002::/64"
    assert counted_client({"client": ("203.0.113.7", 1)}) == "203.0.113.7"
    assert counted_client({"client": None}) == ""
    assert counted_client({"client": ("not:an address", 1)}) == "not:an address"


def test_the_limits_of_an_app_use_the_default_bound(emulator: TikTokEmulator) -> None:
    app = app_for(emulator, settings_with(emulator, limits()))
    assert limiter_of(app)._local._most == RequestLimits().max_tracked
    asyncio.run(_from(app, "192.0.2.2"))
    assert len(limiter_of(app)._local) == 1
