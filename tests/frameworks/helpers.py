"""Helpers for the framework tests: WebSocket cookies, and a real server driven like a browser."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlencode, urljoin

from starlette.testclient import TestClient

from tests.support.processes import listening, running, without_tiktok_settings
from tiktok_asgi import TikTokSettings
from tiktok_asgi._tiktok.http import httpx2

ROOT = Path(__file__).resolve().parents[2]


def ws_headers(client: TestClient, settings: TikTokSettings) -> dict[str, str]:
    """The identity cookie as a header: the TestClient's ws:// URL would not carry a Secure one."""
    cookie = client.cookies.get(settings.cookie_name)
    return {"cookie": f"{settings.cookie_name}={cookie}"} if cookie else {}


@contextmanager
def served(command: Sequence[str], port: int, log: Path) -> Iterator[str]:
    """Run ``command`` (a server listening on 127.0.0.1:``port``, its output going to ``log``)
    with the example falling back to its mounted emulator; yield its origin; stop it afterwards.
    As documented: no ``EXAMPLE_ORIGIN``, the example follows the server's port by itself."""
    origin = f"http://127.0.0.1:{port}"
    env = without_tiktok_settings(EXAMPLE_EMULATOR="1")
    env.pop("EXAMPLE_ORIGIN", None)
    with running(
        [sys.executable, "-m", *command],
        cwd=ROOT,
        env=env,
        log=log,
        ready=listening(port),
        timeout=20,
    ):
        yield origin


class ConsentForm(HTMLParser):
    """The emulator's consent page as a browser sees it: the form's action and its fields."""

    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.hidden: list[tuple[str, str]] = []
        self.users: list[str] = []
        self.optional_scopes: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.action = a["action"]
        elif tag == "input" and a.get("type") == "hidden":
            self.hidden.append((a["name"], a["value"]))
        elif tag == "input" and a.get("type") == "radio" and a.get("name") == "user":
            self.users.append(a["value"])
        elif tag == "input" and a.get("type") == "checkbox" and a.get("name") == "granted":
            self.optional_scopes.append(a["value"])


def browser_sign_in(
    browser: httpx2.Client, origin: str, *, user_index: int = 0, untick: Sequence[str] = ()
) -> httpx2.Response:
    """Sign in as a person would: login link, consent page, Authorize; the callback's answer."""
    login = browser.get(f"{origin}/auth/tiktok/login", params={"next": "/me"})
    assert login.status_code == 302, login.text
    authorize_url = login.headers["location"]
    assert authorize_url.startswith(f"{origin}/tiktok/v2/auth/authorize/?")
    page = browser.get(authorize_url)
    assert page.status_code == 200, page.text
    form = ConsentForm()
    form.feed(page.text)
    fields = [
        *form.hidden,
        ("user", form.users[user_index]),
        *(("granted", s) for s in form.optional_scopes if s not in untick),
        ("action", "authorize"),
    ]
    consent = browser.post(
        urljoin(authorize_url, form.action),
        content=urlencode(fields),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert consent.status_code == 302, consent.text
    callback_url = consent.headers["location"]
    assert callback_url.startswith(f"{origin}/auth/tiktok/callback?")
    return browser.get(callback_url)
