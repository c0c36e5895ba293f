"""The sign-in path against the TikTok emulator.

1. In process: full sign-ins (login, consent, callback) through the middleware with the emulator's
   in-process transport. The emulator's own handling is timed at the transport, so the callback's
   cost beyond TikTok's answers is ``callback time - time inside the transport``. Everything
   runs on one thread without I/O, so times are that thread's CPU time.
2. Over loopback: the emulator served by uvicorn on 127.0.0.1 behind a small TCP proxy that counts
   the connections it accepts; the middleware uses its own pooled transport. Sequential and
   concurrent sign-ins show how many connections reach "TikTok".
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import statistics
import threading
import time
from collections.abc import Iterator
from typing import Any

import server  # also puts the repository root on sys.path, for tests.support
import stacks
import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from tests.support.asgi import AsgiBrowser
from tests.support.signin import approving, asgi_performer, run_steps_async, sign_in_steps

from tiktok_asgi import TikTokAuthMiddleware
from tiktok_asgi._tiktok.http import AsyncBaseTransport, AsyncHTTPTransport, Request, Response
from tiktok_asgi.emulator import TikTokEmulator

ORIGIN = "http://127.0.0.1:8000"
REDIRECT_URI = f"{ORIGIN}/auth/tiktok/callback"
# The unrelated cookies every benchmark request carries, as a browser's cookie jar.
OTHER_COOKIES = dict(pair.split("=", 1) for pair in stacks.OTHER_COOKIES.split("; "))
DEADLINE = 60.0  # seconds, for each part


class TimedTransport(AsyncBaseTransport):
    """Adds up the time spent inside another transport."""

    def __init__(self, inner: AsyncBaseTransport) -> None:
        self.inner = inner
        self.elapsed = 0.0

    async def handle_async_request(self, request: Request) -> Response:
        started = time.thread_time()
        try:
            response = await self.inner.handle_async_request(request)
            await response.aread()
            return response
        finally:
            self.elapsed += time.thread_time() - started


async def sign_in(
    app: ASGIApp, emu: TikTokEmulator, timed: TimedTransport | None = None
) -> tuple[float, float, float]:
    """One full sign-in: seconds for the login answer, the callback, and TikTok's share of it
    (the thread's CPU time inside ``app``; consent at the emulator is not counted)."""
    spent: list[tuple[float, float]] = []

    async def measured(scope: Scope, receive: Receive, send: Send) -> None:
        inside = timed.elapsed if timed is not None else 0.0
        started = time.thread_time()
        await app(scope, receive, send)
        tiktok = (timed.elapsed - inside) if timed is not None else 0.0
        spent.append((time.thread_time() - started, tiktok))

    browser = AsgiBrowser(
        measured, origin=ORIGIN, headers=stacks.BASE_HEADERS, cookies=OTHER_COOKIES
    )
    settings = stacks.SETTINGS
    steps = sign_in_steps(settings.login_path, approving(emu), cookie_name=settings.cookie_name)
    await run_steps_async(steps, asgi_performer(browser))
    (login, _), (callback, tiktok) = spent
    return login, callback, tiktok


def in_process(sign_ins: int = 300, warmup: int = 30) -> dict[str, float]:
    """Median microseconds per sign-in: login, callback, TikTok's share, and the rest."""
    emu = TikTokEmulator(rate_limit=None)
    timed = TimedTransport(emu.transport())
    settings = emu.settings(REDIRECT_URI, secret_key=stacks.SECRET, scopes=stacks.SETTINGS.scopes)
    app = TikTokAuthMiddleware(stacks.starlette_app(), settings=settings, transport=timed)

    async def main() -> list[tuple[float, float, float]]:
        for _ in range(warmup):
            await sign_in(app, emu, timed)
        return [await sign_in(app, emu, timed) for _ in range(sign_ins)]

    runs = asyncio.run(main())
    return {
        "sign_ins": sign_ins,
        "login_us": statistics.median(r[0] for r in runs) * 1e6,
        "callback_us": statistics.median(r[1] for r in runs) * 1e6,
        "emulator_us": statistics.median(r[2] for r in runs) * 1e6,
        "beyond_emulator_us": statistics.median(r[1] - r[2] for r in runs) * 1e6,
    }


class CountingProxy:
    """A loopback TCP proxy that counts the connections it accepts."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.accepted = 0
        self.port = 0

    async def start(self) -> asyncio.Server:
        srv = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = srv.sockets[0].getsockname()[1]
        return srv

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        with contextlib.suppress(ConnectionError):
            writer.close()


@contextlib.contextmanager
def served_emulator(emu: TikTokEmulator) -> Iterator[CountingProxy]:
    """The emulator on uvicorn at 127.0.0.1, behind a counting proxy, in a background thread."""
    port = server.free_port()
    proxy = CountingProxy(port)
    config = uvicorn.Config(emu, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    uv = uvicorn.Server(config)

    async def serve() -> None:
        proxy_server = await proxy.start()
        await uv.serve()
        proxy_server.close()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 15
        while not (uv.started and proxy.port):
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the emulator did not start")
            time.sleep(0.01)
        yield proxy
    finally:
        uv.should_exit = True
        thread.join(15)


def pool_size() -> int:
    limits = inspect.signature(AsyncHTTPTransport.__init__).parameters["limits"].default
    return int(limits.max_connections)


def connections(sequential: int = 20, concurrent: int = 16, bursts: int = 2) -> dict[str, int]:
    """Connections accepted by "TikTok" for sequential, then concurrent sign-ins."""
    emu = TikTokEmulator(rate_limit=None)
    out: dict[str, int] = {"sequential": sequential, "concurrent": concurrent, "bursts": bursts}
    with served_emulator(emu) as proxy:
        settings = emu.settings(
            REDIRECT_URI,
            secret_key=stacks.SECRET,
            scopes=stacks.SETTINGS.scopes,
            base_url=f"http://127.0.0.1:{proxy.port}",
        )
        app = TikTokAuthMiddleware(stacks.starlette_app(), settings=settings)

        async def main() -> None:
            async with lifespan(app):
                for _ in range(sequential):
                    await sign_in(app, emu)
                out["sequential_connections"] = proxy.accepted
                before = proxy.accepted
                for _ in range(bursts):
                    await asyncio.gather(*(sign_in(app, emu) for _ in range(concurrent)))
                out["concurrent_connections"] = proxy.accepted - before

        asyncio.run(asyncio.wait_for(main(), DEADLINE))
    out["pool_size"] = pool_size()
    return out


@contextlib.asynccontextmanager
async def lifespan(app: ASGIApp) -> Any:
    """Runs the app's lifespan: startup before the block, shutdown after it."""
    inbox: asyncio.Queue[Message] = asyncio.Queue()
    outbox: asyncio.Queue[Message] = asyncio.Queue()
    scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}

    async def run() -> None:
        await app(scope, inbox.get, outbox.put)

    task = asyncio.create_task(run())
    await inbox.put({"type": "lifespan.startup"})
    await outbox.get()
    try:
        yield
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        await outbox.get()
        await task


if __name__ == "__main__":
    print(in_process())
    print(connections())
