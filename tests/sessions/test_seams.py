"""Session guarantees at the seams: a refresh in flight during a sign-out, a store that blinks
during a sign-out or a webhook, a sign-out everywhere racing a new sign-in, one account signing
in ten thousand times, a request's store work under one deadline.

Each test failed on the code before the session state machine (``tiktok_asgi._session``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket, WebSocketDisconnect

from tests.frameworks.helpers import ws_headers
from tests.sessions.conftest import browser, copy_of, signed_in_browser, who
from tests.support.calls import end_user_sessions, get_access_token
from tests.support.faulty_store import FaultyStore
from tests.support.held_tiktok import HeldTikTok
from tests.support.signin import sign_in
from tests.tokens.conftest import RedisServer, expire_access_token, session_id, store_key
from tiktok_asgi import MemoryTokenStore, TikTokAuthError, TikTokAuthMiddleware, TikTokSettings
from tiktok_asgi._cookies.identity import Identity
from tiktok_asgi._session import MAX_SESSIONS_PER_USER, TokenManager
from tiktok_asgi._tiktok.http import SharedTransport
from tiktok_asgi._tiktok.provider import TikTokProvider
from tiktok_asgi.emulator import TikTokEmulator
from tiktok_asgi.redis_store import RedisTokenStore
from tiktok_asgi.stores import TokenStore
from tiktok_asgi.webhooks import sign_webhook


async def _me(request: Request) -> JSONResponse:
    user = request.scope["user"]
    return JSONResponse({"user": user.display_name if user.is_authenticated else None})


async def _token(request: Request) -> JSONResponse:
    return JSONResponse({"access_token": await get_access_token(request)})


async def _end(request: Request) -> JSONResponse:
    return JSONResponse({"ended": await end_user_sessions(request, request.path_params["id"])})


async def _ws(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_json({"user": websocket.scope["user"].display_name})
    try:
        while True:
            await websocket.send_text(await websocket.receive_text())
    except WebSocketDisconnect:
        return


def app_over(
    settings: TikTokSettings, store: TokenStore, tiktok: httpx2.AsyncBaseTransport, **kw: Any
) -> TikTokAuthMiddleware:
    routes = [
        Route("/me", _me),
        Route("/token", _token),
        Route("/end/{id}", _end, methods=["POST"]),
        WebSocketRoute("/ws", _ws),
    ]
    app = Starlette(routes=routes, exception_handlers={TikTokAuthError: _tiktok_error})
    return TikTokAuthMiddleware(app, settings=settings, transport=tiktok, token_store=store, **kw)


async def _tiktok_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TikTokAuthError)
    return JSONResponse(exc.as_dict(), status_code=exc.status_code)


def manager_of(app: TikTokAuthMiddleware) -> TokenManager:
    tokens = app._tokens
    assert tokens is not None
    return tokens


@pytest.fixture
def webhook_settings(tiktok_emulator: TikTokEmulator) -> TikTokSettings:
    return tiktok_emulator.settings(http_timeout=5.0, webhook_path="/auth/tiktok/webhook")


def removed(settings: TikTokSettings, open_id: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(
        {
            "client_key": settings.client_key,
            "event": "authorization.removed",
            "create_time": int(time.time()),
            "user_openid": open_id,
            "content": json.dumps({"reason": 1}),
        }
    ).encode()
    return body, {"tiktok-signature": sign_webhook(settings.client_secret, body, int(time.time()))}


# Ended is final ------------------------------------------------------------------------------


@asynccontextmanager
async def redis_pair(server: RedisServer) -> AsyncIterator[tuple[TokenStore, TokenStore]]:
    first, second = RedisTokenStore(server.url), RedisTokenStore(server.url)
    try:
        yield first, second
    finally:
        await first.aclose()
        await second.aclose()


@asynccontextmanager
async def memory_pair(server: RedisServer | None) -> AsyncIterator[tuple[TokenStore, TokenStore]]:
    store = MemoryTokenStore()
    yield store, store


@pytest.mark.parametrize("stores", ["memory", "redis"])
async def test_a_refresh_in_flight_during_sign_out_never_brings_the_session_back(
    stores: str,
    tiktok_settings: TikTokSettings,
    tiktok_emulator: TikTokEmulator,
    request: pytest.FixtureRequest,
) -> None:
    pair = (
        redis_pair(request.getfixturevalue("redis_server"))
        if stores == "redis"
        else memory_pair(None)
    )
    async with pair as (store_a, store_b):
        tiktok = HeldTikTok(tiktok_emulator.transport())
        one = app_over(tiktok_settings, store_a, tiktok)
        two = app_over(tiktok_settings, store_b, tiktok_emulator.transport())
        async with signed_in_browser(one, tiktok_settings, tiktok_emulator) as phone:
            sid = session_id(phone, tiktok_settings)
            cookie = phone.cookies[tiktok_settings.cookie_name]
            copy = copy_of(phone, two, tiktok_settings)
            await expire_access_token(store_a, tiktok_settings, sid)
            tiktok.hold(b"grant_type=refresh_token")
            refreshing = asyncio.ensure_future(phone.get("/token"))
            await asyncio.wait_for(tiktok.arrived.wait(), 5)
            signed_out = await copy.post(tiktok_settings.logout_path)  # on the other instance
            assert signed_out.status_code == 303
            tiktok.release()
            late = await refreshing
            assert late.status_code == 401  # the rotated tokens are not written back
            assert await store_a.get(store_key(sid)) is None
            again = browser(two)
            again.cookies.set(tiktok_settings.cookie_name, cookie)
            async with again:
                assert await who(again) is None
            await copy.aclose()
            # end_user_sessions then finds nothing alive, and nothing comes back after it.
            maya = tiktok_emulator.user("mayacooks").open_id
            assert await manager_of(one).end_user(maya, revoke=False) == []


async def test_a_profile_re_read_in_flight_during_sign_out_re_issues_nothing(
    tiktok_emulator: TikTokEmulator,
) -> None:
    settings = tiktok_emulator.settings(http_timeout=5.0, profile_max_age=1)
    store = MemoryTokenStore()
    tiktok = HeldTikTok(tiktok_emulator.transport())
    app = app_over(settings, store, tiktok)
    async with signed_in_browser(app, settings, tiktok_emulator) as phone:
        copy = copy_of(phone, app, settings)
        cookie = f"{settings.cookie_name}={phone.cookies[settings.cookie_name]}"
        identity = app._identity.read([(b"cookie", cookie.encode())])
        assert identity is not None
        # A cookie older than profile_max_age: the request re-reads the profile.
        identity = Identity(identity.user, identity.session_id, identity.issued - 10)
        tiktok.hold(b"")  # user info is a GET: every call to TikTok waits
        re_read = asyncio.ensure_future(app._sessions.follow(identity))  # type: ignore[union-attr]
        await asyncio.wait_for(tiktok.arrived.wait(), 5)
        await manager_of(app).end(identity.session_id or "", revoke=False)
        tiktok.release()
        verdict = await re_read
        assert not verdict.alive
        assert verdict.cookie is None
        assert await who(copy) is None
        await copy.aclose()


# Fail closed, lose nothing --------------------------------------------------------------------


async def test_sign_out_while_the_store_is_down_is_503_and_ends_everywhere_once_it_is_back(
    tiktok_settings: TikTokSettings, tiktok_emulator: TikTokEmulator
) -> None:
    shared = MemoryTokenStore()
    blinking = FaultyStore(shared)
    slept: list[float] = []

    async def no_wait(seconds: float) -> None:
        slept.append(seconds)
        await asyncio.sleep(0)

    one = app_over(tiktok_settings, blinking, tiktok_emulator.transport())
    manager_of(one).sleep = no_wait
    two = app_over(tiktok_settings, shared, tiktok_emulator.transport())
    async with signed_in_browser(one, tiktok_settings, tiktok_emulator) as phone:
        sid = session_id(phone, tiktok_settings)
        cookie = phone.cookies[tiktok_settings.cookie_name]
        here, there = copy_of(phone, one, tiktok_settings), copy_of(phone, two, tiktok_settings)
        blinking.down = True
        page = await phone.post(tiktok_settings.logout_path)
        assert page.status_code == 503
        assert "signed out in this browser" in page.text
        assert f"{tiktok_settings.cookie_name}=;" in page.headers["set-cookie"]
        again = browser(one)
        again.cookies.set(tiktok_settings.cookie_name, cookie)
        async with again:
            json_answer = await again.post(
                tiktok_settings.logout_path, headers={"accept": "application/json"}
            )
        assert json_answer.json()["error"] == "token_store_unavailable"
        assert await who(here) is None  # ended in this process at once
        assert await shared.get(store_key(sid)) is not None  # the store has not heard yet
        blinking.down = False
        await manager_of(one).write_held()
        assert await shared.get(store_key(sid)) is None
        assert await who(there) is None  # and no copy anywhere comes back
        assert await who(here) is None
        await here.aclose()
        await there.aclose()


async def test_a_store_blip_while_handling_a_webhook_is_not_200_and_the_redelivery_ends_it(
    webhook_settings: TikTokSettings, tiktok_emulator: TikTokEmulator
) -> None:
    blinking = FaultyStore(MemoryTokenStore())
    app = app_over(webhook_settings, blinking, tiktok_emulator.transport())
    maya = tiktok_emulator.user("mayacooks")
    async with signed_in_browser(app, webhook_settings, tiktok_emulator) as phone:
        body, headers = removed(webhook_settings, maya.open_id)
        blinking.fail_next.append("index_members")  # after the delivery was claimed
        first = await phone.post(webhook_settings.webhook_path or "", content=body, headers=headers)
        assert first.status_code == 503  # not taken: TikTok delivers it again
        assert first.headers["retry-after"] == "60"
        assert await who(phone) == maya.display_name
        again = await phone.post(webhook_settings.webhook_path or "", content=body, headers=headers)
        assert again.status_code == 200
        assert await who(phone) is None
        third = await phone.post(webhook_settings.webhook_path or "", content=body, headers=headers)
        assert third.status_code == 200  # handled once


async def test_a_rotated_refresh_token_survives_a_store_that_fails_after_tiktok_answered(
    tiktok_settings: TikTokSettings, tiktok_emulator: TikTokEmulator
) -> None:
    blinking = FaultyStore(MemoryTokenStore())
    app = app_over(tiktok_settings, blinking, tiktok_emulator.transport())

    async def no_wait(seconds: float) -> None:
        await asyncio.sleep(0)

    manager_of(app).sleep = no_wait
    async with signed_in_browser(app, tiktok_settings, tiktok_emulator) as phone:
        sid = session_id(phone, tiktok_settings)
        # Once: the write is tried again at once.
        await expire_access_token(blinking.inner, tiktok_settings, sid)
        blinking.fail_next.append("replace")
        first = (await phone.get("/token")).json()["access_token"]
        assert (await phone.get("/token")).json()["access_token"] == first
        # Every write fails: the record is held here, used, and written once the store is back.
        await expire_access_token(blinking.inner, tiktok_settings, sid)
        blinking.fail_next.extend(["replace"] * 3)
        second = (await phone.get("/token")).json()["access_token"]
        assert second != first
        assert (await phone.get("/token")).json()["access_token"] == second
        await manager_of(app).write_held()
        record = await manager_of(app)._read(sid)
        assert record.access_token == second
        # Two refreshes, each with the newest refresh token: none was sent twice.
        assert tiktok_emulator.count("token", grant_type="refresh_token") == 2
        assert await who(phone) == tiktok_emulator.user("mayacooks").display_name


# Indexes and room --------------------------------------------------------------------------------


async def test_sign_out_everywhere_racing_a_new_sign_in_leaves_the_new_session_listed(
    tiktok_settings: TikTokSettings, tiktok_emulator: TikTokEmulator
) -> None:
    store = FaultyStore(MemoryTokenStore())
    app = app_over(tiktok_settings, store, tiktok_emulator.transport())
    maya = tiktok_emulator.user("mayacooks")
    async with signed_in_browser(app, tiktok_settings, tiktok_emulator) as old:
        store.hold("get")  # end_user has read the index; it now reads each record
        store.calls.clear()
        ending = asyncio.ensure_future(manager_of(app).end_user(maya.open_id, revoke=False))
        for _ in range(100):  # until end_user has read the index
            if "index_members" in store.calls:
                break
            await asyncio.sleep(0)
        # A new sign-in lands while the old sessions are being ended.
        async with signed_in_browser(app, tiktok_settings, tiktok_emulator) as new:
            store.release()
            assert len(await ending) == 1
            assert await who(old) is None
            assert await who(new) == maya.display_name
            # Still listed: a later authorization.removed or sign-out everywhere finds it.
            assert len(await manager_of(app).end_user(maya.open_id, revoke=False)) == 1
            assert await who(new) is None


async def test_twelve_thousand_sign_ins_sign_nobody_out_of_a_memory_store(
    tiktok_settings: TikTokSettings, tiktok_emulator: TikTokEmulator
) -> None:
    shared = SharedTransport(tiktok_emulator.transport())
    tokens = TokenManager(
        tiktok_settings, MemoryTokenStore(), TikTokProvider(tiktok_settings, shared)
    )
    ids = [
        await tokens.save({"access_token": f"act.{n}", "expires_in": 7200, "open_id": f"user-{n}"})
        for n in range(12_000)
    ]
    assert all(tokens.live.known(sid) for sid in ids)
    # One account signing in ten thousand times keeps only its newest sessions.
    mine = [
        await tokens.save({"access_token": f"act.m{n}", "expires_in": 7200, "open_id": "me"})
        for n in range(10_000)
    ]
    assert all(tokens.live.known(sid) for sid in ids)
    alive = [sid for sid in mine if tokens.live.known(sid)]
    assert alive == mine[-MAX_SESSIONS_PER_USER:]
    await shared.aclose()


async def test_a_request_s_store_calls_share_one_deadline(
    tiktok_settings: TikTokSettings, tiktok_emulator: TikTokEmulator
) -> None:
    class Slow(FaultyStore):
        timeout = 0.2  # the store's own bound: the request's whole budget

        async def _guard(self, name: str) -> None:
            await super()._guard(name)
            if self.slow:
                await asyncio.sleep(0.08)

    store = Slow(MemoryTokenStore())
    store.slow = False
    app = app_over(tiktok_settings, store, tiktok_emulator.transport())
    async with signed_in_browser(app, tiktok_settings, tiktok_emulator) as phone:
        store.slow = True  # a sign-out makes four calls: 0.32 s one after another
        started = time.monotonic()
        answer = await phone.post(
            tiktok_settings.logout_path, headers={"accept": "application/json"}
        )
        assert answer.status_code == 503
        assert time.monotonic() - started < 0.3


# Sockets follow their session --------------------------------------------------------------------


@pytest.mark.parametrize("ending", ["sign-out", "end_user_sessions", "authorization.removed"])
def test_an_open_websocket_is_closed_1008_when_its_session_ends(
    ending: str, webhook_settings: TikTokSettings, tiktok_emulator: TikTokEmulator
) -> None:
    app = app_over(webhook_settings, MemoryTokenStore(), tiktok_emulator.transport())
    maya = tiktok_emulator.user("mayacooks")
    with TestClient(app, base_url="https://testserver") as client:
        sign_in(client, webhook_settings, tiktok_emulator)
        with client.websocket_connect(
            "/ws", headers=ws_headers(client, webhook_settings)
        ) as socket:
            assert socket.receive_json() == {"user": maya.display_name}
            socket.send_text("ping")
            assert socket.receive_text() == "ping"
            if ending == "sign-out":
                client.post(webhook_settings.logout_path)
            elif ending == "end_user_sessions":
                client.post(f"/end/{maya.open_id}")
            else:
                body, headers = removed(webhook_settings, maya.open_id)
                client.post(webhook_settings.webhook_path or "", content=body, headers=headers)
            with pytest.raises(WebSocketDisconnect) as closed:
                socket.receive_text()
            assert closed.value.code == 1008


# The store that was not given --------------------------------------------------------------------


def test_a_session_cookie_is_nobody_when_the_app_starts_without_its_store(
    tiktok_settings: TikTokSettings,
    tiktok_emulator: TikTokEmulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with_store = app_over(tiktok_settings, MemoryTokenStore(), tiktok_emulator.transport())
    with TestClient(with_store, base_url="https://testserver") as client:
        sign_in(client, tiktok_settings, tiktok_emulator)
        cookie = client.cookies[tiktok_settings.cookie_name]
    without = TikTokAuthMiddleware(
        Starlette(routes=[Route("/me", _me)]),
        settings=tiktok_settings,
        transport=tiktok_emulator.transport(),
    )
    with (
        TestClient(without, base_url="https://testserver") as client,
        caplog.at_level(logging.WARNING),
    ):
        client.cookies.set(tiktok_settings.cookie_name, cookie)
        answer = client.get("/me")
        assert answer.json() == {"user": None}
        assert f"{tiktok_settings.cookie_name}=;" in answer.headers["set-cookie"]
    assert "no token_store" in caplog.text


def test_a_view_s_tiktok_error_without_a_token_store_is_answered_not_a_500(
    tiktok_settings: TikTokSettings, tiktok_emulator: TikTokEmulator
) -> None:
    app = Starlette(routes=[Route("/token", _token)])
    app.add_middleware(
        TikTokAuthMiddleware, settings=tiktok_settings, transport=tiktok_emulator.transport()
    )
    with TestClient(app, base_url="https://testserver", raise_server_exceptions=False) as client:
        answer = client.get("/token", headers={"accept": "application/json"})
    assert answer.status_code == 401
    assert answer.json()["error"] == "login_required"
