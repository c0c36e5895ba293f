"""A sign-in driven through the raw ASGI caller, in two halves: :func:`start` (login and consent
at the emulator) and :func:`finish` (the callback, as sent back or altered)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.types import ASGIApp

from tests.support.asgi import Answer, AsgiBrowser, call, cookie_header
from tests.support.signin import approving, asgi_performer, sign_in_steps
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
    emulator: TikTokEmulator,
    *,
    next: str | None = None,
    user: EmulatorUser | str | None = None,
    cookies: dict[str, str] | None = None,
) -> Pending:
    """The first steps of the shared sign-in: login in a browser holding ``cookies``, consent."""
    steps = sign_in_steps(
        settings.login_path,
        approving(emulator, user=user),
        next=next,
        cookie_name=settings.cookie_name,
    )
    browser = AsgiBrowser(app, cookies=cookies)
    login_step = steps.send(None)
    login = asyncio.run(asgi_performer(browser)(login_step))
    callback_step = steps.send(login)
    assert callback_step.name == "callback", callback_step
    steps.close()
    return Pending(browser.cookies, urlsplit(callback_step.url).query.encode("latin-1"), login)


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
