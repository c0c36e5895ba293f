"""In-process ASGI driver: the stacks called directly, no sockets, all measured in one run.

Each round runs every stack once (in a rotating order) for a short batch of requests after a
warm-up; figures are medians over the rounds. Overheads are medians of per-round differences,
which cancel most of the drift of a shared machine. Every stack is measured twice: around the
Starlette application (what an application sees) and around a trivial ASGI endpoint (the
middleware's own cost, with little else to add noise).
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import stacks
from starlette.types import ASGIApp, Receive, Scope, Send

_BODY = {"type": "http.response.body", "body": b"hello", "more_body": False}
_REQUEST = {"type": "http.request", "body": b"", "more_body": False}


async def trivial_app(scope: Scope, receive: Receive, send: Send) -> None:
    """An endpoint that answers without looking at anything.

    Its response headers are a fresh list each time: middleware may append to them.
    """
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"5")]}
    )
    await send(_BODY)


async def _receive() -> dict[str, Any]:
    return _REQUEST


async def _send(message: Any) -> None:
    return None


async def drive(app: ASGIApp, template: dict[str, Any], count: int) -> float:
    """CPU microseconds per request over ``count`` requests (a fresh scope dict each).

    The thread's CPU clock, not the wall clock: time the process spends descheduled while
    other processes run on a shared machine is not the middleware's cost.
    """
    copy = template.copy
    started = time.thread_time_ns()
    for _ in range(count):
        await app(copy(), _receive, _send)
    return (time.thread_time_ns() - started) / count / 1000


@dataclass
class Case:
    name: str
    app: ASGIApp
    template: dict[str, Any]
    runs: list[float] = field(default_factory=list)


def _cases(inner: Callable[[], ASGIApp]) -> list[Case]:
    return [
        Case(name, stacks.build(name, inner()), stacks.http_scope("/", stacks.headers_for(name)))
        for name in stacks.STACKS
    ]


async def check(case: Case) -> None:
    """Each stack answers 200 and sees the user it should."""
    seen: list[Any] = []

    async def probe(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope.get("user"))
        await trivial_app(scope, receive, send)

    app = stacks.build(case.name, probe)
    await app(case.template.copy(), _receive, _send)
    user = seen[0]
    expected = case.name in ("signed_in", "session_auth")
    if case.name in ("anonymous", "signed_in", "session_auth") and (
        user is None or user.is_authenticated is not expected
    ):
        raise AssertionError(f"{case.name}: the wrapped app saw {user!r}")


async def _measure(cases: list[Case], rounds: int, requests: int, warmup: int) -> None:
    for case in cases:
        await check(case)
        await drive(case.app, case.template, warmup)
    for r in range(rounds):
        order = cases[r % len(cases) :] + cases[: r % len(cases)]
        for case in order:
            gc.collect()
            case.runs.append(await drive(case.app, case.template, requests))


def _paired(a: Case, b: Case) -> float:
    """Median over rounds of ``a - b`` (µs per request)."""
    return statistics.median(x - y for x, y in zip(a.runs, b.runs, strict=True))


def summarise(cases: list[Case]) -> dict[str, dict[str, float]]:
    by = {c.name: c for c in cases}
    bare, noop = by["bare"], by["noop"]
    out: dict[str, dict[str, float]] = {}
    for c in cases:
        median = statistics.median(c.runs)
        out[c.name] = {
            "us": median,
            "over_bare": _paired(c, bare),
            "over_noop": _paired(c, noop),
            "ratio": median / statistics.median(bare.runs),
            "spread": (max(c.runs) - min(c.runs)) / 2,
        }
    return out


def run(
    rounds: int = 40, requests: int = 1000, warmup: int = 2000
) -> dict[str, dict[str, dict[str, float]]]:
    """``{"starlette": {stack: figures}, "trivial": {stack: figures}}``.

    Many short rounds rather than a few long ones: on a shared machine a batch that another
    process interrupts is an outlier the median discards, instead of noise in every batch.
    Around the trivial endpoint each round is twice as long (each request is much shorter).
    """
    around_starlette = _cases(stacks.starlette_app)
    around_trivial = _cases(lambda: trivial_app)
    asyncio.run(_measure(around_starlette, rounds, requests, warmup))
    asyncio.run(_measure(around_trivial, rounds, requests * 2, warmup * 2))
    return {"starlette": summarise(around_starlette), "trivial": summarise(around_trivial)}


# Many users ------------------------------------------------------------------------------------

USER_COUNTS = (1, 4_000, 12_000, 100_000)


@dataclass
class Rotating:
    """One stack fed the cookies of many users in turn (round-robin, continuing across rounds)."""

    name: str
    app: ASGIApp
    headers: list[list[tuple[bytes, bytes]]]
    runs: list[float] = field(default_factory=list)
    at: int = 0


async def drive_rotating(case: Rotating, template: dict[str, Any], count: int) -> float:
    """Like :func:`drive`, each request carrying the next user's headers."""
    headers, size, app = case.headers, len(case.headers), case.app
    at = case.at
    started = time.thread_time_ns()
    for n in range(count):
        scope = template.copy()
        scope["headers"] = headers[at]
        at = at + 1 if at + 1 < size else 0
        await app(scope, _receive, _send)
        if n % 100 == 99:
            # A server's loop runs between requests (sockets are read); this driver's calls never
            # wait, so it lets the loop run now and then, or background readers starve.
            await asyncio.sleep(0)
    elapsed = time.thread_time_ns() - started
    case.at = at
    return elapsed / count / 1000


async def _check_rotating(case: Rotating, template: dict[str, Any]) -> None:
    """The stack sees a signed-in user (or, bare, nobody) for a sample of the cookies."""
    seen: list[Any] = []

    async def probe(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope.get("user"))
        await trivial_app(scope, receive, send)

    app = stacks.build("signed_in" if case.name == "tiktok" else case.name, probe)
    sample = case.headers[:: max(1, len(case.headers) // 50)]
    for headers in sample:
        await app({**template, "headers": headers}, _receive, _send)
    if case.name != "bare" and not all(u is not None and u.is_authenticated for u in seen):
        raise AssertionError(f"{case.name}: a rotating cookie was not signed in")


async def _measure_many(cases: list[Rotating], rounds: int, requests: int, warmup: int) -> None:
    template = stacks.http_scope("/", [])
    for case in cases:
        await _check_rotating(case, template)
        # The TikTok stack goes through every cookie once first: its cache is then as full as
        # that many users keep it.
        await drive_rotating(
            case, template, max(warmup, len(case.headers)) if case.name == "tiktok" else warmup
        )
    for r in range(rounds):
        order = cases[r % len(cases) :] + cases[: r % len(cases)]
        for case in order:
            gc.collect()
            case.runs.append(await drive_rotating(case, template, requests))


def many_users(
    counts: tuple[int, ...] = USER_COUNTS,
    rounds: int = 25,
    requests: int = 2000,
    warmup: int = 2000,
) -> list[dict[str, float]]:
    """Signed-in overhead over bare around the trivial endpoint, ``count`` distinct users'
    valid cookies in turn, for TikTokAuthMiddleware and Starlette's Session + Authentication
    (whose session holds the user's id only).

    Profiles are TikTok-sized (:func:`stacks.user_number`: three avatar URLs of ~290 characters,
    distinct per user). Cookies are built before anything is timed. Each count has its own
    stacks (so its own cache), measured in interleaved rounds with a bare app fed the same
    requests.
    """
    most = max(counts)
    base = stacks.BASE_HEADERS
    cookies = stacks.identity_cookies(most)
    cookie_bytes = statistics.mean(len(c) for c in cookies) - len(stacks.SETTINGS.cookie_name) - 1
    tiktok = [[*base, stacks.cookie_header(c)] for c in cookies]
    del cookies
    session = [[*base, stacks.cookie_header(c)] for c in stacks.session_cookies(most)]
    # The prebuilt requests are the harness's, not the stacks': out of the collector's sight.
    gc.collect()
    gc.freeze()
    out = []
    for count in counts:
        cases = [
            Rotating("bare", stacks.build("bare", trivial_app), tiktok[:count]),
            Rotating("tiktok", stacks.build("signed_in", trivial_app), tiktok[:count]),
            Rotating("session_auth", stacks.build("session_auth", trivial_app), session[:count]),
        ]
        asyncio.run(_measure_many(cases, rounds, requests, warmup))
        bare, ours, theirs = cases
        middleware = ours.app
        assert isinstance(middleware, stacks.TikTokAuthMiddleware)
        entries, held = middleware._identity.cache_size()  # a private figure, read only here
        out.append(
            {
                "users": count,
                "tiktok": _paired_runs(ours.runs, bare.runs),
                "session_auth": _paired_runs(theirs.runs, bare.runs),
                "bare_us": statistics.median(bare.runs),
                "cached": entries,
                "cache_kib": held / 1024,
                "cookie_bytes": cookie_bytes,
                "avatar_url_length": stacks.AVATAR_URL_LENGTH,
            }
        )
        del cases, bare, ours, theirs, middleware
        gc.collect()
    gc.unfreeze()
    return out


def _paired_runs(a: list[float], b: list[float]) -> float:
    return statistics.median(x - y for x, y in zip(a, b, strict=True))


def main() -> None:
    for inner, figures in run().items():
        print(f"around {inner}:")
        for name, f in figures.items():
            print(
                f"  {name:13s} {f['us']:8.2f} µs  +{f['over_bare']:6.2f} over bare  "
                f"+{f['over_noop']:6.2f} over no-op  x{f['ratio']:.3f}  ±{f['spread']:.2f}"
            )
    for row in many_users():
        print(
            f"  {row['users']:7,d} users: TikTok +{row['tiktok']:6.2f} µs, "
            f"Session+Auth +{row['session_auth']:6.2f} µs, "
            f"ratio {row['tiktok'] / row['session_auth']:.3f}, cached {row['cached']:,}"
        )


if __name__ == "__main__":
    main()
