"""Two application processes (uvicorn on loopback) sharing one Redis, TikTok served over HTTP."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest
import uvicorn

from tests.support.processes import (
    free_port,
    listening,
    start_process,
    stop_process,
    wait_until_ready,
)
from tests.tokens.conftest import RedisServer, expire_access_token, session_id
from tiktok_asgi import TikTokSettings
from tiktok_asgi.emulator import TEST_SECRET_KEY, Fault, TikTokEmulator
from tiktok_asgi.redis_store import RedisTokenStore

pytestmark = pytest.mark.redis

ROOT = Path(__file__).resolve().parents[2]
SCOPES = "user.info.basic,video.list"


@pytest.fixture
def tiktok_server() -> Iterator[tuple[TikTokEmulator, str]]:
    """The emulator served by uvicorn on 127.0.0.1 (in a thread, so the test can look inside)."""
    tiktok_emulator = TikTokEmulator()
    port = free_port()
    config = uvicorn.Config(
        tiktok_emulator,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
        ws="none",
        http="h11",
        access_log=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="tiktok-emulator", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert thread.is_alive(), "the emulator server stopped"
            assert time.monotonic() < deadline, "the emulator server did not start"
            time.sleep(0.02)
        yield tiktok_emulator, f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@dataclass
class Instance:
    name: str
    url: str
    port: int
    settings: TikTokSettings
    process: subprocess.Popen[bytes]
    log: Path


def _start_instance(
    name: str, emulator: TikTokEmulator, tiktok_url: str, redis_url: str, log: Path
) -> Instance:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = emulator.settings(
        f"{url}/auth/tiktok/callback", base_url=tiktok_url, scopes=tuple(SCOPES.split(","))
    )
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "INSTANCE_NAME": name,
        "TOKENS_REDIS_URL": redis_url,
        "TIKTOK_CLIENT_KEY": settings.client_key,
        "TIKTOK_CLIENT_SECRET": settings.client_secret,
        "TIKTOK_REDIRECT_URI": settings.redirect_uri,
        "TIKTOK_SECRET_KEY": TEST_SECRET_KEY,
        "TIKTOK_SCOPES": SCOPES,
        "TIKTOK_HTTP_TIMEOUT": "5",
        "TIKTOK_AUTHORIZE_URL": settings.authorize_url,
        "TIKTOK_TOKEN_URL": settings.token_url,
        "TIKTOK_USERINFO_URL": settings.userinfo_url,
        "TIKTOK_REVOKE_URL": settings.revoke_url,
        "TIKTOK_API_BASE_URL": settings.api_base_url,
    }
    command = [
        sys.executable, "-m", "uvicorn", "tests.tokens.instance_app:app",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    process = start_process(command, log=log, env=env, cwd=ROOT)
    return Instance(name, url, port, settings, process, log)


@pytest.fixture
def instances(
    tiktok_server: tuple[TikTokEmulator, str], redis_server: RedisServer, tmp_path: Path
) -> Iterator[list[Instance]]:
    """Instances a and b, started together, then each waited for until it listens."""
    tiktok_emulator, tiktok_url = tiktok_server
    started: list[Instance] = []
    try:
        for name in ("a", "b"):
            started.append(
                _start_instance(
                    name, tiktok_emulator, tiktok_url, redis_server.url, tmp_path / f"{name}.log"
                )
            )
        for instance in started:
            wait_until_ready(
                instance.process,
                listening(instance.port),
                log=instance.log,
                timeout=30,
                name=f"instance {instance.name}",
            )
        yield started
    finally:
        for instance in started:
            stop_process(instance.process)


@pytest.fixture
async def shared_store(redis_server: RedisServer) -> AsyncIterator[RedisTokenStore]:
    store = RedisTokenStore(redis_server.url)
    try:
        yield store
    finally:
        await store.aclose()


async def test_sign_in_on_one_instance_refresh_once_across_both_and_disconnect_anywhere(
    instances: list[Instance],
    tiktok_server: tuple[TikTokEmulator, str],
    shared_store: RedisTokenStore,
) -> None:
    tiktok_emulator, _ = tiktok_server
    a, b = instances
    async with httpx2.AsyncClient(timeout=30) as client:
        for instance in instances:
            response = await client.get(f"{instance.url}/health")
            assert response.text == instance.name

        # Sign in through instance a.
        response = await client.get(f"{a.url}{a.settings.login_path}")
        assert response.status_code == 302
        callback = tiktok_emulator.approve(response.headers["location"])
        assert callback.startswith(f"{a.url}/auth/tiktok/callback?")
        response = await client.get(callback)
        assert response.status_code == 302, response.text
        sid = session_id(client, a.settings)

        # The cookie works on instance b: same key, the token comes from the shared Redis.
        token_a = (await client.get(f"{a.url}/token")).json()
        token_b = (await client.get(f"{b.url}/token")).json()
        assert token_a == token_b
        assert token_b["access_token"].startswith("act.")
        response = await client.get(f"{b.url}/videos")
        assert response.status_code == 200, response.text
        assert response.json()["instance"] == "b"

        # The access token expires; fifty calls spread over both instances.
        await expire_access_token(shared_store, a.settings, sid)
        tiktok_emulator.inject("token", Fault.latency(0.3))
        responses = await asyncio.gather(
            *(client.get(f"{instance.url}/videos") for instance in [a, b] * 25)
        )
        assert [r.status_code for r in responses] == [200] * 50, {r.text for r in responses}
        assert {r.json()["instance"] for r in responses} == {"a", "b"}
        assert tiktok_emulator.count("token", grant_type="refresh_token") == 1
        fresh = (await client.get(f"{a.url}/token")).json()
        assert fresh != token_a
        assert (await client.get(f"{b.url}/token")).json() == fresh

        # Disconnect through b: revoked at TikTok once, gone from Redis, refused by a too.
        cookie = client.cookies[a.settings.cookie_name]
        response = await client.post(f"{b.url}{b.settings.disconnect_path}")
        assert response.status_code == 303
        assert tiktok_emulator.count("revoke") == 1
        (revoke,) = [r for r in tiktok_emulator.requests if r.endpoint == "revoke"]
        assert revoke.form["token"] == [fresh["access_token"]]
        assert [k async for k in shared_store.redis.scan_iter("tiktok_asgi:token:*")] == []
        # Only the used sign-in answer is left, expiring with the flow's lifetime.
        (state,) = [k async for k in shared_store.redis.scan_iter("tiktok_asgi:state:*")]
        assert 0 < await shared_store.redis.ttl(state) <= a.settings.flow_max_age
        assert a.settings.cookie_name not in client.cookies
        response = await client.get(
            f"{a.url}/token", headers={"cookie": f"{a.settings.cookie_name}={cookie}"}
        )
        assert response.status_code == 401
        assert response.json()["error"] == "login_required"
        direct = await client.get(
            a.settings.userinfo_url,
            params={"fields": "open_id"},
            headers={"authorization": f"Bearer {fresh['access_token']}"},
        )
        assert direct.status_code == 401
    for instance in instances:
        assert instance.process.poll() is None  # both still serving
