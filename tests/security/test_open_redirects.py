"""The open-redirect corpus (``open_redirects.json``): after login and after logout, every payload
lands on this site — either the payload itself when it is a harmless path, or ``login_redirect``."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.security.flows import finish, start
from tests.security.support import assert_sound, identity_set, is_same_site_path
from tests.support.asgi import Answer, call
from tiktok_asgi import TikTokAuthMiddleware, TikTokSettings
from tiktok_asgi.emulator import TikTokEmulator

CORPUS = json.loads((Path(__file__).parent / "open_redirects.json").read_text())
PAYLOADS = [pytest.param(entry["payload"], id=entry["why"]) for entry in CORPUS]


def test_the_corpus_is_large_and_hostile() -> None:
    payloads = [entry["payload"] for entry in CORPUS]
    assert len(payloads) >= 50
    assert len(set(payloads)) == len(payloads)
    # The corpus checks itself: most payloads must be judged off-site by the independent check.
    off_site = [p for p in payloads if not is_same_site_path(p)]
    assert len(off_site) >= 45, len(off_site)


def _assert_lands_on_this_site(answer: Answer, settings: TikTokSettings, payload: str) -> None:
    """A sound answer whose Location is the payload only when it is a path of this site, else
    ``login_redirect``."""
    assert_sound(answer)
    location = answer.headers["location"]
    assert location in (payload, settings.login_redirect)
    if not is_same_site_path(payload):
        assert location == settings.login_redirect


@pytest.mark.parametrize("payload", PAYLOADS)
def test_after_login(
    app: TikTokAuthMiddleware,
    tiktok_settings: TikTokSettings,
    tiktok_emulator: TikTokEmulator,
    payload: str,
) -> None:
    pending = start(app, tiktok_settings, tiktok_emulator, next=payload)
    answer = finish(app, tiktok_settings, pending)
    assert answer.status == 302, answer.body
    assert identity_set(answer, tiktok_settings)  # the sign-in itself works
    _assert_lands_on_this_site(answer, tiktok_settings, payload)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_after_logout(
    app: TikTokAuthMiddleware, tiktok_settings: TikTokSettings, payload: str
) -> None:
    query = b"next=" + quote(payload, safe="").encode("ascii")
    answer = call(app, "POST", tiktok_settings.logout_path, query)
    assert answer.status == 303, answer.body
    _assert_lands_on_this_site(answer, tiktok_settings, payload)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_raw_unencoded_in_the_query(
    app: TikTokAuthMiddleware, tiktok_settings: TikTokSettings, payload: str
) -> None:
    """The payload as raw bytes in the query string (as a careless link would carry it)."""
    raw = payload.encode("utf-8").replace(b"&", b"%26").replace(b"#", b"%23")
    answer = call(app, "POST", tiktok_settings.logout_path, b"next=" + raw)
    assert answer.status == 303, answer.body
    assert_sound(answer)
