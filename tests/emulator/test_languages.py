"""The emulator's pages in the browser's language: the consent page, the refusal page, the
phone's QR page, the connected apps and the index, each with ``<html lang>`` (and ``dir="rtl"``
for Arabic), its words from the catalogs and every name it shows escaped."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from starlette.testclient import TestClient
from tests.emulator.helpers import AUTHORIZE, authorize_url

from tiktok_asgi._i18n import language
from tiktok_asgi.emulator import EmulatorUser, TikTokEmulator

LANGUAGES = ("en", "es", "pt", "id", "ja", "ko", "de", "fr", "ar", "vi")
APP = "<b>Chef's</b> & Co"
PERSON = EmulatorUser(username="ana.b", display_name='<i>Ana</i> "B"')


def t(lang: str, message: str) -> str:
    return language(lang).gettext(message)


def browser(emu: TikTokEmulator, lang: str) -> TestClient:
    client = TestClient(emu, base_url="https://www.tiktok.com", follow_redirects=False)
    client.headers["accept-language"] = f"{lang};q=0.9, en;q=0.1"
    return client


def assert_language(page: str, lang: str) -> None:
    found = re.search(r"<html[^>]*>", page)
    assert found is not None
    expected = f'<html lang="{lang}" dir="rtl">' if lang == "ar" else f'<html lang="{lang}">'
    assert found.group(0) == expected
    assert t(lang, "TikTok emulator") in page  # the brand
    footer = t(lang, "An offline emulation of TikTok Login Kit. Not affiliated with TikTok.")
    assert f"<footer>{html.escape(footer, quote=False)}</footer>" in page


def shown(page: str) -> str:
    return html.unescape(page)


@pytest.fixture
def emu() -> TikTokEmulator:
    emulator = TikTokEmulator(app_name=APP)
    emulator.add_user(PERSON)
    return emulator


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_consent_page(emu: TikTokEmulator, lang: str) -> None:
    page = browser(emu, lang).get(authorize_url(emu)).text
    assert_language(page, lang)
    heading = t(lang, "{app} would like to access your TikTok account").format(app=APP)
    assert f"<title>{html.escape(t(lang, 'Authorize {app}').format(app=APP))}</title>" in page
    assert heading in shown(page)
    for message in ("Continue as", "Authorize", "Cancel", "Required"):
        assert f">{html.escape(t(lang, message), quote=False)}<" in page, message
    assert t(lang, "Read your statistics (likes, followers, following, video count)") in page
    # Names are the app's and the person's: escaped, never markup.
    assert "<b>Chef" not in page
    assert "<i>Ana" not in page
    assert html.escape(APP, quote=False) in page
    assert "<bdi>&lt;i&gt;Ana&lt;/i&gt; &quot;B&quot;</bdi>" in page


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_consent_pages_problem(emu: TikTokEmulator, lang: str) -> None:
    form = {**{k: v[0] for k, v in parse_qs(urlsplit(authorize_url(emu)).query).items()}}
    answer = browser(emu, lang).post(AUTHORIZE, data={**form, "action": "authorize"})
    assert answer.status_code == 400
    assert_language(answer.text, lang)
    assert t(lang, "Choose an account to continue.") in shown(answer.text)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_refusal_page(emu: TikTokEmulator, lang: str) -> None:
    page = browser(emu, lang).get(authorize_url(emu, client_key="unknown"))
    assert page.status_code == 400
    assert_language(page.text, lang)
    title = t(lang, "We couldn't log in with TikTok")
    assert f"<h1>{html.escape(title, quote=False)}</h1>" in page.text
    correct = t(lang, "If you're a developer, correct the following: {field}")
    assert correct.format(field="client_key") in shown(page.text)
    # The developer's diagnosis is TikTok's English, and says so to screen readers.
    expected = '<p class="sub">Client key is not recognised.</p>'
    if lang != "en":
        expected = '<p class="sub" lang="en" dir="ltr">Client key is not recognised.</p>'
    assert expected in page.text
    assert '<code class="err">invalid_client</code>' in page.text


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_refusal_for_the_person_is_translated(lang: str) -> None:
    emu = TikTokEmulator(sandbox=True, target_users=["mayacooks"])
    client = browser(emu, lang)
    form = {k: v[0] for k, v in parse_qs(urlsplit(authorize_url(emu)).query).items()}
    leo = emu.user("leo.skates")
    page = client.post(AUTHORIZE, data={**form, "action": "authorize", "user": leo.open_id})
    assert page.status_code == 400
    assert_language(page.text, lang)
    not_a_target = (
        "This account (@{username}) is not a target user of this sandbox app. Sign in with a "
        "target user, or add this account as a target user in the app's sandbox settings (at "
        "most 10)."
    )
    assert t(lang, not_a_target).format(username="leo.skates") in shown(page.text)
    back = t(lang, "Back to the app")
    assert f">{html.escape(back, quote=False)}</a>" in page.text


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_phone_page(emu: TikTokEmulator, lang: str) -> None:
    api = TestClient(emu, base_url="https://open.tiktokapis.com")
    body = api.post(
        "https://open.tiktokapis.com/v2/oauth/get_qrcode/",
        data={"client_key": emu.client_key, "scope": "user.info.basic", "state": "s"},
    ).json()
    scan_url = body["scan_qrcode_url"].replace("tobefilled", "ticket-" + "t" * 40)
    phone = browser(emu, lang)
    page = phone.get(scan_url)
    assert page.status_code == 200
    assert_language(page.text, lang)
    heading = t(lang, "Sign in to {app} on your other device?").format(app=APP)
    assert heading in shown(page.text)
    assert "<b>Chef" not in page.text
    assert f">{html.escape(t(lang, 'Confirm'), quote=False)}</button>" in page.text
    query = parse_qs(urlsplit(scan_url).query)
    form = {"qr": query["qr"][0], "client_ticket": query["client_ticket"][0], "action": "cancel"}
    done = phone.post(scan_url.split("?")[0], data=form)
    assert_language(done.text, lang)
    assert t(lang, "Nobody was signed in. You can close this page.") in shown(done.text)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_connected_apps_and_the_index(emu: TikTokEmulator, lang: str) -> None:
    client = browser(emu, lang)
    apps = client.get("/apps", params={"user": "ana.b"}).text
    assert_language(apps, lang)
    assert f"<h1>{html.escape(t(lang, 'Connected apps'), quote=False)}</h1>" in apps
    assert f"<li>{html.escape(t(lang, 'No apps are connected.'), quote=False)}</li>" in apps
    assert "<b>Chef" not in apps
    who = client.get("/apps").text
    assert t(lang, "Who is signed in?") in shown(who)
    assert "<bdi>@ana.b</bdi>" in who
    removed = client.get("/apps", params={"user": "ana.b", "delivered": "none"}).text
    note = "{app} was removed; no webhook URL is registered, so the app was not told."
    assert t(lang, note).format(app=APP) in shown(removed)
    home = TestClient(emu)  # served on its own address, not TikTok's
    index = home.get("/", headers={"accept-language": lang}).text
    assert_language(index, lang)
    assert t(lang, "TikTok Login Kit v2, emulated offline.") in shown(index)


def test_english_stays_the_default(emu: TikTokEmulator) -> None:
    client = TestClient(emu, base_url="https://www.tiktok.com")
    page = client.get(authorize_url(emu)).text
    assert '<html lang="en">' in page
    assert "would like to access your TikTok account" in page
    unknown = TestClient(emu, base_url="https://www.tiktok.com")
    unknown.headers["accept-language"] = "tlh, zh-CN"
    assert '<html lang="en">' in unknown.get(authorize_url(emu)).text
