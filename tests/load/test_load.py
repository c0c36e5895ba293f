"""A smaller load and soak than ``nox -s stress``, in the normal suite: through uvicorn on
127.0.0.1, 100 distinct users sign in 20 at a time, then 5,000 authenticated requests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from stress.harness import Server, minted_cookies, running_server, sign_in_many, soak_python

from tiktok_asgi._cookies.identity import CACHE_BYTES
from tiktok_asgi.emulator import EmulatorUser

USERS = 100
CONCURRENCY = 20
REQUESTS = 5000
MiB = 1024 * 1024


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with running_server(USERS) as running:
        yield running
    assert running.process.returncode is not None  # terminated


async def test_sign_ins_stay_apart_and_requests_hold(server: Server) -> None:
    result = await sign_in_many(server.url, USERS, CONCURRENCY, time_limit=240)
    assert result.errors == []
    assert result.crossed == []  # each browser's /me named its own user
    assert result.signed_in == USERS
    people = [u.open_id for u in EmulatorUser.generate(USERS)]
    cookies = list(zip(result.cookies, people, strict=True))
    assert len({c for c, _ in cookies}) == USERS  # every browser got its own identity
    # Each cookie is its own user; minted cookies add distinct values for the verification cache.
    pairs = cookies + [(c, f"minted-{i}") for i, c in enumerate(minted_cookies(4200))]
    await soak_python(server.url, pairs, 1000, CONCURRENCY, 120)  # warm-up
    before = server.stats()
    soak = await soak_python(server.url, pairs, REQUESTS, CONCURRENCY, 240)
    after = server.stats()
    assert soak.requests == REQUESTS
    assert soak.errors == 0
    assert after["fds"] <= before["fds"] + 8
    assert after["rss"] - before["rss"] < 64 * MiB
    assert after["identity_cache_bytes"] <= CACHE_BYTES
    # More users than its memory holds: it is full, and keeps the ones it has (they come back).
    assert after["identity_cache_bytes"] > CACHE_BYTES // 2
    assert 0 < after["identity_cache"] < len(pairs)
    assert after["consumed_states"] == USERS  # one per sign-in, remembered against replays


async def test_a_crossed_identity_would_be_caught(server: Server) -> None:
    """The soak's check can fail: a cookie answered as someone else counts as an error."""
    (cookie,) = minted_cookies(1)
    soak = await soak_python(server.url, [(cookie, "someone-else")], 20, 4, 60)
    assert soak.errors == 20
