"""MemoryTokenStore's compact records and indexes, and the sealed record's compact form."""

from __future__ import annotations

import base64
import gc
import json
import secrets
import time
import tracemalloc
from typing import Any

import pytest

import tiktok_asgi.stores
from tests.core.helpers import CLIENT_KEY
from tiktok_asgi import MemoryTokenStore, TikTokSettings
from tiktok_asgi._session.records import Sealer, TokenRecord, fernet, record_key

SETTINGS = TikTokSettings(
    client_key=CLIENT_KEY,
    client_secret="cs",
    redirect_uri="https://app.example/auth/tiktok/callback",
    secret_key="memory-store-test-key-" + "k" * 40,
)


class Monotonic:
    """Stands in for the ``time`` module of the store."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Monotonic:
    clock = Monotonic()
    monkeypatch.setattr(tiktok_asgi.stores, "time", clock)
    return clock


def tiktok_token(open_id: str) -> dict[str, Any]:
    """A token response with TikTok-sized tokens (``act.`` + 68 characters, as TikTok's)."""

    def token(prefix: str) -> str:
        return f"{prefix}.{secrets.token_hex(16)}{secrets.token_urlsafe(21)[:28]}!1234.va"

    return {
        "access_token": token("act"),
        "expires_in": 86400,
        "refresh_token": token("rft"),
        "refresh_expires_in": 31536000,
        "open_id": open_id,
        "scope": "user.info.basic,user.info.profile",
    }


async def test_values_come_back_byte_for_byte(clock: Monotonic) -> None:
    store = MemoryTokenStore()
    sealed = Sealer(SETTINGS).seal("sid", TokenRecord.from_response(tiktok_token("o"), 0.0))
    values = [
        sealed,
        b"",
        b"1",
        b"\x00\xff\x80 binary",
        b"QQ==",  # base64url of b"A"
        b"QR==",  # the same bytes spelled otherwise: kept as given
        b"QQ",  # unpadded
        b"a+b/",  # standard base64, not base64url
        b"-_-_",
        base64.urlsafe_b64encode(secrets.token_bytes(100)),
    ]
    for i, value in enumerate(values):
        await store.set(f"k{i}", value, 60)
    for i, value in enumerate(values):
        got = await store.get(f"k{i}")
        assert got == value
        assert type(got) is bytes
    assert await store.replace("k0", b"QR==", 60)
    assert await store.get("k0") == b"QR=="


async def test_a_sealed_record_is_held_as_the_bytes_it_spells(clock: Monotonic) -> None:
    store = MemoryTokenStore()
    sealed = Sealer(SETTINGS).seal("sid", TokenRecord.from_response(tiktok_token("o"), 0.0))
    await store.set("key", sealed, 60)
    held = store._items["key"]
    assert len(held) == 9 + len(base64.urlsafe_b64decode(sealed))  # expiry, flag, the bytes
    assert len(held) < 0.8 * len(sealed)


async def test_records_expire_on_the_stores_clock(clock: Monotonic) -> None:
    store = MemoryTokenStore()
    await store.set("key", b"QQ==", 10)
    assert store.peek("key")
    assert await store.exists("key")
    clock.now += 9.9
    assert await store.get("key") == b"QQ=="
    clock.now += 0.1
    assert not store.peek("key")
    assert not await store.replace("key", b"x", 10)
    assert await store.get("key") is None
    assert len(store) == 0


async def test_an_index_keeps_its_members_in_order_of_expiry(clock: Monotonic) -> None:
    store = MemoryTokenStore()
    await store.index_add("user:ü", "late", 300)
    await store.index_add("user:ü", "early", 100)
    await store.index_add("user:ü", "middle", 200)
    await store.index_add("user:ü", "early", 50)  # never shortened
    await store.index_add("other", "x", 100)
    assert await store.index_members("user:ü") == ["early", "middle", "late"]
    assert await store.index_members("nobody") == []
    clock.now += 150
    assert await store.index_members("user:ü") == ["middle", "late"]
    await store.index_remove("user:ü", "late")
    await store.index_remove("user:ü", "not a member")
    assert await store.index_members("user:ü") == ["middle"]
    await store.index_remove("user:ü", "middle")
    assert len(store._indexes) == 1  # an empty index leaves
    members = [secrets.token_urlsafe(32) for _ in range(60)]
    for i, member in enumerate(members):
        await store.index_add("busy", member, 1000 + i)
    assert await store.index_members("busy") == members
    # Held under a digest of its name: a third of the size of an index's name.
    assert all(len(name) == 20 for name in store._indexes)


async def test_indexes_are_bounded_like_records(clock: Monotonic) -> None:
    store = MemoryTokenStore(max_entries=2)
    await store.index_add("a", "m", 10)
    await store.index_add("b", "m", 100)
    with pytest.raises(tiktok_asgi.stores.TokenStoreError):
        await store.index_add("c", "m", 10)
    clock.now += 20  # "a" has no live member left: it makes room
    await store.index_add("c", "m", 10)
    assert await store.index_members("c") == ["m"]


async def test_once_keys_leave_as_new_ones_come(clock: Monotonic) -> None:
    store = MemoryTokenStore(max_entries=1000)
    assert await store.add_once("state:1", 600)
    assert not await store.add_once("state:1", 600)
    for i in range(2, 200):
        assert await store.add_once(f"state:{i}", 600)
        clock.now += 10
    # Those older than ten minutes have gone without the store filling up.
    assert len(store._once) <= 62
    assert await store.add_once("state:1", 600)  # its time was up
    await store.delete("state:1")
    assert await store.add_once("state:1", 600)


async def test_a_login_session_costs_under_750_bytes(clock: Monotonic) -> None:
    """A record and an index entry of a signed-in user, with TikTok-sized tokens (tracemalloc:
    what Python holds for them)."""
    sealer = Sealer(SETTINGS)
    count = 2000
    rows = []
    for i in range(count):
        sid = secrets.token_urlsafe(32)
        open_id = f"-000Ld9tNs3cVTqTKnOO9X8cK6z{i:09d}"
        rows.append(
            (sid, open_id, sealer.seal(sid, TokenRecord.from_response(tiktok_token(open_id), 0)))
        )
    store = MemoryTokenStore()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for sid, open_id, blob in rows:
            await store.index_add("tiktok_asgi:user-sessions:" + open_id, sid, 86400)
            await store.set(record_key(sid), blob, 86400)
        gc.collect()
        per_session = (tracemalloc.get_traced_memory()[0] - before) / count
    finally:
        tracemalloc.stop()
    assert per_session < 750, per_session


def test_records_are_sealed_as_a_compact_array() -> None:
    sealer = Sealer(SETTINGS)
    record = TokenRecord.from_response(tiktok_token("open-1"), time.time())
    blob = sealer.seal("sid-1", record)
    plain = json.loads(fernet(SETTINGS.secret_keys, SETTINGS.client_key).decrypt(blob))
    assert plain == [
        "sid-1",
        record.access_token,
        record.expires_at,
        record.refresh_token,
        record.refresh_expires_at,
        record.scope,
        record.open_id,
    ]
    assert sealer.open("sid-1", blob) == record
    assert sealer.open("sid-2", blob) is None  # bound to its login session
    # Smaller than the object it was: every login session pays for it.
    old = {
        "access_token": record.access_token,
        "expires_at": record.expires_at,
        "refresh_token": record.refresh_token,
        "refresh_expires_at": record.refresh_expires_at,
        "scope": record.scope,
        "open_id": record.open_id,
        "sid": "sid-1",
    }
    before = fernet(SETTINGS.secret_keys, SETTINGS.client_key).encrypt(json.dumps(old).encode())
    assert len(blob) < 0.85 * len(before)


def test_records_sealed_as_an_object_are_still_read() -> None:
    sealer = Sealer(SETTINGS)
    record = TokenRecord.from_response(tiktok_token("open-1"), time.time())
    old = {
        "access_token": record.access_token,
        "expires_at": record.expires_at,
        "refresh_token": record.refresh_token,
        "refresh_expires_at": record.refresh_expires_at,
        "scope": record.scope,
        "open_id": record.open_id,
        "sid": "sid-1",
    }
    blob = fernet(SETTINGS.secret_keys, SETTINGS.client_key).encrypt(json.dumps(old).encode())
    assert sealer.open("sid-1", blob) == record
    assert sealer.open("sid-2", blob) is None
    for bad in ([], ["sid-1"], ["sid-1", 1, 2, 3, 4, 5, 6, 7], {"sid": "sid-1"}, "x", 5):
        sealed = fernet(SETTINGS.secret_keys, SETTINGS.client_key).encrypt(json.dumps(bad).encode())
        assert sealer.open("sid-1", sealed) is None
