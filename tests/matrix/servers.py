"""Real servers in a thread on 127.0.0.1, the app served again below a mount, and requests
sent byte for byte (``http.client`` keeps the request target as written; httpx would
normalise it)."""

from __future__ import annotations

import asyncio
import http.client
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass

import uvicorn
from hypercorn.asyncio import serve
from hypercorn.config import Config as HypercornConfig
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.support.processes import POLL_INTERVAL, listening

MOUNT = "/site"
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0

Server = Callable[[ASGIApp, int], AbstractContextManager[None]]


def mounted(app: ASGIApp) -> ASGIApp:
    """``app`` at ``/`` and again below :data:`MOUNT`, as Starlette's ``Mount`` passes it on:
    the path kept whole, the mount in ``root_path``."""

    async def both(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan" and scope["path"].startswith(MOUNT + "/"):
            scope = {**scope, "root_path": scope.get("root_path", "") + MOUNT}
        await app(scope, receive, send)

    return both


def _wait_listening(port: int) -> None:
    ready = listening(port)
    deadline = time.monotonic() + START_TIMEOUT
    while not ready():
        assert time.monotonic() < deadline, f"nothing listens on 127.0.0.1:{port}"
        time.sleep(POLL_INTERVAL)


@contextmanager
def uvicorn_server(app: ASGIApp, port: int) -> Iterator[None]:
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        _wait_listening(port)
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=STOP_TIMEOUT)


@contextmanager
def hypercorn_server(app: ASGIApp, port: int) -> Iterator[None]:
    config = HypercornConfig()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    def run() -> None:
        loop.run_until_complete(serve(app, config, shutdown_trigger=stop.wait, mode="asgi"))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        _wait_listening(port)
        yield
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=STOP_TIMEOUT)
        loop.close()


@dataclass(frozen=True)
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: str


def send(
    port: int,
    method: str,
    target: str,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
) -> Answer:
    """One request with ``target`` exactly as given (``//a``, ``/%2Fa``, ``http://host/a``)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, target, body=body, headers=headers or {})
        response = connection.getresponse()
        return Answer(response.status, response.headers, response.read().decode("utf-8", "replace"))
    finally:
        connection.close()
