"""Each kind of request the middleware answers is counted: past its count, 429 with
``Retry-After`` in the library's error shape, and not one request before."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.limits.helpers import (
    ELSEWHERE,
    EXCHANGE,
    HTML,
    JSON,
    OFFICE,
    QR,
    WEBHOOK,
    app_for,
    browser,
    limits,
    settings_with,
    with_clock,
)
from tests.support.signin import sign_in
from tiktok_asgi.emulator import TikTokEmulator
from tiktok_asgi.limits import Rate

Request = Callable[[TestClient], Any]

# One request of each kind, as an honest or a careless client makes it.
KINDS: dict[str, Request] = {
    "login": lambda c: c.get("/auth/tiktok/login", headers=JSON),
    "callback": lambda c: c.get("/auth/tiktok/callback?code=x&state=y", headers=JSON),
    "qr_start": lambda c: c.post(QR, headers=JSON),
    "qr_status": lambda c: c.get(f"{QR}/{'a' * 22}", headers=JSON),
    "exchange": lambda c: c.post(
        EXCHANGE, content=b"{}", headers={"content-type": "application/json"}
    ),
    "webhook": lambda c: c.post(WEBHOOK, content=b"{}"),
}


def status(kind: str, client: TestClient) -> int:
    code: int = KINDS[kind](client).status_code
    return code


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_is_refused_past_its_count_and_not_before(
    kind: str, emulator: TikTokEmulator
) -> None:
    settings = settings_with(emulator, limits(**{kind: Rate(per_client=3)}))
    app = app_for(emulator, settings)
    clock = with_clock(app)
    client = browser(app)
    first = [status(kind, client) for _ in range(3)]
    assert 429 not in first
    clock.advance(20)
    refused = KINDS[kind](client)
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "40"  # the window opened 20 s ago
    assert refused.json()["error"] == "rate_limited"
    assert refused.headers["cache-control"] == "no-store"
    # Another address is counted apart; the other kinds are not counted here at all.
    assert status(kind, browser(app, ELSEWHERE)) != 429
    assert all(status(other, client) != 429 for other in KINDS if other != kind)


def test_a_browser_is_refused_before_its_address_and_the_address_for_all(
    emulator: TikTokEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    rates = limits(login=Rate(per_client=7, per_browser=3))
    settings = settings_with(emulator, rates)
    app = app_for(emulator, settings)
    with_clock(app)
    ana, ben = browser(app), browser(app)  # two people behind one address
    sign_in(ana, settings, emulator)  # login 1 of the address, before ana had a cookie
    sign_in(ben, settings, emulator, user="leo.skates")  # login 2
    caplog.set_level(logging.INFO, logger="tiktok_asgi")
    assert [_login(ana) for _ in range(3)] == [200, 200, 200]  # logins 3-5; ana's 1-3
    assert _login(ana) == 429  # ana's 4th: refused for her alone, not counted for the address
    assert _login(ana) == 429
    assert [_login(ben) for _ in range(3)] == [200, 200, 429]  # logins 6-8: the address's 8th
    refusals = [r for r in caplog.records if getattr(r, "event", None) == "rate_limited"]
    assert [(r.kind, r.scope) for r in refusals] == [("login", "browser"), ("login", "client")]  # type: ignore[attr-defined]
    assert refusals[1].client == OFFICE  # type: ignore[attr-defined]
    # Someone elsewhere is not held up by the office.
    assert _login(browser(app, ELSEWHERE)) == 200


def _login(client: TestClient) -> int:
    return client.get("/auth/tiktok/login", headers=JSON).status_code


def test_the_window_passing_frees_the_client(emulator: TikTokEmulator) -> None:
    app = app_for(emulator, settings_with(emulator, limits(login=Rate(per_client=2, window=30))))
    clock = with_clock(app)
    client = browser(app)
    assert [_login(client) for _ in range(3)] == [200, 200, 429]
    clock.advance(29.5)
    refused = client.get("/auth/tiktok/login", headers=JSON)
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "1"  # whole seconds, never 0
    clock.advance(0.5)
    assert [_login(client) for _ in range(3)] == [200, 200, 429]  # a new window


def test_a_browser_gets_the_error_page_and_no_redirect(emulator: TikTokEmulator) -> None:
    settings = settings_with(emulator, limits(callback=Rate(per_client=1))).replace(
        error_redirect="/oops"
    )
    app = app_for(emulator, settings)
    with_clock(app)
    client = browser(app)
    client.get("/auth/tiktok/callback?code=x&state=y", headers=HTML, follow_redirects=False)
    refused = client.get(
        "/auth/tiktok/callback?code=x&state=y", headers=HTML, follow_redirects=False
    )
    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("text/html")
    assert refused.headers["retry-after"] == "60"
    assert "rate_limited" in refused.text
    assert "Too many requests" in refused.text


def test_a_poll_refused_tells_the_qr_page_when_to_poll_again(emulator: TikTokEmulator) -> None:
    app = app_for(emulator, settings_with(emulator, limits(qr_status=Rate(per_client=1))))
    with_clock(app)
    client = browser(app)
    code = client.post(QR, headers=JSON).json()
    assert client.get(f"{QR}/{code['qr_id']}", headers=JSON).json() == {"status": "new"}
    refused = client.get(f"{QR}/{code['qr_id']}")  # whatever it accepts: JSON
    assert refused.status_code == 429
    assert json.loads(refused.text)["error"] == "rate_limited"
    assert int(refused.headers["retry-after"]) > 0


@pytest.mark.parametrize("off", ["all", "one kind"])
def test_limits_none_turns_them_off(off: str, emulator: TikTokEmulator) -> None:
    tight = Rate(per_client=2)
    chosen = None if off == "all" else limits(login=None, callback=tight)
    app = app_for(emulator, settings_with(emulator, chosen))
    assert (app._limits is None) is (off == "all")
    client = browser(app)
    assert {_login(client) for _ in range(50)} == {200}
    callbacks = [status("callback", client) for _ in range(3)]
    assert (429 in callbacks) is (off == "one kind")
    long = client.get("/auth/tiktok/login", params={"next": "/" + "a" * 9000}, headers=JSON)
    assert long.status_code == (200 if off == "all" else 414)
