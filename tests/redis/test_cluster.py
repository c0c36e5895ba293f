"""RedisTokenStore on a Redis Cluster of three masters started here: every operation, and
sign-in, signed-in requests, refresh and sign-out of several users whose sessions land on
different masters."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import RedisCluster

from tests.redis.conftest import (
    INDEX_PREFIX,
    JSON,
    Tally,
    browser,
    lifespan,
    session_app,
    try_sign_in,
)
from tests.support.redis_deployments import RedisClusterDeployment
from tests.tokens.conftest import KEY_PREFIX, expire_access_token
from tiktok_asgi import TikTokSettings, TokenStoreError
from tiktok_asgi.emulator import TikTokEmulator
from tiktok_asgi.redis_store import RedisTokenStore

pytestmark = pytest.mark.redis


@pytest.fixture
async def cluster_client(redis_cluster: RedisClusterDeployment) -> AsyncIterator[RedisCluster]:
    client = RedisCluster.from_url(redis_cluster.url)
    try:
        yield client
    finally:
        await client.aclose()


def _where(cluster: RedisClusterDeployment, prefix: str) -> dict[bytes, int]:
    """Each key starting with ``prefix`` → the port of the master holding it."""
    return {
        key: port
        for port in cluster.ports
        for key in cluster.keys_on(port)
        if key.startswith(prefix.encode())
    }


async def test_every_operation_works_on_a_cluster(
    redis_cluster: RedisClusterDeployment, cluster_client: RedisCluster
) -> None:
    store = RedisTokenStore(cluster_client, key_prefix="ops:")
    await store.start()
    await store.start()  # idempotent
    await store.ping()
    for i in range(30):
        await store.set(f"k{i}", b"\x00v\xff", ttl=60)
    assert len(set(_where(redis_cluster, "ops:k").values())) == 3  # spread over every master
    assert await store.get("k1") == b"\x00v\xff"
    assert await store.exists("k1")
    assert await store.replace("k1", b"new", ttl=60)
    assert await store.get("k1") == b"new"
    await store.delete("k1")
    assert not await store.exists("k1")
    assert await store.get("k1") is None
    assert not await store.replace("k1", b"back", ttl=60)  # SET XX: an ended key stays ended
    assert await store.add_once("once", ttl=60)
    assert not await store.add_once("once", ttl=60)

    await store.index_add("idx", "a", ttl=60)
    await store.index_add("idx", "b", ttl=120)
    await store.index_add("idx", "a", ttl=30)  # never shortened
    assert await store.index_members("idx") == ["a", "b"]
    await store.index_remove("idx", "a")
    assert await store.index_members("idx") == ["b"]

    order: list[str] = []

    async def hold(name: str) -> None:
        async with store.lock("sess", timeout=5):
            order.append(f"{name}+")
            await asyncio.sleep(0.05)
            order.append(f"{name}-")

    await asyncio.gather(hold("a"), hold("b"))
    assert order in (["a+", "a-", "b+", "b-"], ["b+", "b-", "a+", "a-"])
    async with store.lock("busy", timeout=5):
        with pytest.raises(TokenStoreError, match="stayed taken"):
            async with store.lock("busy", timeout=0.2):
                pass

    await store.aclose()
    assert await cluster_client.get("ops:k2") == b"\x00v\xff"  # a client passed in stays open


def test_a_cluster_store_has_no_replicas_option() -> None:
    client = RedisCluster(host="127.0.0.1", port=1)  # never connects
    with pytest.raises(ValueError, match="one primary"):
        RedisTokenStore(client, replicas=1)


async def test_users_sign_in_refresh_and_sign_out_across_the_masters(
    redis_cluster: RedisClusterDeployment,
    cluster_client: RedisCluster,
    tiktok_emulator: TikTokEmulator,
    tiktok_settings: TikTokSettings,
) -> None:
    store = RedisTokenStore(cluster_client)
    await store.start()
    app = session_app(tiktok_settings, store, tiktok_emulator)
    users = tiktok_emulator.users[:6]
    tally = Tally()
    async with lifespan(app):
        clients = [browser(app) for _ in users]
        try:
            for client, user in zip(clients, users, strict=True):
                assert await try_sign_in(
                    client, tiktok_settings, tiktok_emulator, user.username, tally
                ), tally.wrong
            sessions = {}
            for client, user in zip(clients, users, strict=True):
                me = await client.get("/me", headers=JSON)
                assert me.json() == {"user": user.display_name, "open_id": user.open_id}
                (sid,) = await store.index_members(INDEX_PREFIX + user.open_id)
                sessions[user.open_id] = sid
                token = (await client.get("/token", headers=JSON)).json()
                assert token["open_id"] == user.open_id

            # These users' sessions (their records, their indexes) live on several masters.
            records = _where(redis_cluster, KEY_PREFIX)
            indexes = _where(redis_cluster, INDEX_PREFIX)
            masters = {records[(KEY_PREFIX + sid).encode()] for sid in sessions.values()}
            by_user = {indexes[(INDEX_PREFIX + open_id).encode()] for open_id in sessions}
            assert len(by_user) >= 2, indexes  # open_ids are fixed: so are their slots
            assert len(masters | by_user) >= 2

            # A refresh, under the store's lock on whichever master holds it.
            first, first_user = clients[0], users[0]
            before = (await first.get("/token", headers=JSON)).json()["access_token"]
            await expire_access_token(store, tiktok_settings, sessions[first_user.open_id])
            after = (await first.get("/token", headers=JSON)).json()
            assert after["access_token"] != before
            assert tiktok_emulator.count("token", grant_type="refresh_token") == 1
            tiktok = (await first.get("/tiktok-user", headers=JSON)).json()
            assert tiktok == {"open_id": first_user.open_id}

            # Sign-out: the record goes from its master, and a copied cookie is refused.
            copied = first.cookies[tiktok_settings.cookie_name]
            out = await first.post(tiktok_settings.logout_path, headers=JSON)
            assert out.status_code in (200, 303), out.text
            assert not await store.exists(KEY_PREFIX + sessions[first_user.open_id])
            async with browser(app) as copy:
                copy.cookies.set(tiktok_settings.cookie_name, copied)
                assert (await copy.get("/me", headers=JSON)).json()["user"] is None
                assert (await copy.get("/token", headers=JSON)).status_code == 401
            for client, user in zip(clients[1:], users[1:], strict=True):
                me = (await client.get("/me", headers=JSON)).json()
                assert me["open_id"] == user.open_id  # the others are still signed in
        finally:
            for client in clients:
                await client.aclose()
    assert not tally.wrong
    assert tally.unavailable == 0
