"""The demo served by uvicorn in a subprocess on 127.0.0.1, and Debian's Chromium via Playwright.

Without Chromium (``/usr/bin/chromium-headless-shell``, or full ``/usr/bin/chromium``), the
playwright package or uvicorn these tests are skipped on a developer machine, and fail under
``CI=true``: CI installs all three.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.browser.helpers import (
    CHROMIUM,
    CHROMIUM_ARGS,
    VIEWPORT,
    DemoServer,
    Problems,
    Profiles,
    serve_demo,
    unavailable,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """With ``-n``, the browser tests of a module run on one worker (one Chromium per module)."""
    here = Path(__file__).parent
    for item in items:
        if item.path.parent == here and "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group(f"browser:{item.path.stem}"))


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    """The demo on ``http://127.0.0.1:<free port>/``, shared by the browser tests: each test
    has its own browser profile, so it starts signed out."""
    yield from serve_demo("127.0.0.1", tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, kept off the network apart from loopback; each test gets
    wiped profiles from :func:`profiles`. Per module: Playwright's synchronous API keeps its event
    loop running while it is open, which the asyncio tests elsewhere could not share."""
    if not CHROMIUM.is_file():
        unavailable(f"{CHROMIUM} is missing (apt-get install chromium-headless-shell)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the playwright package is not installed (pip install playwright)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def profiles(browser: Browser) -> Iterator[Profiles]:
    """The module's browser profiles, wiped between its tests rather than made anew."""
    kept = Profiles(browser)
    try:
        yield kept
    finally:
        kept.close()


@pytest.fixture
def problems() -> Iterator[Problems]:
    watching = Problems()
    yield watching
    watching.stop()


@pytest.fixture
def context(profiles: Profiles, problems: Problems) -> Iterator[BrowserContext]:
    """A browser profile with no cookies per test, checked for problems at the end."""
    ctx = profiles.take(viewport=VIEWPORT, device_scale_factor=1)
    try:
        yield ctx
    finally:
        problems.stop()  # what wiping the profile does is not the test's
        seen = list(problems.items)
        profiles.give_back(ctx)
    assert seen == []


@pytest.fixture
def page(context: BrowserContext, problems: Problems) -> Page:
    return problems.watch(Profiles.page(context))
