"""Memory, each figure in a fresh process: ``python memory.py [requests]``.

- RSS growth over many signed-in requests after a warm-up: one identity cookie sent over and over
  (a busy user), and cookies of many distinct users in rotation, more than the verified-cookie
  cache holds (the cache must stay bounded).
- Memory per signed-in user: ``count`` users sign in (a login session stored in a
  ``MemoryTokenStore`` with TikTok-sized tokens, an identity cookie with TikTok-sized avatar
  URLs) and make a request each; the process's growth, divided by ``count``, is what the store
  and the caches hold for each of them. Measured as RSS (what the machine gives the process,
  allocator overhead included), and as tracemalloc's count of Python's own allocations for the
  smaller count. The harness keeps nothing per user: each user's cookie is dropped after its
  request. A sign-in also leaves its ``state`` in the store until ``flow_max_age`` (10 minutes)
  has passed: the traced run signs in with it and counts it apart (``state_bytes``).

Prints one JSON object. ``python memory.py --per-user COUNT [--traced]`` prints one figure.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import hashlib
import json
import subprocess
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import inprocess
import stacks

from tiktok_asgi import MemoryTokenStore, TikTokAuthMiddleware
from tiktok_asgi._cookies.identity import Identity

REQUESTS = 100_000
DISTINCT_USERS = 8192  # more than the verified-cookie cache keeps (1 MiB)
ROTATING_REQUESTS = 30_000
PER_USER_COUNTS = (12_000, 100_000)
TRACED_COUNT = 12_000  # tracemalloc slows the run five-fold: the smaller count only


def rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


async def _growth(templates: list[dict[str, object]], warmup: int, count: int) -> int:
    app = stacks.build("signed_in")
    rounds = len(templates)
    for i in range(warmup):
        await inprocess.drive(app, templates[i % rounds], 1)
    gc.collect()
    before = rss_kib()
    for i in range(count):
        await inprocess.drive(app, templates[i % rounds], 1)
    gc.collect()
    return rss_kib() - before


def _template(cookie: str) -> dict[str, object]:
    headers = [*stacks.BASE_HEADERS, stacks.cookie_header(cookie)]
    return stacks.http_scope("/", headers)


# Memory per signed-in user -----------------------------------------------------------------------


def token_response(i: int) -> dict[str, Any]:
    """TikTok's token answer for user ``i``: tokens of TikTok's length (``act.`` + 68)."""

    def token(kind: str) -> str:
        digest = hashlib.sha256(f"{kind}-{i}".encode()).hexdigest()
        return f"{kind}.{digest[:32]}{digest[32:60]}!{1000 + i % 9000}.va"

    return {
        "access_token": token("act"),
        "expires_in": 86400,
        "refresh_token": token("rft"),
        "refresh_expires_in": 31536000,
        "open_id": stacks.user_number(i).open_id,
        "scope": "user.info.basic,user.info.profile",
    }


async def _signed_in_users(count: int, traced: bool) -> dict[str, float]:
    store = MemoryTokenStore(max_entries=2 * count + 10)
    app = TikTokAuthMiddleware(inprocess.trivial_app, settings=stacks.SETTINGS, token_store=store)
    tokens = app._tokens  # the benchmark's way to a login session without TikTok
    assert tokens is not None
    prepared = [(stacks.user_number(i), token_response(i)) for i in range(count + 1)]
    template = stacks.http_scope("/", [])

    async def sign_in(user: Any, token: dict[str, Any], i: int) -> None:
        if traced:
            await tokens.accept_once(f"state-{i:08d}-{'s' * 24}", stacks.SETTINGS.flow_max_age)
        session_id = await tokens.save(token)
        value = app._identity.encode_value(Identity(user, session_id))
        scope = dict(template)
        scope["headers"] = [*stacks.BASE_HEADERS, stacks.cookie_header(f"tiktok_session={value}")]
        await app(scope, inprocess._receive, inprocess._send)

    await sign_in(*prepared.pop(), count)  # every code path taken once before measuring
    if traced:
        tracemalloc.start()
    gc.collect()
    before = tracemalloc.get_traced_memory()[0] if traced else rss_kib() * 1024
    for i, (user, token) in enumerate(prepared):
        await sign_in(user, token, i)
    gc.collect()
    states = 0.0
    if traced:
        with_states = tracemalloc.get_traced_memory()[0]
        store._once.clear()  # as ten minutes after the sign-ins
        gc.collect()
        states = (with_states - tracemalloc.get_traced_memory()[0]) / count
    after = tracemalloc.get_traced_memory()[0] if traced else rss_kib() * 1024
    entries, counted = app._identity.cache_size()
    del prepared  # the harness's, kept until measured: freeing it would shrink the figure
    return {
        "users": count,
        "bytes_per_user": (after - before) / count,
        "state_bytes": states,
        "cache_entries": entries,
        "cache_bytes": counted,
    }


def per_user(count: int, *, traced: bool = False) -> dict[str, float]:
    """:func:`_signed_in_users` in a fresh process (what one run frees, the next would reuse)."""
    arguments = ["--per-user", str(count), *(["--traced"] if traced else [])]
    out = subprocess.run(  # noqa: S603
        [sys.executable, str(Path(__file__).resolve()), *arguments],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    ).stdout
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


def main() -> None:
    if "--per-user" in sys.argv:
        count = int(sys.argv[sys.argv.index("--per-user") + 1])
        print(json.dumps(asyncio.run(_signed_in_users(count, "--traced" in sys.argv))))
        return
    requests = int(sys.argv[1]) if len(sys.argv) > 1 else REQUESTS
    one = [stacks.http_scope("/", stacks.headers_for("signed_in"))]
    many = [
        _template(
            stacks.identity_cookie(
                dataclasses.replace(stacks.user_number(i), display_name=f"User {i}")
            )
        )
        for i in range(DISTINCT_USERS)
    ]
    quick = requests < REQUESTS
    counts = PER_USER_COUNTS if not quick else PER_USER_COUNTS[:1]
    rss = [per_user(count) for count in counts]
    traced = per_user(min(TRACED_COUNT, counts[0]), traced=True)
    result = {
        "requests": requests,
        "one_user_kib": asyncio.run(_growth(one, 20_000, requests)),
        "many_users_kib": asyncio.run(_growth(many, 2 * DISTINCT_USERS, ROTATING_REQUESTS)),
        "many_users_requests": ROTATING_REQUESTS,
        "distinct_users": DISTINCT_USERS,
        "per_user": rss,
        "per_user_traced": traced,
        "state_bytes": traced["state_bytes"],
        "avatar_url_length": stacks.AVATAR_URL_LENGTH,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
