"""Every page a person sees meets WCAG 2.1 AA, as axe-core judges it in Chromium: the demo
(signed out and signed in), the emulator's consent page, the error page and the sign-out and
disconnect pages."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.browser.helpers import DemoServer, unavailable
from tests.browser.test_demo_browser import consent, start_sign_in

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("browser")]

WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
RUN_AXE = """async (tags) => {
  const result = await axe.run(document, {runOnly: {type: "tag", values: tags}});
  return result.violations.map(v => ({
    rule: v.id,
    help: v.help,
    nodes: v.nodes.map(n => n.target.join(" ") + " — " + n.failureSummary),
  }));
}"""


@cache
def axe_source() -> str:
    """axe-core's ``axe.min.js``, as the axe-playwright-python package ships it."""
    try:
        import axe_playwright_python
    except ImportError:
        unavailable("axe-playwright-python is not installed (pip install axe-playwright-python)")
    script = Path(axe_playwright_python.__file__).with_name("axe.min.js")
    assert script.is_file(), f"{script} is missing"
    return script.read_text(encoding="utf-8")


def violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.1 A/AA violations on the page as it is now. Evaluated through the
    DevTools protocol, so the pages' CSP (no script at all) does not stop it."""
    page.evaluate(axe_source())
    found: list[dict[str, Any]] = page.evaluate(RUN_AXE, WCAG_21_AA)
    return found


def test_demo_signed_out_and_the_consent_page(demo: DemoServer, page: Page) -> None:
    page.goto(demo.url)
    assert violations(page) == []
    start_sign_in(page, demo)
    assert violations(page) == []


def test_demo_signed_in_and_the_sign_out_and_disconnect_pages(demo: DemoServer, page: Page) -> None:
    start_sign_in(page, demo)
    consent(page, demo, "mayacooks")
    assert violations(page) == []
    page.goto(f"{demo.url}auth/tiktok/logout")
    assert page.inner_text("h1") == "Sign out?"
    assert violations(page) == []
    page.goto(f"{demo.url}auth/tiktok/disconnect")
    assert page.inner_text("h1") == "Disconnect TikTok?"
    assert violations(page) == []


def test_the_error_pages(demo: DemoServer, page: Page) -> None:
    start_sign_in(page, demo)
    page.get_by_role("button", name="Cancel").click()
    page.wait_for_url(lambda url: "/auth/tiktok/callback?" in url)
    assert page.inner_text("h1") == "Sign-in cancelled"
    assert violations(page) == []
    page.goto(f"{demo.url}auth/tiktok/callback?code=abc&state=forged")
    assert page.inner_text("h1") == "Sign-in with TikTok failed"
    assert violations(page) == []


def test_the_emulator_refusal_page(demo: DemoServer, page: Page) -> None:
    page.goto(f"{demo.url}tiktok/v2/auth/authorize/?client_key=unknown")
    assert page.locator("h1").count() == 1
    assert violations(page) == []


def test_axe_finds_a_contrast_violation(demo: DemoServer, page: Page) -> None:
    """The check itself works: grey on white is caught."""
    page.goto(demo.url)
    page.evaluate("document.querySelector('h1, p').style.color = '#c0c0c0'")
    rules = {v["rule"] for v in violations(page)}
    assert "color-contrast" in rules, os.linesep.join(map(str, violations(page)))
