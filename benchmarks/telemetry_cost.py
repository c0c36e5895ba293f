"""What a signed-in request costs, with and without telemetry: in process, many rounds.

    python benchmarks/telemetry_cost.py [--otel absent|sampled-off] [--rounds N]

``absent``: ``opentelemetry`` cannot be imported (as without the ``otel`` extra).
``sampled-off``: the OpenTelemetry SDK is installed as the global tracer and meter providers,
with an ``ALWAYS_OFF`` sampler (nothing sampled). Each round drives every stack once, in a
rotating order; the figures are medians of per-round differences to the bare application
(microseconds of CPU per request), printed as one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import sys
import time
from typing import Any

import stacks
from inprocess import _receive, _send, trivial_app
from starlette.types import ASGIApp


def _block_otel() -> None:
    sys.modules["opentelemetry"] = None  # type: ignore[assignment]


def _sampled_off() -> None:
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

    trace.set_tracer_provider(TracerProvider(sampler=ALWAYS_OFF))
    metrics.set_meter_provider(MeterProvider())


async def _with_store_stack() -> tuple[ASGIApp, dict[str, Any]]:
    """The middleware with a ``MemoryTokenStore``; a request whose cookie names a live
    login session (answered by the store's ``peek``, no await)."""
    from tiktok_asgi import MemoryTokenStore, TikTokAuthMiddleware
    from tiktok_asgi._cookies.identity import Identity, IdentityCookie

    app = TikTokAuthMiddleware(
        trivial_app, settings=stacks.SETTINGS, token_store=MemoryTokenStore()
    )
    tokens = app._tokens
    assert tokens is not None
    token = {
        "access_token": "act.bench",
        "expires_in": 86400,
        "refresh_token": "rft.bench",
        "refresh_expires_in": 86400 * 30,
        "open_id": stacks.USER.open_id,
        "scope": "user.info.basic",
    }
    session_id = await tokens.save(token)
    cookie = IdentityCookie(stacks.SETTINGS).encode(Identity(stacks.USER, session_id))
    headers = [*stacks.BASE_HEADERS, stacks.cookie_header(cookie.split(";", 1)[0])]
    return app, stacks.http_scope("/", headers)


async def _drive(app: ASGIApp, template: dict[str, Any], count: int) -> float:
    copy = template.copy
    started = time.thread_time_ns()
    for _ in range(count):
        await app(copy(), _receive, _send)
    return (time.thread_time_ns() - started) / count / 1000


async def measure(rounds: int, requests: int) -> dict[str, float]:
    cases: dict[str, tuple[ASGIApp, dict[str, Any]]] = {
        name: (stacks.build(name, trivial_app), stacks.http_scope("/", stacks.headers_for(name)))
        for name in ("bare", "anonymous", "signed_in")
    }
    cases["signed_in_store"] = await _with_store_stack()
    runs: dict[str, list[float]] = {name: [] for name in cases}
    names = list(cases)
    for name in names:
        await _drive(*cases[name], requests * 2)
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            gc.collect()
            runs[name].append(await _drive(*cases[name], requests))
    bare = runs["bare"]
    return {
        name: statistics.median(x - y for x, y in zip(runs[name], bare, strict=True))
        for name in names
        if name != "bare"
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--otel", choices=("absent", "sampled-off"), default="absent")
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--requests", type=int, default=2000)
    options = parser.parse_args()
    if options.otel == "absent":
        _block_otel()
    else:
        _sampled_off()
    figures = asyncio.run(measure(options.rounds, options.requests))
    import tiktok_asgi

    loaded = sorted(
        m for m, module in sys.modules.items() if m.startswith("opentelemetry") and module
    )
    print(
        json.dumps(
            {
                "otel": options.otel,
                "package": tiktok_asgi.__file__,
                "us_over_bare": figures,
                "otel_modules_loaded": len(loaded),
            }
        )
    )


if __name__ == "__main__":
    main()
