"""QR-code sign-in in a real Chromium: the demo's "Sign in on a TV" page in one browser profile
(the TV), the emulator's phone page in another (the phone). The TV ends signed in once the phone
confirms; a code cancelled on the phone is replaced by a fresh one; both pages meet WCAG 2.1 AA.

The TV page runs on Playwright's fake clock: a test lets one poll interval pass at a time instead
of waiting for it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.browser.helpers import DemoServer, Problems, Profiles
from tests.browser.test_accessibility import violations
from tiktok_asgi._qr_page import POLL_SECONDS

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("browser")]

WAITING = "Waiting for the code to be scanned with the TikTok app."
SCANNED = "Scanned. Confirm the sign-in in the TikTok app."
ANSWER_MS = 15_000  # for the page to act on one poll's answer


@pytest.fixture
def phone_context(profiles: Profiles, problems: Problems) -> Iterator[BrowserContext]:
    """Another browser profile, phone-sized: it never shares the TV's cookies."""
    ctx = profiles.take(viewport={"width": 390, "height": 780})
    try:
        yield ctx
    finally:
        problems.stop()  # what wiping the profile does is not the test's
        profiles.give_back(ctx)


def show_code(tv: Page) -> str:
    """Wait for the TV page to show a code; the scan URL under it."""
    tv.locator("#qr-code svg").wait_for()
    assert tv.get_by_role("status").inner_text() == WAITING
    link = tv.get_by_role("link", name="Or open the sign-in link on your phone")
    href = link.get_attribute("href")
    assert href is not None
    return href


@pytest.fixture
def tv(page: Page, profiles: Profiles) -> Page:
    """The TV: its timers run on a fake clock, installed before its first page loads. The clock
    cannot be taken off again, so this profile is closed after the test, not kept."""
    profiles.discard(page.context)
    page.clock.install()
    return page


def next_poll(tv: Page) -> None:
    """Let one poll interval pass on the TV's clock: the page polls the code's status now.

    Each step of these tests follows a change the page shows, made after its next poll was
    scheduled, so exactly one poll is due here."""
    tv.clock.run_for(POLL_SECONDS * 1000)


def status_is(tv: Page, text: str) -> None:
    next_poll(tv)
    tv.get_by_role("status").filter(has_text=text).wait_for(timeout=ANSWER_MS)


def confirm_on_phone(phone: Page, scan_url: str, username: str) -> None:
    phone.goto(scan_url)
    assert "on your other device?" in phone.inner_text("h1")
    phone.locator("label.row", has_text=f"@{username}").click()
    phone.get_by_role("button", name="Confirm").click()
    assert phone.inner_text("h1") == "Signed in to tiktok-asgi demo"


def test_the_tv_signs_in_when_the_phone_confirms(
    demo: DemoServer, tv: Page, phone_context: BrowserContext, problems: Problems
) -> None:
    tv.goto(demo.url)
    tv.get_by_role("link", name="Sign in on a TV").click()
    tv.wait_for_url(f"{demo.url}auth/tiktok/qr")
    scan_url = show_code(tv)
    assert re.fullmatch(
        re.escape(f"{demo.url}tiktok/v2/auth/qrcode/?qr=") + r"[\w-]+&client_ticket=[\w-]{43}",
        scan_url,
    )
    code = tv.locator("#qr-code svg")
    assert code.get_attribute("role") == "img"
    assert code.evaluate("svg => svg.getBoundingClientRect().width") >= 200

    phone = problems.watch(Profiles.page(phone_context))
    phone.goto(scan_url)
    status_is(tv, SCANNED)
    phone.locator("label.row", has_text="@amara_dances").click()
    phone.get_by_role("button", name="Confirm").click()
    assert phone.inner_text("h1") == "Signed in to tiktok-asgi demo"

    next_poll(tv)
    tv.wait_for_url(demo.url, timeout=ANSWER_MS)
    assert tv.inner_text(".handle").strip() == "@amara_dances"
    # Only the TV is signed in; the phone only confirmed at TikTok.
    assert not any(c["name"] == "tiktok_session" for c in phone_context.cookies())
    assert not any("_qr_" in c["name"] for c in tv.context.cookies())


def test_a_code_cancelled_on_the_phone_is_replaced_by_a_fresh_one(
    demo: DemoServer, tv: Page, phone_context: BrowserContext, problems: Problems
) -> None:
    tv.goto(f"{demo.url}auth/tiktok/qr?next=/%3Ffrom%3Dtv")
    first = show_code(tv)
    phone = problems.watch(Profiles.page(phone_context))
    phone.goto(first)
    phone.get_by_role("button", name="Cancel").click()
    assert phone.inner_text("h1") == "Sign-in cancelled"

    fresh = tv.get_by_role("button", name="Get a new code")
    next_poll(tv)
    fresh.wait_for(timeout=ANSWER_MS)
    assert tv.get_by_role("status").inner_text() == "This code has expired."
    assert tv.locator("#qr-code svg").count() == 0
    assert tv.evaluate("document.activeElement.id") == "qr-fresh"
    fresh.click()
    second = show_code(tv)
    assert second != first
    assert fresh.is_hidden()

    confirm_on_phone(phone, second, "leo.skates")
    next_poll(tv)
    tv.wait_for_url(f"{demo.url}?from=tv", timeout=ANSWER_MS)
    assert tv.inner_text(".handle").strip() == "@leo.skates"


def test_the_tv_page_and_the_phone_page_are_accessible(
    demo: DemoServer, tv: Page, phone_context: BrowserContext, problems: Problems
) -> None:
    tv.goto(f"{demo.url}auth/tiktok/qr")
    scan_url = show_code(tv)
    assert violations(tv) == []
    phone = problems.watch(Profiles.page(phone_context))
    phone.goto(scan_url)
    assert violations(phone) == []
    phone.get_by_role("button", name="Cancel").click()
    assert violations(phone) == []
    next_poll(tv)
    tv.get_by_role("button", name="Get a new code").wait_for(timeout=ANSWER_MS)
    assert violations(tv) == []
