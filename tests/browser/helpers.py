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
    from playwright.sync_api import Browser, BrowserContext, Page

# Debian's old headless shell: the build of Chromium Playwright itself runs headless tests in,
# without the browser's windows and their UI (a third to a half of full Chromium's CPU per page).
# Full Chromium is taken where only it is installed.
HEADLESS_SHELL = Path("/usr/bin/chromium-headless-shell")
CHROMIUM = HEADLESS_SHELL if HEADLESS_SHELL.is_file() else Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # Full Chromium renders an omnibox popup (a WebUI page, in a renderer of its own) for each
    # window and updates it on every navigation; a headless page never shows it.
    "--disable-features=WebUIOmniboxPopup",
]
VIEWPORT = {"width": 760, "height": 640}
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
    _watching: list[tuple[Page, str, Any]] = field(default_factory=list, repr=False)

    def watch(self, page: Page) -> Page:
        page.set_default_timeout(ACTION_TIMEOUT_MS)
        for event, handler in (
            ("console", self._console),
            ("pageerror", lambda exc: self.items.append(f"page error: {exc}")),
            ("requestfailed", lambda r: self.items.append(f"request failed: {r.url}")),
            ("response", self._response),
        ):
            page.on(event, handler)
            self._watching.append((page, event, handler))
        return page

    def stop(self) -> None:
        """Stop watching: a kept page goes on to the next test without this test's listeners."""
        for page, event, handler in self._watching:
            if not page.is_closed():
                page.remove_listener(event, handler)
        self._watching.clear()

    def _console(self, message: Any) -> None:
        if "Content Security Policy" in message.text or "Refused to" in message.text:
            self.items.append(f"console: {message.text}")

    def _response(self, response: Any) -> None:
        if response.status >= 400 and response.request.resource_type != "document":
            self.items.append(f"{response.status} for {response.url}")


class Profiles:
    """Browser profiles (contexts) kept for a module and wiped between its tests.

    A new profile costs Chromium new renderer processes (about 0.2 s of CPU here with the
    headless shell, a second with full Chromium); a kept one is handed to the next test with no
    cookies, no routes, no other tabs and its one page on ``about:blank``, as a new one would be
    (its HTTP cache is kept: the pages are never cached, their pictures may be). A profile a test
    changed in a way that cannot be undone (Playwright's fake clock) is :meth:`discard`-ed
    instead."""

    def __init__(self, browser: Browser) -> None:
        self.browser = browser
        self._idle: dict[str, list[BrowserContext]] = {}
        self._lent: dict[BrowserContext, str] = {}

    def take(self, **options: Any) -> BrowserContext:
        key = repr(sorted(options.items()))
        idle = self._idle.setdefault(key, [])
        context = idle.pop() if idle else self.browser.new_context(**options)
        self._lent[context] = key
        return context

    @staticmethod
    def page(context: BrowserContext) -> Page:
        """The profile's kept page (made on first use)."""
        return context.pages[0] if context.pages else context.new_page()

    def discard(self, context: BrowserContext) -> None:
        """Close ``context`` when it is given back, rather than wipe it."""
        self._lent[context] = ""

    def give_back(self, context: BrowserContext) -> None:
        key = self._lent.pop(context)
        if not key or not self._wiped(context):
            context.close()
            return
        self._idle[key].append(context)

    @staticmethod
    def _wiped(context: BrowserContext) -> bool:
        try:
            kept, *others = context.pages
            for page in others:
                page.close()
            kept.unroute_all(behavior="ignoreErrors")
            context.unroute_all(behavior="ignoreErrors")
            kept.goto("about:blank")  # its scripts stop, as they do when a profile is closed
            context.clear_cookies()
            context.clear_permissions()
        except Exception:  # a profile left unusable (a crashed page) is closed instead
            return False
        return True

    def close(self) -> None:
        for context in [*self._lent, *(c for idle in self._idle.values() for c in idle)]:
            context.close()
