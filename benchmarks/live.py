"""Live login sessions: the cost of checking, on every signed-in request, that the login session
still exists — with the in-process store and with Redis (a real ``redis-server`` started here on
127.0.0.1) — side by side with bare, the stateless signed-in middleware and Starlette's Session +
Authentication stack, in one run; and how soon another instance sees a sign-out through Redis.

    python benchmarks/live.py        # prints the figures; run.py puts them in results.md
"""

from __future__ import annotations

import asyncio
import gc
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import inprocess
import stacks
from starlette.types import ASGIApp

from tiktok_asgi import MemoryTokenStore, TikTokAuthMiddleware
from tiktok_asgi._cookies.identity import Identity, IdentityCookie
from tiktok_asgi.stores import TokenStore

LABELS = {
    "bare": "bare trivial endpoint",
    "signed_in": "TikTokAuthMiddleware, signed in, no token store (stateless)",
    "memory": "TikTokAuthMiddleware, signed in, MemoryTokenStore (live session)",
    "redis": "TikTokAuthMiddleware, signed in, RedisTokenStore (live session, ends pushed)",
    "session_auth": "SessionMiddleware + AuthenticationMiddleware, signed in",
}
_TOKEN = {
    "access_token": "act.benchmark",
    "expires_in": 86400,
    "refresh_token": "rft.benchmark",
    "refresh_expires_in": 15552000,
    "open_id": stacks.USER.open_id,
    "scope": "user.info.basic",
}
_START_TIMEOUT = 10.0
ROTATING_USERS = 12_000  # Redis live sessions requested in turn


@contextmanager
def redis_server() -> Iterator[str]:
    """A throw-away ``redis-server`` on 127.0.0.1 (no persistence); its URL."""
    executable = shutil.which("redis-server")
    if executable is None:
        raise SystemExit(
            "the live-session benchmark needs redis-server (apt-get install redis-server)"
        )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with tempfile.TemporaryDirectory() as directory:
        process = subprocess.Popen(  # noqa: S603
            [executable, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", directory],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + _START_TIMEOUT
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                        s.sendall(b"PING\r\n")
                        if s.recv(16).startswith(b"+PONG"):
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("redis-server did not start")
                time.sleep(0.05)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            process.terminate()
            process.wait(timeout=10)


async def _signed_in_headers(
    app: TikTokAuthMiddleware, user: int | None = None
) -> list[tuple[bytes, bytes]]:
    """Headers carrying the cookie of a login session stored through ``app``'s store (of
    :data:`stacks.USER`, or of the ``user``-th of many)."""
    tokens = app._tokens  # the benchmark's only way to a session without a sign-in round trip
    assert tokens is not None
    session_id = await tokens.save(_TOKEN)
    profile = stacks.USER if user is None else stacks.user_number(user)
    value = IdentityCookie(stacks.SETTINGS).encode(Identity(profile, session_id))
    return [*stacks.BASE_HEADERS, stacks.cookie_header(value.split(";", 1)[0])]


def _with_store(store: TokenStore) -> TikTokAuthMiddleware:
    return TikTokAuthMiddleware(inprocess.trivial_app, settings=stacks.SETTINGS, token_store=store)


async def _cases(
    redis_url: str, plain: dict[str, list[tuple[bytes, bytes]]]
) -> tuple[list[inprocess.Case], Any]:
    from tiktok_asgi.redis_store import RedisTokenStore

    redis = RedisTokenStore(redis_url, timeout=2.0)
    memory_app, redis_app = _with_store(MemoryTokenStore()), _with_store(redis)
    cases = [
        inprocess.Case(name, stacks.build(name, inprocess.trivial_app),
                       stacks.http_scope("/", headers))
        for name, headers in plain.items()
    ]  # fmt: skip
    for name, app in (("memory", memory_app), ("redis", redis_app)):
        scope = stacks.http_scope("/", await _signed_in_headers(app))
        cases.append(inprocess.Case(name, app, scope))
    return cases, redis


async def _check(case: inprocess.Case) -> None:
    seen: list[Any] = []

    async def probe(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope.get("user"))
        await inprocess.trivial_app(scope, receive, send)

    app: ASGIApp = case.app
    if isinstance(app, TikTokAuthMiddleware):
        app.app = probe
        await app(case.template.copy(), inprocess._receive, inprocess._send)
        app.app = inprocess.trivial_app
        if not (seen and seen[0] is not None and seen[0].is_authenticated):
            raise AssertionError(f"{case.name}: the request was not signed in")


async def _measure(
    redis_url: str, plain: dict[str, list[tuple[bytes, bytes]]], rounds: int, requests: int
) -> dict[str, dict[str, float]]:
    cases, redis = await _cases(redis_url, plain)
    try:
        for case in cases:
            await _check(case)
            await inprocess.drive(case.app, case.template, requests)  # warm-up
        wall: list[float] = []
        for r in range(rounds):
            order = cases[r % len(cases) :] + cases[: r % len(cases)]
            for case in order:
                gc.collect()
                started = time.perf_counter()
                case.runs.append(await inprocess.drive(case.app, case.template, requests))
                if case.name == "redis":
                    wall.append((time.perf_counter() - started) / requests * 1e6)
        by = {c.name: c for c in cases}
        out = {}
        for case in cases:
            out[case.name] = {
                "us": statistics.median(case.runs),
                "over_bare": statistics.median(
                    x - y for x, y in zip(case.runs, by["bare"].runs, strict=True)
                ),
            }
        out["redis"]["wall_us"] = statistics.mean(wall)
        return out
    finally:
        await redis.aclose()


async def _measure_rotating(redis_url: str, rounds: int, requests: int) -> dict[str, float]:
    """12,000 users in turn: stateless, and with live sessions on Redis, none answered by the
    fallback cache (as if each user came back after more than its 0.9 s): each answer is the
    feed's, or a question to Redis. Overheads over bare fed the stateless cookies."""
    from tiktok_asgi.redis_store import RedisTokenStore

    redis = RedisTokenStore(redis_url, timeout=2.0)
    try:
        live = _with_store(redis)
        assert live._tokens is not None
        live._tokens.live.cache_seconds = 0.0
        with_sessions = [await _signed_in_headers(live, i) for i in range(ROTATING_USERS)]
        plain = [[*stacks.BASE_HEADERS, stacks.cookie_header(c)]
                 for c in stacks.identity_cookies(ROTATING_USERS)]  # fmt: skip
        cases = [
            inprocess.Rotating("bare", inprocess.trivial_app, plain),
            inprocess.Rotating(
                "stateless", stacks.build("signed_in", inprocess.trivial_app), plain
            ),
            inprocess.Rotating("redis", live, with_sessions),
        ]
        template = stacks.http_scope("/", [])
        for case in cases:  # twice round: the feed is followed, every session seen once
            await inprocess.drive_rotating(case, template, 2 * ROTATING_USERS)
        if not live._tokens.live.following():
            raise AssertionError("the Redis instance does not follow the feed of ends")
        calls_before = await _exists_calls(redis)
        for r in range(rounds):
            for case in cases[r % 3 :] + cases[: r % 3]:
                gc.collect()
                case.runs.append(await inprocess.drive_rotating(case, template, requests))
        asked = await _exists_calls(redis) - calls_before
        bare, stateless, on_redis = cases
        return {
            "stateless": inprocess._paired_runs(stateless.runs, bare.runs),
            "redis": inprocess._paired_runs(on_redis.runs, bare.runs),
            "asked_per_request": asked / (rounds * requests),
        }
    finally:
        await redis.aclose()


async def _exists_calls(store: Any) -> int:
    """How many EXISTS Redis has answered so far."""
    stats = await store.redis.info("commandstats")
    return int(stats.get("cmdstat_exists", {}).get("calls", 0))


@asynccontextmanager
async def _two_instances(redis_url: str) -> AsyncIterator[tuple[Any, Any, Any, Any]]:
    from tiktok_asgi.redis_store import RedisTokenStore

    one_store, two_store = RedisTokenStore(redis_url), RedisTokenStore(redis_url)
    try:
        yield _with_store(one_store), _with_store(two_store), one_store, two_store
    finally:
        await one_store.aclose()
        await two_store.aclose()


async def _freshness(redis_url: str, trials: int, feed_cut: bool = False) -> list[float]:
    """Seconds from a sign-out on instance one until instance two, under steady traffic (a
    request every millisecond), answers the copied cookie as anonymous; ``feed_cut``: with
    instance two's feed of ends failing (it falls back to asking Redis)."""
    seen: list[float] = []
    users: list[Any] = []

    async def probe(s: Any, receive: Any, send: Any) -> None:
        users.append(s["user"])
        await inprocess.trivial_app(s, receive, send)

    async with _two_instances(redis_url) as (one, two, _, two_store):
        two.app = probe
        if feed_cut:
            two_store.read_ends = _cut  # type: ignore[method-assign]
        else:
            await _following(two)
        for _ in range(trials):
            headers = await _signed_in_headers(one)
            scope = stacks.http_scope("/", headers)
            await two(scope.copy(), inprocess._receive, inprocess._send)
            assert users[-1].is_authenticated
            await asyncio.sleep(0.02)
            await two(scope.copy(), inprocess._receive, inprocess._send)
            session_id = one._identity.read(headers).session_id
            assert one._tokens is not None
            await one._tokens.end(session_id, revoke=False)
            signed_out = time.monotonic()
            for _ in range(3000):  # bounded: 3 s
                await two(scope.copy(), inprocess._receive, inprocess._send)
                if not users[-1].is_authenticated:
                    break
                await asyncio.sleep(0.001)
            seen.append(time.monotonic() - signed_out)
        assert two._tokens is not None
        assert one._tokens is not None
        await two._tokens.aclose()
        await one._tokens.aclose()
    return seen


async def _following(app: TikTokAuthMiddleware) -> None:
    """Once ``app`` follows its store's feed of ends (steady state, as on a running site)."""
    headers = await _signed_in_headers(app)
    assert app._tokens is not None
    for _ in range(500):  # bounded: 5 s
        await app(stacks.http_scope("/", headers), inprocess._receive, inprocess._send)
        if app._tokens.live.following():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the instance does not follow the feed of ends")


async def _cut(after: str, wait: float) -> Any:
    from tiktok_asgi.stores import TokenStoreError

    raise TokenStoreError("the feed is cut")


def run(rounds: int = 40, requests: int = 2000, trials: int = 100) -> dict[str, Any]:
    # Built before any event loop runs (the session cookie comes from a request of its own).
    plain = {name: stacks.headers_for(name) for name in ("bare", "signed_in", "session_auth")}
    with redis_server() as url:
        figures = asyncio.run(_measure(url, plain, rounds, requests))
        rotating = asyncio.run(_measure_rotating(url, rounds // 2, requests))
        fresh = asyncio.run(_freshness(url, trials))
        cut = asyncio.run(_freshness(url, max(3, trials // 20), feed_cut=True))
    return {"stacks": figures, "rotating": rotating, "freshness_s": fresh, "cut_s": cut}


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def table(figures: dict[str, Any]) -> list[str]:
    stacks_ = figures["stacks"]
    stateless = stacks_["signed_in"]["over_bare"]
    lines = [
        "| Stack (around a trivial endpoint) | µs/request (CPU) | overhead over bare "
        "| over the stateless signed-in request |",
        "|---|---:|---:|---:|",
    ]
    for name, label in LABELS.items():
        over = stacks_[name]["over_bare"]
        extra = f"{over - stateless:+.2f}" if name in ("memory", "redis") else ""
        lines.append(f"| {label} | {stacks_[name]['us']:.2f} | {over:+.2f} | {extra} |")
    return lines


def budgets(figures: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
    """``(measure, figure, budget, met)`` rows: what checking the live session adds to a
    signed-in request, and how soon another instance sees a sign-out."""
    stacks_ = figures["stacks"]
    stateless = stacks_["signed_in"]["over_bare"]
    memory = stacks_["memory"]["over_bare"] - stateless
    redis = stacks_["redis"]["over_bare"] - stateless
    rotating = figures["rotating"]
    over_stateless = rotating["redis"] - rotating["stateless"]
    p99, cut = _p99(figures["freshness_s"]), max(figures["cut_s"])
    return [
        ("Live session, MemoryTokenStore: added to a signed-in request",
         f"{memory:+.2f} µs (total over bare {stacks_['memory']['over_bare']:+.2f} µs)",
         "≤ 3 µs", memory <= 3.0),
        ("Live session, RedisTokenStore, one user: added to a signed-in request",
         f"{redis:+.2f} µs (total over bare {stacks_['redis']['over_bare']:+.2f} µs; wall clock "
         f"{stacks_['redis']['wall_us']:.2f} µs/request)", "≤ 5 µs", redis <= 5.0),
        (f"Live session, RedisTokenStore, {ROTATING_USERS:,} users in turn, none answered by "
         "the fallback cache: added to the stateless request",
         f"{over_stateless:+.2f} µs ({rotating['redis']:+.2f} vs {rotating['stateless']:+.2f} µs "
         f"over bare; questions to Redis per request: {rotating['asked_per_request']:.4f})",
         "≤ 5 µs", over_stateless <= 5.0),
        (f"A sign-out seen by another instance sharing Redis ({len(figures['freshness_s'])} "
         "trials, p99)", f"{p99 * 1000:.1f} ms (worst {max(figures['freshness_s']) * 1000:.1f} ms)",
         "≤ 100 ms", p99 <= 0.1),
        (f"The same with that instance's feed of ends cut ({len(figures['cut_s'])} trials, "
         "worst)", f"{cut * 1000:.0f} ms", "≤ 1000 ms", cut <= 1.0),
    ]  # fmt: skip


def main() -> None:
    figures = run()
    print("\n".join(table(figures)))
    print(f"Redis, wall clock per request: {figures['stacks']['redis']['wall_us']:.2f} µs")
    for row in budgets(figures):
        print(" | ".join(str(x) for x in row))


if __name__ == "__main__":
    main()
