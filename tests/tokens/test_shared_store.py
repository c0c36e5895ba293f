"""A store shared by many instances: a sign-in answer (its ``state``) is accepted once across all of
them when the store can tell (``add_once``: Redis ``SET NX``), and records cannot be swapped."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.fernet import InvalidToken

from tests.core.helpers import cookie_named
from tests.tokens.conftest import browser, wrap
from tiktok_asgi import MemoryTokenStore, TikTokSettings, TokenStore
from tiktok_asgi.emulator import TikTokEmulator
from tiktok_asgi.stores import OnceStore

JSON = {"accept": "application/json"}


async def _replayed_on_another_instance(
    settings: TikTokSettings, emulator: TikTokEmulator, store: TokenStore
) -> tuple[int, Any]:
    """Sign in on one instance, then send the same callback (with its flow cookie, as an
    attacker who captured both would) to a second instance sharing ``store``."""
    first, second = wrap(settings, store, emulator), wrap(settings, store, emulator)
    async with browser(first) as client:
        login = await client.get(settings.login_path)
        name, value, _ = cookie_named(login, f"{settings.cookie_name}_flow_")
        callback = emulator.approve(login.headers["location"])
        assert (await client.get(callback)).status_code == 302
    async with browser(second) as replay:
        answer = await replay.get(callback, headers={**JSON, "cookie": f"{name}={value}"})
    return answer.status_code, answer.json()


async def test_a_replay_on_another_instance_sharing_a_store_is_refused(
    tiktok_settings: TikTokSettings, tiktok_emulator: TikTokEmulator
) -> None:
    status, body = await _replayed_on_another_instance(
        tiktok_settings, tiktok_emulator, MemoryTokenStore()
    )
    assert (status, body["error"]) == (400, "state_reused")
    # Refused before the code reached TikTok a second time.
    assert len([r for r in tiktok_emulator.requests if r.endpoint == "token"]) == 1


async def test_the_same_across_two_instances_sharing_redis(
    tiktok_settings: TikTokSettings, tiktok_emulator: TikTokEmulator, redis_store: Any
) -> None:
    assert isinstance(redis_store, OnceStore)
    status, body = await _replayed_on_another_instance(
        tiktok_settings, tiktok_emulator, redis_store
    )
    assert (status, body["error"]) == (400, "state_reused")
    assert len([r for r in tiktok_emulator.requests if r.endpoint == "token"]) == 1


class _StoreWithoutOnce:
    """A user's store written against the protocol before ``add_once`` existed."""

    def __init__(self) -> None:
        self._inner = MemoryTokenStore()
        self.get, self.set, self.delete = self._inner.get, self._inner.set, self._inner.delete
        self.lock = self._inner.lock


async def test_a_store_without_add_once_still_refuses_the_replay(
    tiktok_settings: TikTokSettings, tiktok_emulator: TikTokEmulator
) -> None:
    store = _StoreWithoutOnce()
    assert isinstance(store, TokenStore)
    assert not isinstance(store, OnceStore)
    status, body = await _replayed_on_another_instance(tiktok_settings, tiktok_emulator, store)
    # add_once built on get/set under the store's lock: shared as widely as the store.
    assert status == 400
    assert body["error"] == "state_reused"
    assert len([r for r in tiktok_emulator.requests if r.endpoint == "token"]) == 1


@pytest.mark.parametrize("ttl", [1, 600])
async def test_memory_add_once_is_true_once(ttl: int) -> None:
    store = MemoryTokenStore()
    assert await store.add_once("k", ttl) is True
    assert await store.add_once("k", ttl) is False


async def test_a_record_copied_under_another_sessions_key_is_refused(
    tiktok_settings: TikTokSettings, tiktok_emulator: TikTokEmulator
) -> None:
    from tests.support.signin import async_sign_in
    from tests.tokens.conftest import session_id, store_key

    store = MemoryTokenStore()
    app = wrap(tiktok_settings, store, tiktok_emulator)
    async with browser(app) as mine, browser(app) as theirs:
        await async_sign_in(mine, tiktok_settings, tiktok_emulator, user="mayacooks")
        await async_sign_in(
            theirs, tiktok_settings, tiktok_emulator, user=tiktok_emulator.users[1].open_id
        )
        assert (await theirs.get("/token", headers=JSON)).status_code == 200
        # Someone with write access to the store swaps the victim's record into their session.
        victim = await store.get(store_key(session_id(mine, tiktok_settings)))
        assert victim is not None
        await store.set(store_key(session_id(theirs, tiktok_settings)), victim, 600)
        stolen = await theirs.get("/token", headers=JSON)
        assert stolen.status_code == 401
        assert (await mine.get("/token", headers=JSON)).status_code == 200


async def test_records_of_another_client_key_are_unreadable(
    tiktok_settings: TikTokSettings, tiktok_emulator: TikTokEmulator
) -> None:
    from tests.tokens.conftest import session_id, store_key
    from tiktok_asgi._session.records import fernet as _fernet

    store = MemoryTokenStore()
    async with browser(wrap(tiktok_settings, store, tiktok_emulator)) as client:
        from tests.support.signin import async_sign_in

        await async_sign_in(client, tiktok_settings, tiktok_emulator)
        blob = await store.get(store_key(session_id(client, tiktok_settings)))
    assert blob is not None
    _fernet(tiktok_settings.secret_keys, tiktok_settings.client_key).decrypt(blob)
    with pytest.raises(InvalidToken):
        _fernet(tiktok_settings.secret_keys, "staging-client-key").decrypt(blob)
