"""Fixtures for token tests: a real redis-server, an app that calls TikTok as the user, and a
signed-in async browser."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.core.helpers import identity_serializer
from tests.support.calls import get_access_token
from tests.support.processes import free_port, start_process, stop_process, wait_until_ready
from tests.support.signin import async_sign_in
from tiktok_asgi import MemoryTokenStore, TikTokAuthError, TikTokAuthMiddleware, TikTokSettings
from tiktok_asgi._session.records import TokenRecord
from tiktok_asgi._session.records import fernet as _fernet
from tiktok_asgi.api import tiktok_api
from tiktok_asgi.emulator import TikTokEmulator
from tiktok_asgi.stores import TokenStore

BASE_URL = "https://testserver"
KEY_PREFIX = "tiktok_asgi:token:"
VIDEO_FIELDS = "id,title,create_time"


# The application under test ------------------------------------------------------------------


async def _token(request: Request) -> JSONResponse:
    return JSONResponse({"access_token": await get_access_token(request)})


async def _videos(request: Request) -> JSONResponse:
    data = await tiktok_api(request).post(
        "/v2/video/list/", params={"fields": VIDEO_FIELDS}, json={"max_count": 3}
    )
    return JSONResponse(data)


async def _tiktok_error(conn: HTTPConnection, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TikTokAuthError)
    return JSONResponse(exc.as_dict(), status_code=exc.status_code)


def make_api_app() -> Starlette:
    """``/token`` answers the user's access token, ``/videos`` their first videos."""
    return Starlette(
        routes=[Route("/token", _token), Route("/videos", _videos)],
        exception_handlers={TikTokAuthError: _tiktok_error},
    )


def wrap(
    settings: TikTokSettings, store: TokenStore, emulator: TikTokEmulator | None, **kwargs: Any
) -> TikTokAuthMiddleware:
    return TikTokAuthMiddleware(
        make_api_app(),
        settings=settings,
        transport=emulator.transport() if emulator is not None else None,
        token_store=store,
        **kwargs,
    )


# A browser -------------------------------------------------------------------------------------


def browser(app: Any) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url=BASE_URL, timeout=30
    )


@asynccontextmanager
async def signed_in(
    settings: TikTokSettings,
    emulator: TikTokEmulator,
    store: TokenStore | None = None,
    **middleware: Any,
) -> AsyncIterator[tuple[httpx2.AsyncClient, TokenStore, str]]:
    """A browser signed in through an app keeping tokens in ``store`` (a fresh
    MemoryTokenStore if None), given the ``middleware`` arguments: the browser, the store and
    the login-session id its identity cookie carries."""
    store = MemoryTokenStore() if store is None else store
    async with browser(wrap(settings, store, emulator, **middleware)) as client:
        await async_sign_in(client, settings, emulator)
        yield client, store, session_id(client, settings)


def session_id(client: httpx2.AsyncClient, settings: TikTokSettings) -> str:
    """The login-session id the identity cookie carries (read independently of the middleware)."""
    payload = identity_serializer(settings).loads(client.cookies[settings.cookie_name])
    sid = payload["sid"]
    assert isinstance(sid, str)
    return sid


def store_key(sid: str) -> str:
    return KEY_PREFIX + sid


# A sealed record: the JSON array [sid, access_token, expires_at, refresh_token,
# refresh_expires_at, scope, open_id], encrypted with Fernet.
RECORD_FIELDS = (
    "access_token",
    "expires_at",
    "refresh_token",
    "refresh_expires_at",
    "scope",
    "open_id",
)


async def read_record(store: TokenStore, settings: TikTokSettings, sid: str) -> dict[str, Any]:
    blob = await store.get(store_key(sid))
    assert blob is not None, "no token record"
    sealed = json.loads(_fernet(settings.secret_keys, settings.client_key).decrypt(blob))
    assert isinstance(sealed, list), "a record sealed as an array"
    assert sealed[0] == sid, "a record sealed for another session"
    return dict(zip(RECORD_FIELDS, sealed[1:], strict=True))


async def expire_access_token(store: TokenStore, settings: TikTokSettings, sid: str) -> str:
    """Make the stored access token look expired (as if its hours had passed); returns it."""
    record = await read_record(store, settings, sid)
    record["expires_at"] = time.time() - 1
    sealed = [sid, *(record[name] for name in RECORD_FIELDS)]
    blob = _fernet(settings.secret_keys, settings.client_key).encrypt(json.dumps(sealed).encode())
    await store.set(store_key(sid), blob, TokenRecord(**record).ttl(time.time()))
    token: str = record["access_token"]
    return token


async def withdraw_at_tiktok(
    emulator: TikTokEmulator, settings: TikTokSettings, access_token: str
) -> None:
    """The user withdraws the app's access at TikTok: the whole grant is revoked."""
    async with httpx2.AsyncClient(transport=emulator.transport()) as tiktok:
        revoked = await tiktok.post(
            settings.revoke_url,
            data={
                "client_key": settings.client_key,
                "client_secret": settings.client_secret,
                "token": access_token,
            },
        )
    assert revoked.status_code == 200, revoked.text


def cleared(response: httpx2.Response, settings: TikTokSettings) -> bool:
    """Whether the response clears the identity cookie."""
    return any(
        h.startswith(f"{settings.cookie_name}=;") and "Max-Age=0" in h
        for h in response.headers.get_list("set-cookie")
    )


# A real redis-server --------------------------------------------------------------------------


class RedisServer:
    """One ``redis-server`` on 127.0.0.1, in a temporary directory, that tests may stop."""

    def __init__(self, executable: str, directory: Path) -> None:
        self.executable = executable
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def log(self) -> Path:
        return self.directory / "redis-server.log"

    def start(self) -> None:
        assert self.process is None
        self.process = start_process(
            [
                self.executable,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            log=self.log,
        )
        try:
            wait_until_ready(
                self.process, self._answers_ping, log=self.log, timeout=10, name="redis-server"
            )
        except BaseException:
            self.stop()
            raise

    def _answers_ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def pause(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def reset(self) -> None:
        """As freshly started, for the next test: running, answering, empty, counters at zero,
        no scripts, no other client connected, no data saved on disk to load on a restart."""
        if self.process is not None:
            self.process.send_signal(signal.SIGCONT)  # a test may have left it paused
            if self.process.poll() is not None:
                self.process = None
        for saved in self.directory.glob("*.rdb"):
            saved.unlink()
        if self.process is None:
            self.start()
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            replies = s.makefile("rb")
            for command in (
                b"FLUSHALL",
                b"SCRIPT FLUSH",
                b"CONFIG RESETSTAT",
                b"CLIENT KILL TYPE normal SKIPME yes",
                b"CLIENT KILL TYPE pubsub",
            ):
                s.sendall(command + b"\r\n")
                reply = replies.readline()
                assert reply[:1] in (b"+", b":"), (command, reply)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def shutdown_saving(self) -> None:
        """Stop the server after writing its data to disk; :meth:`start` loads it again."""
        assert self.process is not None
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(b"SHUTDOWN SAVE\r\n")
            s.recv(64)  # the server closes the connection once it has saved
        self.process.wait(timeout=10)
        self.process = None

    def stop(self) -> None:
        """Stop the server; with ``--save ""`` its data is gone (a restart starts empty)."""
        if self.process is None:
            return
        process, self.process = self.process, None
        process.send_signal(signal.SIGCONT)  # a paused server cannot act on SIGTERM
        stop_process(process)


def redis_executable() -> str:
    found = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server") else None
    )
    if found is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("redis-server is required under CI=true: apt-get install redis-server")
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    return found


@pytest.fixture(scope="module")
def shared_redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One redis-server for the tests of a module, always terminated afterwards."""
    server = RedisServer(redis_executable(), tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_server(shared_redis_server: RedisServer) -> RedisServer:
    """A redis-server for one test, as freshly started: the module's, reset before the test
    (running, empty, counters at zero, no client of an earlier test connected)."""
    shared_redis_server.reset()
    return shared_redis_server


@asynccontextmanager
async def redis_token_store(server: RedisServer, seconds: float) -> AsyncIterator[Any]:
    """A RedisTokenStore on ``server`` giving up after ``seconds``, closed afterwards."""
    from tiktok_asgi.redis_store import RedisTokenStore

    store = RedisTokenStore(server.url, timeout=seconds)
    try:
        yield store
    finally:
        await store.aclose()


@pytest.fixture
async def redis_store(redis_server: RedisServer) -> AsyncIterator[Any]:
    async with redis_token_store(redis_server, seconds=1.0) as store:
        yield store


@pytest.fixture
def tiktok_settings(tiktok_emulator: TikTokEmulator) -> TikTokSettings:
    return tiktok_emulator.settings(http_timeout=5.0)
