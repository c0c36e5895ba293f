"""Helpers of the browser tests: the demo in a subprocess, the skip-or-fail rule, page checks."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

from tests.support.processes import answering, free_port, running, without_tiktok_settings

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


@dataclass
class DemoServer:
    """A running ``python -m tiktok_asgi.demo``: ``url`` is the address it printed to open."""

    url: str
    port: int
    output: Path
    process: subprocess.Popen[bytes] = field(repr=False)

    def printed(self) -> str:
        return self.output.read_text(encoding="utf-8", errors="replace")


def serve_demo(host: str, tmp: Path) -> Iterator[DemoServer]:
    """Start the demo on ``host`` and a free port; always stop it afterwards."""
    try:
        import uvicorn  # noqa: F401
    except ImportError:
        unavailable('uvicorn is not installed (pip install ".[demo]" from a checkout)')
    port = free_port()
    url = f"http://{host}:{port}/"
    output = tmp / f"demo-{port}.log"
    command = [
        sys.executable, "-m", "tiktok_asgi.demo",
        "--host", host, "--port", str(port), "--log-level", "warning",
    ]  # fmt: skip
    with running(
        command,
        env=without_tiktok_settings(),
        log=output,
        ready=answering(url),
        timeout=START_LIMIT,
        name="the demo",
    ) as process:
        yield DemoServer(url=url, port=port, output=output, process=process)


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
