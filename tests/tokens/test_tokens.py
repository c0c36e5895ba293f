"""Tokens kept server-side: encrypted at rest, refreshed once, revoked at logout."""

from __future__ import annotations

import asyncio
import logging
import time

import httpx2
import pytest

from tests.core.helpers import identity_serializer
from tests.support.signin import async_sign_in
from tests.tokens.conftest import (
    browser,
    cleared,
    expire_access_token,
    read_record,
    session_id,
    signed_in,
    store_key,
    withdraw_at_tiktok,
    wrap,
)
from tiktok_asgi import MemoryTokenStore, TikTokSettings, TokenStoreError
from tiktok_asgi.emulator import Fault, TikTokEmulator


def _refreshes(emulator: TikTokEmulator) -> list[dict[str, list[str]]]:
    return [
        r.form
        for r in emulator.requests
        if r.endpoint == "token" and r.form.get("grant_type") == ["refresh_token"]
    ]


async def _api_status(emulator: TikTokEmulator, access_token: str) -> int:
    """What TikTok itself says of an access token: the status of a user-info call with it."""
    async with httpx2.AsyncClient(transport=emulator.transport()) as client:
        response = await client.get(
            "https://open.tiktokapis.com/v2/user/info/",
            params={"fields": "open_id"},
            headers={"authorization": f"Bearer {access_token}"},
        )
    return response.status_code


async def test_the_token_is_stored_encrypted_and_the_cookie_carries_only_a_session_id(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    store = MemoryTokenStore()
    async with browser(wrap(tiktok_settings, store, tiktok_emulator)) as client:
        before = time.time()
        await async_sign_in(client, tiktok_settings, tiktok_emulator)
        after = time.time()
        sid = session_id(client, tiktok_settings)
        record = await read_record(store, tiktok_settings, sid)
        response = await client.get("/token")
    assert response.status_code == 200
    access, refresh = record["access_token"], record["refresh_token"]
    assert response.json() == {"access_token": access}
    assert access.startswith("act.")
    assert refresh.startswith("rft.")

    # At rest: one opaque record, no token text in it.
    assert len(store) == 1
    raw = await store.get(store_key(sid))
    assert raw is not None
    for secret in (access, refresh, access.encode().hex()):
        assert secret.encode() not in raw
    assert b"act." not in raw
    assert b"rft." not in raw

    # The cookie: the user and a random session id, nothing of the tokens.
    cookie = client.cookies[tiktok_settings.cookie_name]
    payload = identity_serializer(tiktok_settings).loads(cookie)
    assert len(sid) >= 40
    assert access not in cookie
    assert refresh not in cookie
    assert "act." not in str(payload)
    assert "rft." not in str(payload)

    # Absolute expiries, from expires_in (2 hours) and refresh_expires_in (180 days).
    assert before + 7200 - 2 <= record["expires_at"] <= after + 7200 + 2
    assert before + 15552000 - 2 <= record["refresh_expires_at"] <= after + 15552000 + 2
    assert record["open_id"] == tiktok_emulator.users[0].open_id


async def test_an_expired_token_is_refreshed_with_exactly_tiktoks_fields_and_rotated(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    async with signed_in(tiktok_settings, tiktok_emulator) as (client, store, sid):
        old = await read_record(store, tiktok_settings, sid)
        assert (await client.get("/token")).json() == {"access_token": old["access_token"]}
        assert _refreshes(tiktok_emulator) == []

        await expire_access_token(store, tiktok_settings, sid)
        before = time.time()
        response = await client.get("/token")
        assert response.status_code == 200
        new = await read_record(store, tiktok_settings, sid)

    assert _refreshes(tiktok_emulator) == [
        {
            "client_key": [tiktok_settings.client_key],
            "client_secret": [tiktok_settings.client_secret],
            "grant_type": ["refresh_token"],
            "refresh_token": [old["refresh_token"]],
        }
    ]
    assert response.json() == {"access_token": new["access_token"]}
    assert new["access_token"] != old["access_token"]
    assert new["refresh_token"] != old["refresh_token"]  # the rotated one is kept
    assert new["expires_at"] >= before + 7200 - 2
    # TikTok accepts the new access token, and no longer the old pair.
    assert await _api_status(tiktok_emulator, new["access_token"]) == 200
    assert await _api_status(tiktok_emulator, old["access_token"]) == 401
    async with httpx2.AsyncClient(transport=tiktok_emulator.transport()) as tiktok:
        reused = await tiktok.post(
            tiktok_settings.token_url,
            data={
                "client_key": tiktok_settings.client_key,
                "client_secret": tiktok_settings.client_secret,
                "grant_type": "refresh_token",
                "refresh_token": old["refresh_token"],
            },
        )
    assert reused.json()["error"] == "invalid_grant"


async def test_fifty_concurrent_requests_with_an_expired_token_refresh_once(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    async with signed_in(tiktok_settings, tiktok_emulator) as (client, store, sid):
        await expire_access_token(store, tiktok_settings, sid)
        tiktok_emulator.inject("token", Fault.latency(0.2))  # keep the refresh in flight a while
        responses = await asyncio.gather(*(client.get("/token") for _ in range(50)))
        new = await read_record(store, tiktok_settings, sid)
    assert [r.status_code for r in responses] == [200] * 50
    assert {r.json()["access_token"] for r in responses} == {new["access_token"]}
    assert tiktok_emulator.count("token", grant_type="refresh_token") == 1


async def test_a_refresh_tiktok_rejects_signs_the_user_out(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    async with signed_in(tiktok_settings, tiktok_emulator) as (client, store, sid):
        access = await expire_access_token(store, tiktok_settings, sid)
        await withdraw_at_tiktok(tiktok_emulator, tiktok_settings, access)
        response = await client.get("/token")
        assert response.status_code == 401
        assert response.json()["error"] == "login_required"
        assert cleared(response, tiktok_settings)
        assert await store.get(store_key(sid)) is None
        assert tiktok_settings.cookie_name not in client.cookies
        assert (await client.get("/token")).status_code == 401
    assert tiktok_emulator.count("token", grant_type="refresh_token") == 1


async def test_an_expired_refresh_token_signs_the_user_out() -> None:
    now = [1_800_000_000.0]
    tiktok_emulator = TikTokEmulator(clock=lambda: now[0], refresh_token_ttl=3600)
    tiktok_settings = tiktok_emulator.settings()
    async with signed_in(tiktok_settings, tiktok_emulator) as (client, store, sid):
        now[0] += 3601
        await expire_access_token(store, tiktok_settings, sid)
        response = await client.get("/token")
    assert response.status_code == 401
    assert response.json()["error"] == "login_required"
    assert response.json()["log_id"]  # TikTok's, kept for support
    assert cleared(response, tiktok_settings)
    assert await store.get(store_key(sid)) is None


async def test_logout_forgets_the_token_and_leaves_tiktok_alone(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    # Revoking would disconnect the app at TikTok: a sign-out does not, by default.
    async with signed_in(tiktok_settings, tiktok_emulator) as (client, store, sid):
        access = (await read_record(store, tiktok_settings, sid))["access_token"]
        response = await client.post(tiktok_settings.logout_path)
        assert response.status_code == 303
        assert cleared(response, tiktok_settings)
    assert tiktok_emulator.count("revoke") == 0
    assert tiktok_emulator.is_connected("mayacooks")
    assert await _api_status(tiktok_emulator, access) == 200
    assert await store.get(store_key(sid)) is None
    assert len(store) == 0


async def test_revoke_on_logout_revokes_at_tiktok_and_forgets_the_token(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    revoking = signed_in(tiktok_settings, tiktok_emulator, revoke_on_logout=True)
    async with revoking as (client, store, sid):
        access = (await read_record(store, tiktok_settings, sid))["access_token"]
        assert await _api_status(tiktok_emulator, access) == 200
        response = await client.post(tiktok_settings.logout_path)
        assert response.status_code == 303
        assert cleared(response, tiktok_settings)
    (revoke,) = [r for r in tiktok_emulator.requests if r.endpoint == "revoke"]
    assert revoke.form == {
        "client_key": [tiktok_settings.client_key],
        "client_secret": [tiktok_settings.client_secret],
        "token": [access],
    }
    assert tiktok_emulator.count("revoke") == 1
    assert await _api_status(tiktok_emulator, access) == 401
    assert await store.get(store_key(sid)) is None
    assert len(store) == 0


async def test_logout_succeeds_when_revoking_fails(
    tiktok_emulator: TikTokEmulator,
    tiktok_settings: TikTokSettings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    revoking = signed_in(tiktok_settings, tiktok_emulator, revoke_on_logout=True)
    async with revoking as (client, store, sid):
        tiktok_emulator.inject("revoke", Fault.error_body("internal_error"))
        with caplog.at_level(logging.WARNING, logger="tiktok_asgi"):
            response = await client.post(tiktok_settings.logout_path)
    assert response.status_code == 303
    assert cleared(response, tiktok_settings)
    assert await store.get(store_key(sid)) is None
    assert tiktok_emulator.count("revoke") == 1
    warnings = [r for r in caplog.records if r.getMessage().startswith("revoke_failed")]
    assert len(warnings) == 1
    assert "code=internal_error" in warnings[0].getMessage()


async def test_logout_bounded_when_tiktok_hangs(tiktok_emulator: TikTokEmulator) -> None:
    tiktok_settings = tiktok_emulator.settings(http_timeout=0.5)
    store = MemoryTokenStore()
    revoking = signed_in(tiktok_settings, tiktok_emulator, store, revoke_on_logout=True)
    async with revoking as (client, _, _):
        tiktok_emulator.inject("revoke", Fault.timeout(30))
        started = time.monotonic()
        response = await client.post(tiktok_settings.logout_path)
        elapsed = time.monotonic() - started
    assert response.status_code == 303
    assert cleared(response, tiktok_settings)
    assert elapsed < 3
    assert len(store) == 0


async def test_records_written_under_an_old_key_stay_readable_after_rotation(
    tiktok_emulator: TikTokEmulator,
) -> None:
    old_key, new_key = "o" * 40, "n" * 40
    old = tiktok_emulator.settings(secret_key=old_key)
    rotated = old.replace(secret_key=[old_key, new_key])
    store = MemoryTokenStore()
    async with browser(wrap(old, store, tiktok_emulator)) as client:
        await async_sign_in(client, old, tiktok_emulator)
        sid = session_id(client, old)
        access = (await read_record(store, old, sid))["access_token"]
        cookies = client.cookies
    async with browser(wrap(rotated, store, tiktok_emulator)) as client:
        client.cookies = cookies
        response = await client.get("/token")
        assert response.status_code == 200
        assert response.json() == {"access_token": access}
        # A refresh rewrites the record under the newest key.
        await expire_access_token(store, rotated, sid)
        assert (await client.get("/token")).status_code == 200
    refreshed = await read_record(store, tiktok_emulator.settings(secret_key=new_key), sid)
    assert refreshed["access_token"] != access
    async with browser(wrap(old, store, tiktok_emulator)) as client:
        client.cookies = cookies
        response = await client.get("/token")
    # The old key alone cannot read the new record: the user must sign in again.
    assert response.status_code == 401
    assert response.json()["error"] == "login_required"


async def test_without_a_signed_in_user_there_is_no_token(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    async with browser(wrap(tiktok_settings, MemoryTokenStore(), tiktok_emulator)) as client:
        response = await client.get("/token")
    assert response.status_code == 401
    assert response.json()["error"] == "login_required"


def test_memory_store_never_evicts_a_live_record(caplog: pytest.LogCaptureFixture) -> None:
    store = MemoryTokenStore(max_entries=2)

    async def fill() -> list[bytes | None]:
        await store.set("a", b"a", 60)
        await store.set("b", b"b", 60)
        with pytest.raises(TokenStoreError, match="max_entries"):
            await store.set("c", b"c", 60)  # refused, loudly: nobody is pushed out
        await store.set("a", b"a2", 60)  # an existing record can always be written
        return [await store.get(k) for k in ("a", "b", "c")]

    assert asyncio.run(fill()) == [b"a2", b"b", None]
    assert "memory_token_store_full" in caplog.text

    async def expired_make_room() -> bytes | None:
        room = MemoryTokenStore(max_entries=1)
        await room.set("old", b"o", 0)  # expires at once
        await room.set("new", b"n", 60)
        return await room.get("new")

    assert asyncio.run(expired_make_room()) == b"n"
    with pytest.raises(ValueError, match="max_entries"):
        MemoryTokenStore(max_entries=0)
