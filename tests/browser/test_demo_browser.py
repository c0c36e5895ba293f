"""The demo in a real browser: sign in through the emulator's consent page, partial consent,
cancel, state problems, logout, two tabs, and another host name for the same server."""

from __future__ import annotations

import os
import re
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.browser.helpers import DemoServer, Problems, serve_demo

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

# The browser first: without one, skip (or fail under CI) before starting any server.
pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("browser")]

# Set DEMO_SCREENSHOT=docs/demo.png to refresh the README's picture from a test run.
SCREENSHOT_ENV = "DEMO_SCREENSHOT"


def consent_url(demo: DemoServer) -> re.Pattern[str]:
    return re.compile(re.escape(f"{demo.url}tiktok/v2/auth/authorize/") + r"\?.+")


def start_sign_in(page: Page, demo: DemoServer) -> None:
    """From the home page to the emulator's consent page."""
    page.goto(demo.url)
    page.get_by_role("link", name="Sign in with TikTok").click()
    page.wait_for_url(consent_url(demo))
    assert "would like to access your TikTok account" in page.inner_text("h1")


def consent(page: Page, demo: DemoServer, username: str, untick: tuple[str, ...] = ()) -> None:
    """On the consent page: pick ``@username``, untick scopes, authorize, land on the home page."""
    page.locator("label.row", has_text=f"@{username}").click()
    for scope in untick:
        page.locator(f'input[name="granted"][value="{scope}"]').uncheck()
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(demo.url)


def card_text(page: Page) -> str:
    return page.inner_text("section.card")


def assert_avatar_shown(page: Page) -> None:
    avatar = page.locator("img.avatar")
    assert avatar.count() == 1
    assert avatar.evaluate("img => img.complete && img.naturalWidth > 0") is True


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_demo_prints_the_url_to_open(demo: DemoServer, page: Page) -> None:
    printed = demo.printed()
    assert f"Open {demo.url} in your browser" in printed
    assert f"redirect URI:  {demo.url}auth/tiktok/callback" in printed
    page.goto(demo.url)
    assert page.get_by_role("link", name="Sign in with TikTok").get_attribute("href") == (
        "/auth/tiktok/login"
    )
    note = page.text_content("aside.note") or ""
    assert "Emulated TikTok" in note
    assert "@mayacooks" in note
    assert "@leo.skates" in note


def test_untick_profile_scope_shows_display_name_and_no_username(
    demo: DemoServer, page: Page
) -> None:
    start_sign_in(page, demo)
    consent(page, demo, "leo.skates", untick=("user.info.profile",))

    card = card_text(page)
    assert page.inner_text("h1.name").strip() == "Leo Martins"
    assert page.locator(".handle").count() == 0
    assert "@leo.skates" not in card
    assert "Skating, filming" not in card  # the bio needs user.info.profile too
    assert page.locator(".verified").count() == 0
    # user.info.stats was still granted: the counts are there.
    assert page.inner_text(".stats").split() == [
        "38.2K", "Followers", "611", "Following", "902.4K", "Likes", "87", "Videos",
    ]  # fmt: skip
    assert page.locator(".chip.on").all_inner_texts() == ["user.info.basic", "user.info.stats"]
    assert page.locator(".chip.off").all_inner_texts() == ["user.info.profile"]
    assert_avatar_shown(page)
    assert page.get_by_role("button", name="Sign out", exact=True).count() == 1


def test_full_consent_profile_card_and_screenshot(
    demo: DemoServer, page: Page, tmp_path: Path
) -> None:
    start_sign_in(page, demo)
    consent(page, demo, "mayacooks")

    assert page.inner_text("h1.name").strip().startswith("Maya Chen")
    assert page.inner_text(".handle").strip() == "@mayacooks"
    assert page.locator(".verified").count() == 1
    assert "Weeknight recipes in 60 seconds" in card_text(page)
    assert page.locator(".stats li b").all_inner_texts() == ["1.3M", "212", "48.9M", "412"]
    assert page.locator(".chip.on").all_inner_texts() == [
        "user.info.basic", "user.info.profile", "user.info.stats",
    ]  # fmt: skip
    assert page.locator(".chip.off").count() == 0
    assert_avatar_shown(page)

    shot = tmp_path / "demo-signed-in.png"
    page.screenshot(path=str(shot), full_page=True)
    width, height = png_size(shot)
    assert width == 760
    assert height >= 640
    target = os.environ.get(SCREENSHOT_ENV)
    if target:
        Path(target).write_bytes(shot.read_bytes())


def test_cancel_shows_the_error_page_with_a_way_back(demo: DemoServer, page: Page) -> None:
    start_sign_in(page, demo)
    with page.expect_response(lambda r: "/auth/tiktok/callback?" in r.url) as answer:
        page.get_by_role("button", name="Cancel").click()
    assert answer.value.status == 403
    assert page.inner_text("h1") == "Sign-in cancelled"
    assert "access_denied" in page.inner_text("main")
    assert page.get_by_role("link", name="Try again").get_attribute("href") == (
        "/auth/tiktok/login"
    )

    page.get_by_role("link", name="Back to the site").click()
    page.wait_for_url(demo.url)
    assert page.get_by_role("link", name="Sign in with TikTok").count() == 1
    assert page.context.cookies() == []  # nothing left behind by the cancelled login

    # "Try again" starts a fresh login that works.
    page.go_back()
    page.get_by_role("link", name="Try again").click()
    page.wait_for_url(consent_url(demo))
    consent(page, demo, "jonasbuilds")
    assert page.inner_text("h1.name").strip() == "Jonas Weber"


def test_a_forged_callback_shows_the_error_page(demo: DemoServer, page: Page) -> None:
    response = page.goto(f"{demo.url}auth/tiktok/callback?code=abc&state=not-from-this-browser")
    assert response is not None
    assert response.status == 400
    assert page.inner_text("h1") == "Sign-in with TikTok failed"
    assert "state_mismatch" in page.inner_text("main")
    page.get_by_role("link", name="Back to the site").click()
    page.wait_for_url(demo.url)
    assert page.get_by_role("link", name="Sign in with TikTok").count() == 1


def test_logout_signs_out(demo: DemoServer, page: Page) -> None:
    start_sign_in(page, demo)
    consent(page, demo, "amara_dances")
    assert page.inner_text("h1.name").startswith("Amara Okafor")
    assert any(c["name"] == "tiktok_session" for c in page.context.cookies())

    with page.expect_response(lambda r: r.url.endswith("/auth/tiktok/logout")) as answer:
        page.get_by_role("button", name="Sign out", exact=True).click()
    assert answer.value.status == 303
    page.wait_for_url(demo.url)
    assert page.get_by_role("link", name="Sign in with TikTok").count() == 1
    assert page.locator("h1.name").count() == 0
    assert not any(c["name"] == "tiktok_session" for c in page.context.cookies())
    page.reload()
    assert page.get_by_role("link", name="Sign in with TikTok").count() == 1


@pytest.mark.parametrize("order", ["first_tab_first", "second_tab_first"])
def test_a_second_tab_does_not_break_the_first(
    demo: DemoServer, context: BrowserContext, problems: Problems, order: str
) -> None:
    first = problems.watch(context.new_page())
    second = problems.watch(context.new_page())
    # Each tab is brought to the front before it is used, as a person switching tabs does (a
    # tab left in the background gets few animation frames from Chromium).
    first.bring_to_front()
    start_sign_in(first, demo)
    second.bring_to_front()
    start_sign_in(second, demo)  # a second pending login in the same browser

    tabs = [(first, "mayacooks", "Maya Chen"), (second, "leo.skates", "Leo Martins")]
    if order == "second_tab_first":
        tabs.reverse()
    for tab, username, name in tabs:
        tab.bring_to_front()
        consent(tab, demo, username)
        assert tab.inner_text("h1.name").strip().startswith(name)
        assert tab.inner_text(".handle").strip() == f"@{username}"

    # One browser, one identity cookie: the login finished last is who both tabs show now.
    _, last_username, _ = tabs[-1]
    for tab in (first, second):
        tab.bring_to_front()
        tab.reload()
        assert tab.inner_text(".handle").strip() == f"@{last_username}"


@pytest.fixture
def demo_on_localhost(tmp_path: Path) -> Iterator[DemoServer]:
    yield from serve_demo("localhost", tmp_path)


def test_started_with_host_localhost_signs_in_at_localhost(
    demo_on_localhost: DemoServer, page: Page
) -> None:
    demo = demo_on_localhost
    assert demo.url.startswith("http://localhost:")
    assert f"Open {demo.url} in your browser" in demo.printed()
    start_sign_in(page, demo)
    consent(page, demo, "priya.reads")
    assert page.inner_text(".handle").strip() == "@priya.reads"
    assert_avatar_shown(page)


def test_another_name_for_the_server_is_sent_to_the_printed_one(
    demo: DemoServer, page: Page
) -> None:
    # Login cookies belong to one host name: a browser at localhost is moved to 127.0.0.1 first.
    page.goto(f"http://localhost:{demo.port}/?from=bookmark")
    assert page.url == f"{demo.url}?from=bookmark"
    page.get_by_role("link", name="Sign in with TikTok").click()
    page.wait_for_url(consent_url(demo))
    consent(page, demo, "newbie_2024")
    assert page.inner_text("h1.name").strip() == "Sam"
