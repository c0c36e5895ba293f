"""An open WebSocket on one instance follows a sign-out on another, through real servers.

Two uvicorn servers on 127.0.0.1, each with its own ``RedisTokenStore`` on one real redis-server:
a browser signs in on the first and opens a WebSocket there (a real ``websockets`` client); the
sign-out goes to the second. The socket is closed with 1008 within a second, as HTTP requests
are refused within a second.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx2
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.matrix.servers import uvicorn_server
from tests.sessions.test_seams import app_over
from tests.support.processes import free_port
from tests.tokens.conftest import RedisServer
from tiktok_asgi import TikTokSettings
from tiktok_asgi.emulator import TikTokEmulator
from tiktok_asgi.redis_store import RedisTokenStore

pytestmark = pytest.mark.redis


def closing(app: Any, store: RedisTokenStore) -> Any:
    """``app`` whose lifespan closes ``store`` at shutdown, in the loop that used it."""

    async def served_app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await app(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await store.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    return served_app


def test_a_sign_out_on_another_instance_closes_the_socket_1008_within_a_second(
    redis_server: RedisServer, tiktok_emulator: TikTokEmulator
) -> None:
    port_a, port_b = free_port(), free_port()
    settings: TikTokSettings = tiktok_emulator.settings(
        f"http://127.0.0.1:{port_a}/auth/tiktok/callback", http_timeout=5.0
    )
    # Each server gets its own store (a Redis client belongs to the loop that uses it).
    store_a, store_b = RedisTokenStore(redis_server.url), RedisTokenStore(redis_server.url)
    app_a = closing(app_over(settings, store_a, tiktok_emulator.transport()), store_a)
    app_b = closing(app_over(settings, store_b, tiktok_emulator.transport()), store_b)
    with uvicorn_server(app_a, port_a), uvicorn_server(app_b, port_b):
        with httpx2.Client(base_url=f"http://127.0.0.1:{port_a}", timeout=10) as browser:
            login = browser.get(settings.login_path)
            assert login.status_code == 302, login.text
            done = browser.get(tiktok_emulator.approve(login.headers["location"]))
            assert done.status_code == 302, done.text
            cookie = f"{settings.cookie_name}={browser.cookies[settings.cookie_name]}"
        with connect(
            f"ws://127.0.0.1:{port_a}/ws", additional_headers={"cookie": cookie}, open_timeout=10
        ) as socket:
            greeting = json.loads(socket.recv(timeout=10))
            assert greeting == {"user": tiktok_emulator.user("mayacooks").display_name}
            socket.send("ping")
            assert socket.recv(timeout=10) == "ping"
            signed_out = httpx2.post(
                f"http://127.0.0.1:{port_b}{settings.logout_path}",
                headers={"cookie": cookie},
                timeout=10,
            )
            assert signed_out.status_code == 303
            started = time.monotonic()
            with pytest.raises(ConnectionClosed) as closed:
                _drain(socket)
            waited = time.monotonic() - started
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1008
        assert closed.value.rcvd.reason == "session_ended"
        assert waited < 1.0


def _drain(socket: ClientConnection) -> None:
    """Read until the server closes the socket (ConnectionClosed); 5 s without a word fails."""
    while True:
        socket.recv(timeout=5)
