"""The middleware's pages in the browser's language: ``Accept-Language`` negotiated (q-values, a
region falling back to its language, English otherwise) or the ``locale`` setting, with
``<html lang>`` and ``dir="rtl"`` for Arabic, user input still escaped, and error codes, JSON
bodies and log lines left English."""

from __future__ import annotations

import html
import json
import logging
import re

import pytest
from starlette.testclient import TestClient
from starlette.types import Receive, Scope, Send

from tests.conftest import BASE_URL, make_app, start_login
from tiktok_asgi import ErrorPage, MemoryTokenStore, TikTokAuthMiddleware, TikTokSettings
from tiktok_asgi._i18n import check_locale, language, match, negotiate
from tiktok_asgi._responses import described
from tiktok_asgi.emulator import TikTokEmulator
from tiktok_asgi.errors import (
    InsufficientScope,
    LoginRequired,
    MethodNotAllowed,
    TikTokAPIError,
    TikTokAuthError,
    TikTokUnavailable,
)
from tiktok_asgi.pages import default_error_page

# Each language as a browser may ask for it: with a region, a q-value, a fallback.
ASKED = {
    "en": "en-US,en;q=0.9",
    "es": "es-MX,es;q=0.9,en;q=0.5",
    "pt": "pt-BR,pt;q=0.9,en-US;q=0.8",
    "id": "id-ID,id;q=0.9",
    "ja": "ja",
    "ko": "ko-KR",
    "de": "de-CH, de;q=0.9, en;q=0.3",
    "fr": "fr-CA,fr;q=0.8",
    "ar": "ar-EG,ar;q=0.9,en;q=0.4",
    "vi": "vi-VN,vi;q=0.9,en;q=0.1",
}
LANGUAGES = tuple(ASKED)
HTML = {"accept": "text/html,application/xhtml+xml"}
HOSTILE = "<script>alert('x')</script> & \"more\""


def asking(lang: str) -> dict[str, str]:
    return {**HTML, "accept-language": ASKED[lang]}


def t(lang: str, message: str) -> str:
    """``message`` as the catalog of ``lang`` has it."""
    return language(lang).gettext(message)


def html_tag(page: str) -> str:
    found = re.search(r"<html[^>]*>", page)
    assert found is not None
    return found.group(0)


def assert_language(page: str, lang: str) -> None:
    tag = html_tag(page)
    assert re.search(rf"\blang=\"?{lang}\"?[ >]", tag), tag
    if lang == "ar":
        assert 'dir="rtl"' in tag
    else:
        assert "dir=" not in tag  # left to right, the default


def text_of(page: str, element: str) -> str:
    """The text of the first ``element`` (a tag, and optionally its first attributes)."""
    tag = element.split()[0]
    found = re.search(rf"<{element}[^>]*>(.*?)</{tag}>", page, re.DOTALL)
    assert found is not None, element
    return html.unescape(re.sub(r"<[^>]+>", "", found.group(1)))


@pytest.fixture
def tiktok_settings(tiktok_emulator: TikTokEmulator) -> TikTokSettings:
    return tiktok_emulator.settings()


@pytest.fixture
def client(tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings) -> TestClient:
    app = make_app(tiktok_settings, tiktok_emulator.transport(), token_store=MemoryTokenStore())
    return TestClient(app, base_url=BASE_URL)


# Negotiation


@pytest.mark.parametrize(
    ("header", "lang"),
    [
        ("pt-BR", "pt"),
        ("pt-BR,pt;q=0.9,en;q=0.8", "pt"),
        ("en;q=0.5, ja", "ja"),  # the q-value wins over the order
        ("fr;q=0.5, de;q=0.5", "fr"),  # equal q-values: the header's order
        ("zh-TW, ko;q=0.5", "ko"),  # no Chinese: the next one
        ("zh-Hant-TW", "en"),  # nothing fits: English
        ("", "en"),
        ("*", "en"),
        ("fr;q=0.4, *;q=0.9", "en"),  # any language rather than French: the messages' own
        ("de;q=0, es", "es"),  # q=0: not acceptable
        ("ar;q=2, vi", "vi"),  # a malformed q-value counts as 0
        ("ko;q=abc, ja;q=0.1", "ja"),
        ("VI-vn", "vi"),
        ("in-ID", "id"),  # Indonesian's old code
        ("es_ES", "es"),
        (";;;,,, ,q=1", "en"),
        ("x" * 5000 + ", ja", "en"),  # only a bounded share of the header is read
    ],
)
def test_negotiation(header: str, lang: str) -> None:
    assert negotiate(header) == lang


def test_match_and_check_locale() -> None:
    assert match("pt-BR") == "pt"
    assert match("zz") is None
    assert check_locale(None) is None
    assert check_locale("AR") == "ar"
    with pytest.raises(ValueError, match="ar, de, en, es, fr, id, ja, ko, pt, vi"):
        check_locale("zh")


# The pages, in every language


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_sign_out_page(client: TestClient, tiktok_settings: TikTokSettings, lang: str) -> None:
    page = client.get(tiktok_settings.logout_path, params={"next": "/bye"}, headers=asking(lang))
    assert page.status_code == 200
    assert_language(page.text, lang)
    assert text_of(page.text, "title") == t(lang, "Sign out?")
    assert text_of(page.text, "h1") == t(lang, "Sign out?")
    assert text_of(page.text, "button") == t(lang, "Sign out")
    assert t(lang, "Stay signed in") in html.unescape(page.text)
    assert f"action='{tiktok_settings.logout_path}?next=%2Fbye'" in page.text


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_disconnect_page(
    client: TestClient, tiktok_settings: TikTokSettings, lang: str
) -> None:
    assert tiktok_settings.disconnect_path is not None
    page = client.get(tiktok_settings.disconnect_path, headers=asking(lang))
    assert page.status_code == 200
    assert_language(page.text, lang)
    assert text_of(page.text, "h1") == t(lang, "Disconnect TikTok?")
    assert text_of(page.text, "button") == t(lang, "Disconnect")
    assert t(lang, "Keep it connected") in html.unescape(page.text)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_error_page_of_a_cancelled_sign_in(
    tiktok_emulator: TikTokEmulator,
    client: TestClient,
    tiktok_settings: TikTokSettings,
    lang: str,
) -> None:
    callback = tiktok_emulator.deny(start_login(client, tiktok_settings, next="/videos"))
    page = client.get(callback, headers=asking(lang), follow_redirects=False)
    assert page.status_code == 403
    assert_language(page.text, lang)
    assert text_of(page.text, "h1") == t(lang, "Sign-in cancelled")
    shown = html.unescape(page.text)
    assert t(lang, "You cancelled the sign-in with TikTok.") in shown
    # The code stays the stable English one, in its own element.
    assert t(lang, "Error code: {code}").format(code="<code>access_denied</code>") in shown
    links = {
        html.unescape(text): html.unescape(href)
        for href, text in re.findall(r"<a [^>]*href='([^']*)'[^>]*>([^<]*)</a>", page.text)
    }
    assert links == {
        t(lang, "Try again"): "/auth/tiktok/login?next=%2Fvideos",
        t(lang, "Back to the site"): "/",
    }


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_error_page_of_a_forged_answer(
    client: TestClient, tiktok_settings: TikTokSettings, lang: str
) -> None:
    page = client.get(
        tiktok_settings.callback_path, params={"code": "c", "state": "forged"}, headers=asking(lang)
    )
    assert page.status_code == 400
    assert_language(page.text, lang)
    assert text_of(page.text, "h1") == t(lang, "Sign-in with TikTok failed")
    assert "<code>state_mismatch</code>" in page.text
    described_ = (
        "No sign-in started in this browser matches this answer. Cookies may be blocked, or the "
        "sign-in began on another site address or in another browser."
    )
    assert t(lang, described_) in html.unescape(page.text)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_method_not_allowed_page_fills_in_its_message(
    client: TestClient, tiktok_settings: TikTokSettings, lang: str
) -> None:
    page = client.put(tiktok_settings.login_path, headers=asking(lang))
    assert page.status_code == 405
    assert_language(page.text, lang)
    expected = t(lang, "Use {method} for this address.").format(method="GET")
    assert expected in html.unescape(page.text)


def hostile_app(settings: TikTokSettings) -> TikTokAuthMiddleware:
    """Views that raise an error: with their own (hostile) words, or with ours."""
    raised = {
        "/hostile": InsufficientScope(description=HOSTILE),
        "/expired": LoginRequired(description="This sign-in has ended."),
    }

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise raised[scope["path"]]

    return TikTokAuthMiddleware(app, settings=settings)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_user_input_stays_escaped(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings, lang: str
) -> None:
    client = TestClient(hostile_app(tiktok_settings), base_url=BASE_URL)
    page = client.get("/hostile", headers=asking(lang))
    assert page.status_code == 403
    assert_language(page.text, lang)
    assert "<script>" not in page.text
    # An application's own words are shown as written (it may have written them in any
    # language), escaped.
    assert html.escape(HOSTILE) in page.text
    ours = client.get("/expired", headers=asking(lang))
    assert t(lang, "This sign-in has ended.") in html.unescape(ours.text)
    # A next path with quotes and brackets, in an attribute.
    assert tiktok_settings.qr_path is not None
    qr = TestClient(make_app(tiktok_settings), base_url=BASE_URL)
    hostile_next = "/x?'\"><script>alert(1)</script>"
    page = qr.get(tiktok_settings.qr_path, params={"next": hostile_next}, headers=asking(lang))
    assert page.status_code == 200
    assert "<script>alert" not in page.text
    assert f"data-next='{html.escape(hostile_next)}'" in page.text


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_qr_page(client: TestClient, tiktok_settings: TikTokSettings, lang: str) -> None:
    assert tiktok_settings.qr_path is not None
    page = client.get(tiktok_settings.qr_path, headers=asking(lang))
    assert page.status_code == 200
    assert_language(page.text, lang)
    assert text_of(page.text, "h1") == t(lang, "Sign in with TikTok")
    assert text_of(page.text, "p class=status") == t(lang, "Getting a code…")
    found = re.search(r"data-texts='([^']*)'", page.text)
    assert found is not None
    texts = json.loads(html.unescape(found.group(1)))
    assert texts["expired"] == t(lang, "This code has expired.")
    assert texts["label"] == t(lang, "QR code: scan it with the TikTok app to sign in")
    if lang == "en":
        assert texts["errors"] is None  # the answers' own (English) descriptions
    else:
        used = "This QR code was used already. Please get a new code."
        assert texts["errors"]["qr_used"] == t(lang, used)
        assert texts["errors"]["csrf_rejected"] == t(
            lang, "QR-code sign-in must start from this site."
        )
        assert all(texts["errors"].values())


def test_the_qr_codes_title_follows_the_page(
    client: TestClient, tiktok_settings: TikTokSettings
) -> None:
    assert tiktok_settings.qr_path is not None
    answer = client.post(
        tiktok_settings.qr_path,
        headers={"accept": "application/json", "accept-language": "ko"},
    )
    assert answer.status_code == 200, answer.text
    assert (
        f"<title>{t('ko', 'Scan with the TikTok app to sign in')}</title>" in (answer.json()["svg"])
    )


# What stays English


def test_json_error_bodies_stay_english(
    client: TestClient, tiktok_settings: TikTokSettings
) -> None:
    json_ = {"accept": "application/json"}
    english = client.get(
        tiktok_settings.callback_path, params={"code": "c", "state": "forged"}, headers=json_
    )
    for lang in LANGUAGES:
        answer = client.get(
            tiktok_settings.callback_path,
            params={"code": "c", "state": "forged"},
            headers={**json_, "accept-language": ASKED[lang]},
        )
        assert answer.json() == english.json()
        assert answer.json()["error"] == "state_mismatch"


def test_log_lines_stay_english(
    tiktok_emulator: TikTokEmulator,
    client: TestClient,
    tiktok_settings: TikTokSettings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    callback = tiktok_emulator.deny(start_login(client, tiktok_settings))
    with caplog.at_level(logging.INFO, logger="tiktok_asgi"):
        client.get(callback, headers=asking("ja"), follow_redirects=False)
    assert [r.getMessage() for r in caplog.records if "login_failed" in r.getMessage()] == [
        "login_failed code=access_denied log_id=None "
        "fix=the person pressed Cancel on TikTok's consent page; nothing to fix"
    ]


# The locale setting


def test_the_locale_setting_forces_one_language(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    settings = tiktok_settings.replace(locale="de-AT")
    assert settings.locale == "de"
    client = TestClient(make_app(settings, tiktok_emulator.transport()), base_url=BASE_URL)
    for header in ("ja", "ar", "", "en"):
        page = client.get(settings.logout_path, headers={**HTML, "accept-language": header})
        assert_language(page.text, "de")
        assert text_of(page.text, "h1") == "Abmelden?"


def test_an_unknown_locale_fails_at_start_up(tiktok_settings: TikTokSettings) -> None:
    with pytest.raises(ValueError, match=r"locale 'xx'.*ar, de, en, es, fr, id, ja, ko, pt, vi"):
        tiktok_settings.replace(locale="xx")
    with pytest.raises(ValueError, match="locale 3"):
        tiktok_settings.replace(locale=3)


def test_the_locale_from_the_environment(tiktok_settings: TikTokSettings) -> None:
    environ = {
        "TIKTOK_CLIENT_KEY": tiktok_settings.client_key,
        "TIKTOK_CLIENT_SECRET": tiktok_settings.client_secret,
        "TIKTOK_REDIRECT_URI": tiktok_settings.redirect_uri,
        "TIKTOK_SECRET_KEY": "k" * 40,
    }
    assert TikTokSettings.from_env(environ=environ).locale is None
    assert TikTokSettings.from_env(environ={**environ, "TIKTOK_LOCALE": "auto"}).locale is None
    assert TikTokSettings.from_env(environ={**environ, "TIKTOK_LOCALE": "pt_BR"}).locale == "pt"
    with pytest.raises(ValueError, match="TIKTOK_LOCALE='klingon' is malformed") as refused:
        TikTokSettings.from_env(environ={**environ, "TIKTOK_LOCALE": "klingon"})
    assert "ar, de, en, es, fr, id, ja, ko, pt, vi, or auto" in str(refused.value)


# What the error page says


def test_described_in_another_language() -> None:
    ja = language("ja")
    # A message with a placeholder, filled in.
    used = MethodNotAllowed(description="Use POST for this address.")
    assert described(used, ja) == "このアドレスには POST を使用してください。"
    # TikTok's own words (and ours composed of parts) give way to a sentence in the language.
    unavailable = TikTokUnavailable(description="TikTok's token endpoint could not be reached")
    assert described(unavailable, ja) == ja.gettext(
        "TikTok could not be reached. Please try again in a moment."
    )
    tiktoks = TikTokAPIError("some_new_error", "Something TikTok said.")
    assert described(tiktoks, ja) == ja.gettext(
        "TikTok answered with an error. Please try again in a moment."
    )
    # The application's own words stay as written; English is the messages' own.
    assert described(InsufficientScope(description="Nur für Abonnenten."), ja) == (
        "Nur für Abonnenten."
    )
    english = language("en")
    assert described(unavailable, english) == "TikTok's token endpoint could not be reached"
    assert described(TikTokAuthError("x"), english) == "Please try again."


def test_a_restyled_error_page_is_told_the_language(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    seen: list[ErrorPage] = []

    def render(page: ErrorPage) -> str:
        seen.append(page)
        return default_error_page(page)

    app = make_app(tiktok_settings, tiktok_emulator.transport(), error_page=render)
    client = TestClient(app, base_url=BASE_URL)
    callback = tiktok_emulator.deny(start_login(client, tiktok_settings))
    client.get(callback, headers=asking("ar"), follow_redirects=False)
    assert (seen[0].lang, seen[0].dir) == ("ar", "rtl")
    assert seen[0].title == t("ar", "Sign-in cancelled")
    assert seen[0].code == "access_denied"
