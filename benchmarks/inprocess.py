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


def main() -> None:
    for inner, figures in run().items():
        print(f"around {inner}:")
        for name, f in figures.items():
            print(
                f"  {name:13s} {f['us']:8.2f} µs  +{f['over_bare']:6.2f} over bare  "
                f"+{f['over_noop']:6.2f} over no-op  x{f['ratio']:.3f}  ±{f['spread']:.2f}"
            )


if __name__ == "__main__":
    main()
