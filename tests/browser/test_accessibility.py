"""Every page a person sees meets WCAG 2.1 AA, as axe-core judges it in Chromium: the demo
(signed out and signed in), the emulator's consent page, the error page and the sign-out and
disconnect pages; and the library's and the emulator's pages in each of their languages."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.browser.helpers import DemoServer, Problems, unavailable
from tests.browser.test_demo_browser import consent, consent_url, start_sign_in
from tiktok_asgi._i18n import language

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page, Route

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


def violations(page: Page, *, preloaded: bool = False) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.1 A/AA violations on the page as it is now. Evaluated through the
    DevTools protocol, so the pages' CSP (no script at all) does not stop it; ``preloaded``
    when the context's init script already put axe in every page."""
    if not preloaded:
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


# Each language as a browser set to it asks for it (Playwright's locale sets Accept-Language).
LOCALES = {
    "en": "en-GB",
    "es": "es-ES",
    "pt": "pt-BR",
    "id": "id-ID",
    "ja": "ja-JP",
    "ko": "ko-KR",
    "de": "de-DE",
    "fr": "fr-FR",
    "ar": "ar-EG",
    "vi": "vi-VN",
}


def x_of(element: Locator) -> float:
    box = element.bounding_box()
    assert box is not None
    return box["x"]


def reads_in(page: Page, lang: str) -> None:
    """``<html lang>``, and the direction the page lays out in."""
    rtl = lang == "ar"
    assert page.evaluate("document.documentElement.lang") == lang
    direction = page.evaluate("getComputedStyle(document.querySelector('main')).direction")
    assert direction == ("rtl" if rtl else "ltr")


@pytest.mark.parametrize("lang", LOCALES)
def test_each_language(demo: DemoServer, browser: Browser, lang: str) -> None:
    """One browser profile in ``lang``, all of its pages in turn: the emulator's consent and
    refusal pages, the QR-code page, the error page, the sign-out and disconnect pages."""
    _ = language(lang).gettext
    rtl = lang == "ar"
    problems = Problems()
    context = browser.new_context(
        locale=LOCALES[lang], viewport={"width": 760, "height": 640}, device_scale_factor=1
    )
    context.add_init_script(axe_source())  # once per profile, not once per page
    try:
        page = problems.watch(context.new_page())
        page.goto(f"{demo.url}auth/tiktok/login")
        page.wait_for_url(consent_url(demo))
        reads_in(page, lang)
        authorize = page.get_by_role("button", name=_("Authorize"), exact=True)
        cancel = page.get_by_role("button", name=_("Cancel"), exact=True)
        # The primary action sits at the inline end: right in LTR, left in RTL.
        assert (x_of(authorize) < x_of(cancel)) is rtl
        assert violations(page, preloaded=True) == []

        page.goto(f"{demo.url}tiktok/v2/auth/authorize/?client_key=unknown")
        reads_in(page, lang)
        assert page.inner_text("h1") == _("We couldn't log in with TikTok")
        assert violations(page, preloaded=True) == []

        page.goto(f"{demo.url}auth/tiktok/callback?code=abc&state=forged")
        reads_in(page, lang)
        assert page.inner_text("h1") == _("Sign-in with TikTok failed")
        assert violations(page, preloaded=True) == []

        for path, title, button in (
            ("logout", _("Sign out?"), _("Sign out")),
            ("disconnect", _("Disconnect TikTok?"), _("Disconnect")),
        ):
            page.goto(f"{demo.url}auth/tiktok/{path}")
            reads_in(page, lang)
            assert page.inner_text("h1") == title
            primary = page.get_by_role("button", name=button, exact=True)
            assert (x_of(primary) > x_of(page.locator(".actions a"))) is rtl
            assert violations(page, preloaded=True) == []

        page.goto(f"{demo.url}auth/tiktok/qr")
        reads_in(page, lang)
        assert page.inner_text("h1") == _("Sign in with TikTok")
        label = _("QR code: scan it with the TikTok app to sign in")
        page.get_by_role("img", name=label).wait_for()
        status = _("Waiting for the code to be scanned with the TikTok app.")
        assert page.locator("#qr-status").inner_text() == status
        assert violations(page, preloaded=True) == []

        # A refused code: the answer's English description gives way to the page's words.
        page.route(f"{demo.url}auth/tiktok/qr", refuse_codes)
        page.goto(f"{demo.url}auth/tiktok/qr")
        fresh = page.get_by_role("button", name=_("Get a new code"))
        fresh.wait_for()
        expected = _("QR-code sign-in is not installed on this site.")
        if lang == "en":
            expected = REFUSAL["error_description"]  # the answer's own words
        assert page.locator("#qr-status").inner_text() == expected
        assert violations(page, preloaded=True) == []
    finally:
        context.close()
    assert problems.items == [f"501 for {demo.url}auth/tiktok/qr"]


REFUSAL = {
    "error": "qr_unavailable",
    "error_description": "QR-code sign-in is not installed on this site: pip install …",
    "log_id": None,
}


def refuse_codes(route: Route) -> None:
    """``POST qr_path`` answered as a site without the ``qr`` extra answers it."""
    if route.request.method != "POST":
        route.continue_()
        return
    route.fulfill(status=501, json=REFUSAL)
