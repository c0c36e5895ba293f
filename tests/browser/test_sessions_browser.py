"""The demo's live sessions in a real browser: "sign out everywhere", "disconnect TikTok" and the
emulator's "remove app" round trip through a signed authorization.removed webhook."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.browser.helpers import VIEWPORT, DemoServer, Problems, Profiles
from tests.browser.test_demo_browser import consent, start_sign_in

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("browser")]


@pytest.fixture
def second_context(profiles: Profiles, problems: Problems) -> Iterator[BrowserContext]:
    """Another browser profile: another device of the same person, or another person."""
    ctx = profiles.take(viewport=VIEWPORT)
    try:
        yield ctx
    finally:
        problems.stop()  # what wiping the profile does is not the test's
        profiles.give_back(ctx)


@pytest.fixture
def third_context(profiles: Profiles, problems: Problems) -> Iterator[BrowserContext]:
    ctx = profiles.take(viewport=VIEWPORT)
    try:
        yield ctx
    finally:
        problems.stop()  # what wiping the profile does is not the test's
        profiles.give_back(ctx)


def signed_in_as(page: Page, demo: DemoServer, username: str) -> Page:
    start_sign_in(page, demo)
    consent(page, demo, username)
    assert page.inner_text(".handle").strip() == f"@{username}"
    return page


def shows_signed_out(page: Page) -> bool:
    return page.get_by_role("link", name="Sign in with TikTok").count() == 1


def test_sign_out_everywhere_ends_every_browser_of_that_user(
    demo: DemoServer,
    page: Page,
    second_context: BrowserContext,
    third_context: BrowserContext,
    problems: Problems,
) -> None:
    laptop = signed_in_as(page, demo, "mayacooks")
    phone = signed_in_as(problems.watch(Profiles.page(second_context)), demo, "mayacooks")
    other = signed_in_as(problems.watch(Profiles.page(third_context)), demo, "leo.skates")

    with laptop.expect_response(lambda r: r.url.endswith("/auth/sign-out-everywhere")) as answer:
        laptop.get_by_role("button", name="Sign out everywhere").click()
    assert answer.value.status == 303
    laptop.wait_for_url(demo.url)
    assert shows_signed_out(laptop)

    phone.reload()
    assert shows_signed_out(phone)  # the phone's cookie names a session that is gone
    assert not any(c["name"] == "tiktok_session" for c in second_context.cookies())
    other.reload()
    assert other.inner_text(".handle").strip() == "@leo.skates"
    assert "No apps are connected" not in connected_apps(laptop, demo, "mayacooks")


def test_removing_the_app_at_tiktok_signs_the_user_out_everywhere(
    demo: DemoServer, page: Page, second_context: BrowserContext, problems: Problems
) -> None:
    laptop = signed_in_as(page, demo, "amara_dances")
    phone = signed_in_as(problems.watch(Profiles.page(second_context)), demo, "amara_dances")

    laptop.get_by_role("link", name="Remove this app at TikTok").click()
    laptop.wait_for_url(f"{demo.url}tiktok/apps?**")
    assert "Connected apps" in laptop.inner_text("h1")
    assert "tiktok-asgi demo" in laptop.inner_text("main")
    laptop.get_by_role("button", name="Remove").click()
    laptop.wait_for_url(f"{demo.url}tiktok/apps?**")
    assert "HTTP 200" in laptop.inner_text("main")  # the demo accepted the signed event
    assert "No apps are connected" in laptop.inner_text("main")

    laptop.get_by_role("link", name="Back to tiktok-asgi demo").click()
    laptop.wait_for_url(demo.url)
    assert shows_signed_out(laptop)
    phone.reload()
    assert shows_signed_out(phone)


def connected_apps(page: Page, demo: DemoServer, username: str) -> str:
    """What the user's connected apps page at the emulated TikTok says."""
    page.goto(f"{demo.url}tiktok/apps?user={username}")
    return page.inner_text("main")


def test_sign_out_leaves_the_app_connected_and_disconnect_removes_it_everywhere(
    demo: DemoServer, page: Page, second_context: BrowserContext, problems: Problems
) -> None:
    laptop = signed_in_as(page, demo, "mayacooks")
    laptop.get_by_role("button", name="Sign out", exact=True).click()
    laptop.wait_for_url(demo.url)
    assert shows_signed_out(laptop)
    assert "No apps are connected" not in connected_apps(laptop, demo, "mayacooks")

    laptop = signed_in_as(laptop, demo, "mayacooks")
    phone = signed_in_as(problems.watch(Profiles.page(second_context)), demo, "mayacooks")
    with laptop.expect_response(lambda r: r.url.endswith("/auth/tiktok/disconnect")) as answer:
        laptop.get_by_role("button", name="Disconnect TikTok").click()
    assert answer.value.status == 303
    laptop.wait_for_url(demo.url)
    assert shows_signed_out(laptop)
    phone.reload()
    assert shows_signed_out(phone)  # every session of the user ended
    assert "No apps are connected" in connected_apps(laptop, demo, "mayacooks")
