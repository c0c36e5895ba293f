"""The world the session model drives: two middleware instances over one token store, TikTok
(the emulator) behind a line that can hold a refresh in flight, and a virtual clock.

Time is virtual wherever the session code lets it be: the liveness cache's clock, the sleeps of
the token manager's background writer (held ends and rotated tokens), and the emulator's clock
(for webhook redeliveries). A request's own short retries take no time; the background writer
runs only when the model lets time pass, or when a step is stuck waiting for it.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.core.helpers import identity_serializer
from tests.support.asgi import Answer, asgi_call, keep_cookies
from tests.support.calls import end_user_sessions
from tests.support.faulty_store import FaultyStore
from tests.support.signin import authorization_url
from tiktok_asgi import (
    MemoryTokenStore,
    TikTokAuthMiddleware,
    TikTokSettings,
    TokenStoreError,
    tiktok_context,
)
from tiktok_asgi._session import TokenManager
from tiktok_asgi.emulator import TikTokEmulator
from tiktok_asgi.starlette import install

WEBHOOK_PATH = "/auth/tiktok/webhook"
WEBHOOK_URL = "https://testserver" + WEBHOOK_PATH
TOKEN_PATH = "/v2/oauth/token/"
JSON_ACCEPT = (b"accept", b"application/json")


# Virtual time ----------------------------------------------------------------------------------


class VirtualClock:
    """Seconds since the model started; sleepers wake only when :meth:`advance` passes them."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeping: set[asyncio.Task[Any]] = set()
        self._waiting: list[tuple[float, asyncio.Future[None], asyncio.Task[Any]]] = []

    async def wait(self, seconds: float) -> None:
        task = asyncio.current_task()
        assert task is not None
        woken: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((self.now + seconds, woken, task))
        self.sleeping.add(task)
        try:
            await woken
        finally:
            self.sleeping.discard(task)

    def next_due(self) -> float | None:
        """When the next sleeper wakes, if any sleeps."""
        dues = [due for due, woken, _ in self._waiting if not woken.done()]
        return min(dues) if dues else None

    def advance(self, seconds: float) -> None:
        self.now += seconds
        waiting = []
        for due, woken, task in self._waiting:
            if woken.done():
                continue
            if due <= self.now:
                woken.set_result(None)
                self.sleeping.discard(task)  # runnable now, though it has not run yet
            else:
                waiting.append((due, woken, task))
        self._waiting = waiting


def background_sleep(clock: VirtualClock, manager: TokenManager) -> Any:
    """The manager's ``sleep``: its background writer waits for virtual time; a request's own
    retries between writes take none (the model has no time passing inside one request)."""

    async def sleep(seconds: float) -> None:
        if asyncio.current_task() is manager._retrying:
            await clock.wait(seconds)
        else:
            await asyncio.sleep(0)

    return sleep


# Holding a refresh in flight -------------------------------------------------------------------


class Gate:
    """Where a held call waits: ``reached`` once it got there, until ``opened`` is set."""

    def __init__(self) -> None:
        self.reached = asyncio.Event()
        self.opened = asyncio.Event()

    async def hold(self) -> None:
        self.reached.set()
        await self.opened.wait()


class TikTokLine(httpx2.AsyncBaseTransport):
    """TikTok's transport, able to hold the next refresh before TikTok sees it or after TikTok
    rotated the tokens (the answer on its way back)."""

    def __init__(self, inner: httpx2.AsyncBaseTransport) -> None:
        self.inner = inner
        self._gate: Gate | None = None
        self._after = False

    def hold_next_refresh(self, gate: Gate, *, after: bool) -> None:
        self._gate, self._after = gate, after

    def disarm(self) -> None:
        self._gate = None

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        gate = self._gate
        if gate is None or request.url.path != TOKEN_PATH:
            return await self.inner.handle_async_request(request)
        if b"grant_type=refresh_token" not in await request.aread():
            return await self.inner.handle_async_request(request)
        self._gate = None
        if not self._after:
            await gate.hold()
            return await self.inner.handle_async_request(request)
        response = await self.inner.handle_async_request(request)
        await response.aread()
        await gate.hold()
        return response


class ModelStore(FaultyStore):
    """:class:`FaultyStore` that counts the failures it caused and can hold the write of one
    record (``replace`` of one key) until its gate opens."""

    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self.failures = 0
        self.write_gate: tuple[str, Gate] | None = None

    async def _guard(self, name: str) -> None:
        try:
            await super()._guard(name)
        except TokenStoreError:
            self.failures += 1
            raise

    def _wrap(self, name: str, method: Any) -> Any:
        async def call(*args: Any, **kwargs: Any) -> Any:
            held = self.write_gate
            if held is not None and name == "replace" and args and args[0] == held[0]:
                self.write_gate = None
                await held[1].hold()
            await self._guard(name)
            return await method(*args, **kwargs)

        return call


# Stores ----------------------------------------------------------------------------------------


class MemoryBackend:
    """One MemoryTokenStore that every instance shares. Its wrappers hide its ``peek``: it is
    asked through the liveness cache and can fail, as a shared store is and can."""

    name = "memory"

    def __init__(self) -> None:
        self.raw: Any = MemoryTokenStore()

    async def open(self) -> None:
        return None

    def client(self) -> Any:
        return self.raw

    async def present(self, keys: list[str]) -> list[bool]:
        """Which of ``keys`` the store holds now."""
        return [await self.raw.exists(key) for key in keys]

    async def close(self) -> None:
        return None


class RedisBackend:
    """One redis-server; every instance its own client, as separate processes would have."""

    name = "redis"

    def __init__(self, url: str) -> None:
        self.url = url
        self._clients: list[Any] = []
        self.raw: Any = self.client()

    async def open(self) -> None:
        await self.raw.redis.flushdb()

    async def present(self, keys: list[str]) -> list[bool]:
        """Which of ``keys`` the store holds now, asked in one round trip (the store's client
        has no key prefix)."""
        if not keys:
            return []
        pipe = self.raw.redis.pipeline(transaction=False)
        for key in keys:
            pipe.exists(key)
        return [bool(n) for n in await pipe.execute()]

    def client(self) -> Any:
        from tiktok_asgi.redis_store import RedisTokenStore

        # Generous: a slow call on a busy machine must not pass for an injected failure.
        store = RedisTokenStore(self.url, timeout=5.0)
        self._clients.append(store)
        return store

    async def close(self) -> None:
        for store in self._clients:
            await store.aclose()


Backend = MemoryBackend | RedisBackend


# The application -------------------------------------------------------------------------------


async def _me(request: Request) -> JSONResponse:
    user = request.scope["user"]
    return JSONResponse({"user": user.open_id if user.is_authenticated else None})


async def _token(request: Request) -> JSONResponse:
    context = tiktok_context(request)
    token = await context.access_token()
    if request.query_params.get("rejected"):
        # As a view does when TikTok refused the token it was given.
        token = await context.access_token(rejected=token)
    return JSONResponse({"token": bool(token)})


async def _end(request: Request) -> JSONResponse:
    if not request.scope["user"].is_authenticated:
        return JSONResponse({"error": "login_required"}, status_code=401)
    ended = await end_user_sessions(request, request.path_params["open_id"])
    return JSONResponse({"ended": ended})


def model_app(
    settings: TikTokSettings, store: Any, transport: httpx2.AsyncBaseTransport
) -> TikTokAuthMiddleware:
    """``/me`` answers the signed-in open_id, ``/token`` gets an access token (``?rejected=1``:
    and renews it), ``POST /end/{open_id}`` ends that user's sessions."""
    app = Starlette(
        routes=[
            Route("/me", _me),
            Route("/token", _token),
            Route("/end/{open_id}", _end, methods=["POST"]),
        ]
    )
    install(app)  # the middleware wraps it from outside: errors of views answered as its own
    return TikTokAuthMiddleware(app, settings=settings, transport=transport, token_store=store)


@dataclass
class World:
    """Everything one run of the model talks to."""

    backend: Backend
    clock: VirtualClock = field(default_factory=VirtualClock)

    def __post_init__(self) -> None:
        self.emulator = TikTokEmulator(
            rate_limit=None,
            clock=self.tiktok_time,
            webhook_retry_base=0.5,
            webhook_retry_cap=2.0,
        )
        # The tolerance covers the virtual time the emulator's signatures run ahead by.
        self.settings = self.emulator.settings(
            http_timeout=5.0, webhook_path=WEBHOOK_PATH, webhook_tolerance=3600
        )
        self.tiktok = TikTokLine(self.emulator.transport())
        self.stores = [ModelStore(self.backend.client()) for _ in range(2)]
        self.script_store = ModelStore(self.backend.client())
        self.apps = [model_app(self.settings, s, self.tiktok) for s in self.stores]
        self.managers: list[TokenManager] = []
        for app in self.apps:
            manager = app._tokens
            assert manager is not None
            manager.sleep = background_sleep(self.clock, manager)
            manager.live.clock = lambda: self.clock.now
            self.managers.append(manager)
        self.hooks = [httpx2.ASGITransport(app=app) for app in self.apps]
        self._codec = identity_serializer(self.settings)
        self._sids: dict[str, str] = {}

    def tiktok_time(self) -> float:
        """TikTok's clock: real time, ahead by the virtual time passed."""
        return time.time() + self.clock.now

    @property
    def all_stores(self) -> list[ModelStore]:
        return [*self.stores, self.script_store]

    def failures(self) -> int:
        return sum(s.failures for s in self.all_stores)

    def session_id(self, cookie: str) -> str:
        sid = self._sids.get(cookie)
        if sid is None:  # decoded once per cookie: the invariants look after every step
            sid = self._codec.loads(cookie)["sid"]
            assert isinstance(sid, str)
            self._sids[cookie] = sid
        return sid

    def open_id(self, username: str) -> str:
        return self.emulator.user(username).open_id

    def background(self) -> list[asyncio.Task[None]]:
        return [m._retrying for m in self.managers if m._retrying is not None]

    def held_writes(self) -> bool:
        return any(m.live.unwritten_ends or m._unsaved for m in self.managers)

    async def advance(self, seconds: float) -> None:
        """Let virtual time pass: the background writers run until they sleep or finish."""
        self.clock.advance(seconds)
        deadline = time.monotonic() + 10
        while True:
            busy = [t for t in self.background() if not t.done() and t not in self.clock.sleeping]
            if not busy:
                return
            assert time.monotonic() < deadline, "the background writer is stuck"
            await asyncio.sleep(0.001)

    def refresh_tokens_sent_twice(self) -> int:
        """How many refresh tokens TikTok was sent more than once."""
        used = Counter(
            r.form["refresh_token"][0]
            for r in self.emulator.requests
            if r.endpoint == "token" and r.form.get("grant_type") == ["refresh_token"]
        )
        return sum(1 for n in used.values() if n > 1)

    async def sign_in(self, browser: Browser, username: str, at: int = 0, back: int = 0) -> Answer:
        """Login on instance ``at``, consent at TikTok, the callback on instance ``back``; the
        callback's answer (a 302 setting the identity cookie, unless the store failed)."""
        login = await browser.request(self.apps[at], "GET", self.settings.login_path)
        callback = self.emulator.approve(authorization_url(login, spa=True), user=username)
        return await browser.request(self.apps[back], "GET", callback)


# Browsers --------------------------------------------------------------------------------------


class Browser:
    """Cookies kept by name, sent to whichever instance the request goes to."""

    def __init__(self, name: str, jar: dict[str, str] | None = None) -> None:
        self.name = name
        self.jar: dict[str, str] = dict(jar or {})

    def __repr__(self) -> str:
        return self.name

    async def request(
        self,
        app: Any,
        method: str,
        url: str,
        headers: Sequence[tuple[bytes, bytes]] = (),
    ) -> Answer:
        parts = urlsplit(url)
        sent = [JSON_ACCEPT, *headers]
        if self.jar:
            cookies = "; ".join(f"{k}={v}" for k, v in self.jar.items())
            sent.append((b"cookie", cookies.encode("latin-1")))
        answer = await asgi_call(app, method, parts.path, parts.query.encode("latin-1"), sent)
        keep_cookies(self.jar, answer.all("set-cookie"))
        return answer
