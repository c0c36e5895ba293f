"""A sign-in driven through the raw ASGI caller: login, consent at the emulator, callback."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from starlette.types import ASGIApp

from tests.security.support import Answer, call, cookie_header, cookie_values
from tiktok_asgi import TikTokSettings
from tiktok_asgi.emulator import EmulatorUser, TikTokEmulator


@dataclass
class Pending:
    """A login started in one browser: its cookies and the callback URL TikTok sent back."""

    cookies: dict[str, str]
    callback_query: bytes
    login: Answer


def start(
    app: ASGIApp,
    settings: TikTokSettings,
    emu: TikTokEmulator,
    *,
    next: str | None = None,
    user: EmulatorUser | str | None = None,
    cookies: dict[str, str] | None = None,
) -> Pending:
    query = b"" if next is None else b"next=" + quote(next, safe="").encode("ascii")
    headers = [cookie_header(cookies)] if cookies else []
    login = call(app, "GET", settings.login_path, query, headers)
    assert login.status == 302, login.body
    callback = emu.approve(login.headers["location"], user=user)
    return Pending(
        {**(cookies or {}), **cookie_values(login)},
        urlsplit(callback).query.encode("latin-1"),
        login,
    )


def finish(
    app: ASGIApp,
    settings: TikTokSettings,
    pending: Pending,
    *,
    query: bytes | None = None,
    cookies: dict[str, str] | None = None,
    headers: Sequence[tuple[bytes, bytes]] = (),
) -> Answer:
    """The browser arriving at the callback (by default exactly as TikTok sent it back)."""
    jar = pending.cookies if cookies is None else cookies
    sent = [*([cookie_header(jar)] if jar else []), *headers]
    q = pending.callback_query if query is None else query
    return call(app, "GET", settings.callback_path, q, sent)
