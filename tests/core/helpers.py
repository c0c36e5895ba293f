"""Small parsing helpers for the core tests: Set-Cookie headers, URLs and signed payloads."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
from itsdangerous import URLSafeTimedSerializer
from starlette.testclient import TestClient

from tiktok_asgi import TikTokSettings
from tiktok_asgi.emulator import EmulatorUser, TikTokEmulator


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query, keep_blank_values=True)


def one(url: str, name: str) -> str:
    values = query_of(url)[name]
    assert len(values) == 1, values
    return values[0]


def set_cookies(response: httpx2.Response) -> list[str]:
    return response.headers.get_list("set-cookie")


def parse_set_cookie(header: str) -> tuple[str, str, list[str]]:
    """``(name, value, attributes)`` of one ``Set-Cookie`` header, attributes in order."""
    first, *attributes = header.split("; ")
    name, _, value = first.partition("=")
    return name, value, attributes


def cookie_named(response: httpx2.Response, prefix: str) -> tuple[str, str, list[str]]:
    """The single ``Set-Cookie`` whose name starts with ``prefix`` (is it, if it ends in ``=``)."""
    found = [
        parse_set_cookie(h)
        for h in set_cookies(response)
        if (h.split("=", 1)[0] + "=").startswith(prefix)
    ]
    assert len(found) == 1, set_cookies(response)
    return found[0]


def pending_login(
    client: TestClient, settings: TikTokSettings, consent: Callable[[str], str]
) -> tuple[str, str, str]:
    """Login in ``client``, then ``consent`` (``emulator.approve`` or ``.deny``) to the authorize
    URL: the callback URL TikTok sends back, and the name and value of the flow cookie."""
    login = client.get(settings.login_path, follow_redirects=False)
    name, value, _ = cookie_named(login, f"{settings.cookie_name}_flow_")
    return consent(login.headers["location"]), name, value


def browser_with_cookie(app: Any, name: str, value: str) -> TestClient:
    """Another browser on the same app, holding only the cookie ``name=value``."""
    browser = TestClient(app, base_url="https://testserver")
    browser.headers["cookie"] = f"{name}={value}"
    return browser


def new_users(emulator: TikTokEmulator, count: int, prefix: str) -> tuple[EmulatorUser, ...]:
    """``count`` generated users, added to ``emulator``."""
    users = EmulatorUser.generate(count, prefix=prefix)
    for user in users:
        emulator.add_user(user)
    return users


def identity_serializer(settings: TikTokSettings, keys: list[str] | None = None) -> Any:
    """An itsdangerous serializer reading identity cookies independently of the middleware."""
    return URLSafeTimedSerializer(
        keys or list(settings.secret_keys),
        salt="tiktok-asgi.identity",
        signer_kwargs={"digest_method": hashlib.sha256},
    )


def flow_serializer(settings: TikTokSettings) -> Any:
    return URLSafeTimedSerializer(
        list(settings.secret_keys),
        salt="tiktok-asgi.flow",
        signer_kwargs={"digest_method": hashlib.sha256},
    )
