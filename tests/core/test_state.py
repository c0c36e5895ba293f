"""State: bound to the browser that started the login, several tabs at once, once only."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode, urlsplit

import itsdangerous
import pytest
from starlette.testclient import TestClient

from tests.conftest import BASE_URL, make_app, start_login
from tests.core.helpers import browser_with_cookie, new_users, one, pending_login, query_of
from tiktok_asgi import TikTokSettings
from tiktok_asgi.emulator import TikTokEmulator

JSON = {"accept": "application/json"}


def _error(response: Any) -> str:
    assert response.status_code == 400, response.text
    body = response.json()
    assert set(body) == {"error", "error_description", "log_id"}
    assert body["log_id"] is None
    code: str = body["error"]
    return code


def _refused_with_flow_cookie(app: Any, name: str, value: str, callback: str) -> str:
    """The error code of a browser holding only the flow cookie ``name=value`` at ``callback``."""
    return _error(browser_with_cookie(app, name, value).get(callback, headers=JSON))


def _without_state(callback: str) -> str:
    query = {k: v[0] for k, v in query_of(callback).items() if k != "state"}
    return urlsplit(callback)._replace(query=urlencode(query)).geturl()


def test_five_pending_logins_in_one_browser_finish_in_any_order(
    tiktok_emulator: TikTokEmulator, client: TestClient, tiktok_settings: TikTokSettings
) -> None:
    users = new_users(tiktok_emulator, 5, "tab")
    tabs = [
        (
            user,
            tiktok_emulator.approve(
                start_login(client, tiktok_settings, next=f"/tab/{i}"), user=user
            ),
        )
        for i, user in enumerate(users)
    ]
    order = [3, 0, 4, 1, 2]
    for i in order:
        user, callback = tabs[i]
        response = client.get(callback, follow_redirects=False)
        assert response.status_code == 302, response.text
        assert response.headers["location"] == f"/tab/{i}"
        assert client.get("/me").json()["identity"] == user.open_id
    assert tiktok_emulator.count("token", grant_type="authorization_code") == 5
    assert not [n for n in client.cookies if n.startswith("__Host-tiktok_session_flow_")]


def test_replayed_callback_is_refused(
    tiktok_emulator: TikTokEmulator, client: TestClient, tiktok_settings: TikTokSettings
) -> None:
    callback, flow_name, flow_value = pending_login(
        client, tiktok_settings, tiktok_emulator.approve
    )
    assert client.get(callback, follow_redirects=False).status_code == 302
    # The browser's flow cookie is gone: replaying the URL in it is a mismatch.
    assert _error(client.get(callback, headers=JSON)) == "state_mismatch"
    # Replaying with a copy of the old flow cookie is caught too, before TikTok is asked again.
    reused = _refused_with_flow_cookie(client.app, flow_name, flow_value, callback)
    assert reused == "state_reused"
    assert tiktok_emulator.count("token") == 1


def test_callback_in_another_browser_is_a_state_mismatch(
    tiktok_emulator: TikTokEmulator, client: TestClient, tiktok_settings: TikTokSettings
) -> None:
    callback = tiktok_emulator.approve(start_login(client, tiktok_settings))
    other = TestClient(client.app, base_url=BASE_URL)
    response = other.get(callback, headers=JSON)
    assert _error(response) == "state_mismatch"
    assert tiktok_emulator.count("token") == 0
    assert other.get("/me").json()["authenticated"] is False
    # The first browser can still finish its own login.
    assert client.get(callback, follow_redirects=False).status_code == 302


def test_callback_without_state_is_state_missing(
    tiktok_emulator: TikTokEmulator, client: TestClient, tiktok_settings: TikTokSettings
) -> None:
    callback = tiktok_emulator.approve(start_login(client, tiktok_settings))
    assert _error(client.get(_without_state(callback), headers=JSON)) == "state_missing"
    assert tiktok_emulator.count("token") == 0


class _Later:
    """Stands in for the ``time`` module inside itsdangerous: the clock ``seconds`` ahead."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def time(self) -> float:
        import time

        return time.time() + self.seconds


def _callback_later(
    emulator: TikTokEmulator, monkeypatch: pytest.MonkeyPatch, seconds: float
) -> tuple[TestClient, str]:
    """A browser and its approved callback, with the clock ``seconds`` past the login's start
    (the flow cookie lives 5 s)."""
    settings = emulator.settings(flow_max_age=5)
    client = TestClient(make_app(settings, emulator.transport()), base_url=BASE_URL)
    callback = emulator.approve(start_login(client, settings))
    monkeypatch.setattr(itsdangerous.timed, "time", _Later(seconds))
    return client, callback


def test_expired_flow_cookie_is_state_expired(
    tiktok_emulator: TikTokEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, callback = _callback_later(tiktok_emulator, monkeypatch, 7)
    assert _error(client.get(callback, headers=JSON)) == "state_expired"
    assert tiktok_emulator.count("token") == 0


def test_flow_cookie_within_its_age_is_accepted(
    tiktok_emulator: TikTokEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, callback = _callback_later(tiktok_emulator, monkeypatch, 3)
    assert client.get(callback, follow_redirects=False).status_code == 302


def test_tampered_flow_cookie_is_state_invalid(
    tiktok_emulator: TikTokEmulator, client: TestClient, tiktok_settings: TikTokSettings
) -> None:
    callback, flow_name, flow_value = pending_login(
        client, tiktok_settings, tiktok_emulator.approve
    )
    flipped = flow_value[:-1] + ("A" if flow_value[-1] != "A" else "B")
    assert _refused_with_flow_cookie(client.app, flow_name, flipped, callback) == "state_invalid"
    assert tiktok_emulator.count("token") == 0


def test_flow_cookie_of_another_state_is_not_accepted(
    tiktok_emulator: TikTokEmulator, client: TestClient, tiktok_settings: TikTokSettings
) -> None:
    """A valid flow cookie copied under the name of another state does not unlock it."""
    _, _, first_value = pending_login(client, tiktok_settings, str)
    victim = TestClient(client.app, base_url=BASE_URL)
    callback, second_name, _ = pending_login(victim, tiktok_settings, tiktok_emulator.approve)
    code = _refused_with_flow_cookie(client.app, second_name, first_value, callback)
    assert code == "state_mismatch"


def test_state_errors_have_distinct_codes(
    tiktok_emulator: TikTokEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    tiktok_settings = tiktok_emulator.settings(flow_max_age=5)
    app = make_app(tiktok_settings, tiktok_emulator.transport())

    def fresh_callback() -> tuple[TestClient, str, str, str]:
        browser = TestClient(app, base_url=BASE_URL)
        return browser, *pending_login(browser, tiktok_settings, tiktok_emulator.approve)

    codes: dict[str, int] = {}

    browser, callback, _, _ = fresh_callback()
    response = TestClient(app, base_url=BASE_URL).get(callback, headers=JSON)
    codes[_error(response)] = response.status_code

    response = browser.get(_without_state(callback), headers=JSON)
    codes[_error(response)] = response.status_code

    browser, callback, name, value = fresh_callback()
    tampered = browser_with_cookie(app, name, value[::-1])
    response = tampered.get(callback, headers=JSON)
    codes[_error(response)] = response.status_code

    browser, callback, name, value = fresh_callback()
    assert browser.get(callback, follow_redirects=False).status_code == 302
    replay = browser_with_cookie(app, name, value)
    response = replay.get(callback, headers=JSON)
    codes[_error(response)] = response.status_code

    browser, callback, _, _ = fresh_callback()
    with monkeypatch.context() as m:
        m.setattr(itsdangerous.timed, "time", _Later(10))
        response = browser.get(callback, headers=JSON)
    codes[_error(response)] = response.status_code

    assert set(codes) == {
        "state_mismatch",
        "state_missing",
        "state_invalid",
        "state_reused",
        "state_expired",
    }
    assert all(code.startswith("state_") for code in codes)
    assert set(codes.values()) == {400}


def test_state_is_random_and_long(client: TestClient, tiktok_settings: TikTokSettings) -> None:
    states = [one(start_login(client, tiktok_settings), "state") for _ in range(20)]
    assert len(set(states)) == 20
    assert min(len(s) for s in states) >= 20
    # Not a counter or a timestamp: even the first ten characters all differ.
    assert len({s[:10] for s in states}) == 20
