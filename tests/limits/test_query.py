"""A query string longer than ``max_query_bytes`` is refused with 414 before anything reads it:
not parsed, no pending login spent, TikTok not called."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest
import starlette.datastructures
from starlette.testclient import TestClient

from tests.conftest import start_login
from tests.limits.helpers import HTML, JSON, QR, app_for, browser, settings_with
from tiktok_asgi.emulator import TikTokEmulator
from tiktok_asgi.limits import RequestLimits

PADDING = "&pad=" + "x" * 62_000  # 62 KB: 10-13 ms in Starlette's parser


@pytest.fixture
def parsed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The length of every query Starlette parses."""
    seen: list[int] = []

    def spy(query: str, *args: object, **kwargs: object) -> list[tuple[str, str]]:
        seen.append(len(query))
        return parse_qsl(query, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(starlette.datastructures, "parse_qsl", spy)
    return seen


def test_an_oversize_callback_is_refused_unread_and_spends_nothing(
    emulator: TikTokEmulator, parsed: list[int]
) -> None:
    settings = settings_with(emulator, RequestLimits())
    client = browser(app_for(emulator, settings))
    callback = emulator.approve(start_login(client, settings))
    parsed.clear()
    refused = client.get(callback + PADDING, headers=JSON, follow_redirects=False)
    assert refused.status_code == 414
    assert refused.json()["error"] == "query_too_long"
    assert "set-cookie" not in refused.headers  # the pending login's cookie is kept
    assert parsed == []  # Starlette never parsed it
    assert emulator.count("token") == 0
    # The same sign-in, at its honest size, still works: its state was not spent.
    done = client.get(callback, follow_redirects=False)
    assert done.status_code == 302, done.text
    assert emulator.count("token") == 1
    assert parsed  # the spy sees what Starlette parses


@pytest.mark.parametrize("path", ["/auth/tiktok/login", QR, "/auth/tiktok/logout"])
def test_every_path_of_the_middleware_refuses_it_too(
    path: str, emulator: TikTokEmulator, parsed: list[int]
) -> None:
    client = browser(app_for(emulator, settings_with(emulator, RequestLimits())))
    page = client.get(f"{path}?next=/{'a' * 9000}", headers=HTML)
    assert page.status_code == 414
    assert page.headers["content-type"].startswith("text/html")
    assert "query_too_long" in page.text
    assert parsed == []


def test_the_applications_paths_are_not_checked(emulator: TikTokEmulator) -> None:
    settings = settings_with(emulator, RequestLimits(max_query_bytes=1024))
    client = browser(app_for(emulator, settings))
    assert client.get("/me?" + "x" * 5000).status_code == 200


def test_an_honest_query_passes(emulator: TikTokEmulator) -> None:
    settings = settings_with(emulator, RequestLimits())
    client: TestClient = browser(app_for(emulator, settings))
    # The longest next= a login keeps (2048 characters), escaped: under the default.
    next_target = "/search?q=" + "%E6%97%A5" * 226
    login = client.get("/auth/tiktok/login", params={"next": next_target}, headers=JSON)
    assert login.status_code == 200, login.text
