"""on_login (persist, enrich, reject) and load_user (per request; None signs out)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.conftest import BASE_URL, make_app, sign_in, start_login
from tests.core.helpers import cookie_named
from tiktok_asgi import TikTokAuthMiddleware, TikTokSettings, TikTokUser
from tiktok_asgi.emulator import TikTokEmulator

JSON = {"accept": "application/json"}


def test_on_login_persists_and_enriches(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    database: dict[str, dict[str, Any]] = {}

    async def on_login(user: TikTokUser, token: Mapping[str, Any]) -> TikTokUser:
        row = database.setdefault(user.open_id, {"id": len(database) + 1, "logins": 0})
        row["logins"] += 1
        row["token_open_id"] = token["open_id"]
        row["has_access_token"] = bool(token.get("access_token"))
        return dataclasses.replace(user, extra={"app_user_id": row["id"], "role": "member"})

    app = make_app(tiktok_settings, tiktok_emulator.transport(), on_login=on_login)
    person = tiktok_emulator.user("amara_dances")
    client = TestClient(app, base_url=BASE_URL)
    sign_in(client, tiktok_settings, tiktok_emulator, user=person)
    sign_in(client, tiktok_settings, tiktok_emulator, user=person)
    assert database == {
        person.open_id: {
            "id": 1,
            "logins": 2,
            "token_open_id": person.open_id,
            "has_access_token": True,
        }
    }
    assert client.get("/me").json()["user"]["extra"] == {"app_user_id": 1, "role": "member"}

    # The extra travels in the signed cookie: a fresh client holding only that cookie sees it.
    cookie = client.cookies[tiktok_settings.cookie_name]
    fresh = TestClient(app, base_url=BASE_URL, cookies={tiktok_settings.cookie_name: cookie})
    assert fresh.get("/me").json()["user"]["extra"] == {"app_user_id": 1, "role": "member"}


@pytest.mark.parametrize("accept", ["application/json", "text/html"])
def test_on_login_rejects(
    accept: str, tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    seen: list[str] = []

    async def on_login(user: TikTokUser, token: Mapping[str, Any]) -> TikTokUser | None:
        seen.append(user.open_id)
        return None

    client = TestClient(
        make_app(tiktok_settings, tiktok_emulator.transport(), on_login=on_login),
        base_url=BASE_URL,
    )
    callback = tiktok_emulator.approve(start_login(client, tiktok_settings))
    response = client.get(callback, headers={"accept": accept}, follow_redirects=False)
    assert response.status_code == 403
    if accept == "application/json":
        assert response.json() == {
            "error": "login_rejected",
            "error_description": "This TikTok account may not sign in here.",
            "log_id": None,
        }
    else:
        assert "login_rejected" in response.text
    assert seen == [tiktok_emulator.users[0].open_id]
    assert tiktok_settings.cookie_name not in client.cookies
    assert client.get("/me").json()["authenticated"] is False


def test_load_user_runs_per_request_and_none_signs_out(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    calls: list[str] = []
    banned: set[str] = set()
    roles = {"admin"}

    async def load_user(user: TikTokUser) -> TikTokUser | None:
        calls.append(user.open_id)
        if user.open_id in banned:
            return None
        return dataclasses.replace(user, extra={**user.extra, "roles": sorted(roles)})

    app = make_app(tiktok_settings, tiktok_emulator.transport(), load_user=load_user)
    client = TestClient(app, base_url=BASE_URL)
    client.get("/")
    assert calls == []  # nobody signed in: nothing to load
    person = tiktok_emulator.user("leo.skates")
    sign_in(client, tiktok_settings, tiktok_emulator, user=person)
    for _ in range(3):
        assert client.get("/me").json()["user"]["extra"] == {"roles": ["admin"]}
    assert calls == [person.open_id] * 3
    with client.websocket_connect("/ws", headers=_cookie(client, tiktok_settings)) as ws:
        assert ws.receive_json()["identity"] == person.open_id
    assert len(calls) == 4

    roles.add("editor")  # what load_user returns is fresh on every request
    assert client.get("/me").json()["user"]["extra"] == {"roles": ["admin", "editor"]}

    banned.add(person.open_id)
    signed_out = client.get("/me")
    assert signed_out.json()["authenticated"] is False
    _, value, attributes = cookie_named(signed_out, tiktok_settings.cookie_name)
    assert value in ("", '""')
    assert any(
        a.lower().startswith("max-age=0") or a.lower().startswith("expires=") for a in attributes
    )
    assert tiktok_settings.cookie_name not in client.cookies
    before = len(calls)
    assert client.get("/me").json()["authenticated"] is False
    assert len(calls) == before  # the cookie is gone: load_user is not asked again


def test_load_user_none_on_a_protected_path_refuses(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    async def load_user(user: TikTokUser) -> TikTokUser | None:
        return None

    settings = tiktok_settings.replace(protected_paths=("/me",))
    client = TestClient(
        make_app(settings, tiktok_emulator.transport(), load_user=load_user), base_url=BASE_URL
    )
    sign_in(client, settings, tiktok_emulator)
    refused = client.get("/me", headers=JSON)
    assert refused.status_code == 401
    # The refused user is signed out on that same answer.
    assert any(
        h.startswith(f"{settings.cookie_name}=;") and "Max-Age=0" in h
        for h in refused.headers.get_list("set-cookie")
    )


def _cookie(client: TestClient, settings: TikTokSettings) -> dict[str, str]:
    return {"cookie": f"{settings.cookie_name}={client.cookies[settings.cookie_name]}"}


async def _per_request_seconds(app: TikTokAuthMiddleware, cookie: str, n: int) -> float:
    scope_base = {
        "type": "http",
        "method": "GET",
        "path": "/me",
        "query_string": b"",
        "headers": [(b"cookie", cookie.encode())],
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        return None

    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(n):
            await app(dict(scope_base), receive, send)
        best = min(best, (time.perf_counter() - start) / n)
    return best


async def test_load_user_cost(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    """A trivial load_user adds little to a signed-in request (the number is in the report)."""

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def load_user(user: TikTokUser) -> TikTokUser | None:
        return user

    client = TestClient(make_app(tiktok_settings, tiktok_emulator.transport()), base_url=BASE_URL)
    sign_in(client, tiktok_settings, tiktok_emulator)
    cookie = f"{tiktok_settings.cookie_name}={client.cookies[tiktok_settings.cookie_name]}"
    plain = TikTokAuthMiddleware(inner, settings=tiktok_settings)
    hooked = TikTokAuthMiddleware(inner, settings=tiktok_settings, load_user=load_user)
    without = await _per_request_seconds(plain, cookie, 2000)
    with_hook = await _per_request_seconds(hooked, cookie, 2000)
    print(f"per signed-in request: {without * 1e6:.1f} µs, with load_user {with_hook * 1e6:.1f} µs")
    assert with_hook - without < 100e-6
