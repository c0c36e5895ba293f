"""Behind real servers (uvicorn and Hypercorn on 127.0.0.1) with ``--root-path /api``, as behind a
proxy that strips the prefix: sign-in, protected paths, and WebSockets refused with 1008 after the
handshake unless they come from the site's own origin.

uvicorn puts the root path in front of ``scope["path"]``; Hypercorn does not: both are covered.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx2
import pytest
import uvicorn
from hypercorn.asyncio import serve
from hypercorn.config import Config as HypercornConfig
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.conftest import make_starlette
from tests.support.processes import free_port, listening
from tiktok_asgi import TikTokAuthMiddleware, TikTokSettings
from tiktok_asgi.emulator import TikTokEmulator

ROOT = "/api"
START_TIMEOUT = 20.0


@contextmanager
def _uvicorn(app: Any, port: int) -> Iterator[None]:
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, root_path=ROOT, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        _wait(listening(port))
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def _hypercorn(app: Any, port: int) -> Iterator[None]:
    config = HypercornConfig()
    config.bind = [f"127.0.0.1:{port}"]
    config.root_path = ROOT
    config.accesslog = None
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    def run() -> None:
        loop.run_until_complete(serve(app, config, shutdown_trigger=stop.wait, mode="asgi"))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        _wait(listening(port))
        yield
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=10)
        loop.close()


SERVERS: dict[str, Callable[[Any, int], Any]] = {"uvicorn": _uvicorn, "hypercorn": _hypercorn}


def _wait(ready: Callable[[], bool]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while not ready():
        assert time.monotonic() < deadline, "the server did not start listening"
        time.sleep(0.05)


def _cookie(response: httpx2.Response, prefix: str) -> str:
    """``name=value`` of the one cookie ``response`` sets whose name starts with ``prefix``."""
    (found,) = [
        h.split(";", 1)[0] for h in response.headers.get_list("set-cookie") if h.startswith(prefix)
    ]
    return found


@pytest.fixture(params=sorted(SERVERS))
def deployed(
    request: pytest.FixtureRequest, tiktok_emulator: TikTokEmulator
) -> Iterator[tuple[str, TikTokSettings]]:
    """The test app at ``http://127.0.0.1:<port>/api`` (the server sees the prefix stripped)."""
    port = free_port()
    settings = tiktok_emulator.settings(
        f"http://127.0.0.1:{port}{ROOT}/auth/tiktok/callback",
        callback_path="/auth/tiktok/callback",
        protected_paths=("/me", "/ws"),
    )
    app = TikTokAuthMiddleware(
        make_starlette(), settings=settings, transport=tiktok_emulator.transport()
    )
    with SERVERS[request.param](app, port):
        yield f"127.0.0.1:{port}", settings


def _sign_in(client: httpx2.Client, settings: TikTokSettings, emulator: TikTokEmulator) -> str:
    """The identity cookie (``name=value``) of a sign-in made as the proxy passes it on."""
    login = client.get("/auth/tiktok/login")
    assert login.status_code == 302, login.text
    flow = _cookie(login, f"{settings.cookie_name}_flow_")
    # Below the root path, where the login path and the callback both see it.
    assert f"Path={ROOT}/auth/tiktok;" in login.headers["set-cookie"]
    callback = emulator.approve(login.headers["location"])
    base = str(client.base_url).rstrip("/")
    assert callback.startswith(f"{base}{ROOT}/auth/tiktok/callback?")
    done = client.get(callback.replace(f"{base}{ROOT}", base), headers={"cookie": flow})
    assert done.status_code == 302, done.text
    return _cookie(done, f"{settings.cookie_name}=")


def test_under_a_root_path_sign_in_works_and_protected_paths_refuse_anonymous(
    deployed: tuple[str, TikTokSettings], tiktok_emulator: TikTokEmulator
) -> None:
    host, settings = deployed
    with httpx2.Client(base_url=f"http://{host}", timeout=10) as client:
        assert client.get("/me", headers={"accept": "application/json"}).status_code == 401
        page = client.get("/me", headers={"accept": "text/html"})
        assert page.status_code == 302
        assert page.headers["location"] == f"{ROOT}/auth/tiktok/login?next=%2Fapi%2Fme"
        identity = _sign_in(client, settings, tiktok_emulator)
        me = client.get("/me", headers={"cookie": identity, "accept": "application/json"})
        assert me.status_code == 200
        assert me.json()["authenticated"] is True


def _socket(host: str, cookie: str | None, origin: str | None) -> dict[str, Any] | int:
    """What ``/ws`` answers: the JSON it sends, or the close code it closes with."""
    headers = {"cookie": cookie} if cookie else {}
    with connect(
        f"ws://{host}/ws",
        additional_headers=headers,
        origin=origin,  # type: ignore[arg-type]
        open_timeout=10,
    ) as ws:
        try:
            message = ws.recv(timeout=10)
        except ConnectionClosed as closed:
            received = closed.rcvd
        else:
            answer: dict[str, Any] = json.loads(message)
            return answer
    assert received is not None, "closed without a close frame"
    return received.code


def test_websockets_only_from_the_sites_own_origin_and_refusals_are_1008(
    deployed: tuple[str, TikTokSettings], tiktok_emulator: TikTokEmulator
) -> None:
    host, settings = deployed
    with httpx2.Client(base_url=f"http://{host}", timeout=10) as client:
        identity = _sign_in(client, settings, tiktok_emulator)
    own = f"http://{host}"
    port = int(host.rsplit(":", 1)[1])
    # Anonymous on a protected path: the handshake succeeds and the close says why (not 1006).
    assert _socket(host, None, own) == 1008
    # Signed in, from another port of this host, another host, or an opaque origin: nobody.
    for origin in (f"http://127.0.0.1:{port + 1}", "http://localhost.evil.example", "null"):
        assert _socket(host, identity, origin) == 1008, origin
    seen = _socket(host, identity, own)
    assert isinstance(seen, dict)
    assert seen["authenticated"] is True
