"""A slow Redis: three app instances against a Redis 300 ms away each way (a latency proxy in
this process in front of a ``redis-server`` started here on 127.0.0.1), under steady sign-ins
and token reads, for a bounded time. Printed: the share of answers that are errors, for
RedisTokenStore on the client it built before (a plain ``Redis.from_url``) and on its warm pool.
The users are signed in beforehand (through an instance next to Redis); each client then reads
its access token, and signs in again every fourth step.

    python benchmarks/slow_redis.py          # about 25 seconds; prints the figures

Figures only, nothing asserted. Each configuration gets a fresh Redis, proxy and instances. The
store's ``timeout`` (default 2 s) is also the budget of a group of store calls: a sign-in's
callback stores the session with three calls one after the other (the user's index, the record,
the index read back), 1.8 s of round trips at this distance, which leaves 0.2 s to spare
whatever the pool; the last configuration gives it 4 s.
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
# The repository root, for the helpers the benchmarks share with the tests.
if str(HERE.parent) not in sys.path:
    sys.path.append(str(HERE.parent))

import httpx2  # noqa: E402
from live import redis_server  # noqa: E402
from redis.asyncio import Redis  # noqa: E402
from redis.asyncio.retry import Retry  # noqa: E402
from redis.backoff import NoBackoff  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.requests import HTTPConnection, Request  # noqa: E402
from starlette.responses import JSONResponse  # noqa: E402
from starlette.routing import Route  # noqa: E402
from tests.support.latency_proxy import LatencyProxy  # noqa: E402

from tiktok_asgi import TikTokAuthError, TikTokAuthMiddleware, tiktok_context  # noqa: E402
from tiktok_asgi.emulator import EmulatorUser, TikTokEmulator  # noqa: E402
from tiktok_asgi.redis_store import RedisTokenStore  # noqa: E402

DELAY = 0.3  # seconds each way
INSTANCES = 3
CLIENTS = 6  # per instance, each signing in, then reading its token, signing in again now and then
SECONDS = 5.0  # of steady load per configuration
ORIGIN = "https://testserver"
JSON = {"accept": "application/json"}


@dataclass
class Figures:
    sign_ins: int = 0
    sign_ins_failed: int = 0
    reads: int = 0
    reads_failed: int = 0
    answers: int = 0
    errors: int = 0
    read_seconds: list[float] = field(default_factory=list)
    connections: int = 0

    def saw(self, response: httpx2.Response) -> bool:
        self.answers += 1
        if response.status_code >= 400:
            self.errors += 1
            return False
        return True


async def _token(request: Request) -> JSONResponse:
    return JSONResponse({"access_token": await tiktok_context(request).access_token()})


async def _error(conn: HTTPConnection, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TikTokAuthError)
    return JSONResponse(exc.as_dict(), status_code=exc.status_code)


def _app(store: RedisTokenStore, emulator: TikTokEmulator) -> TikTokAuthMiddleware:
    inner = Starlette(
        routes=[Route("/token", _token)], exception_handlers={TikTokAuthError: _error}
    )
    return TikTokAuthMiddleware(
        inner, settings=emulator.settings(), transport=emulator.transport(), token_store=store
    )


async def _sign_in(
    client: httpx2.AsyncClient, app: TikTokAuthMiddleware, emulator: TikTokEmulator, user: str,
    figures: Figures,
) -> bool:  # fmt: skip
    figures.sign_ins += 1
    client.cookies.clear()
    login = await client.get(app.settings.login_path, headers=JSON)
    if figures.saw(login):
        url = login.headers.get("location") or login.json()["authorization_url"]
        done = await client.get(emulator.approve(url, user=user), headers=JSON)
        if figures.saw(done):
            return True
    figures.sign_ins_failed += 1
    return False


async def _client(
    app: TikTokAuthMiddleware, emulator: TikTokEmulator, user: str, cookies: httpx2.Cookies,
    stop_at: float, figures: Figures,
) -> None:  # fmt: skip
    """Reads its token with the session it was given; signs in again every fourth step."""
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(
        transport=transport, base_url=ORIGIN, timeout=60, cookies=cookies
    ) as client:
        signed_in = True
        step = 0
        while time.monotonic() < stop_at:
            step += 1
            if not signed_in or step % 4 == 0:
                signed_in = await _sign_in(client, app, emulator, user, figures)
                continue
            figures.reads += 1
            started = time.monotonic()
            if figures.saw(await client.get("/token", headers=JSON)):
                figures.read_seconds.append(time.monotonic() - started)
            else:
                figures.reads_failed += 1


async def _lifespan(app: TikTokAuthMiddleware, shutdown: asyncio.Event) -> None:
    """The app's lifespan: started at once, shut down when ``shutdown`` is set."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    running = asyncio.ensure_future(
        app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, inbox.get, outbox.put)
    )
    await inbox.put({"type": "lifespan.startup"})
    await outbox.get()
    await shutdown.wait()
    await inbox.put({"type": "lifespan.shutdown"})
    await outbox.get()
    await running


async def _signed_in(url: str, emulator: TikTokEmulator, users: list[str]) -> list[Any]:
    """A session per user, signed in beforehand through an instance next to Redis: the load
    starts with signed-in users, as a deployment does."""
    store = RedisTokenStore(url)
    app = _app(store, emulator)
    shutdown = asyncio.Event()
    lifespan = asyncio.ensure_future(_lifespan(app, shutdown))
    jars = []
    try:
        for user in users:
            transport = httpx2.ASGITransport(app=app)
            async with httpx2.AsyncClient(transport=transport, base_url=ORIGIN) as client:
                assert await _sign_in(client, app, emulator, user, Figures())
                jars.append(client.cookies)
    finally:
        shutdown.set()
        await lifespan
        await store.aclose()
    return jars


async def _run(url: str, build: Callable[[str], RedisTokenStore], warm: bool) -> Figures:
    figures = Figures()
    emulator = TikTokEmulator(users=EmulatorUser.generate(INSTANCES * CLIENTS), rate_limit=None)
    users = [u.username for u in emulator.users]
    jars = await _signed_in(url, emulator, users)
    port = int(url.rsplit(":", 1)[1].split("/", 1)[0])
    async with LatencyProxy(port, DELAY) as proxy:
        stores = [build(proxy.url) for _ in range(INSTANCES)]
        apps = [_app(store, emulator) for store in stores]
        shutdown = asyncio.Event()
        lifespans = [asyncio.ensure_future(_lifespan(app, shutdown)) for app in apps]
        try:
            if warm:
                await asyncio.gather(*(store.start() for store in stores))
            stop_at = time.monotonic() + SECONDS
            await asyncio.gather(
                *(
                    _client(apps[n % INSTANCES], emulator, users[n], jars[n], stop_at, figures)
                    for n in range(INSTANCES * CLIENTS)
                )
            )
        finally:
            shutdown.set()
            await asyncio.gather(*lifespans, return_exceptions=True)
            for store in stores:
                await store.aclose()
                await store.redis.aclose()  # the plain client is the benchmark's own
        figures.connections = proxy.connections
    return figures


def _plain(url: str) -> RedisTokenStore:
    """The store on the client it built from a URL before its warm pool."""
    client = Redis.from_url(
        url, socket_timeout=2.0, socket_connect_timeout=2.0, retry=Retry(NoBackoff(), 1)
    )
    return RedisTokenStore(client, timeout=2.0)


CONFIGURATIONS: list[tuple[str, Callable[[str], RedisTokenStore], bool]] = [
    ("Redis.from_url client (before), timeout 2 s", _plain, False),
    ("warm pool, start(), timeout 2 s", lambda url: RedisTokenStore(url), True),
    ("warm pool, start(), timeout 4 s", lambda url: RedisTokenStore(url, timeout=4.0), True),
]


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "-"


def run() -> dict[str, Any]:
    """Per configuration: answers, errors and the error share (results.md's row)."""
    logging.getLogger("tiktok_asgi").addHandler(logging.NullHandler())
    logging.getLogger("tiktok_asgi").propagate = False
    out: dict[str, Any] = {"delay_ms": DELAY * 1000, "instances": INSTANCES}
    for label, build, warm in CONFIGURATIONS:
        with redis_server() as url:
            f = asyncio.run(_run(url, build, warm))
        out[label] = {"answers": f.answers, "errors": f.errors}
    return out


def main() -> None:
    # Each failed answer is logged; the counts are printed instead.
    logging.getLogger("tiktok_asgi").addHandler(logging.NullHandler())
    logging.getLogger("tiktok_asgi").propagate = False
    print(f"Redis +{DELAY * 1000:.0f} ms each way; {INSTANCES} instances x {CLIENTS} clients; "
          f"{SECONDS:g} s of load per configuration")  # fmt: skip
    header = (
        f"{'store':46} {'answers':>7} {'errors':>7} {'error share':>11} {'sign-ins failed':>16} "
        f"{'reads failed':>13} {'read median':>11} {'read p95':>9} {'connections':>11}"
    )
    print(header)
    for label, build, warm in CONFIGURATIONS:
        with redis_server() as url:
            f = asyncio.run(_run(url, build, warm))
        times = sorted(f.read_seconds)
        median = f"{statistics.median(times):.2f} s" if times else "-"
        p95 = f"{times[int(0.95 * (len(times) - 1))]:.2f} s" if times else "-"
        print(
            f"{label:46} {f.answers:>7} {f.errors:>7} {_share(f.errors, f.answers):>11} "
            f"{_share(f.sign_ins_failed, f.sign_ins):>16} {_share(f.reads_failed, f.reads):>13} "
            f"{median:>11} {p95:>9} {f.connections:>11}"
        )


if __name__ == "__main__":
    main()
