"""The pages people see: "Try again" keeps ``next``, Back after signing in goes on to ``next``,
a GET on the logout path asks before signing out, ``on_logout``, and a restyled error page."""

from __future__ import annotations

import html
import re

import pytest
from starlette.testclient import TestClient

from tests.conftest import BASE_URL, make_app, start_login
from tests.core.helpers import pending_login
from tests.support.signin import sign_in
from tiktok_asgi import ErrorPage, TikTokSettings, TikTokUser
from tiktok_asgi.emulator import Fault, TikTokEmulator

HTML = {"accept": "text/html,application/xhtml+xml"}
NEXT = "/videos?page=2"
LOGIN_WITH_NEXT = "/auth/tiktok/login?next=%2Fvideos%3Fpage%3D2"


def _links(page: str) -> dict[str, str]:
    """The page's links by their text."""
    return {
        text: html.unescape(href)
        for href, text in re.findall(r"<a [^>]*href='([^']*)'[^>]*>([^<]*)</a>", page)
    }


def test_try_again_keeps_next_after_a_cancel(
    tiktok_emulator: TikTokEmulator, client: TestClient, tiktok_settings: TikTokSettings
) -> None:
    callback = tiktok_emulator.deny(start_login(client, tiktok_settings, next=NEXT))
    page = client.get(callback, headers=HTML, follow_redirects=False)
    assert page.status_code == 403
    assert "<title>Sign-in cancelled</title>" in page.text
    assert _links(page.text) == {"Try again": LOGIN_WITH_NEXT, "Back to the site": "/"}
    again = client.get(LOGIN_WITH_NEXT, follow_redirects=False)
    assert client.get(tiktok_emulator.approve(again.headers["location"]), follow_redirects=False)
    assert client.get("/me").json()["authenticated"] is True


def test_try_again_keeps_next_when_tiktok_fails(
    tiktok_emulator: TikTokEmulator, client: TestClient, tiktok_settings: TikTokSettings
) -> None:
    tiktok_emulator.inject("token", Fault.error_body("invalid_grant"))
    callback = tiktok_emulator.approve(start_login(client, tiktok_settings, next=NEXT))
    page = client.get(callback, headers=HTML, follow_redirects=False)
    assert page.status_code == 502
    assert _links(page.text)["Try again"] == LOGIN_WITH_NEXT


def test_try_again_without_a_known_next_is_the_login_path(
    client: TestClient, tiktok_settings: TikTokSettings
) -> None:
    page = client.get(tiktok_settings.callback_path, params={"code": "c", "state": "forged"})
    assert page.status_code == 400
    assert _links(page.text)["Try again"] == tiktok_settings.login_path


def test_back_after_signing_in_goes_on_instead_of_failing(
    tiktok_emulator: TikTokEmulator, client: TestClient, tiktok_settings: TikTokSettings
) -> None:
    callback = tiktok_emulator.approve(start_login(client, tiktok_settings, next=NEXT))
    first = client.get(callback, headers=HTML, follow_redirects=False)
    assert first.headers["location"] == NEXT
    # Back: the browser reloads the callback; its flow cookie is gone, it is signed in.
    again = client.get(callback, headers=HTML, follow_redirects=False)
    assert again.status_code == 302
    assert again.headers["location"] == tiktok_settings.login_redirect
    assert client.get("/me").json()["authenticated"] is True
    assert tiktok_emulator.count("token") == 1  # the used code is never sent again


def test_back_with_the_flow_cookie_still_held_goes_on_to_next(
    tiktok_emulator: TikTokEmulator, client: TestClient, tiktok_settings: TikTokSettings
) -> None:
    callback, flow_name, flow_value = pending_login(
        client, tiktok_settings, lambda url: tiktok_emulator.approve(url)
    )
    assert client.get(callback, follow_redirects=False).status_code == 302
    identity = client.cookies[tiktok_settings.cookie_name]
    browser = TestClient(client.app, base_url=BASE_URL)
    browser.headers["cookie"] = (
        f"{flow_name}={flow_value}; {tiktok_settings.cookie_name}={identity}"
    )
    again = browser.get(callback, headers=HTML, follow_redirects=False)
    assert (again.status_code, again.headers["location"]) == (302, "/")
    assert tiktok_emulator.count("token") == 1


def test_an_anonymous_browser_reaching_a_used_callback_still_gets_the_error_page(
    tiktok_emulator: TikTokEmulator, client: TestClient, tiktok_settings: TikTokSettings
) -> None:
    callback = tiktok_emulator.approve(start_login(client, tiktok_settings))
    assert client.get(callback, follow_redirects=False).status_code == 302
    other = TestClient(client.app, base_url=BASE_URL)
    page = other.get(callback, headers=HTML, follow_redirects=False)
    assert page.status_code == 400
    assert "state_mismatch" in page.text
    assert other.get("/me").json()["authenticated"] is False


def test_get_on_logout_asks_before_signing_out(
    tiktok_emulator: TikTokEmulator, client: TestClient, tiktok_settings: TikTokSettings
) -> None:
    sign_in(client, tiktok_settings, tiktok_emulator)
    page = client.get(tiktok_settings.logout_path, params={"next": "/bye"}, headers=HTML)
    assert page.status_code == 200
    assert "<title>Sign out?</title>" in page.text
    assert "failed" not in page.text.lower()
    assert page.headers["cache-control"] == "no-store"
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert not page.headers.get_list("set-cookie")
    assert client.get("/me").json()["authenticated"] is True
    form = re.search(r"<form [^>]*method=post action='([^']*)'", page.text)
    assert form is not None
    action = html.unescape(form.group(1))
    assert action == f"{tiktok_settings.logout_path}?next=%2Fbye"
    assert re.search(r"<button [^>]*type=submit>Sign out</button>", page.text)
    posted = client.post(action, follow_redirects=False)
    assert (posted.status_code, posted.headers["location"]) == (303, "/bye")
    assert client.get("/me").json()["authenticated"] is False


def test_the_logout_page_escapes_and_checks_next(client: TestClient) -> None:
    page = client.get("/auth/tiktok/logout", params={"next": "https://evil.example/'><b>"})
    assert page.status_code == 200
    assert "evil.example" not in page.text
    assert "<b>" not in page.text


def test_on_logout_is_awaited_with_the_user_signing_out(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    signed_out: list[TikTokUser] = []

    async def on_logout(user: TikTokUser) -> None:
        signed_out.append(user)

    app = make_app(tiktok_settings, tiktok_emulator.transport(), on_logout=on_logout)
    client = TestClient(app, base_url=BASE_URL)
    client.post(tiktok_settings.logout_path, follow_redirects=False)  # nobody signed in
    assert signed_out == []
    sign_in(client, tiktok_settings, tiktok_emulator, user="leo.skates")
    assert client.post(tiktok_settings.logout_path, follow_redirects=False).status_code == 303
    assert [user.username for user in signed_out] == ["leo.skates"]


def test_the_error_page_can_be_restyled(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    seen: list[ErrorPage] = []

    def error_page(page: ErrorPage) -> str:
        seen.append(page)
        return f"<!doctype html><title>Oops</title><p class=mine>{html.escape(page.title)}</p>"

    app = make_app(tiktok_settings, tiktok_emulator.transport(), error_page=error_page)
    client = TestClient(app, base_url=BASE_URL)
    callback = tiktok_emulator.deny(start_login(client, tiktok_settings, next=NEXT))
    page = client.get(callback, headers=HTML, follow_redirects=False)
    assert page.status_code == 403
    assert page.text == "<!doctype html><title>Oops</title><p class=mine>Sign-in cancelled</p>"
    assert page.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert seen[0].code == "access_denied"
    assert seen[0].try_again_url == LOGIN_WITH_NEXT
    assert seen[0].status_code == 403
    # API clients still get JSON.
    callback = tiktok_emulator.deny(start_login(client, tiktok_settings))
    assert client.get(callback, headers={"accept": "application/json"}).json()["error"] == (
        "access_denied"
    )


@pytest.mark.parametrize("hook", ["on_logout", "error_page"])
def test_a_hook_that_is_not_callable_fails_at_start_up(
    tiktok_settings: TikTokSettings, hook: str
) -> None:
    with pytest.raises(TypeError, match=f"^{hook} must be "):
        make_app(tiktok_settings, None, **{hook: "not callable"})
