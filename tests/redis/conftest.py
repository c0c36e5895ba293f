"""Redis as it is really deployed: a Cluster, a Sentinel failover, a Redis far away; an
application that tells who is signed in and hands out access tokens; browsers that sign in
without failing the test when the store answers 503."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.support.redis_deployments import (
    RedisClusterDeployment,
    RedisProcess,
    SentinelDeployment,
    redis_cli,
)
from tests.tokens.conftest import BASE_URL, redis_executable
from tiktok_asgi import TikTokAuthError, TikTokAuthMiddleware, TikTokSettings, tiktok_context
from tiktok_asgi.api import tiktok_api
from tiktok_asgi.emulator import EmulatorUser, TikTokEmulator
from tiktok_asgi.stores import TokenStore

JSON = {"accept": "application/json"}
INDEX_PREFIX = "tiktok_asgi:user-sessions:"  # the open_id → login sessions index


# Deployments ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterDeployment]:
    """Three masters, slots spread over them; shared by a module's tests."""
    executable = redis_executable()
    try:
        redis_cli(executable)
    except AssertionError:  # as redis_executable(): a skip locally, a failure on CI
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("redis-cli is required under CI=true: apt-get install redis-tools")
        pytest.skip("redis-cli is not installed (apt-get install redis-tools)")
    cluster = RedisClusterDeployment(executable, tmp_path_factory.mktemp("cluster"))
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def sentinel_deployment(tmp_path: Path) -> Iterator[SentinelDeployment]:
    """A primary, its replica and a Sentinel; a test may fail it over."""
    deployment = SentinelDeployment(redis_executable(), tmp_path)
    deployment.start()
    try:
        yield deployment
    finally:
        deployment.stop()


@pytest.fixture
def redis_process(tmp_path: Path) -> Iterator[RedisProcess]:
    server = RedisProcess(redis_executable(), tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.stop()


# TikTok ---------------------------------------------------------------------------------------


@pytest.fixture
def tiktok_emulator() -> TikTokEmulator:
    """Many users and no rate limit (load), access tokens of 61 seconds: one is due for a
    refresh (a minute before it expires) a second after it was issued."""
    return TikTokEmulator(
        users=EmulatorUser.generate(12, prefix="load."), rate_limit=None, access_token_ttl=61
    )


@pytest.fixture
def tiktok_settings(tiktok_emulator: TikTokEmulator) -> TikTokSettings:
    return tiktok_emulator.settings()


# The application -----------------------------------------------------------------------------


async def _me(request: Request) -> JSONResponse:
    user = request.scope["user"]
    if not user.is_authenticated:
        return JSONResponse({"user": None, "open_id": None})
    return JSONResponse({"user": user.display_name, "open_id": user.open_id})


async def _token(request: Request) -> JSONResponse:
    token = await tiktok_context(request).access_token()
    return JSONResponse({"access_token": token, "open_id": request.scope["user"].open_id})


async def _tiktok_user(request: Request) -> JSONResponse:
    """Who TikTok says the session's access token belongs to."""
    data = await tiktok_api(request).get("/v2/user/info/", params={"fields": "open_id"})
    return JSONResponse({"open_id": data["user"]["open_id"]})


async def _tiktok_error(conn: HTTPConnection, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TikTokAuthError)
    return JSONResponse(exc.as_dict(), status_code=exc.status_code)


def session_app(
    settings: TikTokSettings, store: TokenStore, emulator: TikTokEmulator
) -> TikTokAuthMiddleware:
    """``/me``: who is signed in; ``/token``: their access token (refreshed when due);
    ``/tiktok-user``: the open_id TikTok gives for that token."""
    app = Starlette(
        routes=[Route("/me", _me), Route("/token", _token), Route("/tiktok-user", _tiktok_user)],
        exception_handlers={TikTokAuthError: _tiktok_error},
    )
    return TikTokAuthMiddleware(
        app, settings=settings, transport=emulator.transport(), token_store=store
    )


@asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    """The app's lifespan, as a server runs it: startup, then shutdown (which stops what the
    middleware runs in the background)."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    running = asyncio.get_running_loop().create_task(app(scope, inbox.get, outbox.put))
    await inbox.put({"type": "lifespan.startup"})
    started = await asyncio.wait_for(outbox.get(), 10)
    assert started["type"] == "lifespan.startup.complete", started
    try:
        yield
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        await asyncio.wait_for(outbox.get(), 10)
        await asyncio.wait_for(running, 10)


def browser(app: Any) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url=BASE_URL, timeout=30
    )


# What the clients saw --------------------------------------------------------------------------


@dataclass
class Tally:
    """Every answer, by outcome; what went wrong, in words."""

    answers: int = 0
    unavailable: int = 0  # 503 token_store_unavailable
    wrong: list[str] = field(default_factory=list)
    unavailable_at: list[str] = field(default_factory=list)  # the paths answered 503

    def saw(self, response: httpx2.Response, *, expect: tuple[int, ...]) -> bool:
        """Count ``response``; True when its status is one of ``expect``. A 503
        token_store_unavailable is counted as such; anything else is wrong."""
        self.answers += 1
        if response.status_code in expect:
            return True
        if response.status_code == 503 and _error(response) == "token_store_unavailable":
            self.unavailable += 1
            self.unavailable_at.append(response.request.url.path)
            return False
        self.wrong.append(f"{response.request.url.path}: {response.status_code} {response.text}")
        return False


def _error(response: httpx2.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("error") if isinstance(body, dict) else None


async def try_sign_in(
    client: httpx2.AsyncClient,
    settings: TikTokSettings,
    emulator: TikTokEmulator,
    user: str,
    tally: Tally,
) -> bool:
    """Login, consent at the emulator as ``user``, callback; True when signed in (a 503 of
    the store is no failure of the test, only counted)."""
    login = await client.get(settings.login_path, headers=JSON)
    if not tally.saw(login, expect=(200, 302)):
        return False
    location = (
        login.headers["location"] if login.status_code == 302 else login.json()["authorization_url"]
    )
    callback = emulator.approve(location, user=user)
    done = await client.get(callback, headers=JSON)
    if not tally.saw(done, expect=(302,)):
        client.cookies.clear()
        return False
    return settings.cookie_name in client.cookies
