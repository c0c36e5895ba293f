"""Helpers of the browser tests: the demo in a subprocess, the skip-or-fail rule, page checks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
START_LIMIT = 30.0  # seconds for the demo to answer its first request
ACTION_TIMEOUT_MS = 15_000


def unavailable(reason: str) -> NoReturn:
    """Skip on a developer machine; fail in CI, where the browser must be there."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}; CI=true, so this fails instead of skipping", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class DemoServer:
    """A running ``python -m tiktok_asgi.demo``: ``url`` is the address it printed to open."""

    url: str
    port: int
    output: Path
    process: subprocess.Popen[bytes] = field(repr=False)

    def printed(self) -> str:
        return self.output.read_text(encoding="utf-8", errors="replace")


def _get_status(url: str) -> int:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=2) as response:
        status: int = response.status
        return status


def _start(host: str, port: int, output: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIKTOK_")}
    command = [sys.executable, "-m", "tiktok_asgi.demo", "--host", host, "--port", str(port)]
    with output.open("wb") as out:
        return subprocess.Popen(  # noqa: S603 - a fixed command line
            [*command, "--log-level", "warning"], stdout=out, stderr=subprocess.STDOUT, env=env
        )


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def _wait_ready(process: subprocess.Popen[bytes], url: str, output: Path) -> None:
    deadline = time.monotonic() + START_LIMIT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the demo exited early:\n{output.read_text(errors='replace')}")
        try:
            if _get_status(url) == 200:
                return
        except OSError:
            pass  # not listening yet
        time.sleep(0.1)
    raise AssertionError(f"the demo did not answer within {START_LIMIT} s")


def serve_demo(host: str, tmp: Path) -> Iterator[DemoServer]:
    """Start the demo on ``host`` and a free port; always stop it afterwards."""
    try:
        import uvicorn  # noqa: F401
    except ImportError:
        unavailable('uvicorn is not installed (pip install "tiktok-asgi[demo]")')
    port = free_port()
    output = tmp / f"demo-{port}.log"
    process = _start(host, port, output)
    try:
        url = f"http://{host}:{port}/"
        _wait_ready(process, url, output)
        yield DemoServer(url=url, port=port, output=output, process=process)
    finally:
        _stop(process)


@dataclass
class Problems:
    """What a page should never do: break its CSP, fail a sub-resource, throw."""

    items: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> Page:
        page.set_default_timeout(ACTION_TIMEOUT_MS)
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.items.append(f"page error: {exc}"))
        page.on("requestfailed", lambda r: self.items.append(f"request failed: {r.url}"))
        page.on("response", self._response)
        return page

    def _console(self, message: Any) -> None:
        if "Content Security Policy" in message.text or "Refused to" in message.text:
            self.items.append(f"console: {message.text}")

    def _response(self, response: Any) -> None:
        if response.status >= 400 and response.request.resource_type != "document":
            self.items.append(f"{response.status} for {response.url}")
